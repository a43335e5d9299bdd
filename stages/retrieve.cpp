// v2c-retrieve: identification of the stimuli from decoded vectors (retrieval.h5).
#include <filesystem>

#include "pipeline/core/log.h"
#include "pipeline/core/stage.h"
#include "pipeline/eval/retrieve_run.h"

using namespace v2c;

namespace {

const StageSpec spec{
    .name = "retrieve",
    .summary = "decoded vectors -> stimulus identification metrics with chance levels (retrieval.h5)",
    .description =
        "Ranks the candidate stimuli by similarity (cosine or Pearson correlation, optionally after centring both "
        "sides on the mean target of the query's training fold) to each out-of-fold decoded vector (forward, brain "
        "-> stimulus) and the decoded vectors for each stimulus (backward), exactly, in blocks (galleries of "
        "millions fit in memory). Reports top-1/top-5 among n (MindEye: the true candidate plus n-1 random others, "
        "repeated "
        "draws), top-1/top-5 and the mean rank among all candidates, and pairwise identification (Kamitani lab), "
        "each with its chance level, a 95% interval from the bootstrap over runs (independent units) and a "
        "per-subject permutation p-value (labels permuted within runs); per query, the true stimulus's rank "
        "and the top-k candidates. Candidates: the evaluated stimuli (test), those plus a gallery of other "
        "stimuli' vectors (gallery), or category/text vectors for zero-shot labels (categories). Definitions in "
        "docs/retrieval.md.",
    .options = {{"predictions", "FILE", "predictions.h5 of a decode-mode model (v2c-ridge)", false, true, "",
                 OptionRole::input},
                {"samples", "FILE", "samples.h5 holding the stimulus features (default: the one the predictions name)",
                 false, false, "", OptionRole::input},
                {"gallery", "FILE", "candidates gallery|categories: feature table (.npy/.h5/.csv/.tsv), L2-normalised",
                 false, false, "", OptionRole::input},
                {"gallery-names", "FILE", "--gallery .npy: ids of its rows, one per line", false, false, "",
                 OptionRole::input},
                {"gallery-aliases", "FILE",
                 "candidates categories: TSV/CSV mapping stimulus ids to gallery ids (retrieve.alias_*_column)", false,
                 false, "", OptionRole::input}},
    .output_help = "retrieval file to write (HDF5, format 'retrieval', docs/retrieval.md)",
};

// The samples file named inside the predictions: as written, else next to the predictions file.
std::string samples_path_for(const std::string& predictions_path, const std::string& recorded) {
  namespace fs = std::filesystem;
  if (recorded.empty() || fs::exists(recorded)) return recorded;
  const fs::path beside = fs::path(predictions_path).parent_path() / fs::path(recorded).filename();
  return fs::exists(beside) ? beside.string() : recorded;
}

void run(StageContext& ctx, retrieve::RetrieveConfig& cfg) {
  const Args& a = ctx.args;
  const bool wants_gallery = cfg.candidates != "test";
  if (wants_gallery && !a.has("gallery"))
    throw usage_error("retrieve.candidates = ", cfg.candidates, " needs --gallery FILE");
  if (!wants_gallery && (a.has("gallery") || a.has("gallery-aliases")))
    throw usage_error("--gallery is used with retrieve.candidates = gallery or categories (now '", cfg.candidates,
                      "')");
  if (a.has("gallery-aliases") && cfg.candidates != "categories")
    throw usage_error("--gallery-aliases applies to retrieve.candidates = categories");

  retrieve::RetrieveInputs in;
  const std::string pred_path = a.one("predictions");
  ctx.add_input(pred_path);
  in.predictions = read_predictions(pred_path);
  const std::string samples_path =
      a.has("samples") ? a.one("samples") : samples_path_for(pred_path, in.predictions.samples_path);
  if (samples_path.empty()) throw usage_error("the predictions name no samples file: give --samples FILE");
  ctx.add_input(samples_path);
  in.samples = read_samples(samples_path);
  if (wants_gallery) {
    features::FeatureOptions fo;
    fo.names_path = a.one("gallery-names");
    fo.l2_normalize = true;
    ctx.add_input(a.one("gallery"));
    if (!fo.names_path.empty()) ctx.add_input(fo.names_path);
    in.gallery = features::read_features(a.one("gallery"), fo);
    if (!in.gallery.merged_duplicates.empty())
      log::warn(in.gallery.merged_duplicates.size(),
                " gallery ids listed twice with identical vectors (kept once), e.g. '",
                in.gallery.merged_duplicates.front(), "'");
  }
  if (a.has("gallery-aliases")) {
    ctx.add_input(a.one("gallery-aliases"));
    in.aliases = features::read_aliases(a.one("gallery-aliases"), cfg.alias_from_column, cfg.alias_to_column);
  }

  const retrieve::RetrievalReport r = retrieve::run_retrieval(in, cfg, ctx.seed);
  retrieve::write_retrieval(ctx.out, r, ctx.provenance, ctx.force);
  log::info(r.subject, " ", r.model, ": ", r.query_stimulus.size(), " queries, ", r.candidate_ids.size(), " ",
            r.candidate_set, " candidates (", r.scan, " scan, exact) -> ", ctx.out);
  for (const auto& line : retrieve::metric_table(r)) log::info("  ", line);
}

}  // namespace

int main(int argc, char** argv) { return stage_main<retrieve::RetrieveConfig>(argc, argv, spec, run); }
