#include "pipeline/study/shuffled_labels.h"

#include <map>

#include "pipeline/core/error.h"
#include "pipeline/core/rng.h"
#include "pipeline/study/test_stimuli.h"

namespace v2c::study {

namespace {

// Each sample's feature vector [n x D].
MatrixF sample_vectors(const Samples& s) {
  if (!s.has_features()) throw input_error("shuffled labels: the samples of ", s.subject, " carry no features");
  MatrixF v(s.n_samples(), s.features.cols());
  for (int64_t i = 0; i < s.n_samples(); ++i) v.row(i) = s.features.row(s.feature_row[size_t(i)]);
  return v;
}

}  // namespace

uint64_t shuffled_labels_seed(uint64_t run_seed, const std::string& subject) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a of the subject id: one stream per subject
  for (unsigned char c : subject) h = (h ^ c) * 0x100000001b3ull;
  return rng::derive_seed(run_seed, 0x5368756666ull /* "Shuff" */, h);
}

std::vector<int64_t> shuffled_label_rows(const std::vector<std::string>& stimulus, const std::vector<bool>& used,
                                         uint64_t seed) {
  if (used.size() != stimulus.size())
    throw input_error("shuffled labels: ", stimulus.size(), " stimulus ids but ", used.size(), " in-use flags");
  // The distinct stimuli in use, in id order (independent of the row order), each with one sample.
  std::map<std::string, int64_t> first;
  for (size_t i = 0; i < stimulus.size(); ++i)
    if (used[i]) first.emplace(stimulus[i], int64_t(i));
  std::vector<int64_t> sample_of;
  std::map<std::string, size_t> index;
  for (const auto& [id, row] : first) index[id] = sample_of.size(), sample_of.push_back(row);
  // Sattolo's algorithm: a uniformly drawn cyclic permutation (no fixed point).
  std::vector<size_t> target(sample_of.size());
  for (size_t k = 0; k < target.size(); ++k) target[k] = k;
  rng::TrainingRng r(seed);
  for (size_t k = target.size(); k > 1; --k) std::swap(target[k - 1], target[size_t(r.below(int64_t(k - 1)))]);
  std::vector<int64_t> from(stimulus.size());
  for (size_t i = 0; i < stimulus.size(); ++i)
    from[i] = used[i] ? sample_of[target[index.at(stimulus[i])]] : int64_t(i);
  return from;
}

void shuffle_labels(Samples& s, const std::vector<bool>& used, uint64_t run_seed) {
  if (s.feature_row.size() != s.stimulus.size())
    throw input_error("shuffled labels: samples of ", s.subject, " have ", s.feature_row.size(), " feature rows for ",
                      s.stimulus.size(), " samples");
  const std::vector<int64_t> from = shuffled_label_rows(s.stimulus, used, shuffled_labels_seed(run_seed, s.subject));
  const std::vector<std::string> stimulus = s.stimulus;
  const std::vector<int32_t> feature_row = s.feature_row;
  for (size_t i = 0; i < from.size(); ++i) {
    s.stimulus[i] = stimulus[size_t(from[i])];
    s.feature_row[i] = feature_row[size_t(from[i])];
  }
}

}  // namespace v2c::study

namespace v2c::study {

void shuffle_pooled_labels(std::vector<Samples>& pooled, const Samples& heldout,
                           const std::vector<int32_t>& fold_of_sample, uint64_t run_seed) {
  TestStimuli tested;
  add_test_stimuli(heldout.stimulus, sample_vectors(heldout), fold_of_sample, tested);
  for (Samples& s : pooled) {
    std::vector<bool> used(size_t(s.n_samples()), true);
    for (int64_t r : rows_showing(s.stimulus, sample_vectors(s), tested)) used[size_t(r)] = false;
    shuffle_labels(s, used, run_seed);
  }
}

}  // namespace v2c::study
