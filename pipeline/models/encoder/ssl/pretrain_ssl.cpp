#include "pipeline/models/encoder/ssl/pretrain_ssl.h"

#include <set>

#include "pipeline/core/log.h"
#include "pipeline/models/encoder/checkpoint.h"
#include "pipeline/models/encoder/trainer.h"

namespace v2c::encoder::ssl {

SslPretrainResult pretrain_ssl(const std::vector<TimeSeries>& series, const PretrainConfig& cfg, uint64_t seed) {
  const SslTrainConfig& scfg = cfg.ssl;
  scfg.validate();
  if (series.empty()) throw usage_error("the self-supervised stage needs at least one subject's time series");
  const std::set<int32_t> excluded(cfg.exclude_runs.begin(), cfg.exclude_runs.end());
  SslModel<float> model(cfg.model.latent, scfg.model, seed);
  std::vector<SslSubjectRuns> data;
  SslPretrainResult out;
  std::set<std::string> ids;
  for (size_t i = 0; i < series.size(); ++i) {
    const TimeSeries& ts = series[i];
    if (!ids.insert(ts.subject).second) throw input_error("time series of subject '", ts.subject, "' given twice");
    std::vector<const MatrixF*> usable;
    int64_t skipped_short = 0;
    for (int64_t r = 0; r < ts.n_runs(); ++r) {
      if (ts.runs[size_t(r)].samples_run >= 0 && excluded.count(ts.runs[size_t(r)].samples_run)) continue;
      if (ts.data[size_t(r)].rows() < scfg.window + 1) {
        ++skipped_short;
        continue;
      }
      usable.push_back(&ts.data[size_t(r)]);
    }
    if (int64_t(usable.size()) <= scfg.val_runs)
      throw input_error("time series of '", ts.subject, "': ", usable.size(),
                        " usable run(s) (not in "
                        "pretrain.exclude_runs, at least ssl_window + 1 = ",
                        scfg.window + 1, " volumes; ", skipped_short,
                        " too short); pretrain.ssl_val_runs = ", scfg.val_runs, " leaves none for training");
    SslSubjectRuns d{ts.subject, {}, {}};
    for (size_t k = 0; k < usable.size(); ++k)
      (int64_t(k) + scfg.val_runs >= int64_t(usable.size()) ? d.validation : d.runs).push_back(usable[k]);
    for (const MatrixF* r : d.runs) out.train_volumes += r->rows();
    for (const MatrixF* r : d.validation) out.validation_volumes += r->rows();
    model.add_subject(ts.subject, ts.n_voxels(), seed + 1001 + i);
    log::info("self-supervised: ", ts.subject, ": ", d.runs.size(), " training and ", d.validation.size(),
              " validation run(s) of ", ts.n_runs());
    data.push_back(std::move(d));
  }
  log::info("self-supervised stage: ", data.size(), " subjects, ", out.train_volumes, " training volumes, window ",
            scfg.window, ", latent ", cfg.model.latent, ", ", scfg.steps, " steps (next-time-point weight ",
            scfg.w_next_step, ", masked ", scfg.w_masked, ")");
  log::Progress progress("self-supervised steps", scfg.steps);
  double recent = 0;
  out.fit = train_ssl(model, data, scfg, seed + 7, [&](int64_t step, double loss, double) {
    recent += loss;
    progress.tick();
    if ((step + 1) % scfg.eval_every == 0) {
      log::debug("self-supervised step ", step + 1, ": mean loss ", recent / scfg.eval_every);
      recent = 0;
    }
  });
  progress.done();
  if (!out.fit.validation.empty())
    log::info("self-supervised stage: best validation next-time-point MSE ", out.fit.best_validation, " after step ",
              out.fit.best_step + 1, out.fit.best_step < 0 ? " (the AR(1) start)" : "");
  for (const auto& d : data) {
    AdapterInit<float> a;
    a.W = model.adapter(d.subject).W->value;
    a.b = model.adapter(d.subject).b->value;
    out.adapters[d.subject] = std::move(a);
  }
  out.temporal = snapshot_shared(model, scfg);
  return out;
}

void write_self_supervised_encoder(const SampleSource& source, const PretrainConfig& cfg, const SslPretrainResult& ssl,
                                   uint64_t seed, const std::string& out_path, const Provenance& prov, bool force) {
  const std::map<std::string, AdapterInit<float>>& adapters = ssl.adapters;
  const std::vector<SubjectTable>& samples = source.subjects();
  if (samples.empty())
    throw usage_error("v2c-pretrain needs at least one subject's samples (for the output dimension)");
  EncoderConfig model = cfg.model;
  model.clip_dim = int(source.feature_dim());
  if (model.clip_dim < 1) throw input_error("samples of '", samples[0].id, "' have no features");
  Encoder<float> enc(model, seed);
  for (size_t s = 0; s < samples.size(); ++s) {
    const auto it = adapters.find(samples[s].id);
    if (it == adapters.end())
      throw input_error("pretrain.supervised is false but subject '", samples[s].id,
                        "' has no time series (--timeseries) to fit its adapter");
    enc.add_subject(samples[s].id, samples[s].n_voxels, it->second, seed + 101 + s);
  }
  Trainer<float> tr(enc, cfg.loss, cfg.schedule(1), seed);
  save_checkpoint(out_path, tr, prov, force, {}, ssl.temporal);
}

}  // namespace v2c::encoder::ssl
