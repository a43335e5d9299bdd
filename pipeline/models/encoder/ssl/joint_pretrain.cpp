#include "pipeline/models/encoder/ssl/joint_pretrain.h"

#include <set>

#include "pipeline/core/log.h"

namespace v2c::encoder::ssl {

JointPretraining::JointPretraining(const std::vector<TimeSeries>& series,
                                   const std::map<std::string, int64_t>& subjects, const PretrainConfig& cfg,
                                   uint64_t seed)
    : cfg_(cfg.ssl), rng_(seed + 7) {
  cfg_.validate();
  model_ = std::make_unique<SslModel<float>>(cfg.model.latent, cfg_.model, seed);
  const std::set<int32_t> excluded(cfg.exclude_runs.begin(), cfg.exclude_runs.end());
  for (size_t i = 0; i < series.size(); ++i) {
    const TimeSeries& ts = series[i];
    const auto it = subjects.find(ts.subject);
    if (it == subjects.end()) {
      log::info("joint self-supervised objectives: ", ts.subject,
                " has no samples (no supervised batch to join): its time series is not used");
      continue;
    }
    if (it->second != ts.n_voxels())
      throw input_error("time series of '", ts.subject, "' has ", ts.n_voxels(), " voxels; its samples have ",
                        it->second);
    std::vector<const MatrixF*> runs;
    for (int64_t r = 0; r < ts.n_runs(); ++r)
      if (!(ts.runs[size_t(r)].samples_run >= 0 && excluded.count(ts.runs[size_t(r)].samples_run)))
        runs.push_back(&ts.data[size_t(r)]);
    WindowPool next(runs, cfg_.window + 1), masked(runs, cfg_.window);
    if (next.total() == 0)
      throw input_error("time series of '", ts.subject,
                        "': no usable run of at least ssl_window + 1 = ", cfg_.window + 1, " volumes");
    model_->add_subject(ts.subject, ts.n_voxels(), seed + 1001 + i);
    pools_.emplace(ts.subject, std::pair{std::move(next), std::move(masked)});
  }
  log::info("joint self-supervised objectives for ", pools_.size(), " subject(s): ", cfg_.batch_windows, " windows of ",
            cfg_.window, " volumes per step (next-time-point weight ", cfg_.w_next_step, ", masked ", cfg_.w_masked,
            ")");
}

LossParts JointPretraining::step(Trainer<float>& tr, const std::string& subject, const Mat<float>& X,
                                 const Mat<float>& T) {
  const auto it = pools_.find(subject);
  if (it == pools_.end()) return tr.train_step(subject, X, T);
  batch_.N = cfg_.batch_windows;
  if (cfg_.w_masked > 0) {
    it->second.second.draw(batch_.N, rng_, batch_.masked);
    batch_.mask = draw_mask(cfg_.mask, batch_.N, cfg_.window, batch_.masked.cols(), rng_);
  }
  if (cfg_.w_next_step > 0) it->second.first.draw(batch_.N, rng_, batch_.next);
  const JointParts parts = joint_step(tr, *model_, subject, X, T, batch_, cfg_);
  LossParts out = parts.supervised;
  out.total = parts.total;
  return out;
}

}  // namespace v2c::encoder::ssl
