// v2c-prepare: one subject's NIfTI runs + mask + events -> samples.h5.
#include "pipeline/core/log.h"
#include "pipeline/core/stage.h"
#include "pipeline/io/samples.h"
#include "pipeline/prep/prepare.h"

using namespace v2c;

namespace {

const StageSpec spec{
    .name = "prepare",
    .summary = "NIfTI runs + mask + events -> one sample per stimulus presentation (samples.h5)",
    .description =
        "Per run, from that run's own data: polynomial detrending, scaling (z-score or percent signal change), then "
        "one sample per stimulus presentation: the mean of the volumes inside the event shifted by the haemodynamic "
        "delay (or one sample per labelled volume). Rest volumes are dropped; constant or non-finite voxels are "
        "dropped with a warning. Runs are given as files (--bold with --events, or with a per-volume --labels file "
        "whose second column is the run), or found in a BIDS tree (--bids with --subject). One subject per call, "
        "so `make -j` prepares subjects in parallel.",
    .options =
        {
            {"bold", "FILE", "4D NIfTI run(s), in run order", true, false, ""},
            {"events", "FILE", "BIDS events.tsv, one per --bold file", true, false, ""},
            {"labels", "FILE", "per-volume 'label run' file covering all --bold volumes (instead of --events)", false,
             false, ""},
            {"mask", "FILE", "brain or ROI mask on the runs' grid (nonzero = in)", false, false, ""},
            {"bids", "DIR", "BIDS root: finds sub-S/func/sub-S_task-T_run-*_bold.nii[.gz], events and mask", false,
             false, ""},
            {"subject", "ID", "subject id recorded in the output (with --bids: which subject)", false, false, ""},
            {"task", "NAME", "with --bids: the task label", false, false, "sim"},
            {"features", "FILE", "stimulus feature table (.npy with --feature-names, .h5, .csv, .tsv)", false, false,
             ""},
            {"feature-names", "FILE", "ids of the .npy rows, one per line", false, false, ""},
            {"feature-aliases", "FILE", "TSV mapping stimulus ids to feature ids (columns: prepare.alias_*_column)",
             false, false, ""},
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
  if (a.has("bids")) {
    if (a.has("bold") || a.has("events") || a.has("labels"))
      throw usage_error("--bids finds the runs itself; do not combine it with --bold, --events or --labels");
    if (in.subject.empty()) throw usage_error("--bids needs --subject");
    prep::discover_bids(a.one("bids"), in.subject, a.one("task", "sim"), in);
  } else {
    in.bold = a.all("bold");
    in.events = a.all("events");
    if (in.bold.empty()) throw usage_error("give the runs with --bold FILE... (or --bids DIR --subject ID)");
    if (in.mask.empty()) throw usage_error("missing --mask FILE");
    if (in.subject.empty()) in.subject = "sub-01";
  }
  for (const auto& f : in.bold) ctx.add_input(f);
  for (const auto& f : in.events) ctx.add_input(f);
  for (const auto& f : {in.labels, in.mask, in.features, in.feature_names, in.feature_aliases})
    if (!f.empty()) ctx.add_input(f);

  const Samples s = prep::prepare_subject(in, cfg);
  write_samples(ctx.out, s, ctx.provenance, ctx.force);
  log::info(s.subject, ": ", s.n_samples(), " samples x ", s.n_voxels(), " voxels from ", s.run_source.size(),
            " runs", s.has_features() ? cat(", ", s.features.rows(), " stimuli with features") : std::string(),
            " -> ", ctx.out, " (peak memory ", int(log::peak_memory_mib()), " MiB)");
}

}  // namespace

int main(int argc, char** argv) { return stage_main<prep::PrepareConfig>(argc, argv, spec, run); }
