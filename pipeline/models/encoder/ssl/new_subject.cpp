#include "pipeline/models/encoder/ssl/new_subject.h"

namespace v2c::encoder::ssl {

NewSubjectFit fit_new_subject(const TemporalSnapshot& pretrained, const SslTrainConfig& training,
                              const std::string& subject, const std::vector<const MatrixF*>& runs, uint64_t seed) {
  SslTrainConfig cfg = pretrained.objectives;  // window, objectives, architecture: as pretrained
  cfg.steps = training.steps;
  cfg.optimizer = training.optimizer;
  cfg.batch_windows = training.batch_windows;
  cfg.eval_every = training.eval_every;
  cfg.val_runs = training.val_runs;
  cfg.warmup_fraction = training.warmup_fraction;
  cfg.search = training.search;
  cfg.validate();
  return with_context(cat("fitting the adapter of '", subject, "' self-supervised"), [&] {
    std::vector<const MatrixF*> usable;
    for (const MatrixF* r : runs)
      if (r->rows() >= cfg.window + 1) usable.push_back(r);
    if (int64_t(usable.size()) <= cfg.val_runs)
      throw input_error(usable.size(), " usable run(s) of at least window + 1 = ", cfg.window + 1, " volumes (of ",
                        runs.size(), " it may see); ssl_val_runs = ", cfg.val_runs, " leaves none for training");
    if (usable[0]->cols() < 1) throw input_error("its runs have no voxels");
    auto make_model = [&] {
      std::unique_ptr<SslModel<float>> model = restore_shared(pretrained);
      model->params().set_trainable("", false);  // the temporal model and mask token stay as pretrained
      model->add_subject(subject, usable[0]->cols(), seed);
      return model;
    };
    SslSubjectRuns d{subject, {}, {}};
    NewSubjectFit out;
    for (size_t k = 0; k < usable.size(); ++k) {
      const bool validates = int64_t(k) + cfg.val_runs >= int64_t(usable.size());
      (validates ? d.validation : d.runs).push_back(usable[k]);
      (validates ? out.validation_volumes : out.train_volumes) += usable[k]->rows();
    }
    SslSelection chosen = select_ssl(cfg, make_model, [&](SslModel<float>& model, const SslTrainConfig& one) {
      return train_ssl(model, {d}, one, seed + 1);
    });
    out.fit = chosen.best().fit;
    out.candidates = std::move(chosen.candidates);
    out.chosen = chosen.chosen;
    out.adapter.W = chosen.model->adapter(subject).W->value;
    out.adapter.b = chosen.model->adapter(subject).b->value;
    return out;
  });
}

void check_new_subject(const TemporalSnapshot& temporal, const EncoderConfig& encoder, const TimeSeriesReader& series,
                       const Samples& samples, const std::string& checkpoint_path) {
  if (!temporal.present)
    throw input_error("pretrained model '", checkpoint_path,
                      "' holds no self-supervised temporal model (pretrained without --timeseries); "
                      "finetune.adapter_init = ssl needs one");
  if (temporal.latent != encoder.latent)
    throw input_error("pretrained model '", checkpoint_path, "': its temporal model's latent width is ",
                      temporal.latent, ", the encoder's ", encoder.latent);
  if (series.info().subject != samples.subject)
    throw input_error("time series '", series.path(), "' is of subject '", series.info().subject,
                      "'; the samples are of '", samples.subject, "'");
  if (series.n_voxels() != samples.n_voxels())
    throw input_error("time series '", series.path(), "' has ", series.n_voxels(), " voxels; the samples of ",
                      samples.subject, " have ", samples.n_voxels(), " (prepare both in one v2c-prepare call)");
}

std::vector<const MatrixF*> SubjectRunPicker::runs_except(const std::set<int32_t>& excluded) {
  std::vector<const MatrixF*> out;
  for (int64_t r = 0; r < reader_.n_runs(); ++r) {
    const int32_t samples_run = reader_.run_info(r).samples_run;
    if (!transductive_ && samples_run >= 0 && excluded.count(samples_run)) continue;
    auto it = cache_.find(r);
    if (it == cache_.end()) it = cache_.emplace(r, reader_.run(r)).first;
    out.push_back(&it->second);
  }
  return out;
}

std::vector<int64_t> SubjectRunPicker::runs_read() const {
  std::vector<int64_t> out;
  for (const auto& [r, m] : cache_) out.push_back(r);
  return out;
}

}  // namespace v2c::encoder::ssl
