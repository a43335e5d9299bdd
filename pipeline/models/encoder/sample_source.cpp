#include "pipeline/models/encoder/sample_source.h"

#include "pipeline/core/error.h"
#include "pipeline/io/h5.h"

namespace v2c::encoder {

void SampleSource::add_table(const Samples& s, int64_t n_voxels) {
  if (!s.has_features())
    throw input_error("samples of ", s.subject, " carry no stimulus features; run v2c-prepare with --features");
  SubjectTable t;
  t.id = s.subject;
  t.n_voxels = n_voxels;
  t.run = s.run;
  t.stimulus = s.stimulus;
  t.feature_row = s.feature_row;
  t.features = s.features;
  tables_.push_back(std::move(t));
}

MF SampleSource::targets(size_t s, const std::vector<int64_t>& rows) const {
  const SubjectTable& t = tables_[s];
  MF T(int64_t(rows.size()), t.features.cols());
  for (size_t k = 0; k < rows.size(); ++k) T.row(int64_t(k)) = t.features.row(t.feature_row[size_t(rows[k])]);
  return T;
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
    add_table(s, s.ijk.rows());
    readers_.push_back(std::make_unique<h5::ArtifactReader>(path, "samples", kSamplesFormatVersion));
  }
}

FileSource::~FileSource() = default;

void FileSource::read_voxels(size_t s, const std::vector<int64_t>& rows, MF& X) {
  X.resize(int64_t(rows.size()), tables_[s].n_voxels);
  for (size_t a = 0; a < rows.size();) {
    size_t b = a + 1;
    while (b < rows.size() && rows[b] == rows[b - 1] + 1) ++b;
    X.middleRows(int64_t(a), int64_t(b - a)) = readers_[s]->read_rows_f("data", rows[a], int64_t(b - a));
    a = b;
  }
}

}  // namespace v2c::encoder
