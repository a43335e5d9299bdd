#include "pipeline/models/encoder/sample_source.h"

#include "pipeline/core/error.h"
#include "pipeline/io/h5.h"
#include "pipeline/study/shuffled_labels.h"

namespace v2c::encoder {

void SampleSource::add_table(const Samples& s, int64_t n_voxels) {
  if (!s.has_features())
    throw input_error("samples of ", s.subject, " carry no stimulus features; run v2c-prepare with --features");
  if (dim_ == 0) dim_ = s.features.cols();
  if (s.features.cols() != dim_)
    throw input_error("subject ", s.subject, " has ", s.features.cols(), "-d features; ", tables_[0].id, " has ", dim_);
  if (int64_t(s.feature_ids.size()) != s.features.rows() || s.feature_row.size() != s.run.size())
    throw input_error("samples of ", s.subject, ": ", s.feature_ids.size(), " feature ids for ", s.features.rows(),
                      " feature vectors, ", s.feature_row.size(), " feature rows for ", s.run.size(), " samples");
  // Each of this subject's stimuli: the row of an identical (id, vector) already held, or a new row.
  std::vector<int64_t> shared(s.feature_ids.size());
  for (size_t i = 0; i < shared.size(); ++i) {
    const float* v = s.features.data() + int64_t(i) * dim_;
    auto& rows = rows_of_id_[s.feature_ids[i]];
    const auto same = std::find_if(rows.begin(), rows.end(),
                                   [&](int64_t r) { return std::equal(v, v + dim_, features_.begin() + r * dim_); });
    if (same != rows.end()) {
      shared[i] = *same;
    } else {
      shared[i] = n_distinct_stimuli();
      rows.push_back(shared[i]);
      features_.insert(features_.end(), v, v + dim_);
    }
  }
  SubjectTable t;
  t.id = s.subject;
  t.n_voxels = n_voxels;
  t.run = s.run;
  t.stimulus = s.stimulus;
  for (int32_t r : s.feature_row) {
    if (r < 0 || r >= int32_t(shared.size()))
      throw input_error("samples of ", s.subject, ": feature row ", r, " of ", shared.size(), " feature vectors");
    t.target_row.push_back(shared[size_t(r)]);
  }
  tables_.push_back(std::move(t));
}

void SampleSource::leave_out(size_t s, const std::vector<int64_t>& rows) {
  SubjectTable& t = tables_[s];
  if (t.left_out.empty()) t.left_out.assign(size_t(t.n_samples()), false);
  for (int64_t r : rows) {
    V2C_ASSERT(r >= 0 && r < t.n_samples(), "leave_out: row ", r, " of ", t.n_samples(), " samples of ", t.id);
    t.left_out[size_t(r)] = true;
  }
}

void SampleSource::shuffle_labels(uint64_t run_seed, const std::vector<int>& excluded_runs) {
  for (SubjectTable& t : tables_) {
    std::vector<bool> used(size_t(t.n_samples()));
    for (size_t i = 0; i < used.size(); ++i)
      used[i] = !(t.left_out.size() && t.left_out[i]) &&
                std::find(excluded_runs.begin(), excluded_runs.end(), t.run[i]) == excluded_runs.end();
    const std::vector<int64_t> from =
        study::shuffled_label_rows(t.stimulus, used, study::shuffled_labels_seed(run_seed, t.id));
    const std::vector<std::string> stimulus = t.stimulus;
    const std::vector<int64_t> target_row = t.target_row;
    for (size_t i = 0; i < from.size(); ++i)
      t.stimulus[i] = stimulus[size_t(from[i])], t.target_row[i] = target_row[size_t(from[i])];
  }
}

MF SampleSource::targets(size_t s, const std::vector<int64_t>& rows) const {
  MF T;
  targets(s, rows, T);
  return T;
}

void SampleSource::targets(size_t s, const std::vector<int64_t>& rows, MF& T) const {
  const SubjectTable& t = tables_[s];
  T.resize(int64_t(rows.size()), dim_);
  for (size_t k = 0; k < rows.size(); ++k) {
    const auto at = features_.begin() + t.target_row[size_t(rows[k])] * dim_;
    std::copy(at, at + dim_, T.data() + int64_t(k) * dim_);
  }
}

MemorySource::MemorySource(const std::vector<Samples>& samples) : samples_(samples) {
  for (const auto& s : samples) add_table(s, s.n_voxels());
}

MF SampleSource::voxels(size_t s, const std::vector<int64_t>& rows) {
  MF X;
  read_voxels(s, rows, X);
  return X;
}

void MemorySource::read_voxels(size_t s, const std::vector<int64_t>& rows, MF& X) {
  X.resize(int64_t(rows.size()), samples_[s].data.cols());
  for (size_t k = 0; k < rows.size(); ++k) X.row(int64_t(k)) = samples_[s].data.row(rows[k]);
}

FileSource::FileSource(const std::vector<std::string>& paths) {
  for (const auto& path : paths) {
    const Samples s = read_samples(path, false);
    with_context("reading samples file '" + path + "'", [&] { add_table(s, s.ijk.rows()); });
    readers_.push_back(std::make_unique<h5::ArtifactReader>(path, "samples", kSamplesFormatVersion));
    data_.push_back(std::make_unique<h5::RowReader>(readers_.back()->row_reader("data")));
    if (data_.back()->cols() != s.ijk.rows())
      throw input_error("samples file '", path, "': dataset 'data' has ", data_.back()->cols(), " columns; expected ",
                        s.ijk.rows(), " (one per voxel of 'ijk')");
  }
}

FileSource::~FileSource() = default;

void FileSource::read_voxels(size_t s, const std::vector<int64_t>& rows, MF& X) {
  X.resize(int64_t(rows.size()), tables_[s].n_voxels);
  for (size_t a = 0; a < rows.size();) {
    size_t b = a + 1;
    while (b < rows.size() && rows[b] == rows[b - 1] + 1) ++b;
    data_[s]->read(rows[a], int64_t(b - a), X.data() + int64_t(a) * X.cols());
    a = b;
  }
}

}  // namespace v2c::encoder
