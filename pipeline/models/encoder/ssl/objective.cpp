#include "pipeline/models/encoder/ssl/objective.h"

namespace v2c::encoder::ssl {

template <class S>
SslParts ssl_objectives(SslModel<S>& model, const std::string& subject, const SslBatch<S>& batch,
                        const SslTrainConfig& cfg, bool with_grad) {
  SslParts out;
  // The objectives ADD their gradients, so the first is scaled before the second runs:
  // w_n·g_next + w_m·g_masked = w_n·(g_next + (w_m/w_n)·g_masked).
  auto scale_grads = [&](double f) {
    if (!with_grad) return;
    for (Param<S>* p : model.params().all())
      if (p->grad.size() > 0) p->grad *= S(f);
  };
  if (cfg.w_masked > 0) {
    out.masked = masked_prediction(model, subject, batch.masked, batch.N, cfg.window, batch.mask, with_grad).loss;
    if (cfg.w_next_step > 0) scale_grads(cfg.w_masked / cfg.w_next_step);
  }
  if (cfg.w_next_step > 0) {
    out.next_step = next_step_prediction(model, subject, batch.next, batch.N, cfg.window, cfg.next, with_grad).loss;
    scale_grads(cfg.w_next_step);
  } else {
    scale_grads(cfg.w_masked);
  }
  out.total = cfg.w_next_step * out.next_step + cfg.w_masked * out.masked;
  return out;
}

template SslParts ssl_objectives<float>(SslModel<float>&, const std::string&, const SslBatch<float>&,
                                        const SslTrainConfig&, bool);
template SslParts ssl_objectives<double>(SslModel<double>&, const std::string&, const SslBatch<double>&,
                                         const SslTrainConfig&, bool);

}  // namespace v2c::encoder::ssl
