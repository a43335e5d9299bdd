// v2c-prepare: one subject's NIfTI runs + mask + events -> samples.h5.
#include <filesystem>
#include <optional>

#include "pipeline/core/error.h"
#include "pipeline/core/log.h"
#include "pipeline/core/output.h"
#include "pipeline/core/stage.h"
#include "pipeline/io/nifti.h"
#include "pipeline/io/samples.h"
#include "pipeline/prep/auto_mask.h"
#include "pipeline/prep/bids.h"
#include "pipeline/prep/prepare.h"
#include "pipeline/prep/timeseries_collect.h"

using namespace v2c;

namespace {

const StageSpec spec{
    .name = "prepare",
    .summary = "NIfTI runs + mask + events -> one sample per stimulus presentation (samples.h5)",
    .description =
        "Per run, from that run's own data: the drift (Legendre polynomials, optional cosine high-pass) and chosen "
        "confound columns (fMRIPrep's confounds table) are regressed out, voxels are scaled (z-score or percent signal "
        "change), then one sample per stimulus presentation: the mean of the volumes of its window shifted by the "
        "haemodynamic delay (event), or a per-trial GLM estimate with SPM's canonical HRF, LSA or LSS (glm); or one "
        "sample per labelled volume (volume). Samples may be averaged by an events column (blocks, repeats). Every "
        "event that gives no sample is logged with the reason and listed in the output. Rest volumes are dropped; "
        "constant or non-finite voxels are dropped with a warning. Runs are given as files (--bold with --events, or "
        "with a per-volume --labels file whose second column is the run), or found in a BIDS tree (--bids with "
        "--subject, optionally fMRIPrep --derivatives with --space). TR: prepare.tr_s, else the BIDS sidecar's "
        "RepetitionTime, else the NIfTI header. One subject per call, so `make -j` prepares subjects in parallel.",
    .options =
        {
            {"bold", "FILE", "4D NIfTI run(s), in run order", true, false, "", OptionRole::input},
            {"events", "FILE", "BIDS events.tsv, one per --bold file ('none': a run without events, e.g. rest)", true,
             false, ""},
            {"labels", "FILE", "per-volume 'label run' file covering all --bold volumes (instead of --events)", false,
             false, "", OptionRole::input},
            {"confounds", "FILE", "confounds TSV, one per --bold file (default: fMRIPrep's, found beside each run)",
             true, false, "", OptionRole::input},
            {"mask", "FILE",
             "brain or ROI mask on the runs' grid (nonzero = in), or 'auto': computed from the runs' "
             "mean image and written beside the output as <out>_mask.nii.gz",
             false, false, ""},
            {"bids", "DIR", "BIDS root: finds sub-S/func/sub-S_task-T_run-*_bold.nii[.gz], events, sidecars and mask",
             false, false, "", OptionRole::input},
            {"derivatives", "DIR", "with --bids: fMRIPrep output holding the preprocessed runs and their confounds",
             false, false, "", OptionRole::input},
            {"space", "LABEL", "with --derivatives: space of the preprocessed runs (e.g. T1w)", false, false, ""},
            {"subject", "ID", "subject id recorded in the output (with --bids: which subject)", false, false, ""},
            {"task", "NAME", "with --bids: the task label", false, false, "sim"},
            {"features", "FILE",
             "stimulus feature table (.npy with --feature-names, .h5, .csv, .tsv), or 'onehot': "
             "one-hot vectors of the stimulus column",
             false, false, ""},
            {"feature-names", "FILE", "ids of the .npy rows, one per line", false, false, "", OptionRole::input},
            {"feature-aliases", "FILE", "TSV mapping stimulus ids to feature ids (columns: prepare.alias_*_column)",
             false, false, "", OptionRole::input},
            {"timeseries", "FILE",
             "also write every run's cleaned volumes, labelled or not, here (HDF5, format "
             "'timeseries', docs/formats.md)",
             false, false, "", OptionRole::output},
        },
    .output_help = "samples file to write (HDF5, format 'samples', docs/formats.md)",
};

void run(StageContext& ctx, prep::PrepareConfig& cfg) {
  const Args& a = ctx.args;
  prep::PrepareInputs in;
  in.subject = a.one("subject");
  in.mask = a.one("mask");
  in.labels = a.one("labels");
  in.features = a.one("features");
  in.feature_names = a.one("feature-names");
  in.feature_aliases = a.one("feature-aliases");
  in.confounds = a.all("confounds");
  if (a.has("bids")) {
    if (a.has("bold") || a.has("events") || a.has("labels") || a.has("confounds"))
      throw usage_error(
          "--bids finds the runs itself; do not combine it with --bold, --events, --labels or --confounds");
    if (in.subject.empty()) throw usage_error("--bids needs --subject");
    prep::discover_bids({a.one("bids"), a.one("derivatives"), in.subject, a.one("task", "sim"), a.one("space")}, in);
  } else {
    if (a.has("derivatives") || a.has("space")) throw usage_error("--derivatives and --space go with --bids DIR");
    in.bold = a.all("bold");
    in.events = a.all("events");
    if (in.bold.empty()) throw usage_error("give the runs with --bold FILE... (or --bids DIR --subject ID)");
    if (in.mask.empty()) throw usage_error("missing --mask FILE (or --mask auto)");
    if (in.subject.empty()) in.subject = "sub-01";
  }
  for (const auto& f : in.bold) ctx.add_input(f);
  for (const auto& f : in.events) ctx.add_input(f);
  for (const auto& f : in.confounds) ctx.add_input(f);
  for (const auto& f : in.sidecars)
    if (!f.empty()) ctx.add_input(f);
  for (const auto& f : {in.labels, in.feature_names, in.feature_aliases})
    if (!f.empty()) ctx.add_input(f);
  for (const auto& f : {in.mask, in.features})
    if (!f.empty() && f != prep::kAutoMask && f != prep::kOneHot) ctx.add_input(f);

  // --mask auto writes <out>_mask.nii.gz beside the samples; like the samples, never over an
  // existing file without --force (AtomicOutput refuses before any work).
  std::optional<AtomicOutput> mask_out;
  if (in.mask == prep::kAutoMask) {
    const std::filesystem::path o(ctx.out);
    const std::string mask_path = (o.parent_path() / (o.stem().string() + "_mask.nii.gz")).string();
    ctx.add_output(mask_path);
    mask_out.emplace(mask_path, ctx.force);
  }
  prep::TimeSeriesCollector series;
  const std::string series_path = a.one("timeseries");
  if (!series_path.empty()) {
    AtomicOutput{series_path, ctx.force};  // refuses an existing file before any work
    in.on_cleaned_run = [&](const MatrixF& y, const nifti::Mask& m) { series.add_run(y, m); };
  }
  prep::AutoMaskResult auto_mask;
  Samples s = prep::prepare_subject(in, cfg, &auto_mask);
  if (mask_out) {
    const std::string path = mask_out->final_path();
    nifti::write_map(*mask_out, nifti::read_header(in.bold[0]),
                     std::vector<float>(auto_mask.inside.begin(), auto_mask.inside.end()));
    s.mask_source = path;
    log::info(s.subject, ": automatic mask (", s.mask_voxels, " voxels, threshold ", auto_mask.threshold, ") -> ",
              path);
  }
  try {
    if (!series_path.empty()) write_timeseries(series_path, series.finish(s, cfg.shift_s), ctx.provenance, ctx.force);
    write_samples(ctx.out, s, ctx.provenance, ctx.force);
  } catch (...) {
    if (mask_out) std::filesystem::remove(mask_out->final_path());  // no half of the output
    if (!series_path.empty()) std::filesystem::remove(series_path);
    throw;
  }
  log::info(s.subject, ": ", s.n_samples(), " samples x ", s.n_voxels(), " voxels from ", s.run_source.size(), " runs",
            s.has_features() ? cat(", ", s.features.rows(), " stimuli with features") : std::string(), " -> ", ctx.out,
            " (peak memory ", int(log::peak_memory_mib()), " MiB)");
}

}  // namespace

int main(int argc, char** argv) { return stage_main<prep::PrepareConfig>(argc, argv, spec, run); }
