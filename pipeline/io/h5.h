// HDF5 artifacts: every file vox2clip writes (samples.h5, predictions.h5, ...) goes through
// ArtifactWriter and is read back through ArtifactReader, so they share one convention
// (docs/formats.md):
//   - root attributes `vox2clip_format` (the artifact kind, e.g. "samples") and
//     `vox2clip_format_version` (int); readers refuse another kind or a newer version;
//   - group /provenance with attributes stage, command_line, version, config (YAML), seed,
//     threads, created_utc, and dataset /provenance/inputs (the input files);
//   - matrices row-major (h5py shows them as numpy arrays of the same shape), strings as
//     variable-length UTF-8;
//   - written to a temporary name and renamed when complete (pipeline/core/output.h).
#pragma once

#include <H5Cpp.h>

#include <memory>
#include <string>
#include <vector>

#include "pipeline/core/output.h"
#include "pipeline/core/provenance.h"
#include "pipeline/core/types.h"
#include "pipeline/io/h5_probe.h"

namespace v2c::h5 {

class ArtifactWriter {
 public:
  ArtifactWriter(const std::string& path, const std::string& kind, int format_version, const Provenance& prov,
                 bool force);
  ~ArtifactWriter();

  // `name` is a path such as "samples/run"; intermediate groups are created.
  void write(const std::string& name, const MatrixF& m);  // float32 [rows x cols]
  void write(const std::string& name, const MatrixD& m);  // float64 [rows x cols]
  void write(const std::string& name, const std::vector<float>& v);
  void write(const std::string& name, const std::vector<double>& v);
  void write(const std::string& name, const std::vector<int32_t>& v);
  void write(const std::string& name, const std::vector<int32_t>& v, int64_t cols);  // [size/cols x cols]
  void write(const std::string& name, const std::vector<int64_t>& v);
  void write(const std::string& name, const std::vector<std::string>& v);
  // float32 [rows x cols] stored in chunks of [chunk_rows x cols] (so that reading a few consecutive
  // rows touches only their chunks); chunk_rows is clamped to [1, rows]. rows >= 1.
  void write_chunked(const std::string& name, const MatrixF& m, int64_t chunk_rows);
  // Attributes on a group or dataset that already exists ("/" for the root).
  void attr(const std::string& object, const std::string& name, const std::string& value);
  void attr(const std::string& object, const std::string& name, double value);
  void attr(const std::string& object, const std::string& name, int64_t value);

  // Closes the file (every byte is on disk or an io_error names the output and the reason,
  // e.g. "No space left on device"), leaving it under its temporary name; for stages that
  // commit several outputs together (core/output.h, commit_together).
  void finish();
  void commit();  // finish, then rename into place
  const std::string& path() const { return out_.final_path(); }
  AtomicOutput& output() { return out_; }

 private:
  void abandon() noexcept;
  AtomicOutput out_;
  hid_t file_ = H5I_INVALID_HID;  // closed exactly once: a second H5Fclose after a failed one crashes HDF5
};

// Rows of one 2-D float dataset, read again and again (a training stream's chunks): the dataset is
// opened and its shape checked once (ArtifactReader::row_reader), not on every read. Holds the
// dataset open; the file stays open while it lives.
class RowReader {
 public:
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  // Rows [row0, row0 + n_rows) into `out` (row-major [n_rows x cols()], the caller's storage).
  // input_error naming the file and dataset when the rows are out of range; io_error when HDF5
  // cannot read them.
  void read(int64_t row0, int64_t n_rows, float* out) const;

 private:
  friend class ArtifactReader;
  RowReader(std::string path, std::string name, H5::DataSet ds, int64_t rows, int64_t cols);
  std::string path_, name_;
  H5::DataSet ds_;
  int64_t rows_, cols_;
};

class ArtifactReader {
 public:
  // Opens `path`, checks it is a vox2clip artifact of `kind` with a version we read. Strings
  // come from the file's probe (h5_probe.h), numbers from HDF5 in this process.
  ArtifactReader(const std::string& path, const std::string& kind, int max_version);

  bool has(const std::string& name) const;
  std::vector<int64_t> shape(const std::string& name) const;
  MatrixF read_matrix_f(const std::string& name) const;  // any float dataset, 1-D read as a column
  MatrixD read_matrix_d(const std::string& name) const;
  // Rows [row0, row0 + n_rows) of a 2-D float dataset (a hyperslab: the rest is not read).
  // input_error naming the file and dataset when it is not 2-D or the rows are out of range.
  MatrixF read_rows_f(const std::string& name, int64_t row0, int64_t n_rows) const;
  // The same into `out` (row-major [n_rows x cols], the caller's storage): no temporary.
  void read_rows_f(const std::string& name, int64_t row0, int64_t n_rows, float* out) const;
  // A reader of the rows of 2-D float dataset `name` (input_error naming the file and dataset when
  // it is absent or not 2-D).
  RowReader row_reader(const std::string& name) const;
  // HDF5 chunk shape of a dataset (empty when it is stored contiguously).
  std::vector<int64_t> chunk_shape(const std::string& name) const;
  std::vector<double> read_doubles(const std::string& name) const;
  std::vector<int64_t> read_ints(const std::string& name) const;
  std::vector<int32_t> read_int32s(const std::string& name) const;  // range-checked
  std::vector<std::string> read_strings(const std::string& name) const;
  bool has_attr(const std::string& object, const std::string& name) const;
  std::string attr_string(const std::string& object, const std::string& name) const;
  double attr_double(const std::string& object, const std::string& name) const;
  int format_version() const { return version_; }
  const std::string& path() const { return path_; }

 private:
  H5::DataSet open(const std::string& name) const;
  // Elements of a dataset of shape `dims`; refuses a size that overflows or exceeds memory.
  int64_t element_count(const std::string& name, const std::vector<int64_t>& dims, size_t element_bytes) const;
  std::string path_;
  int version_ = 0;
  std::unique_ptr<H5::H5File> file_;
  FileStrings strings_;  // every string of the file, read by the probe (h5_probe.h)
};

}  // namespace v2c::h5
