// v2c-simulate: writes a simulated fMRI image-decoding study with a planted ground truth
// (the generative model is pipeline/sim/study.h, the files pipeline/sim/bids_writer.h).
#include <filesystem>

#include "pipeline/core/log.h"
#include "pipeline/core/output.h"
#include "pipeline/core/stage.h"
#include "pipeline/sim/bids_writer.h"
#include "pipeline/sim/config.h"

using namespace v2c;

namespace {

const StageSpec spec{
    .name = "simulate",
    .summary = "generate a simulated fMRI decoding study (BIDS-like) with a known ground truth",
    .description =
        "Stimuli are CLIP-like unit vectors clustered in categories; a nonlinear function g shared by all "
        "subjects maps them to a latent code; each subject's voxels read the code out through their own "
        "random weights. BOLD runs add the haemodynamic response (SPM canonical HRF), slow drift and AR(1) "
        "noise. Writes dataset_description.json, participants.tsv, stimuli/features.h5, stimuli/stimuli.tsv, "
        "sub-XX/anat (brain mask), sub-XX/func (bold, events, runs.tsv) and ground_truth.h5. The same seed "
        "and config give identical NIfTI and TSV files.",
    .options = {},
    .positional = "",
    .positional_help = "",
    .has_output = true,
    .output_help = "study directory to create (refused if it exists, unless --force)",
};

void run(StageContext& ctx, sim::SimulateConfig& cfg) {
  sim::validate(cfg.p);
  AtomicOutput out(ctx.out, ctx.force, /*is_directory=*/true);
  std::error_code ec;
  std::filesystem::create_directories(out.temp_path(), ec);
  if (ec) throw io_error("cannot create directory '", out.temp_path(), "': ", ec.message());
  log::info("simulating ", cfg.p.n_subjects, " subjects, ", cfg.p.train_runs, " train + ", cfg.p.test_runs,
            " test runs each, seed ", ctx.seed);
  const sim::StudySummary sum = sim::write_study(out.temp_path(), cfg.p, ctx.seed, ctx.provenance);
  out.commit();
  log::info("wrote ", out.final_path(), ": ", sum.n_subjects, " subjects, ", sum.n_runs, " runs, ", sum.min_voxels, "-",
            sum.max_voxels, " voxels per subject, measured snr ", sum.min_snr, "-", sum.max_snr);
}

}  // namespace

int main(int argc, char** argv) { return stage_main<sim::SimulateConfig>(argc, argv, spec, run); }
