#include "pipeline/models/encoder/training_data.h"

#include <algorithm>

#include "pipeline/core/error.h"

namespace v2c::encoder {

SubjectData subject_data(const Samples& s) {
  if (!s.has_features())
    throw input_error("samples of ", s.subject, " carry no stimulus features; run v2c-prepare with --features");
  SubjectData d;
  d.id = s.subject;
  d.X = s.data;
  d.T.resize(s.n_samples(), s.features.cols());
  for (int64_t i = 0; i < s.n_samples(); ++i) d.T.row(i) = s.features.row(s.feature_row[size_t(i)]);
  d.run = s.run;
  d.stimulus = s.stimulus;
  return d;
}

MF rows_of(const MF& m, const std::vector<int64_t>& rows) { return linalg::take_rows(m, rows); }

std::vector<Batch> epoch_batches(const std::vector<std::vector<int64_t>>& train_rows, int batch_size, uint64_t seed,
                                 int64_t epoch) {
  Rng rng(seed * 1000003ULL + uint64_t(epoch) * 7919ULL + 17);
  std::vector<Batch> batches;
  for (size_t s = 0; s < train_rows.size(); ++s) {
    std::vector<int64_t> rows = train_rows[s];
    for (size_t i = rows.size(); i > 1; --i) std::swap(rows[i - 1], rows[size_t(rng.next() % i)]);
    for (size_t b = 0; b + 2 <= rows.size(); b += size_t(batch_size)) {
      const size_t e = std::min(rows.size(), b + size_t(batch_size));
      if (e - b < 2) break;  // a contrastive batch needs two samples
      batches.push_back({s, std::vector<int64_t>(rows.begin() + long(b), rows.begin() + long(e))});
    }
  }
  for (size_t i = batches.size(); i > 1; --i) std::swap(batches[i - 1], batches[size_t(rng.next() % i)]);
  return batches;
}

MF predict(Encoder<float>& enc, const std::string& subject, const MF& X) {
  MF out(X.rows(), enc.config().clip_dim);
  constexpr int64_t kChunk = 256;
  for (int64_t r = 0; r < X.rows(); r += kChunk) {
    const MF x = X.middleRows(r, std::min(kChunk, X.rows() - r));
    out.middleRows(r, x.rows()) = enc.forward(subject, x, false, nullptr);
  }
  return out;
}

}  // namespace v2c::encoder
