#include "pipeline/eval/retrieve_run.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <unordered_map>

#include "pipeline/core/error.h"
#include "pipeline/core/log.h"
#include "pipeline/eval/label_permutation.h"
#include "pipeline/eval/retrieval.h"
#include "pipeline/eval/seen_split.h"
#include "pipeline/eval/similarity.h"
#include "pipeline/eval/training_rows.h"
#include "pipeline/eval/units.h"
#include "pipeline/io/h5.h"
#include "pipeline/stats/bootstrap.h"
#include "pipeline/stats/repeats.h"

namespace v2c::retrieve {

namespace {

namespace rt = v2c::retrieval;
namespace sim = v2c::similarity;

// One query: a sample, or (average_repeats) the mean of one stimulus's presentations tested in
// one outer fold (stats/repeats.h).
struct Query {
  std::string stimulus;
  int64_t feature_row = -1;
  int32_t fold = -1;
  std::vector<int64_t> samples;
};

// The mean over queries with its 95% percentile interval from the bootstrap over independent
// units (stats/bootstrap.h; NaN with fewer than 2 units).
Metric summarize(const std::string& name, const std::vector<double>& per_query, double chance, int64_t n_candidates,
                 const std::vector<int64_t>& unit, const RetrieveConfig& cfg, uint64_t seed) {
  const stats::UnitBootstrapResult b = stats::bootstrap_units(per_query, unit, {cfg.bootstrap, seed, 0.95});
  Metric m{name, b.value, b.ci_low, b.ci_high, chance, n_candidates, b.n_queries};
  m.n_units = b.n_units;
  return m;
}

// The queries of each transform: [first, last) ranges of the query list, with their centre.
struct Group {
  int64_t first = 0, last = 0;
  Eigen::RowVectorXd centre;  // empty: not centred
};

// top-1 / top-5 among n for one direction over query groups (each with its own transform of
// the candidates), appended to `out`. Query q draws from std::mt19937_64(seed + q) whatever
// its group.
void among_n_metrics(const std::string& direction, const MatrixF& queries, const MatrixF& candidates,
                     const std::vector<int64_t>& truth, const std::vector<Group>& groups, sim::Measure measure,
                     const std::vector<int64_t>& unit, const RetrieveConfig& cfg, uint64_t seed,
                     std::vector<Metric>& out) {
  const int64_t pool = candidates.rows();
  if (pool < 2) return;
  const int64_t n = std::min<int64_t>(cfg.among_n, pool);
  if (n < cfg.among_n)
    log::warn(direction, ": among_n = ", cfg.among_n, " but only ", pool, " candidates: top-1/top-5 among ", n);
  std::vector<std::vector<double>> among(2, std::vector<double>(size_t(queries.rows()), std::nan("")));
  for (const Group& g : groups) {
    MatrixF c = candidates;
    sim::transform_rows(c, g.centre, measure);
    const std::vector<int64_t> t(truth.begin() + g.first, truth.begin() + g.last);
    const auto a = rt::top_k_among_n(queries.middleRows(g.first, g.last - g.first), c, t, {1, 5}, n, cfg.draws,
                                     seed + uint64_t(g.first));
    for (size_t k = 0; k < 2; ++k) std::copy(a[k].begin(), a[k].end(), among[k].begin() + g.first);
  }
  out.push_back(summarize("top1_" + direction, among[0], 1.0 / double(n), n, unit, cfg, seed + 1));
  out.push_back(
      summarize("top5_" + direction, among[1], double(std::min<int64_t>(5, n)) / double(n), n, unit, cfg, seed + 2));
}

// Permutation p-values of the forward top1_all, top5_all and pairwise metrics (label_permutation.h),
// from every query's exact similarity to every candidate; skipped (with a warning) when that
// matrix would exceed kMaxSimilarities entries.
constexpr int64_t kMaxSimilarities = 20000000;

void permutation_p_values(const MatrixF& queries, const MatrixF& candidates, const std::vector<int64_t>& truth,
                          const std::vector<Group>& groups, sim::Measure measure, const std::vector<int64_t>& unit,
                          const RetrieveConfig& cfg, uint64_t seed, RetrievalReport& r) {
  const int64_t nq = queries.rows(), N = candidates.rows(), d = queries.cols();
  if (nq * N > kMaxSimilarities) {
    log::warn("permutation test skipped: ", nq, " queries x ", N, " candidates exceed ", kMaxSimilarities,
              " similarities (set retrieve.permutations = 0 to silence)");
    return;
  }
  MatrixD similarity(nq, N);
  for (const Group& g : groups) {
    MatrixF c = candidates;
    sim::transform_rows(c, g.centre, measure);
#pragma omp parallel for schedule(static) if ((g.last - g.first) * N * d > 1000000)
    for (int64_t i = g.first; i < g.last; ++i)
      for (int64_t j = 0; j < N; ++j) similarity(i, j) = rt::exact_cosine(queries.row(i).data(), c.row(j).data(), d);
  }
  const eval::IdentificationPValues pv =
      eval::identification_permutation_test(similarity, truth, unit, cfg.permutations, seed);
  for (auto& m : r.metrics) {
    if (m.name == "top1_all_forward") m.p_permutation = pv.top1_all;
    if (m.name == "top5_all_forward") m.p_permutation = pv.top5_all;
    if (m.name == "pairwise_identification") m.p_permutation = pv.pairwise;
  }
  r.permutations = pv.n_perm;
}

// Gallery and category candidates split by what the query's fold trained on (eval/seen_split.h):
// top1_seen_forward and top1_unseen_forward, each with the mean of its queries' own chance levels.
void seen_split_metrics(const RetrieveInputs& in, const RetrieveConfig& cfg, const MatrixF& queries,
                        const MatrixF& candidates, const std::vector<int64_t>& truth, const std::vector<Group>& groups,
                        const std::vector<Query>& units, const eval::FoldTrainingRows& train, uint64_t seed,
                        RetrievalReport& r) {
  const Predictions& p = in.predictions;
  const Samples& s = in.samples;
  const int64_t N = candidates.rows(), nq = queries.rows();
  std::unordered_map<std::string, int64_t> candidate_of;
  for (size_t j = 0; j < r.candidate_ids.size(); ++j) candidate_of.emplace(r.candidate_ids[j], int64_t(j));
  std::vector<std::vector<char>> seen_in_fold(train.rows.size(), std::vector<char>(size_t(N), 0));
  for (size_t f = 0; f < train.rows.size(); ++f)
    for (int64_t i : train.rows[f]) {
      std::string id;
      if (cfg.candidates == "categories") {
        const auto a = in.aliases.find(p.stimulus[size_t(i)]);
        id = a != in.aliases.end() ? a->second : p.stimulus[size_t(i)];
      } else if (p.feature_row[size_t(i)] >= 0 && p.feature_row[size_t(i)] < s.features.rows()) {
        id = s.feature_ids[size_t(p.feature_row[size_t(i)])];
      }
      const auto c = candidate_of.find(id);
      if (c != candidate_of.end()) seen_in_fold[f][size_t(c->second)] = 1;
    }
  std::vector<const std::vector<char>*> seen(static_cast<size_t>(nq));
  for (int64_t u = 0; u < nq; ++u) seen[size_t(u)] = &seen_in_fold.at(size_t(units[size_t(u)].fold));
  eval::SeenSplit all;
  for (const Group& g : groups) {
    MatrixF q = queries.middleRows(g.first, g.last - g.first), c = candidates;
    sim::transform_rows(c, g.centre, sim::parse_measure(cfg.similarity));
    const eval::SeenSplit part = eval::seen_split_top1(q, c, {truth.begin() + g.first, truth.begin() + g.last},
                                                       {seen.begin() + g.first, seen.begin() + g.last});
    all.seen_hit.insert(all.seen_hit.end(), part.seen_hit.begin(), part.seen_hit.end());
    all.unseen_hit.insert(all.unseen_hit.end(), part.unseen_hit.begin(), part.unseen_hit.end());
    all.seen_others.insert(all.seen_others.end(), part.seen_others.begin(), part.seen_others.end());
    all.unseen_others.insert(all.unseen_others.end(), part.unseen_others.begin(), part.unseen_others.end());
  }
  auto add = [&](const char* name, const std::vector<double>& hit, const std::vector<int64_t>& others, uint64_t s_) {
    std::vector<double> value;
    std::vector<int64_t> unit;
    double chance = 0;
    int64_t widest = 0;
    for (int64_t u = 0; u < nq; ++u) {
      if (std::isnan(hit[size_t(u)])) continue;
      value.push_back(hit[size_t(u)]);
      unit.push_back(r.query_unit[size_t(u)]);
      chance += 1.0 / double(others[size_t(u)] + 1);
      widest = std::max(widest, others[size_t(u)] + 1);
    }
    if (value.empty()) return;
    r.metrics.push_back(summarize(name, value, chance / double(value.size()), widest, unit, cfg, s_));
  };
  add("top1_seen_forward", all.seen_hit, all.seen_others, seed);
  add("top1_unseen_forward", all.unseen_hit, all.unseen_others, seed + 1);
}

// The evaluated samples grouped into queries, ordered by fold (stable).
std::vector<Query> make_queries(const Predictions& p, const Samples& s, const RetrieveConfig& cfg) {
  const bool novel_only = cfg.queries == "novel";
  const std::regex novel(cfg.novel_pattern);
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < p.predictions.rows(); ++i) {
    const int64_t row = p.feature_row[size_t(i)];
    if (p.fold[size_t(i)] < 0 || row < 0 || !p.predictions.row(i).allFinite()) continue;
    if (novel_only && !std::regex_search(p.stimulus[size_t(i)], novel)) continue;
    if (row >= s.features.rows())
      throw input_error("sample ", i, " (", p.stimulus[size_t(i)], "): feature row ", row, " but the samples file has ",
                        s.features.rows(), " stimuli with features");
    rows.push_back(i);
  }
  std::vector<Query> queries;
  if (cfg.average_repeats) {
    const stats::AveragedQueries avg = stats::average_repeats(p.predictions, p.stimulus, p.fold, rows);
    for (size_t q = 0; q < avg.members.size(); ++q) {
      const auto& members = avg.members[q];
      const int64_t row = p.feature_row[size_t(members.front())];
      for (int64_t i : members)
        if (p.feature_row[size_t(i)] != row)
          throw input_error("stimulus '", avg.stimulus[q], "' has samples with different feature rows (", row, ", ",
                            p.feature_row[size_t(i)], ")");
      queries.push_back({avg.stimulus[q], row, avg.fold[q], members});
    }
  } else {
    for (int64_t i : rows) queries.push_back({p.stimulus[size_t(i)], p.feature_row[size_t(i)], p.fold[size_t(i)], {i}});
  }
  std::stable_sort(queries.begin(), queries.end(), [](const Query& a, const Query& b) { return a.fold < b.fold; });
  return queries;
}

}  // namespace

RetrievalReport run_retrieval(const RetrieveInputs& in, const RetrieveConfig& cfg, uint64_t seed) {
  const Predictions& p = in.predictions;
  const Samples& s = in.samples;
  if (p.mode != "decode")
    throw input_error("predictions of mode '", p.mode,
                      "': retrieval needs decode-mode predictions (voxels -> stimulus features)");
  if (!s.has_features())
    throw input_error("the samples file has no stimulus features (/features): give v2c-prepare --features");
  const int64_t d = p.predictions.cols();
  if (s.features.cols() != d)
    throw input_error("predictions have ", d, " dimensions, the samples' stimulus features ", s.features.cols());
  const int64_t n_samples = p.predictions.rows();
  if (int64_t(p.fold.size()) != n_samples || int64_t(p.feature_row.size()) != n_samples ||
      int64_t(p.stimulus.size()) != n_samples || int64_t(p.run.size()) != n_samples || p.truth.rows() != n_samples)
    throw input_error("predictions: the sample table does not have ", n_samples, " rows");

  const std::vector<Query> units = make_queries(p, s, cfg);
  if (units.empty())
    throw input_error(
        "no out-of-fold decoded sample with a stimulus feature to evaluate",
        cfg.queries == "novel" ? cat(" whose stimulus matches novel_pattern '", cfg.novel_pattern, "'") : "");
  const int64_t nq = int64_t(units.size());
  MatrixF queries = MatrixF::Zero(nq, d);
  for (int64_t u = 0; u < nq; ++u) {
    Eigen::RowVectorXd sum = Eigen::RowVectorXd::Zero(d);
    for (int64_t i : units[size_t(u)].samples) sum += p.predictions.row(i).cast<double>();
    queries.row(u) = (sum / double(units[size_t(u)].samples.size())).cast<float>();
  }

  // The transform of each group of queries: centred on its fold's training mean, or not at all.
  const sim::Measure measure = sim::parse_measure(cfg.similarity);
  // Each outer fold's training rows (recorded by the model, or rebuilt): centring and the seen split.
  const eval::FoldTrainingRows train = eval::fold_training_rows(p.fold, p.run, p.train_fraction, p.fold_train);
  std::vector<Group> groups;
  if (cfg.centre == "train_mean") {
    if (train.rebuilt)
      log::warn(
          "retrieve.centre = train_mean: the predictions record no training rows per fold; rebuilt as every row "
          "the fold does not test, in its first runs by train_fraction ",
          p.train_fraction,
          " (a model trained with ridge.exclusive dropped the repeats of its test stimuli, which these keep)");
    for (int64_t u = 0; u < nq;) {
      const int32_t f = units[size_t(u)].fold;
      int64_t v = u;
      while (v < nq && units[size_t(v)].fold == f) ++v;
      if (train.rows[size_t(f)].empty())
        throw input_error("retrieve.centre = train_mean: outer fold ", f, " of '", p.subject, "' ", p.model,
                          " has no training rows to take the mean of");
      groups.push_back({u, v, sim::fold_means(p.truth, {train.rows[size_t(f)]}).row(0)});
      u = v;
    }
  } else {
    groups.push_back({0, nq, {}});
  }
  for (const Group& g : groups) {
    MatrixF block = queries.middleRows(g.first, g.last - g.first);
    sim::transform_rows(block, g.centre, measure);
    queries.middleRows(g.first, g.last - g.first) = block;
  }
  // The candidates and each query's true one.
  RetrievalReport r;
  r.subject = p.subject;
  r.model = p.model;
  r.train_fraction = p.train_fraction;
  r.candidate_set = cfg.candidates;
  r.similarity = cfg.similarity;
  r.centre = cfg.centre;
  std::vector<int64_t> truth(static_cast<size_t>(nq), -1);
  MatrixF candidates;
  std::vector<int64_t> test_rows;  // candidate rows that are the evaluated stimuli (test/gallery)
  if (cfg.candidates == "categories") {
    if (in.gallery.ids.empty()) throw usage_error("candidates: categories needs --gallery (the category vectors)");
    if (in.gallery.values.cols() != d)
      throw input_error("gallery '", in.gallery.source, "' has ", in.gallery.values.cols(), " dimensions, predictions ",
                        d);
    candidates = in.gallery.values;
    r.candidate_ids = in.gallery.ids;
    for (int64_t u = 0; u < nq; ++u) {
      const std::string& stim = units[size_t(u)].stimulus;
      const auto a = in.aliases.find(stim);
      const std::string id = a != in.aliases.end() ? a->second : stim;
      truth[size_t(u)] = in.gallery.find(id);
      if (truth[size_t(u)] < 0)
        throw input_error("stimulus '", stim, "'", id != stim ? cat(" (category '", id, "')") : "",
                          ": no vector in the gallery '", in.gallery.source, "' (", in.gallery.ids.size(),
                          " ids, e.g. '", in.gallery.ids.front(), "')");
    }
  } else {
    std::vector<int64_t> rows;
    for (const auto& u : units) rows.push_back(u.feature_row);
    std::sort(rows.begin(), rows.end());
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    std::unordered_map<int64_t, int64_t> cand_of_row;
    for (size_t j = 0; j < rows.size(); ++j) cand_of_row[rows[j]] = int64_t(j);
    for (int64_t u = 0; u < nq; ++u) truth[size_t(u)] = cand_of_row.at(units[size_t(u)].feature_row);
    std::vector<int64_t> extra;  // gallery rows not among the evaluated stimuli
    for (int64_t row : rows) r.candidate_ids.push_back(s.feature_ids[size_t(row)]);
    if (cfg.candidates == "gallery") {
      if (in.gallery.ids.empty()) throw usage_error("candidates: gallery needs --gallery FILE");
      if (in.gallery.values.cols() != d)
        throw input_error("gallery '", in.gallery.source, "' has ", in.gallery.values.cols(),
                          " dimensions, predictions ", d);
      std::unordered_map<std::string, int64_t> test_ids;
      for (size_t j = 0; j < rows.size(); ++j) test_ids[r.candidate_ids[j]] = rows[j];
      int64_t differing = 0;
      for (int64_t g = 0; g < int64_t(in.gallery.ids.size()); ++g) {
        const auto it = test_ids.find(in.gallery.ids[size_t(g)]);
        if (it == test_ids.end()) {
          extra.push_back(g);
        } else if (rt::exact_cosine(in.gallery.values.row(g).data(), s.features.row(it->second).data(), d) < 1 - 1e-6) {
          ++differing;
        }
      }
      if (differing)
        log::warn(differing,
                  " gallery ids name an evaluated stimulus with a different vector than the samples file's; "
                  "the samples file's vector is used");
      for (int64_t g : extra) r.candidate_ids.push_back(in.gallery.ids[size_t(g)]);
    }
    candidates.resize(int64_t(rows.size() + extra.size()), d);
    for (size_t j = 0; j < rows.size(); ++j) candidates.row(int64_t(j)) = s.features.row(rows[j]);
    for (size_t j = 0; j < extra.size(); ++j)
      candidates.row(int64_t(rows.size() + j)) = in.gallery.values.row(extra[j]);
    test_rows = rows;
  }
  const int64_t N = candidates.rows();
  log::info(nq, " queries (", cfg.queries, cfg.average_repeats ? ", repeats averaged" : "", ") among ", N, " ",
            cfg.candidates, " candidates, ", d, " dimensions");

  // Forward: decoded vector -> stimulus, each group against its own transform of the candidates.
  retrieval::SearchOptions opt;
  opt.k = cfg.k;
  opt.scan = cfg.scan == "float32"    ? rt::Scan::float32
             : cfg.scan == "bfloat16" ? rt::Scan::bfloat16
                                      : rt::Scan::automatic;
  r.query_truth = truth;
  r.query_rank.assign(size_t(nq), 0);
  r.query_pairwise.assign(size_t(nq), std::nan(""));
  std::vector<int64_t> n_worse_or_tied(size_t(nq), 0);  // candidates other than the true one with similarity >= it
  for (const Group& g : groups) {
    MatrixF c = candidates;
    sim::transform_rows(c, g.centre, measure);
    const std::vector<int64_t> t(truth.begin() + g.first, truth.begin() + g.last);
    const rt::SearchResult fwd = rt::search(queries.middleRows(g.first, g.last - g.first), c, t, opt);
    r.scan = rt::scan_name(fwd.scan_used);
    r.k = fwd.k;
    const std::vector<double> pw = rt::pairwise_identification(fwd, N);
    for (int64_t i = 0; i < g.last - g.first; ++i) {
      r.query_rank[size_t(g.first + i)] = fwd.rank[size_t(i)];
      r.query_pairwise[size_t(g.first + i)] = pw[size_t(i)];
      n_worse_or_tied[size_t(g.first + i)] = fwd.n_greater[size_t(i)] + fwd.n_equal[size_t(i)];
    }
    r.query_top_k.insert(r.query_top_k.end(), fwd.index.begin(), fwd.index.end());
  }
  for (const auto& u : units) r.query_stimulus.push_back(u.stimulus);

  // The unit of independence of each query: its run, or the runs its averaged samples tie together.
  std::vector<std::vector<int32_t>> runs_of_query;
  for (const auto& u : units) {
    runs_of_query.emplace_back();
    for (int64_t i : u.samples) runs_of_query.back().push_back(p.run[size_t(i)]);
  }
  r.query_unit = eval::independent_units(runs_of_query);
  const std::vector<int64_t>& unit = r.query_unit;

  among_n_metrics("forward", queries, candidates, truth, groups, measure, unit, cfg, seed, r.metrics);
  std::vector<double> top1_all(static_cast<size_t>(nq)), top5_all(static_cast<size_t>(nq)),
      rank(static_cast<size_t>(nq));
  for (int64_t u = 0; u < nq; ++u) {
    rank[size_t(u)] = double(r.query_rank[size_t(u)]);
    // Ties count as failures, as in every other metric: top-k needs fewer than k others at >=.
    top1_all[size_t(u)] = n_worse_or_tied[size_t(u)] < 1;
    top5_all[size_t(u)] = n_worse_or_tied[size_t(u)] < 5;
  }
  r.metrics.push_back(summarize("top1_all_forward", top1_all, 1.0 / double(N), N, unit, cfg, seed + 3));
  r.metrics.push_back(
      summarize("top5_all_forward", top5_all, double(std::min<int64_t>(5, N)) / double(N), N, unit, cfg, seed + 4));
  if (N >= 2) r.metrics.push_back(summarize("pairwise_identification", r.query_pairwise, 0.5, N, unit, cfg, seed + 5));
  r.metrics.push_back(summarize("mean_rank", rank, (double(N) + 1) / 2, N, unit, cfg, seed + 6));
  if (cfg.permutations > 0 && N >= 2)
    permutation_p_values(queries, candidates, truth, groups, measure, unit, cfg, seed + 20, r);
  if (cfg.candidates != "test")
    seen_split_metrics(in, cfg, queries, candidates, truth, groups, units, train, seed + 30, r);

  // Backward: stimulus -> decoded vector, one decoded vector per evaluated stimulus (the mean of
  // its transformed queries), the candidates being those decoded vectors only. A stimulus's
  // vector is centred on the mean of its queries' centres (the folds that tested it).
  if (cfg.candidates != "categories" && test_rows.size() >= 2) {
    const int64_t m = int64_t(test_rows.size());
    MatrixF stim = candidates.topRows(m), decoded = MatrixF::Zero(m, d);
    MatrixD centre_sum = MatrixD::Zero(m, d);
    std::vector<int64_t> count(static_cast<size_t>(m), 0), identity(static_cast<size_t>(m));
    for (const Group& g : groups)
      for (int64_t u = g.first; u < g.last; ++u) {
        const int64_t j = truth[size_t(u)];
        decoded.row(j) += queries.row(u);
        if (g.centre.size() == d) centre_sum.row(j) += g.centre;
        ++count[size_t(j)];
      }
    for (int64_t j = 0; j < m; ++j) {
      decoded.row(j) /= float(count[size_t(j)]);
      identity[size_t(j)] = j;
      MatrixF one = stim.row(j);
      sim::transform_rows(one,
                          groups.front().centre.size() == d
                              ? Eigen::RowVectorXd(centre_sum.row(j) / double(count[size_t(j)]))
                              : Eigen::RowVectorXd(),
                          measure);
      stim.row(j) = one.row(0);
    }
    const std::vector<Group> whole{{0, m, {}}};  // already transformed
    // A stimulus's decoded vector pools its queries: its unit joins the runs of all of them.
    std::vector<std::vector<int32_t>> runs_of_stimulus(static_cast<size_t>(m));
    for (int64_t u = 0; u < nq; ++u)
      runs_of_stimulus[size_t(truth[size_t(u)])].insert(runs_of_stimulus[size_t(truth[size_t(u)])].end(),
                                                        runs_of_query[size_t(u)].begin(),
                                                        runs_of_query[size_t(u)].end());
    const std::vector<int64_t> stimulus_unit = eval::independent_units(runs_of_stimulus);
    among_n_metrics("backward", stim, decoded, identity, whole, sim::Measure::cosine, stimulus_unit, cfg, seed + 10,
                    r.metrics);
    const rt::SearchResult bwd = rt::search(stim, decoded, identity, opt);
    r.metrics.push_back(summarize("pairwise_identification_backward", rt::pairwise_identification(bwd, m), 0.5, m,
                                  stimulus_unit, cfg, seed + 11));
  }
  return r;
}

void write_retrieval(const std::string& path, const RetrievalReport& r, const Provenance& prov, bool force) {
  h5::ArtifactWriter w(path, "retrieval", kRetrievalFormatVersion, prov, force);
  w.attr("/", "subject", r.subject);
  w.attr("/", "model", r.model);
  w.attr("/", "train_fraction", r.train_fraction);
  w.attr("/", "candidate_set", r.candidate_set);
  w.attr("/", "scan", r.scan);
  std::vector<std::string> names;
  std::vector<double> value, low, high, chance;
  std::vector<int64_t> n_candidates, n_queries, n_units;
  std::vector<double> p_permutation;
  for (const auto& m : r.metrics) {
    n_units.push_back(m.n_units);
    p_permutation.push_back(m.p_permutation);
    names.push_back(m.name);
    value.push_back(m.value);
    low.push_back(m.ci_low);
    high.push_back(m.ci_high);
    chance.push_back(m.chance);
    n_candidates.push_back(m.n_candidates);
    n_queries.push_back(m.n_queries);
  }
  w.write("metrics/name", names);
  w.write("metrics/value", value);
  w.write("metrics/ci_low", low);
  w.write("metrics/ci_high", high);
  w.write("metrics/chance", chance);
  w.write("metrics/n_candidates", n_candidates);
  w.write("metrics/n_queries", n_queries);
  w.write("metrics/n_units", n_units);
  w.write("metrics/p_permutation", p_permutation);
  w.attr("/metrics", "ci_method",
         "percentile bootstrap over independent units (runs, or runs an averaged query ties together), 95%");
  w.attr("/metrics", "permutations", r.permutations);
  w.attr("/", "similarity", r.similarity);
  w.attr("/", "centre", r.centre);
  w.write("queries/stimulus", r.query_stimulus);
  w.write("queries/true_candidate", r.query_truth);
  w.write("queries/rank", r.query_rank);
  w.write("queries/pairwise", r.query_pairwise);
  w.write("queries/unit", r.query_unit);
  w.write("queries/top_k", r.query_top_k, r.k);
  w.write("candidates/ids", r.candidate_ids);
  w.commit();
}

std::vector<std::string> metric_table(const RetrievalReport& r) {
  std::vector<std::string> lines;
  char buf[200];
  std::snprintf(buf, sizeof buf, "%-34s %9s  %-21s %9s %9s %9s", "metric", "value", "95% CI (units)", "chance", "N",
                "p (perm)");
  lines.push_back(buf);
  for (const auto& m : r.metrics) {
    std::snprintf(buf, sizeof buf, "%-34s %9.4g  [%9.4g, %9.4g] %9.4g %9lld %9.4g", m.name.c_str(), m.value, m.ci_low,
                  m.ci_high, m.chance, static_cast<long long>(m.n_candidates), m.p_permutation);
    lines.push_back(buf);
  }
  return lines;
}

}  // namespace v2c::retrieve
