// v2c-report: one study's results as tables and plots — results.csv and an offline index.html.
#include <filesystem>

#include "pipeline/core/json.h"
#include "pipeline/core/log.h"
#include "pipeline/core/output.h"
#include "pipeline/core/stage.h"
#include "pipeline/core/text_file.h"
#include "pipeline/report/config.h"
#include "pipeline/report/gather.h"
#include "pipeline/report/html.h"

using namespace v2c;

namespace {

const StageSpec spec{
    .name = "report",
    .summary = "a study's results as an offline HTML report (tables, learning curves, α and map plots) and results.csv",
    .description =
        "Reads every result file under STUDY/sub-*/: retrieval files (*.retrieval.h5), predictions files (*.h5 of "
        "kind 'predictions') and encoding maps (*_corr.nii.gz). Writes a directory holding results.csv (one row per "
        "retrieval metric per file) and index.html: a summary of each model against ridge per amount of training "
        "data, learning curves, per-subject bars, α diagnostics and encoding-map slices, all inline (opens offline, "
        "no scripts). Files of another kind or a newer format version are skipped with a warning.",
    .options = {{"study", "DIR", "the study directory (holding sub-*/ folders)", false, true, "", OptionRole::input}},
    .output_help = "report directory to write (results.csv, index.html, provenance.json)",
};

void run(StageContext& ctx, report::ReportConfig& cfg) {
  const std::string study_dir = ctx.args.one("study");
  AtomicOutput out(ctx.out, ctx.force, /*is_directory=*/true);
  const report::Study study = report::gather_study(study_dir);
  for (const auto& f : study.inputs) ctx.add_input(f);

  const Provenance& prov = ctx.provenance;
  const report::PageInfo info{prov.version, prov.created_utc, prov.command_line, prov.config_yaml};

  const std::filesystem::path dir(out.temp_path());
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw io_error("cannot create directory '", dir.string(), "': ", ec.message());
  write_text((dir / "results.csv").string(), report::results_csv(study.metrics));
  write_text((dir / "index.html").string(), report::render_page(study, cfg, info));
  const json::Value record = {{"stage", prov.stage},     {"command_line", prov.command_line},
                              {"version", prov.version}, {"created_utc", prov.created_utc},
                              {"seed", prov.seed},       {"config", prov.config_yaml},
                              {"inputs", prov.inputs}};
  write_text((dir / "provenance.json").string(), json::dump(record) + "\n");
  out.commit();
  log::info(study.name, ": ", study.metrics.size(), " retrieval metric rows, ", study.predictions.size(),
            " predictions files, ", study.maps.size(), " encoding maps -> ", ctx.out, "/index.html");
}

}  // namespace

int main(int argc, char** argv) { return stage_main<report::ReportConfig>(argc, argv, spec, run); }
