// The shuffled-pooled-labels negative control (study/shuffled_labels.h) as a kernel and on
// pretraining's sample source: a permutation of stimulus ids within each pooled subject (every
// stimulus in use gets another one's label and feature vector; repeats one label), seeded, blind to
// the row and subject order, never touching the samples not in use. The stages' side (the held-out
// subject's rows keep their labels) is in test_fairness.cpp.
#include <boost/test/unit_test.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "pipeline/core/error.h"
#include "pipeline/core/rng.h"
#include "pipeline/models/encoder/sample_source.h"
#include "pipeline/study/shuffled_labels.h"

using namespace v2c;

namespace {

// A subject seeing stimuli s00..s{n-1}, each 1 to 3 times, over 4 runs, rows in random order.
std::vector<std::string> stimulus_table(int n, uint64_t seed, std::vector<int32_t>* run = nullptr) {
  rng::TrainingRng r(seed);
  std::vector<std::string> out;
  for (int s = 0; s < n; ++s)
    for (int64_t k = 0, reps = 1 + r.below(3); k < reps; ++k) out.push_back((s < 10 ? "s0" : "s") + std::to_string(s));
  r.shuffle(out);
  if (run)
    for (size_t i = 0; i < out.size(); ++i) run->push_back(int32_t(i % 4));
  return out;
}

// stimulus -> the stimulus whose label it takes; a failed check when its repeats disagree.
std::map<std::string, std::string> label_map(const std::vector<std::string>& stimulus,
                                             const std::vector<int64_t>& from) {
  std::map<std::string, std::string> m;
  for (size_t i = 0; i < stimulus.size(); ++i) {
    const auto [it, fresh] = m.emplace(stimulus[i], stimulus[size_t(from[i])]);
    BOOST_CHECK_MESSAGE(fresh || it->second == stimulus[size_t(from[i])],
                        "the repeats of " << stimulus[i] << " got different labels");
  }
  return m;
}

// Samples of `subject` with the stimuli of stimulus_table and distinct random feature vectors
// (ids shared across subjects have identical vectors, as in a real feature table).
Samples planted_samples(const std::string& subject, int n_stimuli, uint64_t seed) {
  Samples s;
  s.subject = subject;
  s.stimulus = stimulus_table(n_stimuli, seed, &s.run);
  const int64_t n = int64_t(s.stimulus.size()), dim = 6;
  rng::TrainingRng r(seed + 1);
  s.data.resize(n, 5);
  for (int64_t i = 0; i < s.data.size(); ++i) s.data.data()[i] = float(r.normal());
  std::map<std::string, int32_t> row;
  for (const std::string& id : s.stimulus)
    if (row.emplace(id, int32_t(row.size())).second) s.feature_ids.push_back(id);
  s.features.resize(int64_t(row.size()), dim);
  for (size_t k = 0; k < s.feature_ids.size(); ++k) {
    rng::TrainingRng fr(std::hash<std::string>{}(s.feature_ids[k]));  // the same vector for an id everywhere
    for (int64_t d = 0; d < dim; ++d) s.features(int64_t(k), d) = float(fr.normal());
  }
  for (const std::string& id : s.stimulus) s.feature_row.push_back(row.at(id));
  s.onset_s.assign(size_t(n), 0.0);
  s.duration_s.assign(size_t(n), 1.0);
  return s;
}

std::string bytes(const encoder::MF& m, int64_t row) {
  const Eigen::RowVectorXf v = m.row(row);
  return std::string(reinterpret_cast<const char*>(v.data()), size_t(v.size()) * sizeof(float));
}

std::vector<int64_t> all_rows(const encoder::SubjectTable& t) {
  std::vector<int64_t> rows(size_t(t.n_samples()));
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = int64_t(i);
  return rows;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(shuffled_pooled_labels)

BOOST_AUTO_TEST_CASE(a_cyclic_permutation_of_the_stimuli_in_use) {
  const std::vector<std::string> stim = stimulus_table(30, 3);
  std::vector<bool> used(stim.size(), true);
  std::set<std::string> in_use;
  for (size_t i = 0; i < stim.size(); ++i) {
    used[i] = stim[i] >= "s05";  // s00-s04: left out (shown by no sample in use)
    if (used[i]) in_use.insert(stim[i]);
  }
  const std::vector<int64_t> from = study::shuffled_label_rows(stim, used, 7);
  BOOST_REQUIRE_EQUAL(from.size(), stim.size());
  std::vector<std::string> kept_stim;
  std::vector<int64_t> kept_from;
  for (size_t i = 0; i < stim.size(); ++i) {
    if (!used[i]) {
      BOOST_CHECK_EQUAL(from[i], int64_t(i));  // not in use: its own label
      continue;
    }
    BOOST_REQUIRE(from[i] >= 0 && size_t(from[i]) < stim.size());
    BOOST_CHECK_MESSAGE(used[size_t(from[i])], "row " << i << " took the label of a sample not in use");
    kept_stim.push_back(stim[i]);
    kept_from.push_back(from[i]);
  }
  const std::map<std::string, std::string> m = label_map(stim, from);
  std::set<std::string> image;
  for (const auto& s : in_use) {
    BOOST_CHECK_MESSAGE(m.at(s) != s, s << " kept its own label");  // not the identity, nowhere
    image.insert(m.at(s));
  }
  BOOST_CHECK(image == in_use);  // a permutation of the stimuli in use: the same labels, each once
  // One cycle through all of them (Sattolo): following the map from any stimulus visits every one.
  std::string at = *in_use.begin();
  size_t steps = 0;
  do at = m.at(at), ++steps;
  while (at != *in_use.begin() && steps <= in_use.size());
  BOOST_CHECK_EQUAL(steps, in_use.size());

  // Seeded: the same seed, the same map; another seed, another one.
  BOOST_CHECK(label_map(stim, study::shuffled_label_rows(stim, used, 7)) == m);
  BOOST_CHECK(label_map(stim, study::shuffled_label_rows(stim, used, 8)) != m);
  // Blind to the row order: the rows reversed give the same stimulus -> label map.
  const std::vector<std::string> rev(stim.rbegin(), stim.rend());
  const std::vector<bool> rev_used(used.rbegin(), used.rend());
  BOOST_CHECK(label_map(rev, study::shuffled_label_rows(rev, rev_used, 7)) == m);
}

BOOST_AUTO_TEST_CASE(degenerate_and_bad_inputs) {
  // One stimulus in use has no other label to take; none in use, nothing to do.
  const std::vector<std::string> one = {"a", "a", "b"};
  const std::vector<int64_t> single = study::shuffled_label_rows(one, {true, true, false}, 1);
  for (size_t i = 0; i < one.size(); ++i) BOOST_CHECK_EQUAL(one[size_t(single[i])], one[i]);
  BOOST_CHECK((study::shuffled_label_rows(one, {false, false, false}, 1) == std::vector<int64_t>{0, 1, 2}));
  // Two: they swap, each repeat alike.
  const std::vector<int64_t> two = study::shuffled_label_rows(one, {true, true, true}, 1);
  BOOST_CHECK_EQUAL(one[size_t(two[0])], "b");
  BOOST_CHECK_EQUAL(one[size_t(two[1])], "b");
  BOOST_CHECK_EQUAL(one[size_t(two[2])], "a");
  try {
    study::shuffled_label_rows(one, {true, true}, 1);
    BOOST_ERROR("lengths 3 and 2 accepted");
  } catch (const Error& e) {
    BOOST_CHECK(e.code() == ExitCode::input);
    BOOST_CHECK_NE(std::string(e.what()).find("3 stimulus ids but 2"), std::string::npos);
  }
  // Per subject and seed: two subjects (or two seeds) get different streams.
  BOOST_CHECK_NE(study::shuffled_labels_seed(1, "sub-01"), study::shuffled_labels_seed(1, "sub-02"));
  BOOST_CHECK_NE(study::shuffled_labels_seed(1, "sub-01"), study::shuffled_labels_seed(2, "sub-01"));
}

// Pretraining's source: each subject's samples in use (not left out, not in an excluded run) take
// the label and the exact feature vector of pi(their stimulus); the others keep theirs bitwise;
// the same multiset of feature vectors is trained on; the order of the subjects does not matter.
BOOST_AUTO_TEST_CASE(sample_source_relabels_the_samples_in_use_only) {
  const std::vector<Samples> samples = {planted_samples("sub-01", 40, 11), planted_samples("sub-02", 35, 12)};
  encoder::MemorySource source(samples), off(samples);
  const std::vector<int> excluded_runs = {3};
  // sub-01: the samples of s00-s03 left out (tested stimuli).
  std::vector<int64_t> left;
  for (int64_t i = 0; i < samples[0].n_samples(); ++i)
    if (samples[0].stimulus[size_t(i)] < "s04") left.push_back(i);
  BOOST_REQUIRE(!left.empty());
  source.leave_out(0, left);
  source.shuffle_labels(42, excluded_runs);
  for (size_t s = 0; s < samples.size(); ++s) {
    const encoder::SubjectTable& before = off.subjects()[s];
    const encoder::SubjectTable& after = source.subjects()[s];
    const std::vector<int64_t> rows = all_rows(before);
    const encoder::MF T0 = off.targets(s, rows), T1 = source.targets(s, rows);
    std::multiset<std::string> trained_before, trained_after;
    std::map<std::string, std::string> vector_of_label;  // every label keeps its own vector
    std::set<std::string> in_use;
    int64_t n_used = 0;
    for (int64_t i = 0; i < int64_t(rows.size()); ++i) {
      const bool used = !(s == 0 && std::find(left.begin(), left.end(), i) != left.end()) &&
                        before.run[size_t(i)] != excluded_runs[0];
      vector_of_label.emplace(before.stimulus[size_t(i)], bytes(T0, i));
      if (!used) {
        BOOST_CHECK_EQUAL(after.stimulus[size_t(i)], before.stimulus[size_t(i)]);
        BOOST_CHECK(bytes(T1, i) == bytes(T0, i));
        continue;
      }
      ++n_used;
      in_use.insert(before.stimulus[size_t(i)]);
      trained_before.insert(bytes(T0, i));
      trained_after.insert(bytes(T1, i));
      BOOST_CHECK_NE(after.stimulus[size_t(i)], before.stimulus[size_t(i)]);
      BOOST_CHECK(bytes(T1, i) != bytes(T0, i));  // the true pairing is gone for every sample in use
    }
    BOOST_REQUIRE_GT(n_used, 20);
    std::map<std::string, std::string> pi;  // true stimulus -> its label now, one per stimulus
    for (int64_t i = 0; i < int64_t(rows.size()); ++i) {
      // label and vector go together: the vector is exactly the one of the new label's stimulus
      BOOST_CHECK(bytes(T1, i) == vector_of_label.at(after.stimulus[size_t(i)]));
      if (!in_use.count(before.stimulus[size_t(i)]) || after.stimulus[size_t(i)] == before.stimulus[size_t(i)])
        continue;
      const auto [it, fresh] = pi.emplace(before.stimulus[size_t(i)], after.stimulus[size_t(i)]);
      BOOST_CHECK(fresh || it->second == after.stimulus[size_t(i)]);
    }
    std::set<std::string> image;
    for (const auto& [from_id, to_id] : pi) {
      BOOST_CHECK_MESSAGE(in_use.count(to_id), to_id << " is not a stimulus of the samples in use");
      image.insert(to_id);
    }
    BOOST_CHECK(image == in_use);
    // Per distinct stimulus the same vectors; the multiset over samples moves only with repeat counts.
    std::set<std::string> vb(trained_before.begin(), trained_before.end()),
        va(trained_after.begin(), trained_after.end());
    BOOST_CHECK(va == vb);
    BOOST_CHECK_EQUAL(trained_after.size(), trained_before.size());
  }
  // Switched off (no shuffle_labels), the original pairs, bitwise: each sample's own feature vector.
  for (size_t s = 0; s < samples.size(); ++s) {
    const encoder::MF T = off.targets(s, all_rows(off.subjects()[s]));
    for (int64_t i = 0; i < T.rows(); ++i)
      BOOST_CHECK(T.row(i) == samples[s].features.row(samples[s].feature_row[size_t(i)]));
  }
  // The subjects in the other order: each gets the same permutation (seeded by its id).
  const std::vector<Samples> swapped = {samples[1], samples[0]};
  encoder::MemorySource other(swapped);
  other.leave_out(1, left);
  other.shuffle_labels(42, excluded_runs);
  BOOST_CHECK(other.subjects()[0].stimulus == source.subjects()[1].stimulus);
  BOOST_CHECK(other.subjects()[1].stimulus == source.subjects()[0].stimulus);
  BOOST_CHECK(other.subjects()[1].target_row.size() == source.subjects()[0].target_row.size());
}

// The same on Samples (v2c-finetune's reference subjects): stimulus and feature_row move together,
// the samples of the held-out subject's tested stimuli keep theirs.
BOOST_AUTO_TEST_CASE(pooled_samples_keep_the_tested_stimuli_out_of_the_permutation) {
  Samples held = planted_samples("sub-03", 20, 21);
  std::vector<int32_t> fold(size_t(held.n_samples()), -1);
  std::set<std::string> tested;
  for (size_t i = 0; i < fold.size(); ++i)
    if (held.stimulus[i] < "s05") fold[i] = 0, tested.insert(held.stimulus[i]);
  std::vector<Samples> pooled = {planted_samples("sub-01", 30, 22)};
  const Samples before = pooled[0];
  study::shuffle_pooled_labels(pooled, held, fold, 9);
  int64_t moved = 0;
  for (int64_t i = 0; i < before.n_samples(); ++i) {
    const std::string& was = before.stimulus[size_t(i)];
    const std::string& now = pooled[0].stimulus[size_t(i)];
    if (tested.count(was)) {
      BOOST_CHECK_EQUAL(now, was);
      BOOST_CHECK_EQUAL(pooled[0].feature_row[size_t(i)], before.feature_row[size_t(i)]);
    } else {
      BOOST_CHECK_MESSAGE(!tested.count(now), "sample " << i << " took the tested stimulus " << now);
      moved += now != was;
      // its feature row is the one of its new stimulus
      const auto k = std::find(before.stimulus.begin(), before.stimulus.end(), now) - before.stimulus.begin();
      BOOST_CHECK_EQUAL(pooled[0].feature_row[size_t(i)], before.feature_row[size_t(k)]);
    }
  }
  BOOST_CHECK_GT(moved, 0);
  BOOST_CHECK(pooled[0].data == before.data);  // the responses stay
}

BOOST_AUTO_TEST_SUITE_END()
