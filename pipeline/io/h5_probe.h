// A damaged HDF5 file must end in an error naming it, never in a crash. HDF5 1.10 itself can
// crash on some damage: a variable-length string whose global-heap index or length points
// outside its heap makes H5HG_read copy from and to wild addresses, and nothing in this
// process can intercept that. So every HDF5 file is first walked by a child process, which
// reads every object and every string (attribute or dataset) and sends the strings back: if
// the child crashes or hangs, the file is refused; otherwise this process takes its strings
// from the child and never reads a variable-length string itself.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace v2c::h5 {

// Fixed-length strings end at their first NUL; space-padded ones lose their trailing spaces.
struct FileStrings {
  // "/samples/stimulus" -> its values (scalar and 1-D string datasets).
  std::map<std::string, std::vector<std::string>> datasets;
  // "/provenance@stage" ("/@vox2clip_format" for the root) -> its values (string attributes).
  std::map<std::string, std::vector<std::string>> attributes;
};

// Walks `path` in a child process (every object, attribute and dataset; numeric datasets'
// first and last values) and returns its strings. Throws input_error (exit 3) naming the file
// when the child crashes or runs past `timeout_s`, and io_error when it cannot start. HDF5
// errors are not reported here: the reader meets them again with their context. A negative
// timeout_s: 10 s plus 1 s per 100 MB of the file (the walk touches one value per chunk: a
// 321 MB samples.h5 takes 5-24 ms), so a damaged 24 KB file that sends libhdf5 into an endless
// global-heap read is refused in 10 s, not after minutes (found by `make fuzz`).
FileStrings probe_file(const std::string& path, double timeout_s = -1);

// "/a/b" for "a/b", "/a/b/", "/a/b" or "./a/b": the key of an object in FileStrings.
std::string object_key(const std::string& name);

// The strings of dataset `name` (scalar or 1-D); throws input_error naming `file` and the
// dataset when the probe found no strings there.
const std::vector<std::string>& dataset_strings(const FileStrings& strings, const std::string& file,
                                                const std::string& name);

}  // namespace v2c::h5
