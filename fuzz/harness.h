// Fuzz targets: each feeds one input (bytes) to one reader of vox2clip, as a file, and accepts
// exactly two outcomes: the reader returns, or it throws v2c::Error (a documented exit code with
// a message). Anything else — another exception, a crash, a sanitizer report, a hang — is a bug.
//
// The same functions run under libFuzzer (fuzz/<target>.cpp, `make fuzz`) and replay every saved
// crasher in the tests (tests/regress/fuzz/<target>/, tests/test_fuzz_regress.cpp), so an input
// that once crashed is checked by `make test` from then on.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "pipeline/core/config.h"
#include "pipeline/core/error.h"
#include "pipeline/eval/retrieve_run.h"
#include "pipeline/io/events.h"
#include "pipeline/io/nifti/image.h"
#include "pipeline/io/npy.h"
#include "pipeline/io/predictions.h"
#include "pipeline/io/samples.h"
#include "pipeline/io/tsv.h"
#include "pipeline/models/ridge_config.h"

namespace v2c::fuzz {

// Writes the input to a file of this process named with `suffix` (readers choose the format by
// extension), under $TMPDIR or /tmp, and calls `read` on its path. v2c::Error is the expected
// way to refuse an input; every other exception escapes (libFuzzer reports it).
inline void on_file(const uint8_t* data, size_t size, const std::string& suffix,
                    const std::function<void(const std::string&)>& read) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/v2c-fuzz-" + std::to_string(getpid()) + suffix;
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), std::streamsize(size));
  }
  try {
    read(path);
  } catch (const Error&) {}
  std::remove(path.c_str());
}

// NIfTI-1/-2 header and data (.nii, or .nii.gz when the input starts as gzip does): header, all
// voxels, their statistics.
inline int nifti(const uint8_t* data, size_t size) {
  const bool gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  on_file(data, size, gzip ? ".nii.gz" : ".nii", [](const std::string& p) {
    const nifti::Image img = nifti::Image::load(p);
    (void)img.stats();
  });
  return 0;
}

// BIDS events.tsv with an extra column, and the same bytes as a per-volume label file.
inline int events_tsv(const uint8_t* data, size_t size) {
  on_file(data, size, ".tsv", [](const std::string& p) { (void)events::read_events_tsv(p, "trial_type", {"block"}); });
  on_file(data, size, ".txt", [](const std::string& p) {
    const auto labels = events::read_volume_labels(p);
    for (const auto& [run, of_run] : events::labels_by_run(labels))
      (void)events::events_from_volume_labels(of_run, 2.0, {"0", "rest"});
  });
  return 0;
}

// NumPy .npy (any dtype, order and header).
inline int npy(const uint8_t* data, size_t size) {
  on_file(data, size, ".npy", [](const std::string& p) { (void)npy::read_npy(p); });
  return 0;
}

// A YAML config file applied to the sections with the richest rules (ridge: lists, folds;
// retrieve: a regular expression), then validated.
inline int config_yaml(const uint8_t* data, size_t size) {
  on_file(data, size, ".yaml", [](const std::string& p) {
    ridge::RidgeConfig r;
    config::Schema rs("ridge");
    r.describe(rs);
    config::apply_file(rs, p);
    rs.validate();
  });
  on_file(data, size, ".yaml", [](const std::string& p) {
    retrieve::RetrieveConfig r;
    config::Schema rs("retrieve");
    r.describe(rs);
    config::apply_file(rs, p);
    rs.validate();
  });
  return 0;
}

// An HDF5 file read as samples, then as predictions.
inline int h5(const uint8_t* data, size_t size) {
  on_file(data, size, ".h5", [](const std::string& p) { (void)read_samples(p); });
  on_file(data, size, ".h5", [](const std::string& p) { (void)read_predictions(p); });
  return 0;
}

struct Target {
  const char* name;
  int (*run)(const uint8_t*, size_t);
};
inline const std::vector<Target>& targets() {
  static const std::vector<Target> all = {
      {"nifti", nifti}, {"events_tsv", events_tsv}, {"npy", npy}, {"config_yaml", config_yaml}, {"h5", h5}};
  return all;
}

}  // namespace v2c::fuzz
