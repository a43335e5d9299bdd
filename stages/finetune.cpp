// v2c-finetune: the pretrained encoder adapted to a new subject, judged on ridge's folds.
#include "pipeline/core/log.h"
#include "pipeline/core/stage.h"
#include "pipeline/io/predictions.h"
#include "pipeline/io/samples.h"
#include "pipeline/math/metrics.h"
#include "pipeline/models/encoder/finetune.h"

using namespace v2c;

namespace {

const StageSpec spec{
    .name = "finetune",
    .summary = "fine-tune the pretrained encoder on a new subject; out-of-fold predictions like v2c-ridge's",
    .description =
        "For every outer fold: a fresh copy of the pretrained backbone and a new adapter for this subject, trained "
        "on a share of the fold's training runs (finetune.train_fraction: the same first runs ridge uses), either "
        "the adapter alone (finetune.mode: adapter) or everything (full, as MindEye2); the fold's test samples are "
        "predicted. --folds-from takes the folds of a v2c-ridge output so both models are judged on the same "
        "held-out samples. Without --pretrained the encoder is trained from scratch per fold. The output has "
        "v2c-ridge's layout (predictions.h5), so retrieval and the report treat both alike.",
    .options = {{"samples", "FILE", "samples.h5 of the subject (with features)", false, true, ""},
                {"pretrained", "FILE", "the pretrained model from v2c-pretrain", false, false, ""},
                {"folds-from", "FILE", "a predictions file (e.g. v2c-ridge's) whose outer folds to use", false,
                 false, ""},
                {"reference", "FILE", "samples.h5 of pretraining subjects, for the ridge start of the new adapter",
                 true, false, ""}},
    .output_help = "predictions file to write (HDF5, format 'predictions')",
};

void run(StageContext& ctx, encoder::FinetuneConfig& cfg) {
  const std::string samples_path = ctx.args.one("samples"), pretrained = ctx.args.one("pretrained");
  ctx.add_input(samples_path);
  if (!pretrained.empty()) ctx.add_input(pretrained);
  const Samples s = read_samples(samples_path);
  std::vector<int32_t> folds;
  if (ctx.args.has("folds-from")) {
    ctx.add_input(ctx.args.one("folds-from"));
    folds = read_predictions(ctx.args.one("folds-from")).fold;
  }
  if (pretrained.empty() && cfg.mode == "adapter")
    log::warn("no --pretrained model: training the whole encoder from scratch (finetune.mode ignored)");
  std::vector<Samples> refs;
  for (const auto& r : ctx.args.all("reference")) {
    ctx.add_input(r);
    refs.push_back(read_samples(r));
  }
  Predictions p = encoder::finetune(s, pretrained, cfg, folds, ctx.seed, refs);
  p.samples_path = samples_path;
  write_predictions(ctx.out, p, ctx.provenance, ctx.force);
  log::info(s.subject, ": ", p.model, " at train_fraction ", cfg.train_fraction, ": mean profile correlation ",
            metrics::mean_finite(p.profile_corr), ", mean pattern correlation ", metrics::mean_finite(p.pattern_corr),
            " -> ", ctx.out);
}

}  // namespace

int main(int argc, char** argv) { return stage_main<encoder::FinetuneConfig>(argc, argv, spec, run); }
