// v2c-ridge: per-subject ridge decoding or encoding with leak-free nested cross-validation.
#include <filesystem>
#include <memory>
#include <optional>

#include "pipeline/core/log.h"
#include "pipeline/core/output.h"
#include "pipeline/core/stage.h"
#include "pipeline/io/bdata.h"
#include "pipeline/io/nifti/writer.h"
#include "pipeline/io/samples.h"
#include "pipeline/math/metrics.h"
#include "pipeline/models/ridge_run.h"
#include "pipeline/prep/prepare.h"

using namespace v2c;

namespace {

const StageSpec spec{
    .name = "ridge",
    .summary = "per-subject ridge regression voxels <-> features with nested, run-grouped cross-validation",
    .description =
        "Decodes (voxels -> stimulus features) or encodes (features -> voxels) one subject's samples. Outer folds "
        "are grouped by run; inside each outer training set an inner CV grouped by run chooses α per target; means, "
        "SDs and voxel selection come from training rows only. All α of a training set come from one "
        "eigendecomposition (of X·Xᵀ when voxels outnumber samples, else Xᵀ·X). Writes out-of-fold predictions, α "
        "per fold and target, profile/pattern correlation and R², and the model refit on all samples. Encoding "
        "also writes each voxel's cross-validated prediction correlation as a NIfTI map.",
    .options = {{"samples", "FILE", "samples.h5 from v2c-prepare (with features)", false, false, "", OptionRole::input},
                {"bdata", "FILE", "instead of --samples: a BData HDF5 file (Kamitani lab, bdpy)", false, false, "",
                 OptionRole::input},
                {"bdata-voxels", "EXPR", "--bdata: voxel columns, e.g. 'ROI_VC = 1'", false, false, "VoxelData = 1"},
                {"bdata-run", "KEY", "--bdata: the design column holding the run", false, false, "Run"},
                {"bdata-stimulus", "KEY", "--bdata: the design column naming the stimulus", false, false, "Label"},
                {"subject", "ID", "--bdata: subject id recorded in the output", false, false, "sub-01"},
                {"features", "FILE", "--bdata: stimulus feature table (.npy/.h5/.csv/.tsv)", false, false, "",
                 OptionRole::input},
                {"feature-names", "FILE", "--bdata: ids of the .npy rows", false, false, "", OptionRole::input},
                {"feature-aliases", "FILE",
                 "--bdata: TSV mapping stimulus ids to feature ids (columns stimulus, feature)", false, false, "",
                 OptionRole::input},
                {"map", "FILE", "encode: the correlation map (default: OUT with _corr.nii.gz)", false, false, "",
                 OptionRole::output}},
    .output_help = "predictions file to write (HDF5, format 'predictions', docs/formats.md)",
};

void run(StageContext& ctx, ridge::RidgeConfig& cfg) {
  const Args& a = ctx.args;
  if (a.has("samples") == a.has("bdata")) throw usage_error("give exactly one of --samples FILE and --bdata FILE");
  // Every output is known and claimed before the computation.
  std::string map_path = a.one("map");
  if (!map_path.empty() && cfg.mode != "encode")
    throw usage_error("--map is written in encode mode (ridge.mode = encode); ridge.mode is '", cfg.mode, "'");
  if (cfg.mode == "encode" && map_path.empty()) {
    const std::filesystem::path o(ctx.out);
    map_path = (o.parent_path() / (o.stem().string() + "_corr.nii.gz")).string();
    ctx.add_output(map_path);
  }
  if (!map_path.empty() && !map_path.ends_with(".nii") && !map_path.ends_with(".nii.gz"))
    throw usage_error("--map '", map_path, "': expected a .nii or .nii.gz file name");
  const std::string samples_path = a.has("samples") ? a.one("samples") : a.one("bdata");
  ctx.add_input(samples_path);
  Samples s;
  if (a.has("samples")) {
    s = read_samples(samples_path);
  } else {
    bdata::BDataSelection sel;
    sel.voxels = a.one("bdata-voxels", sel.voxels);
    sel.run = a.one("bdata-run", sel.run);
    sel.stimulus = a.one("bdata-stimulus", sel.stimulus);
    s = bdata::samples_from_bdata(samples_path, sel, a.one("subject", "sub-01"));
    if (!a.has("features")) throw usage_error("--bdata needs --features (the stimulus feature table)");
    prep::FeatureJoin join;
    join.features = a.one("features");
    join.feature_names = a.one("feature-names");
    join.feature_aliases = a.one("feature-aliases");
    for (const auto& f : {join.features, join.feature_names, join.feature_aliases})
      if (!f.empty()) ctx.add_input(f);
    prep::attach_features(s, join);
  }
  log::info(s.subject, ": ", cfg.mode, " ", s.n_samples(), " samples, ", s.n_voxels(), " voxels, ", s.features.cols(),
            "-d features, ", s.run_source.size(), " runs, ", cfg.alphas.size(), " alphas, ", cfg.precision);
  // Made before the work, so an existing map is refused (without --force) before any fitting.
  std::optional<AtomicOutput> map_out;
  if (!map_path.empty()) map_out.emplace(map_path, ctx.force);

  std::unique_ptr<log::Progress> progress;
  Predictions p = ridge::run_ridge(s, cfg, [&](int, int n_folds) {
    if (!progress) progress = std::make_unique<log::Progress>("outer folds", n_folds);
    progress->tick();
  });
  progress.reset();
  p.samples_path = samples_path;

  // The map first, under its temporary name; then the predictions; both committed together.
  if (map_out && s.grid_dims[0] > 0) {
    nifti::Header grid;
    grid.dims = {s.grid_dims[0], s.grid_dims[1], s.grid_dims[2]};
    grid.affine = s.affine;
    std::vector<float> map(size_t(grid.volume_size()), 0.0f);
    for (int64_t v = 0; v < s.n_voxels(); ++v) {
      const int64_t flat = s.ijk(v, 0) + s.grid_dims[0] * (s.ijk(v, 1) + s.grid_dims[1] * s.ijk(v, 2));
      const double c = p.profile_corr[size_t(v)];
      map[size_t(flat)] = std::isfinite(c) ? float(c) : 0.0f;
    }
    nifti::write_map(*map_out, grid, map, /*commit=*/false);
    write_predictions(ctx.out, p, ctx.provenance, ctx.force, {&*map_out});
    log::info("voxel correlation map -> ", map_path);
  } else {
    write_predictions(ctx.out, p, ctx.provenance, ctx.force);
  }
  log::info(s.subject, ": mean profile correlation ", metrics::mean_finite(p.profile_corr),
            ", mean pattern correlation ", metrics::mean_finite(p.pattern_corr), ", mean R² ",
            metrics::mean_finite(p.r2), " -> ", ctx.out);
}

}  // namespace

int main(int argc, char** argv) { return stage_main<ridge::RidgeConfig>(argc, argv, spec, run); }
