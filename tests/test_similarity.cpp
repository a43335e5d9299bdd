// Retrieval's similarity options (pearson, centring on the training fold's mean) against a brute
// force oracle; repeats averaged within folds only; top1_all counting ties as failures; and the
// block-CV simulation where raw cosine decodes below chance and centring recovers the signal.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <random>

#include "pipeline/eval/retrieve_run.h"
#include "pipeline/eval/similarity.h"
#include "pipeline/eval/training_rows.h"
#include "pipeline/models/cv.h"
#include "pipeline/models/ridge_run.h"
#include "tests/decode_study.h"
#include "tests/haxby_inputs.h"
#include "tests/test_util.h"

using namespace v2c;
namespace utf = boost::unit_test;

namespace {

MatrixF gaussian(int64_t rows, int64_t cols, uint64_t seed) { return test::gaussian_matrix(rows, cols, seed); }

double value(const retrieve::RetrievalReport& r, const std::string& name) {
  for (const auto& m : r.metrics)
    if (m.name == name) return m.value;
  BOOST_FAIL("no metric " << name);
  return 0;
}

double oracle_cosine(const Eigen::RowVectorXd& a, const Eigen::RowVectorXd& b) {
  const double na = a.norm(), nb = b.norm();
  return na == 0 || nb == 0 ? 0.0 : a.dot(b) / (na * nb);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(retrieval_similarity)

BOOST_AUTO_TEST_CASE(pearson_and_training_mean_centring_equal_a_brute_force_oracle) {
  const test::DecodeStudy st(9, 3, 12, 1.0f, 1.2f, 0.4f, 7);
  for (const std::string measure : {"cosine", "pearson"})
    for (const std::string centre : {"none", "train_mean"}) {
      retrieve::RetrieveConfig cfg;
      cfg.similarity = measure;
      cfg.centre = centre;
      cfg.average_repeats = false;
      const retrieve::RetrievalReport r = retrieve::run_retrieval({st.p, st.s, {}, {}}, cfg, 1);
      BOOST_REQUIRE_EQUAL(r.query_rank.size(), 27u);
      double top1 = 0;
      for (int64_t i = 0; i < 27; ++i) {
        // The oracle: the training mean of the other runs' truth, subtracted from both sides,
        // then each vector's own mean (pearson), then cosine; rank = 1 + #better + #tied before.
        const int32_t f = st.p.fold[size_t(i)];
        Eigen::RowVectorXd mu = Eigen::RowVectorXd::Zero(12);
        int n_train = 0;
        for (int64_t k = 0; k < 27; ++k)
          if (st.p.fold[size_t(k)] != f) {
            mu += st.p.truth.row(k).cast<double>();
            ++n_train;
          }
        mu /= n_train;
        auto tf = [&](Eigen::RowVectorXd v) {
          if (centre == "train_mean") v -= mu;
          if (measure == "pearson") v.array() -= v.mean();
          return v;
        };
        const Eigen::RowVectorXd q = tf(st.p.predictions.row(i).cast<double>());
        const int64_t t = i % 9;
        const double ts = oracle_cosine(q, tf(st.s.features.row(t).cast<double>()));
        int64_t better = 0, tied_before = 0, tied = 0;
        for (int64_t c = 0; c < 9; ++c) {
          if (c == t) continue;
          const double sc = oracle_cosine(q, tf(st.s.features.row(c).cast<double>()));
          better += sc > ts + 1e-12;
          tied += std::abs(sc - ts) <= 1e-12;
          tied_before += std::abs(sc - ts) <= 1e-12 && c < t;
        }
        BOOST_CHECK_EQUAL(r.query_rank[size_t(i)], 1 + better + tied_before);
        top1 += better + tied == 0;
      }
      BOOST_CHECK_CLOSE_FRACTION(value(r, "top1_all_forward"), top1 / 27, 1e-12);
    }
}

BOOST_AUTO_TEST_CASE(the_options_change_the_ranks) {
  // The transforms must reach the search: with a large shared offset in the predictions, raw
  // cosine and centred cosine rank differently.
  const test::DecodeStudy st(9, 3, 12, 1.0f, 0.8f, 3.0f, 8);
  retrieve::RetrieveConfig cfg;
  const auto raw = retrieve::run_retrieval({st.p, st.s, {}, {}}, cfg, 1);
  cfg.similarity = "pearson";
  const auto pearson = retrieve::run_retrieval({st.p, st.s, {}, {}}, cfg, 1);
  BOOST_CHECK(raw.query_rank != pearson.query_rank);
  BOOST_CHECK_GT(value(pearson, "pairwise_identification"), value(raw, "pairwise_identification"));
}

BOOST_AUTO_TEST_CASE(repeats_are_averaged_within_one_fold_only) {
  test::DecodeStudy st(6, 4, 8, 1.0f, 1.0f, 0.0f, 9);
  retrieve::RetrieveConfig cfg;
  cfg.average_repeats = true;
  // Every run its own fold: no two presentations share a fold, 24 queries.
  BOOST_CHECK_EQUAL(retrieve::run_retrieval({st.p, st.s, {}, {}}, cfg, 1).query_rank.size(), 24u);
  // Runs 0-1 in fold 0, runs 2-3 in fold 1: 12 queries, each the mean of two presentations.
  for (auto& f : st.p.fold) f = f / 2;
  const auto r = retrieve::run_retrieval({st.p, st.s, {}, {}}, cfg, 1);
  BOOST_CHECK_EQUAL(r.query_rank.size(), 12u);
  cfg.average_repeats = false;
  BOOST_CHECK_EQUAL(retrieve::run_retrieval({st.p, st.s, {}, {}}, cfg, 1).query_rank.size(), 24u);
}

BOOST_AUTO_TEST_CASE(top1_all_counts_ties_as_failures) {
  // Stimuli 0 and 1 have the same vector: every query of either ties with the other, whatever
  // the candidate order, so neither can be top-1; pairwise identification agrees.
  test::DecodeStudy st(5, 2, 8, 1.0f, 0.05f, 0.0f, 10);
  st.s.features.row(1) = st.s.features.row(0);
  for (int64_t i = 0; i < st.p.truth.rows(); ++i) st.p.truth.row(i) = st.s.features.row(i % 5);
  retrieve::RetrieveConfig cfg;
  const auto r = retrieve::run_retrieval({st.p, st.s, {}, {}}, cfg, 1);
  // Low noise: stimuli 2-4 are found, 0 and 1 tie: top-1 = 3/5.
  BOOST_CHECK_CLOSE_FRACTION(value(r, "top1_all_forward"), 0.6, 1e-12);
  BOOST_CHECK_EQUAL(r.query_rank[0], 1);  // the rank orders ties by index: stimulus 0 first
}

BOOST_AUTO_TEST_CASE(block_cv_simulation_centring_recovers_the_signal) {
  // A block design decoded leave-one-block-out: each run shows one of 6 classes (2 runs per
  // class, 5 samples each), one-hot targets. Each fold's training mean holds the other classes
  // and not the held-out one, so uncentred predictions point away from the true class.
  const int64_t n_class = 6, runs_per_class = 2, per_run = 5, p_vox = 60;
  const int64_t n_runs = n_class * runs_per_class, n = n_runs * per_run;
  const MatrixF patterns = gaussian(n_class, p_vox, 21), noise = gaussian(n, p_vox, 22);
  linalg::Mat<float> X(n, p_vox), Y = linalg::Mat<float>::Zero(n, n_class);
  Samples s;
  s.subject = "sub-01";
  s.features = MatrixF::Identity(n_class, n_class);
  for (int64_t c = 0; c < n_class; ++c) s.feature_ids.push_back("class-" + std::to_string(c));
  std::vector<int32_t> run;
  std::vector<std::string> stim;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = i / per_run, c = r % n_class;
    run.push_back(int32_t(r));
    stim.push_back(s.feature_ids[size_t(c)]);
    X.row(i) = 0.3f * patterns.row(c) + noise.row(i);
    Y(i, c) = 1;
  }
  cv::RidgeCvSettings rs;
  const auto cvr = cv::cross_validate<float>(X, Y, run, stim, rs);
  Predictions p;
  p.subject = "sub-01";
  p.model = "ridge";
  p.mode = "decode";
  p.predictions = cvr.predictions;
  p.truth = Y;
  p.stimulus = stim;
  p.run = run;
  p.fold = cvr.fold_of_sample;
  for (int64_t i = 0; i < n; ++i) p.feature_row.push_back(int32_t((i / per_run) % n_class));
  retrieve::RetrieveConfig cfg;
  cfg.average_repeats = false;
  double top1[2][2], pairwise[2][2];
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b) {
      cfg.similarity = a ? "pearson" : "cosine";
      cfg.centre = b ? "train_mean" : "none";
      const auto r = retrieve::run_retrieval({p, s, {}, {}}, cfg, 1);
      top1[a][b] = value(r, "top1_all_forward");
      pairwise[a][b] = value(r, "pairwise_identification");
      BOOST_TEST_MESSAGE("block CV, " << cfg.similarity << ", centre " << cfg.centre << ": top-1 " << top1[a][b]
                                      << " (chance " << 1.0 / double(n_class) << "), pairwise " << pairwise[a][b]);
    }
  // Raw similarity decodes below chance; centred on the training mean, above it (measured:
  // top-1 0.05 vs 0.15, pairwise 0.32 vs 0.68, either similarity).
  for (int a = 0; a < 2; ++a) {
    BOOST_CHECK_LT(top1[a][0], 1.0 / double(n_class));
    BOOST_CHECK_LT(pairwise[a][0], 0.4);
    BOOST_CHECK_GT(pairwise[a][1], 0.6);
    BOOST_CHECK_GT(top1[a][1], top1[a][0]);
  }
}

BOOST_AUTO_TEST_CASE(rebuilt_training_rows_follow_the_fold_rules) {
  // Folds = runs 0..3; fraction 0.5 keeps the first 2 of each fold's 3 training runs.
  const std::vector<int32_t> run{0, 0, 1, 1, 2, 2, 3, 3};
  const auto all = eval::fold_training_rows(run, run, 1.0, {});
  BOOST_CHECK(all.rebuilt);
  BOOST_CHECK((all.rows[0] == std::vector<int64_t>{2, 3, 4, 5, 6, 7}));
  const auto half = eval::fold_training_rows(run, run, 0.5, {});
  BOOST_CHECK((half.rows[0] == std::vector<int64_t>{2, 3, 4, 5}));
  BOOST_CHECK((half.rows[2] == std::vector<int64_t>{0, 1, 2, 3}));
  const auto recorded = eval::fold_training_rows(run, run, 0.5, {{2}, {0}, {0}, {0}});
  BOOST_CHECK(!recorded.rebuilt);
  BOOST_CHECK((recorded.rows[0] == std::vector<int64_t>{2}));
}

BOOST_AUTO_TEST_CASE(haxby_top1_with_the_default_similarity,
                     *utf::precondition(test::needs_shared_data{"clip-vitb32/oid_clip_a+cname.npy"})) {
  // configs/haxby2001.yaml's preparation and ridge (leave-one-run-out), retrieval with its
  // defaults: top-1 among the 7 category vectors must stay at least the 0.67 of raw cosine
  // (measured with the defaults: 0.726; raw cosine 0.679; docs/retrieval.md).
  prep::PrepareConfig pc;
  const prep::PrepareInputs in = test::haxby_slice_with_clip(pc);
  pc.detrend_order = 1;
  pc.shift_s = 4.0;
  pc.rest_labels = {"rest", "0"};
  pc.exclude_stimuli = {"scrambledpix"};
  const Samples s = prep::prepare_subject(in, pc);
  ridge::RidgeConfig rc;
  rc.fit_final = false;
  const Predictions p = ridge::run_ridge(s, rc);
  const retrieve::RetrievalReport r = retrieve::run_retrieval({p, s, {}, {}}, retrieve::RetrieveConfig{}, 0);
  BOOST_TEST_MESSAGE("Haxby top-1 with the default similarity: " << value(r, "top1_all_forward"));
  BOOST_CHECK_GE(value(r, "top1_all_forward"), 0.67);
}

BOOST_AUTO_TEST_SUITE_END()
