// Where pretraining's rows come from: every subject's samples in memory, or their samples.h5 files
// read a range of rows at a time (a hyperslab of "data"; docs/formats.md), holding only the sample
// tables and the stimulus features (each distinct stimulus once: subjects who saw the same
// stimuli share its feature vector). Pretraining asks for the rows of its shuffle buffer's chunks
// (stream_order.h, sample_stream.h) and of the validation split, so with files its memory does not
// grow with the samples it trains on.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/io/samples.h"
#include "pipeline/models/encoder/training_data.h"

namespace v2c::h5 {
class ArtifactReader;
class RowReader;
}  // namespace v2c::h5

namespace v2c::encoder {

// One subject's sample table: everything but the voxel data.
struct SubjectTable {
  std::string id;
  int64_t n_voxels = 0;               // p
  std::vector<int32_t> run;           // [n] run of each sample
  std::vector<std::string> stimulus;  // [n] stimulus id of each sample
  std::vector<int64_t> target_row;    // [n] row of SampleSource's feature table of each sample
  std::vector<bool> left_out;         // [n] or empty: samples pretraining never uses (leave_out)
  int64_t n_samples() const { return int64_t(run.size()); }
};

class SampleSource {
 public:
  virtual ~SampleSource() = default;
  const std::vector<SubjectTable>& subjects() const { return tables_; }
  // X [rows.size() x p] of subject s, in the order of `rows` (indices into its sample table);
  // read_voxels reuses X's storage when it has that shape already.
  virtual void read_voxels(size_t s, const std::vector<int64_t>& rows, MF& X) = 0;
  MF voxels(size_t s, const std::vector<int64_t>& rows);
  // T [rows.size() x D]: the feature vectors of those samples' stimuli.
  MF targets(size_t s, const std::vector<int64_t>& rows) const;
  void targets(size_t s, const std::vector<int64_t>& rows, MF& T) const;  // the same into T (resized)
  // Samples `rows` of subject s are used neither for training nor for validation (for example
  // those showing a stimulus a held-out subject is tested on); the row indices stay those of the file.
  void leave_out(size_t s, const std::vector<int64_t>& rows);
  // The negative control of study/shuffled_labels.h: every subject's samples in use (not left out,
  // not in one of excluded_runs) relabelled by its seeded permutation of their stimuli (stimulus
  // id and target row; shuffled_labels_seed(run_seed, subject id)). Call after leave_out.
  void shuffle_labels(uint64_t run_seed, const std::vector<int>& excluded_runs = {});
  int64_t feature_dim() const { return dim_; }  // D
  int64_t n_distinct_stimuli() const { return int64_t(features_.size()) / std::max<int64_t>(dim_, 1); }

 protected:
  // input_error when the samples carry no stimulus features or features of another dimension than
  // the first subject's.
  void add_table(const Samples& s, int64_t n_voxels);
  std::vector<SubjectTable> tables_;

 private:
  int64_t dim_ = 0;
  std::vector<float> features_;                             // [distinct stimuli x D]
  std::map<std::string, std::vector<int64_t>> rows_of_id_;  // feature id -> its rows (one per distinct vector)
};

// The samples in memory (they must outlive the source).
class MemorySource final : public SampleSource {
 public:
  explicit MemorySource(const std::vector<Samples>& samples);
  void read_voxels(size_t s, const std::vector<int64_t>& rows, MF& X) override;

 private:
  const std::vector<Samples>& samples_;
};

// samples.h5 files, read on demand: each run of consecutive rows is one hyperslab read, from a
// "data" dataset opened once per file.
class FileSource final : public SampleSource {
 public:
  explicit FileSource(const std::vector<std::string>& paths);
  ~FileSource() override;
  void read_voxels(size_t s, const std::vector<int64_t>& rows, MF& X) override;

 private:
  std::vector<std::unique_ptr<h5::ArtifactReader>> readers_;
  std::vector<std::unique_ptr<h5::RowReader>> data_;  // [subject] its "data" dataset
};

}  // namespace v2c::encoder
