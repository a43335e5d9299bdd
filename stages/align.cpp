// v2c-align: the align-ridge baseline (models/align/align_ridge.h) for one held-out subject, on
// ridge's folds: the other subjects hyperaligned into its principal space, then pooled ridge.
#include "pipeline/core/log.h"
#include "pipeline/core/stage.h"
#include "pipeline/io/predictions.h"
#include "pipeline/io/samples.h"
#include "pipeline/math/metrics.h"
#include "pipeline/models/align/align_ridge.h"
#include "pipeline/study/shuffled_labels.h"

using namespace v2c;

namespace {

const StageSpec spec{
    .name = "align",
    .summary = "functional alignment + pooled ridge (align-ridge) for a held-out subject, on ridge's folds",
    .description =
        "For each outer fold of the held-out subject (its v2c-ridge output, --folds-from: the same training rows), "
        "the common space is the subject's own first align.features principal axes of its training responses; each "
        "--reference subject, without its samples of stimuli the fold tests, is mapped into it by orthogonal "
        "Procrustes (hyperalignment, Haxby et al. 2011) fitted on the stimuli it shares with those training rows, "
        "and ridge with the config's `ridge:` settings (α grid, α per target, inner CV) is fitted on every subject's "
        "mapped samples pooled and predicts the held-out subject's test rows. Writes a predictions file (model "
        "align-ridge) like v2c-ridge's.",
    .options = {{"samples", "FILE", "samples.h5 of the held-out subject (with features)", false, true, "",
                 OptionRole::input},
                {"folds-from", "FILE", "v2c-ridge's predictions file of these samples: its folds and training rows",
                 false, true, "", OptionRole::input},
                {"reference", "FILE", "samples.h5 of the other subjects (with features), pooled after alignment", true,
                 true, "", OptionRole::input},
                {"shuffle-pooled-labels", "", study::kShufflePooledLabelsHelp, false, false, ""}},
    .output_help = "predictions file to write (HDF5, format 'predictions')",
};

// The config's `ridge:` section through v2c-ridge's own schema (its defaults and rules).
ridge::RidgeConfig ridge_settings(const StageContext& ctx) {
  ridge::RidgeConfig r;
  config::Schema schema("ridge");
  r.describe(schema);
  if (ctx.args.has("config")) config::apply_file(schema, ctx.args.one("config"));
  schema.validate();
  return r;
}

void run(StageContext& ctx, align::AlignRidgeConfig& cfg) {
  const std::string samples_path = ctx.args.one("samples"), folds_path = ctx.args.one("folds-from");
  ctx.add_input(samples_path);
  ctx.add_input(folds_path);
  const Samples h = read_samples(samples_path);
  const Predictions folds = read_predictions(folds_path);
  std::vector<Samples> refs;
  for (const auto& r : ctx.args.all("reference")) {
    ctx.add_input(r);
    refs.push_back(read_samples(r));
  }
  const bool shuffle = ctx.args.has("shuffle-pooled-labels");
  if (shuffle)
    log::info("negative control (--shuffle-pooled-labels): the stimulus labels of the ", refs.size(),
              " reference subjects permuted in every fold (seed ", ctx.seed, "); ", h.subject, "'s own keep theirs");
  Predictions p = align::align_ridge(h, folds, refs, cfg, ridge_settings(ctx),
                                     shuffle ? std::optional<uint64_t>(ctx.seed) : std::nullopt);
  p.samples_path = samples_path;
  write_predictions(ctx.out, p, ctx.provenance, ctx.force);
  log::info(h.subject, ": align-ridge at train_fraction ", p.train_fraction, " (", refs.size(),
            " reference subjects): mean profile correlation ", metrics::mean_finite(p.profile_corr), " -> ", ctx.out);
}

}  // namespace

int main(int argc, char** argv) { return stage_main<align::AlignRidgeConfig>(argc, argv, spec, run); }
