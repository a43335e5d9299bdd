// v2c-report: one study's results as tables and plots — results.csv and an offline index.html.
#include <filesystem>
#include <fstream>

#include "pipeline/core/log.h"
#include "pipeline/core/output.h"
#include "pipeline/core/stage.h"
#include "pipeline/report/gather.h"
#include "pipeline/report/html.h"

using namespace v2c;

namespace {

struct ReportConfig {
  std::string title;
  std::vector<std::string> metrics = {"top1_forward", "pairwise_identification"};
  std::string candidate_set;
  int map_slices = 6;
  int64_t png_above = 4096;

  void describe(config::Schema& s) {
    s.field("title", title, "page title (empty: 'vox2clip report: <study name>')");
    s.field("metrics", metrics, "retrieval metrics plotted and summarised (results.csv has all)")
        .check([](const std::vector<std::string>& v) { return !v.empty(); }, "a non-empty list");
    s.field("candidate_set", candidate_set, "retrieval candidate set shown (empty: the one most files use)");
    s.field("map_slices", map_slices, "axial slices shown per encoding map").range(1, 64);
    s.field("png_above", png_above, "slices with more voxels than this are embedded as PNG, not SVG rects")
        .min(int64_t(0));
  }
};

const StageSpec spec{
    .name = "report",
    .summary = "a study's results as an offline HTML report (tables, learning curves, α and map plots) and results.csv",
    .description =
        "Reads every result file under STUDY/sub-*/: retrieval files (*.retrieval.h5), predictions files (*.h5 of "
        "kind 'predictions') and encoding maps (*_corr.nii.gz). Writes a directory holding results.csv (one row per "
        "retrieval metric per file) and index.html: a summary of each model against ridge per amount of training "
        "data, learning curves, per-subject bars, α diagnostics and encoding-map slices, all inline (opens offline, "
        "no scripts). Files of another kind or a newer format version are skipped with a warning.",
    .options = {{"study", "DIR", "the study directory (holding sub-*/ folders)", false, true, ""}},
    .output_help = "report directory to write (results.csv, index.html, provenance.json)",
};

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += char(c);
    else if (c == '\n') out += "\\n";
    else if (c < 0x20) out += cat("\\u00", "0123456789abcdef"[c >> 4], "0123456789abcdef"[c & 15]);
    else out += char(c);
  }
  return out + "\"";
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) throw io_error("cannot write '", path, "'");
}

void run(StageContext& ctx, ReportConfig& cfg) {
  const std::string study_dir = ctx.args.one("study");
  AtomicOutput out(ctx.out, ctx.force, /*is_directory=*/true);
  const report::Study study = report::gather_study(study_dir);
  for (const auto& f : study.inputs) ctx.add_input(f);

  report::ReportOptions options;
  options.title = cfg.title;
  options.metrics = cfg.metrics;
  options.candidate_set = cfg.candidate_set;
  options.map_slices = cfg.map_slices;
  options.png_above = cfg.png_above;
  const Provenance& prov = ctx.provenance;
  const report::PageInfo info{prov.version, prov.created_utc, prov.command_line, prov.config_yaml};

  const std::filesystem::path dir(out.temp_path());
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw io_error("cannot create directory '", dir.string(), "': ", ec.message());
  write_text((dir / "results.csv").string(), report::results_csv(study.metrics));
  write_text((dir / "index.html").string(), report::render_page(study, options, info));
  std::string inputs;
  for (const auto& f : prov.inputs) inputs += (inputs.empty() ? "" : ", ") + json_string(f);
  write_text((dir / "provenance.json").string(),
             cat("{\"stage\": ", json_string(prov.stage), ", \"command_line\": ", json_string(prov.command_line),
                 ", \"version\": ", json_string(prov.version), ", \"created_utc\": ", json_string(prov.created_utc),
                 ", \"seed\": ", prov.seed, ", \"config\": ", json_string(prov.config_yaml), ", \"inputs\": [", inputs,
                 "]}\n"));
  out.commit();
  log::info(study.name, ": ", study.metrics.size(), " retrieval metric rows, ", study.predictions.size(),
            " predictions files, ", study.maps.size(), " encoding maps -> ", ctx.out, "/index.html");
}

}  // namespace

int main(int argc, char** argv) { return stage_main<ReportConfig>(argc, argv, spec, run); }
