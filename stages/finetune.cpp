// v2c-finetune: the pretrained encoder adapted to a new subject, judged on ridge's folds.
#include "pipeline/models/encoder/finetune.h"
#include "pipeline/core/log.h"
#include "pipeline/core/stage.h"
#include "pipeline/io/predictions.h"
#include "pipeline/io/samples.h"
#include "pipeline/math/metrics.h"
#include "pipeline/models/encoder/checkpoint.h"
#include "pipeline/models/encoder/ssl/new_subject.h"
#include "pipeline/study/shuffled_labels.h"

using namespace v2c;

namespace {

const StageSpec spec{
    .name = "finetune",
    .summary = "fine-tune the pretrained encoder on a new subject; out-of-fold predictions like v2c-ridge's",
    .description =
        "For every outer fold of --folds-from (a v2c-ridge output of the same samples): a fresh copy of the "
        "pretrained backbone and a new adapter for this subject, trained on exactly the rows ridge trained on in "
        "that fold (after ridge.exclusive, ridge.train_fraction and any gap), either the adapter alone "
        "(finetune.mode: adapter) or everything (full, as MindEye2), with the learning rate (finetune.lr_grid) and "
        "epochs (early stopping) chosen on an inner split of the fold's training runs, as ridge's α; the fold's "
        "test samples are predicted. Without "
        "--pretrained the encoder is trained from scratch per fold. The output has v2c-ridge's layout "
        "(predictions.h5, with the training rows and train_fraction of --folds-from), so retrieval and the report "
        "treat both alike.",
    .options = {{"samples", "FILE", "samples.h5 of the subject (with features)", false, true, "", OptionRole::input},
                {"pretrained", "FILE", "the pretrained model from v2c-pretrain", false, false, "", OptionRole::input},
                {"folds-from", "FILE", "v2c-ridge's predictions file of these samples: its folds and training rows",
                 false, true, "", OptionRole::input},
                {"reference", "FILE", "samples.h5 of pretraining subjects, for the ridge start of the new adapter",
                 true, false, "", OptionRole::input},
                {"shuffle-pooled-labels", "", study::kShufflePooledLabelsHelp, false, false, ""},
                {"timeseries", "FILE",
                 "the subject's timeseries.h5 (finetune.adapter_init: ssl): its adapter is first fitted "
                 "self-supervised on the volumes of each fold's training and unlabelled runs, never its test runs "
                 "(unless finetune.ssl_transductive)",
                 false, false, "", OptionRole::input},
                {"model", "NAME",
                 "the model's name in the output and the report (default: encoder-<mode>, "
                 "encoder-scratch without --pretrained)",
                 false, false, ""}},
    .output_help = "predictions file to write (HDF5, format 'predictions')",
};

void run(StageContext& ctx, encoder::FinetuneConfig& cfg) {
  const std::string samples_path = ctx.args.one("samples"), pretrained = ctx.args.one("pretrained");
  ctx.add_input(samples_path);
  if (!pretrained.empty()) ctx.add_input(pretrained);
  const Samples s = read_samples(samples_path);
  if (!pretrained.empty()) encoder::read_architecture(pretrained);  // a missing model is refused before anything
  const std::string folds_path = ctx.args.one("folds-from");
  ctx.add_input(folds_path);
  const Predictions folds = read_predictions(folds_path);
  if (pretrained.empty() && cfg.mode == "adapter")
    log::warn("no --pretrained model: training the whole encoder from scratch (finetune.mode ignored)");
  std::vector<Samples> refs;
  for (const auto& r : ctx.args.all("reference")) {
    ctx.add_input(r);
    refs.push_back(read_samples(r));
  }
  if (ctx.args.has("shuffle-pooled-labels")) {
    study::shuffle_pooled_labels(refs, s, folds.fold, ctx.seed);
    log::info("negative control (--shuffle-pooled-labels): the stimulus labels of the ", refs.size(),
              " reference subjects permuted (seed ", ctx.seed, "); ", s.subject, "'s own keep theirs");
  }
  std::unique_ptr<TimeSeriesReader> series;
  std::unique_ptr<encoder::ssl::SubjectRunPicker> picker;
  encoder::ssl::TemporalSnapshot temporal;
  encoder::SslAdapterFit ssl_fit;
  if (ctx.args.has("timeseries") != (cfg.adapter_init == "ssl"))
    throw usage_error("finetune.adapter_init = ", cfg.adapter_init,
                      cfg.adapter_init == "ssl" ? " needs the subject's time series (--timeseries)"
                                                : ": --timeseries is used only with finetune.adapter_init = ssl");
  if (ctx.args.has("timeseries")) {
    if (pretrained.empty()) throw usage_error("--timeseries needs --pretrained (its self-supervised temporal model)");
    ctx.add_input(ctx.args.one("timeseries"));
    series = std::make_unique<TimeSeriesReader>(ctx.args.one("timeseries"));
    temporal = encoder::read_temporal_model(pretrained);
    encoder::ssl::check_new_subject(temporal, encoder::read_architecture(pretrained), *series, s, pretrained);
    if (cfg.ssl_transductive)
      log::warn("finetune.ssl_transductive: the adapter's self-supervised fit reads the test runs' volumes too");
    picker = std::make_unique<encoder::ssl::SubjectRunPicker>(*series, cfg.ssl_transductive);
    ssl_fit = [&](const std::set<int32_t>& excluded, uint64_t seed) {
      encoder::ssl::NewSubjectFit fit =
          encoder::ssl::fit_new_subject(temporal, cfg.ssl, s.subject, picker->runs_except(excluded), seed);
      const encoder::ssl::SslCandidate& c = fit.candidates[fit.chosen];
      log::debug(s.subject, ": self-supervised adapter fit: lr ", c.lr, ", ", encoder::ssl::start_name(c.ar1_start),
                 " start chosen among ", fit.candidates.size(), " (validation next-time-point MSE ",
                 c.fit.best_validation, ")");
      return fit.adapter;
    };
  }
  Predictions p = encoder::finetune(s, pretrained, cfg, folds, ctx.seed, refs, ssl_fit);
  p.samples_path = samples_path;
  if (ctx.args.has("model")) p.model = ctx.args.one("model");
  write_predictions(ctx.out, p, ctx.provenance, ctx.force);
  log::info(s.subject, ": ", p.model, " at train_fraction ", p.train_fraction, ": mean profile correlation ",
            metrics::mean_finite(p.profile_corr), ", mean pattern correlation ", metrics::mean_finite(p.pattern_corr),
            " -> ", ctx.out);
}

}  // namespace

int main(int argc, char** argv) { return stage_main<encoder::FinetuneConfig>(argc, argv, spec, run); }
