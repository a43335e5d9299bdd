#include "pipeline/models/encoder/ssl/select.h"

#include <optional>

namespace v2c::encoder::ssl {

std::vector<SslTrainConfig> ssl_candidates(const SslTrainConfig& cfg) {
  std::vector<bool> starts;
  if (cfg.search.ar1_start != Ar1Start::on) starts.push_back(false);
  if (cfg.search.ar1_start != Ar1Start::off) starts.push_back(true);
  std::vector<SslTrainConfig> out;
  for (const bool start : starts)
    for (const double lr : cfg.search.lr_grid) {
      SslTrainConfig c = cfg;
      c.optimizer.lr = lr;
      c.ar1_start = start;
      out.push_back(c);
    }
  return out;
}

SslSelection select_ssl(const SslTrainConfig& cfg, const std::function<std::unique_ptr<SslModel<float>>()>& make_model,
                        const std::function<SslTrainResult(SslModel<float>&, const SslTrainConfig&)>& train,
                        const std::function<void(size_t, const SslCandidate&)>& on_candidate) {
  cfg.validate();
  const std::vector<SslTrainConfig> configs = ssl_candidates(cfg);
  SslSelection out;
  std::optional<Error> last_error;
  for (size_t k = 0; k < configs.size(); ++k) {
    SslCandidate c;
    c.lr = configs[k].optimizer.lr;
    c.ar1_start = configs[k].ar1_start;
    std::unique_ptr<SslModel<float>> model = make_model();
    try {
      c.fit = train(*model, configs[k]);
    } catch (const Error& e) {
      if (e.code() != ExitCode::numerical || configs.size() == 1) throw;
      c.diverged = true;
      c.error = e.what();
      last_error = e;
    }
    if (!c.diverged && configs.size() > 1 && c.fit.validation.empty())
      throw input_error("self-supervised selection among ", configs.size(),
                        " candidates: a run had no validation runs to be chosen by");
    const bool better = !c.diverged && (!out.model || c.fit.best_validation < out.best().fit.best_validation);
    out.candidates.push_back(std::move(c));
    if (on_candidate) on_candidate(k, out.candidates.back());
    if (better) {
      out.chosen = k;
      out.config = configs[k];
      out.model = std::move(model);
    }
  }
  if (!out.model) {
    Error e = *last_error;
    e.add_context(cat("choosing among ", configs.size(), " self-supervised candidates, every one diverged"));
    throw e;
  }
  return out;
}

const char* start_name(bool ar1_start) { return ar1_start ? "AR(1)" : "random"; }

const char* ar1_start_name(Ar1Start s) { return s == Ar1Start::both ? "auto" : s == Ar1Start::on ? "true" : "false"; }

}  // namespace v2c::encoder::ssl
