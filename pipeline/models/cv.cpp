#include "pipeline/models/cv.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include "pipeline/core/error.h"
#include "pipeline/core/parallel.h"
#include "pipeline/core/parse.h"

namespace v2c::cv {

using linalg::Mat;
using linalg::RowVec;

std::vector<Fold> run_folds(const std::vector<int32_t>& run_of_sample, const std::vector<int64_t>& rows_in,
                            const std::string& scheme, int k, const std::vector<std::vector<int>>& explicit_runs) {
  std::vector<int64_t> rows = rows_in;
  if (rows.empty()) {
    rows.resize(run_of_sample.size());
    std::iota(rows.begin(), rows.end(), 0);
  }
  std::set<int32_t> run_set;
  for (int64_t r : rows) run_set.insert(run_of_sample[size_t(r)]);
  const std::vector<int32_t> runs(run_set.begin(), run_set.end());
  const std::string unit = scheme == "event_groups" ? "event groups" : "runs";
  std::vector<std::vector<int32_t>> test_runs;  // runs (units) tested by each fold
  if (scheme == "loro") {
    for (int32_t r : runs) test_runs.push_back({r});
  } else if (scheme == "groups" || scheme == "event_groups") {
    if (k < 2) throw usage_error("cross-validation: ", k, " fold(s) of ", unit, "; need at least 2");
    if (int(runs.size()) < k)
      throw input_error("cross-validation: ", k, " folds of consecutive ", unit, " need at least ", k, " ", unit,
                        "; found ", runs.size());
    for (int f = 0; f < k; ++f) {
      const size_t a = runs.size() * size_t(f) / size_t(k), b = runs.size() * size_t(f + 1) / size_t(k);
      test_runs.emplace_back(runs.begin() + long(a), runs.begin() + long(b));
    }
  } else if (scheme == "explicit") {
    for (const auto& list : explicit_runs) {
      std::vector<int32_t> t;
      for (int r : list) {
        if (!run_set.count(r))
          throw input_error("cross-validation: explicit fold lists run ", r, ", which has no samples");
        t.push_back(r);
      }
      test_runs.push_back(t);
    }
  } else {
    throw usage_error("cross-validation: unknown fold scheme '", scheme, "' (loro, groups, explicit, event_groups)");
  }
  if (test_runs.size() < 2 && scheme != "explicit")
    throw input_error("cross-validation needs at least 2 ", unit, "; found ", runs.size(),
                      scheme == "event_groups"
                          ? std::string()
                          : " (within runs: ridge.outer: event_groups, groups from prepare.group_column)");
  if (test_runs.empty()) throw usage_error("cross-validation: no explicit folds given");
  std::vector<Fold> folds(test_runs.size());
  for (size_t f = 0; f < test_runs.size(); ++f) {
    const std::set<int32_t> tested(test_runs[f].begin(), test_runs[f].end());
    for (int64_t r : rows) (tested.count(run_of_sample[size_t(r)]) ? folds[f].test : folds[f].train).push_back(r);
  }
  return folds;
}

std::vector<std::vector<int>> parse_run_lists(const std::vector<std::string>& folds, const std::string& field) {
  std::vector<std::vector<int>> out;
  for (const auto& f : folds) {
    std::string text = f;
    std::replace(text.begin(), text.end(), ',', ' ');
    std::istringstream in(text);
    std::vector<int> runs;
    std::string tok;
    while (in >> tok) {
      int v = 0;
      if (!parse_int(tok, v)) throw usage_error("config field '", field, "': '", f, "' is not a list of run indices");
      runs.push_back(v);
    }
    out.push_back(runs);
  }
  return out;
}

void make_exclusive(std::vector<Fold>& folds, const std::vector<std::string>& stimulus) {
  for (auto& f : folds) {
    std::set<std::string> tested;
    for (int64_t r : f.test) tested.insert(stimulus[size_t(r)]);
    std::vector<int64_t> kept;
    for (int64_t r : f.train)
      if (!tested.count(stimulus[size_t(r)])) kept.push_back(r);
    f.train = std::move(kept);
  }
}

void drop_near_test(std::vector<Fold>& folds, const SampleTimes& t, double gap_s) {
  for (auto& f : folds) {
    std::map<int32_t, std::vector<std::pair<double, double>>> tested;  // run -> test intervals
    for (int64_t r : f.test) tested[t.run[size_t(r)]].emplace_back(t.onset_s[size_t(r)], t.end_s[size_t(r)]);
    std::vector<int64_t> kept;
    for (int64_t r : f.train) {
      const auto it = tested.find(t.run[size_t(r)]);
      bool near = false;
      if (it != tested.end())
        for (const auto& [a, b] : it->second)
          if (t.onset_s[size_t(r)] < b + gap_s && a < t.end_s[size_t(r)] + gap_s) {
            near = true;
            break;
          }
      if (!near) kept.push_back(r);
    }
    f.train = std::move(kept);
  }
}

void restrict_training_runs(std::vector<Fold>& folds, const std::vector<int32_t>& run, double fraction) {
  if (!(fraction > 0 && fraction <= 1)) throw usage_error("train_fraction must be in (0, 1]; found ", fraction);
  if (fraction == 1.0) return;
  for (auto& f : folds) {
    std::set<int32_t> runs;
    for (int64_t r : f.train) runs.insert(run[size_t(r)]);
    const size_t keep = std::max<size_t>(1, size_t(std::lround(fraction * double(runs.size()))));
    std::set<int32_t> kept;
    for (int32_t r : runs)
      if (kept.size() < keep) kept.insert(r);
    std::vector<int64_t> rows;
    for (int64_t r : f.train)
      if (kept.count(run[size_t(r)])) rows.push_back(r);
    f.train = std::move(rows);
  }
}

namespace {

// Training-fold standardisation of X's columns (SD 0 -> scale 1).
template <class S>
void standardize_with(const Mat<S>& train, Mat<S>& a, Mat<S>& b) {
  const int64_t n = train.rows();
  for (int64_t j = 0; j < train.cols(); ++j) {
    const double mean = train.col(j).template cast<double>().mean();
    const double var = (train.col(j).template cast<double>().array() - mean).square().sum() / std::max<int64_t>(n, 1);
    const double sd = var > 1e-24 ? std::sqrt(var) : 1.0;
    a.col(j) = ((a.col(j).template cast<double>().array() - mean) / sd).template cast<S>();
    b.col(j) = ((b.col(j).template cast<double>().array() - mean) / sd).template cast<S>();
  }
}

// Everything a fold needs, whatever the path: the Gram matrix when it can be reused.
template <class S>
class Solver {
 public:
  Solver(const Mat<S>& X, const Mat<S>& Y, const RidgeCvSettings& s) : X_(X), Y_(Y), s_(s) {
    use_gram_ = s.select_voxels == 0 && !s.standardize_x && X.cols() > X.rows();
    if (use_gram_) G_ = linalg::gram(X);
  }

  // Scores [n_alphas x t] of every α on one fold.
  MatrixD score_all(const Fold& f) const {
    const int64_t t = Y_.cols(), na = int64_t(s_.alphas.size());
    MatrixD scores(na, t);
    const Mat<S> truth = linalg::take_rows(Y_, f.test);
    if (s_.select_voxels > 0) {
      const Selection sel = select(f);
      ParallelErrors errors;
#pragma omp parallel for schedule(dynamic)
      for (int64_t j = 0; j < t; ++j)
        errors.run([&] {
          const ridge::Path<S> path = sel.path(j);
          for (int64_t a = 0; a < na; ++a)
            scores(a, j) = ridge::score_targets<S>(path.predict(s_.alphas[size_t(a)]), truth.col(j), s_.alpha_score)[0];
        });
      errors.rethrow();
      return scores;
    }
    const ridge::Path<S> path = fold_path(f);
    for (int64_t t0 = 0; t0 < t; t0 += s_.target_batch) {
      const int64_t cnt = std::min<int64_t>(s_.target_batch, t - t0);
      for (int64_t a = 0; a < na; ++a) {
        const std::vector<double> alpha(size_t(t), s_.alphas[size_t(a)]);
        const Mat<S> pred = path.predict_range(alpha, t0, cnt);
        const Mat<S> tr = truth.middleCols(t0, cnt);
        scores.row(a).segment(t0, cnt) = ridge::score_targets<S>(pred, tr, s_.alpha_score).transpose();
      }
    }
    return scores;
  }

  // The final model on every sample, reusing the Gram matrix when there is one.
  void fit_all(const std::vector<double>& alpha, Mat<S>& W, RowVec<S>& b) const {
    if (use_gram_) return ridge::fit_weights_from_gram(G_, X_, Y_, alpha, W, b);
    if (!s_.standardize_x) return ridge::fit_weights(X_, Y_, alpha, W, b);
    // Standardised inputs: fit on z-scored X, then fold the scaling back into W and b.
    Mat<S> z = X_, dummy(0, X_.cols());
    standardize_with(X_, z, dummy);
    ridge::fit_weights(z, Y_, alpha, W, b);
    for (int64_t j = 0; j < X_.cols(); ++j) {
      const double mean = X_.col(j).template cast<double>().mean();
      const double var = (X_.col(j).template cast<double>().array() - mean).square().mean();
      const double sd = var > 1e-24 ? std::sqrt(var) : 1.0;
      W.row(j) /= S(sd);
      b -= S(mean) * W.row(j);
    }
  }

  // Predictions [n_test x t] with α per target.
  Mat<S> predict(const Fold& f, const std::vector<double>& alpha) const {
    const int64_t t = Y_.cols();
    Mat<S> out(int64_t(f.test.size()), t);
    if (s_.select_voxels > 0) {
      const Selection sel = select(f);
      ParallelErrors errors;
#pragma omp parallel for schedule(dynamic)
      for (int64_t j = 0; j < t; ++j) errors.run([&] { out.col(j) = sel.path(j).predict(alpha[size_t(j)]); });
      errors.rethrow();
      return out;
    }
    const ridge::Path<S> path = fold_path(f);
    for (int64_t t0 = 0; t0 < t; t0 += s_.target_batch) {
      const int64_t cnt = std::min<int64_t>(s_.target_batch, t - t0);
      out.middleCols(t0, cnt) = path.predict_range(alpha, t0, cnt);
    }
    return out;
  }

 private:
  ridge::Path<S> fold_path(const Fold& f) const {
    if (use_gram_) return ridge::path_from_gram(G_, Y_, f.train, f.test);
    Mat<S> xtr = linalg::take_rows(X_, f.train), xte = linalg::take_rows(X_, f.test);
    if (s_.standardize_x) {
      const Mat<S> ref = xtr;
      standardize_with(ref, xtr, xte);
    }
    return ridge::path_from_data(xtr, linalg::take_rows(Y_, f.train), xte);
  }

  // Per-target voxel selection on one fold: the fold's rows once, |corr| of every voxel with
  // every target from the training rows, then one small problem per target.
  struct Selection {
    Mat<S> xtr, xte, ytr;
    std::vector<std::vector<int64_t>> voxels;  // per target
    ridge::Path<S> path(int64_t j) const {
      std::vector<int64_t> all_tr(static_cast<size_t>(xtr.rows())), all_te(static_cast<size_t>(xte.rows()));
      std::iota(all_tr.begin(), all_tr.end(), 0);
      std::iota(all_te.begin(), all_te.end(), 0);
      const Mat<S> y = ytr.col(j);
      return ridge::path_from_data(linalg::take(xtr, all_tr, voxels[size_t(j)]), y,
                                   linalg::take(xte, all_te, voxels[size_t(j)]));
    }
  };

  Selection select(const Fold& f) const {
    Selection sel;
    sel.xtr = linalg::take_rows(X_, f.train);
    sel.xte = linalg::take_rows(X_, f.test);
    sel.ytr = linalg::take_rows(Y_, f.train);
    if (s_.standardize_x) {
      const Mat<S> ref = sel.xtr;
      standardize_with(ref, sel.xtr, sel.xte);
    }
    // Correlations [p x t] = Zxᵀ Zy / n with columns z-scored over the training rows.
    const auto zscore = [](const Mat<S>& m) {
      Mat<S> z = m;
      for (int64_t j = 0; j < z.cols(); ++j) {
        const double mean = z.col(j).template cast<double>().mean();
        const double sd = std::sqrt((z.col(j).template cast<double>().array() - mean).square().mean());
        z.col(j) = ((z.col(j).template cast<double>().array() - mean) / (sd > 0 ? sd : 1.0)).template cast<S>();
      }
      return z;
    };
    Mat<S> R;
    linalg::gemm(zscore(sel.xtr), true, zscore(sel.ytr), false, R);
    const int64_t p = R.rows(), k = std::min<int64_t>(s_.select_voxels, p);
    sel.voxels.resize(size_t(R.cols()));
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < R.cols(); ++j) {
      std::vector<int64_t> idx(static_cast<size_t>(p));
      std::iota(idx.begin(), idx.end(), 0);
      std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int64_t a, int64_t b) {
        const S ra = std::abs(R(a, j)), rb = std::abs(R(b, j));
        return ra > rb || (ra == rb && a < b);
      });
      idx.resize(size_t(k));
      std::sort(idx.begin(), idx.end());
      sel.voxels[size_t(j)] = std::move(idx);
    }
    return sel;
  }

  const Mat<S>& X_;
  const Mat<S>& Y_;
  const RidgeCvSettings& s_;
  bool use_gram_ = false;
  Mat<S> G_;
};

// A solver output [rows x targets] must be finite (the inputs are): else a numerical error
// (exit 5) naming `what` (the row), the target and its α.
template <class S>
void check_finite(const Mat<S>& m, const std::vector<double>& alpha, const std::string& what) {
  for (int64_t i = 0; i < m.rows(); ++i)
    for (int64_t j = 0; j < m.cols(); ++j)
      if (!std::isfinite(m(i, j)))
        throw numerical_error("ridge: ", what, " ", i, ", target ", j, " is ", m(i, j), " with α = ", alpha[size_t(j)],
                              " (the solver failed numerically; try larger ridge.alphas or ridge.precision = float64)");
}

// The α of one score column: the best score, ties (within 1e-12 · max(1, |best|)) resolved to
// the middle of the tied α (the lower of the two middles); `all_tied` when every α ties.
int64_t best_alpha_index(const std::vector<double>& score, bool& all_tied) {
  const int64_t na = int64_t(score.size());
  double best = score[0];
  for (double v : score) best = std::max(best, v);
  const double tol = 1e-12 * std::max(1.0, std::abs(best));
  std::vector<int64_t> tied;
  for (int64_t a = 0; a < na; ++a)
    if (score[size_t(a)] >= best - tol) tied.push_back(a);
  all_tied = int64_t(tied.size()) == na;
  return tied[(tied.size() - 1) / 2];
}

// α per target from mean scores [n_alphas x t] (see cv.h for the tie rule).
std::vector<double> best_alphas(const MatrixD& mean_score, const std::vector<double>& alphas, bool per_target) {
  const int64_t na = mean_score.rows(), t = mean_score.cols();
  std::vector<double> column(static_cast<size_t>(na));
  for (int64_t a = 0; a < na; ++a) column[size_t(a)] = mean_score.row(a).mean();
  bool all_tied = false;
  const double shared = alphas[size_t(best_alpha_index(column, all_tied))];
  std::vector<double> out(static_cast<size_t>(t), shared);
  if (!per_target) return out;
  for (int64_t j = 0; j < t; ++j) {
    for (int64_t a = 0; a < na; ++a) column[size_t(a)] = mean_score(a, j);
    const int64_t best = best_alpha_index(column, all_tied);
    // A target on which every α scores the same (e.g. constant in every inner test fold, as a
    // one-hot target under block designs) carries no information on α: it takes the shared one.
    if (!all_tied) out[size_t(j)] = alphas[size_t(best)];
  }
  return out;
}

// The gap_s rule needs the samples' times.
void check_times(const RidgeCvSettings& s, const SampleTimes* times, size_t n) {
  if (s.gap_s > 0 && !times)
    throw usage_error("ridge.gap_s = ", s.gap_s, " needs the samples' onsets, which these samples do not carry");
  if (times && (times->run.size() != n || times->onset_s.size() != n || times->end_s.size() != n))
    throw input_error("ridge: ", n, " samples but ", times->run.size(), " runs, ", times->onset_s.size(),
                      " onsets and ", times->end_s.size(), " ends");
}

template <class S>
std::vector<double> select_with(const Solver<S>& solver, const std::vector<int32_t>& run,
                                const std::vector<int64_t>& rows, const std::vector<std::string>* stimulus,
                                const RidgeCvSettings& s, int64_t t, MatrixD* mean_score, const SampleTimes* times) {
  std::set<int32_t> runs;
  for (int64_t r : rows) runs.insert(run[size_t(r)]);
  // k groups of consecutive units, or one unit per fold when there are fewer units than k.
  const std::string scheme = s.outer == "event_groups" ? "event_groups" : "groups";
  // Errors name no caller's keys: ridge and fine-tuning add their own context.
  if (runs.size() < 2)
    throw input_error("the inner cross-validation that chooses α needs training rows from at least 2 ",
                      scheme == "event_groups" ? "event groups" : "runs", "; found ", runs.size());
  std::vector<Fold> inner =
      int(runs.size()) >= s.inner_folds ? run_folds(run, rows, scheme, s.inner_folds) : run_folds(run, rows, "loro", 0);
  if (stimulus && s.exclusive) make_exclusive(inner, *stimulus);
  if (s.gap_s > 0) drop_near_test(inner, *times, s.gap_s);
  MatrixD sum = MatrixD::Zero(int64_t(s.alphas.size()), t);
  for (size_t i = 0; i < inner.size(); ++i) {
    if (inner[i].train.size() < 2)
      throw input_error("inner fold ", i, " of ", inner.size(), " keeps ", inner[i].train.size(),
                        " training sample(s) of ", rows.size(), "; need at least 2",
                        s.gap_s > 0
                            ? cat(" (after ridge.gap_s = ", s.gap_s, " s: fewer ridge.inner_folds, or a smaller gap)")
                            : std::string());
    sum += with_context(cat("inner fold ", i, " of ", inner.size()), [&] { return solver.score_all(inner[i]); });
  }
  sum /= double(inner.size());
  if (mean_score) *mean_score = sum;
  return best_alphas(sum, s.alphas, s.alpha_per_target);
}

}  // namespace

template <class S>
std::vector<double> select_alphas(const Mat<S>& X, const Mat<S>& Y, const std::vector<int32_t>& run,
                                  const std::vector<int64_t>& rows, const RidgeCvSettings& settings,
                                  MatrixD* mean_score, const SampleTimes* times) {
  settings.validate();
  check_times(settings, times, size_t(X.rows()));
  const Solver<S> solver(X, Y, settings);
  return select_with(solver, run, rows, nullptr, settings, Y.cols(), mean_score, times);
}

template <class S>
std::vector<double> select_and_fit(const Mat<S>& X, const Mat<S>& Y, const std::vector<int32_t>& run,
                                   const RidgeCvSettings& settings, Mat<S>& W, RowVec<S>& b, const SampleTimes* times) {
  settings.validate();
  check_times(settings, times, size_t(X.rows()));
  RidgeCvSettings s = settings;
  s.select_voxels = 0;  // the saved model is one linear map over all inputs
  const Solver<S> solver(X, Y, s);
  std::vector<int64_t> all(static_cast<size_t>(X.rows()));
  std::iota(all.begin(), all.end(), 0);
  const std::vector<double> alpha =
      with_context(cat("choosing α for the final model on all ", X.rows(), " samples"),
                   [&] { return select_with(solver, run, all, nullptr, s, Y.cols(), nullptr, times); });
  solver.fit_all(alpha, W, b);
  check_finite(W, alpha, "final model: weight of input");
  return alpha;
}

template <class S>
RidgeCvResult<S> cross_validate(const Mat<S>& X, const Mat<S>& Y, const std::vector<int32_t>& run,
                                const std::vector<std::string>& stimulus, const RidgeCvSettings& s,
                                const FoldCallback& on_fold, const SampleTimes* times) {
  s.validate();
  check_times(s, times, run.size());
  const int64_t n = X.rows(), t = Y.cols();
  if (Y.rows() != n || int64_t(run.size()) != n || int64_t(stimulus.size()) != n)
    throw input_error("ridge: ", n, " samples in X but ", Y.rows(), " in Y, ", run.size(), " runs, ", stimulus.size(),
                      " stimuli");
  RidgeCvResult<S> res;
  res.folds = run_folds(run, {}, s.outer, s.outer_folds, parse_run_lists(s.explicit_folds, "ridge.explicit_folds"));
  if (s.exclusive) make_exclusive(res.folds, stimulus);
  if (s.gap_s > 0) drop_near_test(res.folds, *times, s.gap_s);
  restrict_training_runs(res.folds, run, s.train_fraction);
  const int n_folds = int(res.folds.size());
  res.predictions = Mat<S>::Constant(n, t, std::numeric_limits<S>::quiet_NaN());
  res.fold_of_sample.assign(size_t(n), -1);
  res.alpha.resize(n_folds, t);
  res.inner_score.resize(n_folds, int64_t(s.alphas.size()));
  const Solver<S> solver(X, Y, s);
  for (int f = 0; f < n_folds; ++f) {
    const Fold& fold = res.folds[size_t(f)];
    std::set<int32_t> train_units;
    for (int64_t r : fold.train) train_units.insert(run[size_t(r)]);
    // Which outer fold, and what ridge.train_fraction left of its training runs.
    const std::string where =
        cat("outer fold ", f, " of ", n_folds, " (", fold.train.size(), " training samples in ", train_units.size(),
            s.outer == "event_groups" ? " event group(s)" : " run(s)",
            s.train_fraction < 1 ? cat(" after ridge.train_fraction = ", s.train_fraction) : std::string(), ")");
    if (fold.train.size() < 2) throw input_error("ridge: ", where, ": need at least 2 training samples");
    MatrixD mean_score;
    const std::vector<double> alpha = with_context(cat("choosing α in ", where), [&] {
      return select_with(solver, run, fold.train, &stimulus, s, t, &mean_score, times);
    });
    const Mat<S> pred = solver.predict(fold, alpha);
    check_finite(pred, alpha, cat("outer fold ", f, ": prediction of test sample"));
    for (size_t i = 0; i < fold.test.size(); ++i) {
      res.predictions.row(fold.test[i]) = pred.row(int64_t(i));
      res.fold_of_sample[size_t(fold.test[i])] = f;
    }
    int64_t low = 0, high = 0;
    for (int64_t j = 0; j < t; ++j) {
      res.alpha(f, j) = alpha[size_t(j)];
      low += alpha[size_t(j)] == s.alphas.front();
      high += alpha[size_t(j)] == s.alphas.back();
    }
    res.inner_score.row(f) = mean_score.rowwise().mean().transpose();
    res.edge_low.push_back(double(low) / double(t));
    res.edge_high.push_back(double(high) / double(t));
    if (on_fold) on_fold(f, n_folds);
  }
  return res;
}

#define V2C_CV(S)                                                                                              \
  template RidgeCvResult<S> cross_validate<S>(const Mat<S>&, const Mat<S>&, const std::vector<int32_t>&,       \
                                              const std::vector<std::string>&, const RidgeCvSettings&,         \
                                              const FoldCallback&, const SampleTimes*);                        \
  template std::vector<double> select_alphas<S>(const Mat<S>&, const Mat<S>&, const std::vector<int32_t>&,     \
                                                const std::vector<int64_t>&, const RidgeCvSettings&, MatrixD*, \
                                                const SampleTimes*);                                           \
  template std::vector<double> select_and_fit<S>(const Mat<S>&, const Mat<S>&, const std::vector<int32_t>&,    \
                                                 const RidgeCvSettings&, Mat<S>&, RowVec<S>&, const SampleTimes*);
V2C_CV(float)
V2C_CV(double)
#undef V2C_CV

}  // namespace v2c::cv
