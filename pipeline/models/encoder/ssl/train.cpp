#include "pipeline/models/encoder/ssl/train.h"

#include <cmath>

#include "pipeline/models/encoder/adamw.h"
#include "pipeline/models/encoder/ssl/ar1_start.h"
#include "pipeline/models/encoder/ssl/objective.h"
#include "pipeline/models/encoder/ssl/windows.h"

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
  if (ar1_start && !next.residual)
    throw usage_error("ssl.ar1_start = true: needs residual next-time-point prediction (skip weights to start at "
                      "the AR(1) slopes); found next.residual = false");
}

SslTrainResult train_ssl(SslModel<float>& model, const std::vector<SslSubjectRuns>& data, const SslTrainConfig& cfg,
                         uint64_t seed, const std::function<void(int64_t, double, double)>& on_step) {
  cfg.validate();
  if (data.empty()) throw input_error("self-supervised training: no subject");
  const int64_t T = cfg.window, N = cfg.batch_windows;
  std::vector<WindowPool> next_pools, mask_pools;
  for (const auto& s : data) {
    with_context(cat("self-supervised training, subject '", s.subject, "'"), [&] {
      for (const MatrixF* r : s.runs)
        if (r->cols() != model.n_voxels(s.subject))
          throw input_error("a run has ", r->cols(), " voxels; the model's adapter has ", model.n_voxels(s.subject));
      next_pools.emplace_back(s.runs, T + 1);
      mask_pools.emplace_back(s.runs, T);
      if (next_pools.back().total() == 0)
        throw input_error("no training run has window + 1 = ", T + 1, " volumes (", s.runs.size(), " runs)");
    });
  }
  AdamWConfig opt_cfg = cfg.optimizer;
  opt_cfg.total_steps = cfg.steps;
  opt_cfg.warmup_steps = int64_t(cfg.warmup_fraction * double(cfg.steps));
  const AdamW<float> opt(opt_cfg);
  Rng rng(seed);
  bool validating = false;
  for (const auto& s : data) validating = validating || !s.validation.empty();
  SslTrainResult result;
  std::vector<Mat<float>> best;  // parameter values of the best evaluation
  auto evaluate = [&](int64_t step) {
    NextStepError e;
    for (const auto& s : data)
      for (const MatrixF* r : s.validation) e += next_step_error(model, s.subject, *r, cfg.window, cfg.next);
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
    for (const auto& s : data) start_at_ar1(model, s.subject, fit_ar1(s.runs));
    if (validating) evaluate(-1);
  }
  std::vector<size_t> order(data.size());
  for (int64_t step = 0; step < cfg.steps; ++step) {
    if (step % int64_t(data.size()) == 0) {
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      rng.shuffle(order);
    }
    const size_t s = order[size_t(step % int64_t(data.size()))];
    const std::string& id = data[s].subject;
    model.params().zero_grad();
    SslBatch<float> batch;
    batch.N = N;
    if (cfg.w_masked > 0) {
      mask_pools[s].draw(N, rng, batch.masked);
      batch.mask = draw_mask(cfg.mask, N, T, batch.masked.cols(), rng);
    }
    if (cfg.w_next_step > 0) next_pools[s].draw(N, rng, batch.next);
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
                            "'); lower ssl.lr");
    if (on_step) on_step(step, loss, lr);
    if (validating && ((step + 1) % cfg.eval_every == 0 || step + 1 == cfg.steps)) evaluate(step);
  }
  model.params().zero_grad();
  if (validating) {
    const auto params = model.params().all();
    for (size_t i = 0; i < params.size(); ++i) params[i]->value = best[i];
  }
  return result;
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
