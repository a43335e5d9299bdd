#include "pipeline/models/ridge_run.h"

#include <cmath>
#include <sstream>

#include "pipeline/core/error.h"
#include "pipeline/core/log.h"
#include "pipeline/math/metrics.h"
#include "pipeline/models/cv.h"

namespace v2c::ridge {

namespace {

template <class S>
Predictions run_typed(const Samples& s, const RidgeConfig& cfg, const FoldProgress& progress) {
  using M = linalg::Mat<S>;
  const int64_t n = s.n_samples();
  // Targets of each sample: its stimulus's feature vector.
  MatrixF feats(n, s.features.cols());
  for (int64_t i = 0; i < n; ++i) feats.row(i) = s.features.row(s.feature_row[size_t(i)]);
  const bool decode = cfg.mode == "decode";
  const M X = (decode ? s.data : feats).template cast<S>();
  const M Y = (decode ? feats : s.data).template cast<S>();

  // The solver takes the stage's settings; voxel selection applies to the decoder's inputs only.
  RidgeConfig solver = cfg;
  if (!decode) solver.select_voxels = 0;

  // Folds are made of runs, or of event groups (CV inside runs); gap_s needs the sample times.
  const std::vector<int32_t>& unit = cfg.outer == "event_groups" ? s.group : s.run;
  cv::SampleTimes times;
  if (cfg.gap_s > 0) {
    times.run = s.run;
    times.onset_s = s.onset_s;
    for (size_t i = 0; i < s.onset_s.size(); ++i)
      times.end_s.push_back(s.onset_s[i] + (i < s.duration_s.size() ? s.duration_s[i] : 0.0));
  }
  const cv::SampleTimes* when = cfg.gap_s > 0 ? &times : nullptr;
  const cv::RidgeCvResult<S> res = cv::cross_validate<S>(X, Y, unit, s.stimulus, solver, progress, when);

  Predictions p;
  p.subject = s.subject;
  p.model = "ridge";
  p.mode = cfg.mode;
  p.train_fraction = cfg.train_fraction;
  p.predictions = res.predictions.template cast<float>();
  p.truth = Y.template cast<float>();
  p.stimulus = s.stimulus;
  p.run = s.run;
  p.fold = res.fold_of_sample;
  for (const cv::Fold& f : res.folds) p.fold_train.push_back(f.train);
  p.feature_row = s.feature_row;
  p.alphas = cfg.alphas;
  p.fold_alpha = res.alpha;
  p.inner_score = res.inner_score;
  p.edge_low = res.edge_low;
  p.edge_high = res.edge_high;
  p.profile_corr = metrics::profile_correlation(p.predictions, p.truth);
  p.pattern_corr = metrics::pattern_correlation(p.predictions, p.truth);
  p.r2 = metrics::r2(p.predictions, p.truth);

  if (cfg.fit_final) {
    M W;
    linalg::RowVec<S> b;
    const std::vector<double> alpha = cv::select_and_fit<S>(X, Y, unit, solver, W, b, when);
    p.weights = W.template cast<float>();
    p.intercept.assign(b.data(), b.data() + b.size());
    p.final_alpha = alpha;
  }
  return p;
}

}  // namespace

Predictions run_ridge(const Samples& samples, const RidgeConfig& cfg, const FoldProgress& progress) {
  if (!samples.has_features())
    throw input_error("samples of ", samples.subject, " carry no stimulus features; run v2c-prepare with --features");
  if (cfg.outer == "event_groups" && int64_t(samples.group.size()) != samples.n_samples())
    throw input_error("ridge.outer = event_groups: the samples of ", samples.subject,
                      " carry no CV groups (/samples/group); write them with v2c-prepare (prepare.group_column)");
  if (cfg.gap_s > 0 && int64_t(samples.onset_s.size()) != samples.n_samples())
    throw input_error("ridge.gap_s = ", cfg.gap_s, ": the samples of ", samples.subject, " carry no onsets");
  Predictions p =
      cfg.precision == "float64" ? run_typed<double>(samples, cfg, progress) : run_typed<float>(samples, cfg, progress);
  // The α diagnostic: many targets at an end of the grid means the grid is too narrow.
  double low = 0, high = 0;
  for (size_t f = 0; f < p.edge_low.size(); ++f) low += p.edge_low[f], high += p.edge_high[f];
  low /= std::max<size_t>(p.edge_low.size(), 1), high /= std::max<size_t>(p.edge_high.size(), 1);
  if (low > 0.1)
    log::warn(int(100 * low + 0.5), "% of targets chose the smallest α (", cfg.alphas.front(),
              "); extend ridge.alphas downwards");
  if (high > 0.1)
    log::warn(int(100 * high + 0.5), "% of targets chose the largest α (", cfg.alphas.back(),
              "); extend ridge.alphas upwards (or the inputs carry little signal)");
  return p;
}

}  // namespace v2c::ridge
