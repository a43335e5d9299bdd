#include "pipeline/models/encoder/ssl/pretrain_ssl.h"

#include <memory>
#include <set>

#include "pipeline/core/log.h"
#include "pipeline/models/encoder/checkpoint.h"
#include "pipeline/models/encoder/ssl/select.h"
#include "pipeline/models/encoder/trainer.h"

namespace v2c::encoder::ssl {

SslPretrainResult pretrain_ssl(const std::vector<TimeSeries>& series, const PretrainConfig& cfg, uint64_t seed) {
  TimeSeriesMemorySource source(series);
  return pretrain_ssl(source, {}, cfg, seed);
}

SslPretrainResult pretrain_ssl(WindowSource& source, const std::vector<std::set<int64_t>>& left_out,
                               const PretrainConfig& cfg, uint64_t seed) {
  const SslTrainConfig& scfg = cfg.ssl;
  scfg.validate();
  const size_t n = size_t(source.n_subjects());
  if (n == 0) throw usage_error("the self-supervised stage needs at least one subject's time series");
  V2C_ASSERT(left_out.empty() || left_out.size() == n, "left_out runs for ", left_out.size(), " of ", n, " subjects");
  const std::set<int32_t> excluded(cfg.exclude_runs.begin(), cfg.exclude_runs.end());
  std::vector<std::pair<std::string, int64_t>> subjects;  // id, voxels
  SslStreamRuns runs;
  SslPretrainResult out;
  std::set<std::string> ids;
  for (size_t i = 0; i < n; ++i) {
    const TimeSeries& ts = source.table(i);
    if (!ids.insert(ts.subject).second) throw input_error("time series of subject '", ts.subject, "' given twice");
    std::vector<int64_t> usable;
    int64_t skipped_short = 0;
    for (int64_t r = 0; r < ts.n_runs(); ++r) {
      if (ts.runs[size_t(r)].samples_run >= 0 && excluded.count(ts.runs[size_t(r)].samples_run)) continue;
      if (!left_out.empty() && left_out[i].count(r)) continue;
      if (ts.runs[size_t(r)].n_volumes < scfg.window + 1) {
        ++skipped_short;
        continue;
      }
      usable.push_back(r);
    }
    if (int64_t(usable.size()) <= scfg.val_runs)
      throw input_error("time series of '", ts.subject, "': ", usable.size(),
                        " usable run(s) (not in "
                        "pretrain.exclude_runs, at least ssl_window + 1 = ",
                        scfg.window + 1, " volumes; ", skipped_short,
                        " too short); pretrain.ssl_val_runs = ", scfg.val_runs, " leaves none for training");
    runs.train.emplace_back();
    runs.validation.emplace_back();
    for (size_t k = 0; k < usable.size(); ++k) {
      const bool validates = int64_t(k) + scfg.val_runs >= int64_t(usable.size());
      (validates ? runs.validation : runs.train).back().push_back(usable[k]);
      (validates ? out.validation_volumes : out.train_volumes) += ts.runs[size_t(usable[k])].n_volumes;
    }
    subjects.emplace_back(ts.subject, ts.n_voxels());
    log::info("self-supervised: ", ts.subject, ": ", runs.train.back().size(), " training and ",
              runs.validation.back().size(), " validation run(s) of ", ts.n_runs());
  }
  log::info("self-supervised stage: ", n, " subjects, ", out.train_volumes, " training volumes, window ", scfg.window,
            ", latent ", cfg.model.latent, ", ", scfg.steps, " steps (next-time-point weight ", scfg.w_next_step,
            ", masked ", scfg.w_masked, ")");
  const size_t n_candidates = scfg.search.size();
  if (n_candidates > 1)
    log::info("self-supervised stage: ", n_candidates, " candidates (", scfg.search.lr_grid.size(),
              " learning rates, ssl_ar1_start ", ar1_start_name(scfg.search.ar1_start),
              "), the lowest validation next-time-point MSE kept");
  log::Progress progress("self-supervised steps", scfg.steps * int64_t(n_candidates));
  double recent = 0;
  WindowStreamConfig stream;
  stream.chunk_windows = cfg.chunk_rows;
  stream.buffer_mib = cfg.buffer_mib;
  auto make_model = [&] {
    auto model = std::make_unique<SslModel<float>>(cfg.model.latent, scfg.model, seed);
    for (size_t i = 0; i < subjects.size(); ++i)
      model->add_subject(subjects[i].first, subjects[i].second, seed + 1001 + i);
    return model;
  };
  auto train = [&](SslModel<float>& model, const SslTrainConfig& one) {
    return train_ssl(model, source, runs, one, stream, seed + 7, [&](int64_t step, double loss, double) {
      recent += loss;
      progress.tick();
      if ((step + 1) % one.eval_every == 0) {
        log::debug("self-supervised step ", step + 1, ": mean loss ", recent / one.eval_every);
        recent = 0;
      }
    });
  };
  SslSelection chosen = select_ssl(scfg, make_model, train, [&](size_t k, const SslCandidate& c) {
    if (c.diverged)
      log::warn("self-supervised candidate ", k + 1, "/", n_candidates, " (lr ", c.lr, ", ", start_name(c.ar1_start),
                " start) diverged, set aside: ", c.error);
    else if (!c.fit.validation.empty())
      log::info("self-supervised candidate ", k + 1, "/", n_candidates, " (lr ", c.lr, ", ", start_name(c.ar1_start),
                " start): best validation next-time-point MSE ", c.fit.best_validation, " after step ",
                c.fit.best_step + 1, c.fit.best_step < 0 ? " (the AR(1) start)" : "");
  });
  progress.done();
  out.fit = chosen.best().fit;
  if (n_candidates > 1)
    log::info("self-supervised stage: chose lr ", chosen.best().lr, " from the ", start_name(chosen.best().ar1_start),
              " start (candidate ", chosen.chosen + 1, "/", n_candidates, ")");
  log::info("self-supervised stage: ", out.fit.epochs, " epoch(s) of the training windows begun; shuffle buffer peak ",
            out.fit.peak_buffer_volumes, " volumes");
  SslModel<float>& model = *chosen.model;
  for (const std::string& id : ids) {
    AdapterInit<float> a;
    a.W = model.adapter(id).W->value;
    a.b = model.adapter(id).b->value;
    out.adapters[id] = std::move(a);
  }
  out.temporal = snapshot_shared(model, chosen.config);
  out.temporal.candidates = std::move(chosen.candidates);
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
