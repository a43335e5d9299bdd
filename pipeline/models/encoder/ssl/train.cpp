#include "pipeline/models/encoder/ssl/train.h"

#include <cmath>

#include "pipeline/models/encoder/adamw.h"
#include "pipeline/models/encoder/ssl/ar1_start.h"
#include "pipeline/models/encoder/ssl/batches.h"
#include "pipeline/models/encoder/ssl/objective.h"
#include "pipeline/models/encoder/ssl/select.h"

namespace v2c::encoder::ssl {

void SslTrainConfig::validate() const {
  auto fail = [](const char* field, const auto& value, const std::string& rule) {
    return usage_error("ssl.", field, " = ", value, ": must be ", rule);
  };
  if (!(w_next_step >= 0) || !(w_masked >= 0) || w_next_step + w_masked <= 0)
    throw fail("w_next_step", w_next_step, "with ssl.w_masked >= 0 and not both 0");
  if (window < 2) throw fail("window", window, ">= 2");
  if (window > model.temporal.max_len)
    throw fail("window", window, cat("<= the temporal model's max_len (", model.temporal.max_len, ")"));
  if (steps < 1) throw fail("steps", steps, ">= 1");
  if (batch_windows < 1) throw fail("batch_windows", batch_windows, ">= 1");
  if (eval_every < 1) throw fail("eval_every", eval_every, ">= 1");
  if (!(warmup_fraction >= 0 && warmup_fraction <= 1)) throw fail("warmup_fraction", warmup_fraction, "in [0, 1]");
  if (w_masked > 0) mask.validate();
  if ((ar1_start || search.ar1_start != Ar1Start::off) && !next.residual)
    throw usage_error("ssl.ar1_start = ", ar1_start ? "true" : ar1_start_name(search.ar1_start),
                      ": needs residual next-time-point prediction (skip weights to start at the AR(1) slopes); "
                      "found next.residual = false");
  if (search.lr_grid.empty()) throw usage_error("ssl.lr_grid is empty: give at least one learning rate > 0");
  for (const double lr : search.lr_grid)
    if (!(lr > 0 && std::isfinite(lr)))
      throw usage_error("ssl.lr_grid holds ", lr, ": every learning rate must be finite and > 0");
  if (search.size() > 1 && val_runs < 1)
    throw usage_error("ssl.val_runs = ", val_runs, ": must be >= 1 when ", search.size(),
                      " candidates (ssl.lr_grid x ssl.ar1_start) are chosen among: the choice is made on the "
                      "validation runs");
}

namespace {

// What the loop reads besides its batches, subject by subject, one run at a time: the training runs
// (the AR(1) start) and the validation runs (early stopping).
struct FitRuns {
  std::vector<std::string> ids;  // subject s of the batches
  std::function<void(size_t, const RunVisitor&)> training, validation;
  bool validating = false;
};

SslTrainResult fit(SslModel<float>& model, const FitRuns& runs, SslBatches& batches, const SslTrainConfig& cfg,
                   uint64_t seed, const std::function<void(int64_t, double, double)>& on_step) {
  AdamWConfig opt_cfg = cfg.optimizer;
  opt_cfg.total_steps = cfg.steps;
  opt_cfg.warmup_steps = int64_t(cfg.warmup_fraction * double(cfg.steps));
  const AdamW<float> opt(opt_cfg);
  Rng rng(seed);
  SslTrainResult result;
  std::vector<Mat<float>> best;  // parameter values of the best evaluation
  auto evaluate = [&](int64_t step) {
    NextStepError e;
    for (size_t s = 0; s < runs.ids.size(); ++s)
      runs.validation(s, [&](const MatrixF& r) { e += next_step_error(model, runs.ids[s], r, cfg.window, cfg.next); });
    result.validation.push_back(e.mse());
    if (best.empty() || e.mse() < result.best_validation) {
      result.best_step = step;
      result.best_validation = e.mse();
      best.clear();
      for (const Param<float>* p : model.params().all()) best.push_back(p->value);
    }
  };
  if (cfg.ar1_start) {
    // The fit of the training runs only: validation runs select, held-out runs never reach here.
    for (size_t s = 0; s < runs.ids.size(); ++s)
      start_at_ar1(model, runs.ids[s], fit_ar1_over([&](const RunVisitor& visit) { runs.training(s, visit); }));
    if (runs.validating) evaluate(-1);
  }
  for (int64_t step = 0; step < cfg.steps; ++step) {
    SslBatch<float> batch;
    const size_t s = batches.next(cfg, rng, batch);
    const std::string& id = runs.ids[s];
    model.params().zero_grad();
    const double loss = ssl_objectives(model, id, batch, cfg, true).total;
    double sq = 0;
    for (Param<float>* p : model.params().all())
      if (p->grad.size() > 0) sq += p->grad.cast<double>().squaredNorm();
    const double norm = std::sqrt(sq);
    const double clip = opt_cfg.clip_norm > 0 ? std::min(1.0, opt_cfg.clip_norm / (norm + 1e-6)) : 1.0;
    const double lr = opt.lr_at(step);
    for (Param<float>* p : model.params().all())
      if (p->grad.size() > 0) opt.update(*p, lr, clip);
    if (!std::isfinite(loss))
      throw numerical_error("self-supervised training: the loss is ", loss, " at step ", step, " (subject '", id,
                            "'); lower the learning rate (ssl_lr_grid)");
    if (on_step) on_step(step, loss, lr);
    if (runs.validating && ((step + 1) % cfg.eval_every == 0 || step + 1 == cfg.steps)) evaluate(step);
  }
  model.params().zero_grad();
  if (runs.validating) {
    const auto params = model.params().all();
    for (size_t i = 0; i < params.size(); ++i) params[i]->value = best[i];
  }
  return result;
}

}  // namespace

SslTrainResult train_ssl(SslModel<float>& model, const std::vector<SslSubjectRuns>& data, const SslTrainConfig& cfg,
                         uint64_t seed, const std::function<void(int64_t, double, double)>& on_step) {
  cfg.validate();
  if (data.empty()) throw input_error("self-supervised training: no subject");
  std::vector<std::vector<const MatrixF*>> training;
  FitRuns runs;
  for (const auto& s : data) {
    with_context(cat("self-supervised training, subject '", s.subject, "'"), [&] {
      for (const MatrixF* r : s.runs)
        if (r->cols() != model.n_voxels(s.subject))
          throw input_error("a run has ", r->cols(), " voxels; the model's adapter has ", model.n_voxels(s.subject));
      if (WindowPool(s.runs, cfg.window + 1).total() == 0)
        throw input_error("no training run has window + 1 = ", cfg.window + 1, " volumes (", s.runs.size(), " runs)");
    });
    training.push_back(s.runs);
    runs.ids.push_back(s.subject);
    runs.validating = runs.validating || !s.validation.empty();
  }
  runs.training = [&](size_t s, const RunVisitor& visit) {
    for (const MatrixF* r : data[s].runs) visit(*r);
  };
  runs.validation = [&](size_t s, const RunVisitor& visit) {
    for (const MatrixF* r : data[s].validation) visit(*r);
  };
  PooledBatches batches(training, cfg.window);
  return fit(model, runs, batches, cfg, seed, on_step);
}

SslTrainResult train_ssl(SslModel<float>& model, WindowSource& source, const SslStreamRuns& stream_runs,
                         const SslTrainConfig& cfg, const WindowStreamConfig& stream, uint64_t seed,
                         const std::function<void(int64_t, double, double)>& on_step) {
  cfg.validate();
  const size_t n = size_t(source.n_subjects());
  if (n == 0) throw input_error("self-supervised training: no subject");
  if (stream_runs.train.size() != n || stream_runs.validation.size() != n)
    throw usage_error("self-supervised training: run lists for ", stream_runs.train.size(), " and ",
                      stream_runs.validation.size(), " subjects; the source has ", n);
  if (cfg.batch_windows < 2)
    throw usage_error("ssl.batch_windows = ", cfg.batch_windows, ": must be >= 2 when the windows are streamed");
  FitRuns runs;
  for (size_t s = 0; s < n; ++s) {
    const TimeSeries& t = source.table(s);
    if (t.n_voxels() != model.n_voxels(t.subject))
      throw input_error("self-supervised training, subject '", t.subject, "': its time series has ", t.n_voxels(),
                        " voxels; the model's adapter has ", model.n_voxels(t.subject));
    runs.ids.push_back(t.subject);
    runs.validating = runs.validating || !stream_runs.validation[s].empty();
  }
  MF volumes;  // one run at a time
  auto visit_runs = [&](size_t s, const std::vector<int64_t>& which, const RunVisitor& visit) {
    for (const int64_t r : which) {
      source.read_volumes(s, r, 0, source.table(s).runs[size_t(r)].n_volumes, volumes);
      visit(volumes);
    }
  };
  runs.training = [&](size_t s, const RunVisitor& visit) { visit_runs(s, stream_runs.train[s], visit); };
  runs.validation = [&](size_t s, const RunVisitor& visit) { visit_runs(s, stream_runs.validation[s], visit); };
  StreamedBatches batches(source, stream_runs.train, cfg, stream, seed + 1);
  SslTrainResult out = fit(model, runs, batches, cfg, seed, on_step);
  out.peak_buffer_volumes = batches.peak_buffer_volumes();
  out.epochs = batches.epoch() + 1;
  return out;
}

NextStepError next_step_error(SslModel<float>& model, const std::string& subject, const MatrixF& run, int window,
                              const NextStepConfig& next, int64_t batch) {
  const int64_t T = window, n = run.rows();
  NextStepError err;
  if (n <= T) return err;
  const int64_t windows = n - T;  // targets T .. n-1
  Mat<float> X, pred;
  for (int64_t w0 = 0; w0 < windows; w0 += batch) {
    const int64_t N = std::min(batch, windows - w0);
    X.resize(N * (T + 1), run.cols());
    for (int64_t k = 0; k < N; ++k) X.middleRows(k * (T + 1), T + 1) = run.middleRows(w0 + k, T + 1);
    next_step_prediction(model, subject, X, N, T, next, false, &pred);
    for (int64_t k = 0; k < N; ++k) err.sse += (pred.row(k) - run.row(w0 + k + T)).cast<double>().squaredNorm();
    err.n_values += N * run.cols();
  }
  return err;
}

}  // namespace v2c::encoder::ssl
