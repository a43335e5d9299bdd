// A file opened for reading by offset (POSIX pread), with errors that name it: the NIfTI
// reader's access to header and voxel bytes.
#pragma once

#include <cstdint>
#include <string>

namespace v2c {

class ReadFile {
 public:
  // io_error "cannot open '<path>': no such file<role>" (or the system's reason, or "is a
  // directory"); `role` adds what the file is for, e.g. " (image data of 'x.hdr')".
  explicit ReadFile(const std::string& path, const std::string& role = "");
  ~ReadFile();
  ReadFile(const ReadFile&) = delete;
  ReadFile& operator=(const ReadFile&) = delete;

  int64_t size() const;  // bytes; -1 when unknown
  // Reads up to n bytes at offset into dst; returns the count read (short at the end of the file).
  int64_t read_at(uint8_t* dst, int64_t n, int64_t offset) const;
  bool is_gzip() const;  // starts with the gzip magic 1f 8b
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace v2c
