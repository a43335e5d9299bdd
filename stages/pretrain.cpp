// v2c-pretrain: the shared nonlinear encoder, pretrained on many subjects.
#include "pipeline/core/log.h"
#include "pipeline/core/stage.h"
#include "pipeline/io/samples.h"
#include "pipeline/models/encoder/pretrain.h"

using namespace v2c;

namespace {

const StageSpec spec{
    .name = "pretrain",
    .summary = "pretrain the shared encoder (subject adapters + residual MLP backbone) on many subjects",
    .description =
        "Trains one linear adapter per subject into a shared latent space and a shared residual MLP from it to the "
        "stimulus feature (CLIP) space, with contrastive (CLIP/SigLIP) and MSE/cosine losses, AdamW, warm-up and "
        "cosine schedule and gradient clipping. The last runs of every subject validate (early stopping on "
        "validation top-1 retrieval). Checkpoints go to OUT.ckpt every pretrain.checkpoint_every steps and on "
        "SIGINT/SIGTERM; --resume continues from there. Leave the held-out subjects' test runs out "
        "(pretrain.exclude_runs) so the backbone never sees novel test stimuli.",
    .options = {{"samples", "FILE", "samples.h5 of every pretraining subject (with features)", true, true, ""},
                {"resume", "", "continue from OUT.ckpt when it exists", false, false, ""}},
    .output_help = "the pretrained model (HDF5 encoder checkpoint)",
};

void run(StageContext& ctx, encoder::PretrainConfig& cfg) {
  std::vector<Samples> subjects;
  for (const auto& path : ctx.args.all("samples")) {
    ctx.add_input(path);
    subjects.push_back(read_samples(path));
  }
  encoder::pretrain(subjects, cfg, ctx.seed, ctx.out, ctx.provenance, ctx.force, ctx.args.has("resume"));
  log::info("pretrained encoder -> ", ctx.out);
}

}  // namespace

int main(int argc, char** argv) { return stage_main<encoder::PretrainConfig>(argc, argv, spec, run); }
