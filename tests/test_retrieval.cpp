// Retrieval: the blocked top-k search against brute force (both scan precisions, blocks smaller
// than the gallery, ties, zero vectors), rank and pairwise identification against direct double
// loops, MindEye's top-k among n against a direct replay of the same draws, chance levels on
// random data, the bootstrap; and v2c-retrieve end to end with its failure paths.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <set>

#include "pipeline/eval/retrieval.h"
#include "pipeline/eval/retrieve_run.h"
#include "pipeline/io/h5.h"
#include "pipeline/io/predictions.h"
#include "pipeline/io/samples.h"
#include "tests/test_util.h"

using namespace v2c;
namespace utf = boost::unit_test;
namespace rt = v2c::retrieval;

namespace {

MatrixF random_rows(int64_t rows, int64_t cols, uint64_t seed) { return test::gaussian_matrix(rows, cols, seed); }

// The oracle: every cosine in double (sequential sums: equal to the kernel's within 1e-15, and
// bit-equal for duplicate rows), the order (cosine desc, index asc) by a full sort.
double cosine(const MatrixF& a, int64_t i, const MatrixF& b, int64_t j) {
  double dot = 0, na = 0, nb = 0;
  for (int64_t t = 0; t < a.cols(); ++t) {
    dot += double(a(i, t)) * double(b(j, t));
    na += double(a(i, t)) * double(a(i, t));
    nb += double(b(j, t)) * double(b(j, t));
  }
  if (na == 0 || nb == 0) return 0.0;
  return dot / (std::sqrt(na) * std::sqrt(nb));
}

std::vector<int64_t> brute_order(const MatrixF& q, int64_t i, const MatrixF& c) {
  std::vector<double> s(size_t(c.rows()));
  for (int64_t j = 0; j < c.rows(); ++j) s[size_t(j)] = cosine(q, i, c, j);
  std::vector<int64_t> order(size_t(c.rows()));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return s[size_t(a)] > s[size_t(b)]; });
  return order;
}

std::vector<rt::Scan> scans() {
  std::vector<rt::Scan> out{rt::Scan::float32};
  if (rt::cpu_has_bf16()) out.push_back(rt::Scan::bfloat16);
  return out;
}

// Candidates with planted ties: rows copied (exact duplicates) and one zero row.
MatrixF candidates_with_ties(int64_t n, int64_t d, uint64_t seed) {
  MatrixF c = random_rows(n, d, seed);
  for (int64_t j = 3; j + 7 < n; j += 11) c.row(j + 7) = c.row(j);
  if (n > 5) c.row(n / 2).setZero();
  return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(retrieval)

BOOST_AUTO_TEST_CASE(top_k_equals_brute_force_with_ties_and_small_blocks) {
  struct Case {
    int64_t nq, nc, d, k, block;
  };
  const std::vector<Case> cases = {{1, 1, 3, 1, 0},         {7, 50, 5, 3, 16},    {33, 300, 17, 5, 64},
                                   {20, 1000, 64, 10, 100}, {9, 257, 512, 5, 32}, {5, 40, 8, 60, 0}};
  uint64_t seed = 1;
  for (const auto& cs : cases) {
    const MatrixF c = candidates_with_ties(cs.nc, cs.d, seed++);
    MatrixF q = random_rows(cs.nq, cs.d, seed++);
    // Some queries equal to a candidate (cosine 1 to it and its duplicates), one zero query.
    for (int64_t i = 0; i < cs.nq; i += 3) q.row(i) = c.row((i * 7 + 3) % cs.nc) * 2.0f;
    if (cs.nq > 4) q.row(4).setZero();
    for (rt::Scan scan : scans()) {
      rt::SearchOptions opt;
      opt.k = cs.k;
      opt.block_candidates = cs.block;
      opt.block_queries = 4;
      opt.scan = scan;
      const rt::SearchResult r = rt::search(q, c, {}, opt);
      BOOST_REQUIRE_EQUAL(r.k, std::min(cs.k, cs.nc));
      for (int64_t i = 0; i < cs.nq; ++i) {
        const auto order = brute_order(q, i, c);
        for (int64_t j = 0; j < r.k; ++j) {
          BOOST_CHECK_MESSAGE(r.index[size_t(i * r.k + j)] == order[size_t(j)],
                              rt::scan_name(scan) << " nq=" << cs.nq << " nc=" << cs.nc << " d=" << cs.d
                                                  << " k=" << cs.k << " query " << i << " position " << j << ": "
                                                  << r.index[size_t(i * r.k + j)] << " vs " << order[size_t(j)]);
          BOOST_CHECK_SMALL(r.score[size_t(i * r.k + j)] - cosine(q, i, c, order[size_t(j)]), 1e-12);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(rank_and_pairwise_equal_direct_loops_ties_included) {
  const int64_t nq = 40, nc = 200, d = 24;
  const MatrixF c = candidates_with_ties(nc, d, 11);
  MatrixF q = random_rows(nq, d, 12);
  std::vector<int64_t> truth(static_cast<size_t>(nq));
  std::mt19937_64 rng(13);
  for (int64_t i = 0; i < nq; ++i) {
    truth[size_t(i)] = int64_t(rng() % uint64_t(nc));
    // Half the queries are noisy copies of their truth; some truths have exact duplicates.
    if (i % 2 == 0) q.row(i) = c.row(truth[size_t(i)]) + 0.3f * q.row(i);
  }
  truth[3] = 3;  // row 3 is duplicated at row 10: a tie with the true candidate
  q.row(3) = c.row(3);
  truth[5] = 10;  // the duplicate itself: the tie is before it
  q.row(5) = c.row(10);
  truth[7] = -1;  // no truth
  for (rt::Scan scan : scans()) {
    rt::SearchOptions opt;
    opt.block_candidates = 48;
    opt.scan = scan;
    const rt::SearchResult r = rt::search(q, c, truth, opt);
    const auto pw = rt::pairwise_identification(r, nc);
    for (int64_t i = 0; i < nq; ++i) {
      const int64_t t = truth[size_t(i)];
      if (t < 0) {
        BOOST_CHECK_EQUAL(r.rank[size_t(i)], 0);
        BOOST_CHECK(std::isnan(pw[size_t(i)]));
        continue;
      }
      const double ts = cosine(q, i, c, t);
      int64_t lower = 0, rank = 1;
      for (int64_t j = 0; j < nc; ++j) {
        if (j == t) continue;
        const double s = cosine(q, i, c, j);
        lower += s < ts;
        rank += s > ts || (s == ts && j < t);
      }
      BOOST_CHECK_EQUAL(r.rank[size_t(i)], rank);
      BOOST_CHECK_EQUAL(pw[size_t(i)], double(lower) / double(nc - 1));
      // The rank agrees with the order used by top-k.
      const auto order = brute_order(q, i, c);
      BOOST_CHECK_EQUAL(order[size_t(rank - 1)], t);
    }
    BOOST_CHECK_EQUAL(r.rank[3], 1);  // tie at row 10, later index
    BOOST_CHECK_EQUAL(r.rank[5], 2);  // tie at row 3, earlier index
    BOOST_CHECK_EQUAL(pw[3], pw[5]);  // both count the tie as a failure
    BOOST_CHECK_EQUAL(pw[3], double(nc - 2) / double(nc - 1));
  }
}

BOOST_AUTO_TEST_CASE(top_k_among_n_equals_a_direct_replay_of_the_draws) {
  const int64_t nq = 25, nc = 60, d = 10, n = 12, draws = 30;
  const MatrixF c = candidates_with_ties(nc, d, 21);
  MatrixF q = random_rows(nq, d, 22);
  std::vector<int64_t> truth(static_cast<size_t>(nq));
  for (int64_t i = 0; i < nq; ++i) {
    truth[size_t(i)] = (i * 5) % nc;
    q.row(i) = c.row(truth[size_t(i)]) + 0.8f * q.row(i);
  }
  truth[2] = -1;
  const uint64_t seed = 99;
  const auto got = rt::top_k_among_n(q, c, truth, {1, 5}, n, draws, seed);
  for (int64_t i = 0; i < nq; ++i) {
    const int64_t t = truth[size_t(i)];
    if (t < 0) {
      BOOST_CHECK(std::isnan(got[0][size_t(i)]));
      continue;
    }
    std::mt19937_64 rng(seed + uint64_t(i));
    int64_t top1 = 0, top5 = 0;
    for (int64_t draw = 0; draw < draws; ++draw) {
      std::vector<int64_t> others;
      rt::sample_others(rng, nc, t, n - 1, others);
      BOOST_REQUIRE_EQUAL(int64_t(others.size()), n - 1);
      std::vector<int64_t> sorted = others;
      std::sort(sorted.begin(), sorted.end());
      BOOST_REQUIRE(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
      BOOST_REQUIRE(std::find(sorted.begin(), sorted.end(), t) == sorted.end());
      // The true candidate's place among the n by a full sort (ties: the true one last).
      std::vector<std::pair<double, int>> set;
      set.push_back({cosine(q, i, c, t), 1});
      for (int64_t o : others) set.push_back({cosine(q, i, c, o), 0});
      std::sort(set.begin(), set.end(),
                [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
      const int64_t place = std::find_if(set.begin(), set.end(), [](auto& e) { return e.second == 1; }) - set.begin();
      top1 += place < 1;
      top5 += place < 5;
    }
    BOOST_CHECK_EQUAL(got[0][size_t(i)], double(top1) / draws);
    BOOST_CHECK_EQUAL(got[1][size_t(i)], double(top5) / draws);
  }
}

BOOST_AUTO_TEST_CASE(sampler_draws_every_other_candidate_uniformly) {
  std::mt19937_64 rng(5);
  std::vector<int64_t> count(10, 0);
  const int64_t reps = 20000;
  for (int64_t r = 0; r < reps; ++r) {
    std::vector<int64_t> o;
    rt::sample_others(rng, 10, 4, 3, o);
    for (int64_t x : o) ++count[size_t(x)];
  }
  BOOST_CHECK_EQUAL(count[4], 0);
  for (int64_t j = 0; j < 10; ++j)
    if (j != 4) BOOST_CHECK_CLOSE_FRACTION(double(count[size_t(j)]) / double(reps), 3.0 / 9.0, 0.03);
}

BOOST_AUTO_TEST_CASE(chance_levels_on_random_data) {
  // Queries unrelated to the candidates: top-1 among n -> 1/n, top-5 -> 5/n, pairwise -> 0.5,
  // mean rank -> (N+1)/2, each within a few standard errors.
  const int64_t nq = 2000, nc = 400, d = 16, n = 10;
  const MatrixF c = random_rows(nc, d, 31), q = random_rows(nq, d, 32);
  std::vector<int64_t> truth(static_cast<size_t>(nq));
  for (int64_t i = 0; i < nq; ++i) truth[size_t(i)] = i % nc;
  const auto among = rt::top_k_among_n(q, c, truth, {1, 5}, n, 20, 7);
  const auto top1 = rt::bootstrap_mean(among[0], 500, 1), top5 = rt::bootstrap_mean(among[1], 500, 1);
  BOOST_CHECK_SMALL(top1.value - 0.1, 0.015);
  BOOST_CHECK_SMALL(top5.value - 0.5, 0.03);
  const rt::SearchResult r = rt::search(q, c, truth);
  const auto pw = rt::bootstrap_mean(rt::pairwise_identification(r, nc), 500, 1);
  BOOST_CHECK_SMALL(pw.value - 0.5, 0.02);
  BOOST_CHECK(pw.ci_low < 0.5 + 0.02 && pw.ci_high > 0.5 - 0.02);
  std::vector<double> ranks(r.rank.begin(), r.rank.end());
  BOOST_CHECK_SMALL(rt::bootstrap_mean(ranks, 200, 1).value / ((nc + 1) / 2.0) - 1.0, 0.04);
}

BOOST_AUTO_TEST_CASE(bootstrap_interval_is_reproducible_and_brackets_the_mean) {
  std::vector<double> v;
  std::mt19937_64 rng(3);
  std::normal_distribution<double> g(2.0, 1.0);
  for (int i = 0; i < 400; ++i) v.push_back(g(rng));
  v.push_back(std::nan(""));
  const auto a = rt::bootstrap_mean(v, 1000, 42), b = rt::bootstrap_mean(v, 1000, 42);
  BOOST_CHECK_EQUAL(a.n, 400);
  BOOST_CHECK_EQUAL(a.ci_low, b.ci_low);
  BOOST_CHECK(a.ci_low < a.value && a.value < a.ci_high);
  // Normal theory: half-width 1.96 / sqrt(400) = 0.098.
  BOOST_CHECK_CLOSE_FRACTION(a.ci_high - a.ci_low, 2 * 0.098, 0.15);
  BOOST_CHECK(std::isnan(rt::bootstrap_mean({}, 10, 1).value));
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// A small decode study: 12 training and 8 novel ("test-") stimuli with 16-d features, each shown
// twice (once per run); decoded vectors = features + noise; one sample never tested.
struct StageStudy {
  test::TempDir dir{"v2c-retrieve"};
  std::string samples = dir.file("samples.h5"), predictions = dir.file("predictions.h5");
  Samples s;
  Predictions p;

  StageStudy() {
    const int64_t n_stim = 20, d = 16, n = 2 * n_stim;
    s.subject = "sub-01";
    s.data = random_rows(n, 3, 41);
    s.ijk = decltype(s.ijk)::Zero(3, 3);
    s.xyz = MatrixD::Zero(3, 3);
    s.grid_dims = {3, 1, 1};
    s.run_source = {"r0.nii", "r1.nii"};
    s.run_events = {"e0.tsv", "e1.tsv"};
    s.run_volumes = {20, 20};
    s.run_tr_s = {2.0, 2.0};
    s.features = random_rows(n_stim, d, 42);
    for (int64_t j = 0; j < n_stim; ++j) s.feature_ids.push_back((j < 12 ? "train-" : "test-") + std::to_string(j));
    const MatrixF noise = random_rows(n, d, 43);
    p.subject = "sub-01";
    p.model = "ridge";
    p.mode = "decode";
    p.train_fraction = 1.0;
    p.predictions.resize(n, d);
    p.truth.resize(n, d);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t stim = i % n_stim;
      s.stimulus.push_back(s.feature_ids[size_t(stim)]);
      s.run.push_back(int32_t(i / n_stim));
      s.onset_s.push_back(double(i));
      s.duration_s.push_back(2.0);
      s.volumes.push_back(1);
      s.feature_row.push_back(int32_t(stim));
      p.predictions.row(i) = s.features.row(stim) + 0.9f * noise.row(i);
      p.truth.row(i) = s.features.row(stim);
    }
    p.stimulus = s.stimulus;
    p.run = s.run;
    p.fold = s.run;
    p.fold[5] = -1;
    p.feature_row = s.feature_row;
    p.samples_path = samples;
    p.alphas = {1.0};
    p.fold_alpha = MatrixD::Ones(2, d);
    p.inner_score = MatrixD::Zero(2, 1);
    p.edge_low = p.edge_high = {0.0, 0.0};
    p.profile_corr = p.r2 = std::vector<double>(size_t(d), 0.0);
    p.pattern_corr = std::vector<double>(size_t(n), 0.0);
    Provenance prov;
    prov.stage = "test";
    write_samples(samples, s, prov, false);
    write_predictions(predictions, p, prov, false);
  }
};

struct RetrievalFile {
  std::map<std::string, size_t> row;
  std::vector<double> value, low, high, chance;
  std::vector<int64_t> n_candidates, rank, top_k;
  std::vector<std::string> stimulus, ids;
  std::string candidate_set;

  explicit RetrievalFile(const std::string& path) {
    h5::ArtifactReader r(path, "retrieval", retrieve::kRetrievalFormatVersion);
    const auto names = r.read_strings("metrics/name");
    for (size_t i = 0; i < names.size(); ++i) row[names[i]] = i;
    value = r.read_doubles("metrics/value");
    low = r.read_doubles("metrics/ci_low");
    high = r.read_doubles("metrics/ci_high");
    chance = r.read_doubles("metrics/chance");
    n_candidates = r.read_ints("metrics/n_candidates");
    rank = r.read_ints("queries/rank");
    top_k = r.read_ints("queries/top_k");
    stimulus = r.read_strings("queries/stimulus");
    ids = r.read_strings("candidates/ids");
    candidate_set = r.attr_string("/", "candidate_set");
  }
  double operator[](const std::string& name) const { return value.at(row.at(name)); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(retrieval_stage)

BOOST_AUTO_TEST_CASE(metrics_in_the_file_equal_the_kernels) {
  StageStudy st;
  const std::string out = st.dir.file("retrieval.h5");
  // Raw cosine, no repeats averaged: the kernels' own similarity (the transforms have their
  // oracle in tests/test_similarity.cpp).
  const auto run = test::run_stage("retrieve", {"--predictions", st.predictions, "--out", out, "--seed", "3", "--set",
                                                "retrieve.centre=none", "--set", "retrieve.average_repeats=false"});
  BOOST_REQUIRE_MESSAGE(run.exit_code == 0, run.output);
  BOOST_CHECK(run.output.find("pairwise_identification") != std::string::npos);  // the table
  const RetrievalFile f(out);
  BOOST_CHECK_EQUAL(f.candidate_set, "test");
  BOOST_REQUIRE_EQUAL(f.ids.size(), 20u);       // every stimulus has a tested sample
  BOOST_REQUIRE_EQUAL(f.stimulus.size(), 39u);  // 40 samples, one never tested

  // The same computation straight from the kernels.
  MatrixF q(39, 16);
  std::vector<int64_t> truth;
  int64_t u = 0;
  for (int64_t i = 0; i < 40; ++i) {
    if (i == 5) continue;
    q.row(u++) = st.p.predictions.row(i);
    truth.push_back(i % 20);  // candidates are the feature rows, sorted
  }
  const rt::SearchResult r = rt::search(q, st.s.features, truth);
  const auto pw = rt::pairwise_identification(r, 20);
  double mean_rank = 0, mean_pw = 0;
  for (size_t i = 0; i < 39; ++i) {
    BOOST_CHECK_EQUAL(f.rank[i], r.rank[i]);
    for (int64_t j = 0; j < 5; ++j) BOOST_CHECK_EQUAL(f.top_k[i * 5 + size_t(j)], r.index[i * 5 + size_t(j)]);
    mean_rank += double(r.rank[i]) / 39;
    mean_pw += pw[i] / 39;
  }
  BOOST_CHECK_CLOSE_FRACTION(f["mean_rank"], mean_rank, 1e-12);
  BOOST_CHECK_CLOSE_FRACTION(f["pairwise_identification"], mean_pw, 1e-12);
  BOOST_CHECK_GT(mean_pw, 0.8);  // decoding works on this study
  const auto among = rt::top_k_among_n(q, st.s.features, truth, {1, 5}, 20, 30, 3);
  BOOST_CHECK_CLOSE_FRACTION(f["top1_forward"], rt::bootstrap_mean(among[0], 10).value, 1e-12);
  BOOST_CHECK_CLOSE_FRACTION(f["top5_forward"], rt::bootstrap_mean(among[1], 10).value, 1e-12);
  BOOST_CHECK_CLOSE_FRACTION(f.chance.at(f.row.at("top1_forward")), 1.0 / 20, 1e-12);
  BOOST_CHECK_EQUAL(f.n_candidates.at(f.row.at("top1_forward")), 20);
  BOOST_CHECK_EQUAL(f.chance.at(f.row.at("pairwise_identification")), 0.5);
  BOOST_CHECK_CLOSE_FRACTION(f.chance.at(f.row.at("mean_rank")), 10.5, 1e-12);
  BOOST_CHECK(f.row.count("top1_backward") && f.row.count("pairwise_identification_backward"));
  for (const auto& [name, m] : f.row) {
    // Every stimulus is tested in both runs, so a backward query (one stimulus) ties the two runs
    // into one unit: no interval. Forward queries come from one run each: two units.
    if (name.find("backward") != std::string::npos)
      BOOST_CHECK_MESSAGE(std::isnan(f.low[m]) && std::isnan(f.high[m]), name);
    else
      BOOST_CHECK_MESSAGE(f.low[m] <= f.value[m] && f.value[m] <= f.high[m], name);
  }
}

BOOST_AUTO_TEST_CASE(novel_queries_averaged_and_a_gallery) {
  StageStudy st;
  // Gallery: 30 unseen stimuli plus one id that is already a test stimulus (kept once).
  const MatrixF g = random_rows(31, 16, 51);
  std::string csv = "id";
  for (int j = 0; j < 16; ++j) csv += ",f" + std::to_string(j);
  csv += "\n";
  for (int64_t r = 0; r < 31; ++r) {
    csv += r == 30 ? std::string("test-13") : "unseen-" + std::to_string(r);
    for (int j = 0; j < 16; ++j) csv += "," + std::to_string(r == 30 ? st.s.features(13, j) : g(r, j));
    csv += "\n";
  }
  const std::string gallery = st.dir.write("gallery.csv", csv);
  const std::string out = st.dir.file("r.h5");
  const auto run =
      test::run_stage("retrieve", {"--predictions", st.predictions, "--samples", st.samples, "--gallery", gallery,
                                   "--out", out, "--set", "retrieve.candidates=gallery", "--set",
                                   "retrieve.queries=novel", "--set", "retrieve.average_repeats=true", "--quiet"});
  BOOST_REQUIRE_MESSAGE(run.exit_code == 0, run.output);
  const RetrievalFile f(out);
  BOOST_CHECK_EQUAL(f.candidate_set, "gallery");
  // One query per (outer fold, novel stimulus): each fold tests one presentation of each, and
  // presentations tested by different folds (different models) are never averaged together.
  BOOST_CHECK_EQUAL(f.stimulus.size(), 16u);
  for (const auto& s : f.stimulus) BOOST_CHECK(s.rfind("test-", 0) == 0);
  BOOST_CHECK_EQUAL(f.ids.size(), 8u + 30u);
  BOOST_CHECK_EQUAL(f.n_candidates.at(f.row.at("mean_rank")), 38);
  BOOST_CHECK_EQUAL(f.n_candidates.at(f.row.at("top1_backward")), 8);  // backward: among the decoded vectors
  std::set<std::string> unique(f.ids.begin(), f.ids.end());
  BOOST_CHECK_EQUAL(unique.size(), f.ids.size());  // test-13 once
  for (int64_t t : f.top_k) BOOST_CHECK(t >= 0 && t < 38);
  BOOST_CHECK_GT(f["pairwise_identification"], 0.8);
}

BOOST_AUTO_TEST_CASE(category_labels_and_bad_input) {
  StageStudy st;
  std::string csv = "id";
  for (int j = 0; j < 16; ++j) csv += ",f" + std::to_string(j);
  csv += "\n";
  const MatrixF c = random_rows(4, 16, 61);
  for (int64_t r = 0; r < 4; ++r) {
    csv += "cat" + std::to_string(r);
    for (int j = 0; j < 16; ++j) csv += "," + std::to_string(c(r, j));
    csv += "\n";
  }
  const std::string cats = st.dir.write("cats.csv", csv);
  std::string aliases = "stimulus\tcategory\n";
  for (const auto& id : st.s.feature_ids)
    aliases += id + "\tcat" + std::to_string(std::stoi(id.substr(id.find('-') + 1)) % 4) + "\n";
  const std::string good = st.dir.write("aliases.tsv", aliases);
  std::string broken = aliases;
  broken.replace(broken.find("cat3"), 4, "cat9");  // a category the gallery lacks
  const std::string missing_cat = st.dir.write("missing.tsv", broken);
  const std::string out = st.dir.file("r.h5");
  auto r = test::run_stage("retrieve", {"--predictions", st.predictions, "--gallery", cats, "--gallery-aliases", good,
                                        "--out", out, "--set", "retrieve.candidates=categories", "--quiet"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  {
    const RetrievalFile f(out);
    BOOST_CHECK_EQUAL(f.ids.size(), 4u);
    BOOST_CHECK(f.row.count("top1_forward") && !f.row.count("top1_backward"));
    BOOST_CHECK_EQUAL(f.chance.at(f.row.at("top1_forward")), 0.25);
  }

  const std::string none = st.dir.file("none.h5");
  r = test::run_stage("retrieve", {"--predictions", st.predictions, "--gallery", cats, "--gallery-aliases", missing_cat,
                                   "--out", none, "--set", "retrieve.candidates=categories"});
  BOOST_CHECK_EQUAL(r.exit_code, 3);
  BOOST_CHECK_MESSAGE(r.output.find("cat9") != std::string::npos, r.output);
  BOOST_CHECK(!std::filesystem::exists(none));

  // Encode-mode predictions.
  Predictions enc = st.p;
  enc.mode = "encode";
  Provenance prov;
  write_predictions(st.dir.file("enc.h5"), enc, prov, false);
  r = test::run_stage("retrieve", {"--predictions", st.dir.file("enc.h5"), "--out", none});
  BOOST_CHECK_EQUAL(r.exit_code, 3);
  BOOST_CHECK_MESSAGE(r.output.find("decode") != std::string::npos, r.output);
  BOOST_CHECK(!std::filesystem::exists(none));

  // Missing files: predictions, gallery.
  r = test::run_stage("retrieve", {"--predictions", st.dir.file("nope.h5"), "--out", none});
  BOOST_CHECK_EQUAL(r.exit_code, 4);
  r = test::run_stage("retrieve", {"--predictions", st.predictions, "--gallery", st.dir.file("nope.csv"), "--out", none,
                                   "--set", "retrieve.candidates=gallery"});
  BOOST_CHECK_EQUAL(r.exit_code, 4);
  // A gallery without candidates=gallery, and candidates=gallery without one: usage.
  r = test::run_stage("retrieve", {"--predictions", st.predictions, "--gallery", cats, "--out", none});
  BOOST_CHECK_EQUAL(r.exit_code, 2);
  r = test::run_stage("retrieve",
                      {"--predictions", st.predictions, "--out", none, "--set", "retrieve.candidates=gallery"});
  BOOST_CHECK_EQUAL(r.exit_code, 2);
  // No novel stimulus matches.
  r = test::run_stage("retrieve", {"--predictions", st.predictions, "--out", none, "--set", "retrieve.queries=novel",
                                   "--set", "retrieve.novel_pattern=^holdout-"});
  BOOST_CHECK_EQUAL(r.exit_code, 3);
  BOOST_CHECK(!std::filesystem::exists(none));
}

BOOST_AUTO_TEST_SUITE_END()
