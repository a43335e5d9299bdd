// Gallery and category retrieval split by what the query's fold trained on (eval/seen_split.h):
// a hand-checked kernel example with ties, and the metrics of v2c-retrieve's work with a gallery
// mixing trained, training-only and never-seen candidates, each with its own chance level.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "pipeline/eval/retrieve_run.h"
#include "pipeline/eval/seen_split.h"
#include "tests/decode_study.h"
#include "tests/test_util.h"

using namespace v2c;

namespace {

const retrieve::Metric* metric(const retrieve::RetrievalReport& r, const std::string& name) {
  for (const auto& m : r.metrics)
    if (m.name == name) return &m;
  return nullptr;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(retrieval_seen_split)

BOOST_AUTO_TEST_CASE(kernel_counts_each_kind_and_ties_fail) {
  // Candidates on the unit circle; query 0 points at candidate 0. Candidate 1 (seen) is closer
  // to query 0 than its own; 2 and 3 (never seen) are farther. Query 1 points at candidate 2
  // and ties exactly with candidate 3 (the same vector).
  MatrixF c(4, 2);
  c << 1, 0, 0.8f, 0.6f, -1, 0, -1, 0;
  MatrixF q(2, 2);
  q << 0.9f, 0.44f, -2, 0;
  const std::vector<char> seen = {1, 1, 0, 0};
  const eval::SeenSplit s = eval::seen_split_top1(q, c, {0, 2}, {&seen, &seen});
  BOOST_CHECK_EQUAL(s.seen_hit[0], 0.0);  // beaten by seen candidate 1
  BOOST_CHECK_EQUAL(s.unseen_hit[0], 1.0);
  BOOST_CHECK_EQUAL(s.seen_others[0], 1);
  BOOST_CHECK_EQUAL(s.unseen_others[0], 2);
  BOOST_CHECK_EQUAL(s.seen_hit[1], 1.0);    // both seen candidates point the other way
  BOOST_CHECK_EQUAL(s.unseen_hit[1], 0.0);  // the tie with candidate 3 is a failure
  BOOST_CHECK_EQUAL(s.seen_others[1], 2);
  BOOST_CHECK_EQUAL(s.unseen_others[1], 1);
  // A kind with no other candidate has no value.
  const std::vector<char> all_seen = {1, 1, 1, 1};
  BOOST_CHECK(std::isnan(eval::seen_split_top1(q, c, {0, 2}, {&all_seen, &all_seen}).unseen_hit[0]));
}

BOOST_AUTO_TEST_CASE(gallery_metrics_have_their_own_chance_levels) {
  // 8 stimuli shown in each of 4 runs; runs 0-2 are tested (LORO), run 3 only trains and shows a
  // ninth stimulus, "train-only", that no fold tests. The gallery adds it and 12 never-seen ones.
  test::DecodeStudy st(8, 4, 16, 1.0f, 0.3f, 0.0f, 5);
  st.s.feature_ids.push_back("train-only");
  st.s.features.conservativeResize(9, Eigen::NoChange);
  st.s.features.row(8) = test::gaussian_matrix(1, 16, 77);
  for (int64_t i = 24; i < 32; ++i) {
    st.p.fold[size_t(i)] = -1;
    st.p.feature_row[size_t(i)] = 8;
    st.p.stimulus[size_t(i)] = "train-only";
    st.p.truth.row(i) = st.s.features.row(8);
  }
  retrieve::RetrieveInputs in{st.p, st.s, {}, {}};
  in.gallery.ids = {"train-only"};
  for (int k = 0; k < 12; ++k) in.gallery.ids.push_back("never-" + std::to_string(k));
  in.gallery.values = test::gaussian_matrix(13, 16, 78);
  in.gallery.values.row(0) = st.s.features.row(8);
  in.gallery.source = "gallery.npy";
  in.gallery.build_index();
  retrieve::RetrieveConfig cfg;
  cfg.candidates = "gallery";
  cfg.permutations = 0;
  const auto r = retrieve::run_retrieval(in, cfg, 3);
  const retrieve::Metric* seen = metric(r, "top1_seen_forward");
  const retrieve::Metric* unseen = metric(r, "top1_unseen_forward");
  BOOST_REQUIRE(seen && unseen);
  // Each query's fold trained on the 7 other test stimuli and "train-only": 8 others.
  BOOST_CHECK_CLOSE_FRACTION(seen->chance, 1.0 / 9.0, 1e-12);
  BOOST_CHECK_EQUAL(seen->n_candidates, 9);
  BOOST_CHECK_CLOSE_FRACTION(unseen->chance, 1.0 / 13.0, 1e-12);
  BOOST_CHECK_EQUAL(unseen->n_candidates, 13);
  BOOST_CHECK_EQUAL(seen->n_queries, 24);
  // Top-1 among all 21 candidates can only be a hit where both kinds are hits.
  const retrieve::Metric* all = metric(r, "top1_all_forward");
  BOOST_REQUIRE(all);
  BOOST_CHECK_LE(all->value, std::min(seen->value, unseen->value) + 1e-12);
  BOOST_CHECK_GT(seen->value, seen->chance);  // the signal is strong (noise 0.3)
  // Candidates = the test stimuli only: no split.
  cfg.candidates = "test";
  const auto t = retrieve::run_retrieval({st.p, st.s, {}, {}}, cfg, 3);
  BOOST_CHECK(!metric(t, "top1_seen_forward") && !metric(t, "top1_unseen_forward"));
}

BOOST_AUTO_TEST_SUITE_END()
