#include "pipeline/report/html.h"

#include <sstream>

#include "pipeline/report/map_sections.h"
#include "pipeline/report/prediction_sections.h"
#include "pipeline/report/retrieval_sections.h"
#include "pipeline/report/svg.h"

namespace v2c::report {

namespace {

using svg::escape;

const char* kStyle = R"css(
:root { color-scheme: light; }
body { font-family: system-ui, 'Liberation Sans', 'DejaVu Sans', Arial, sans-serif; font-size: 15px;
       line-height: 1.45; color: #222; background: #f6f7f9; margin: 0; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; min-height: 100vh;
       box-shadow: 0 0 0 1px #e3e5e8; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 20px; margin: 36px 0 8px; padding-bottom: 4px; border-bottom: 2px solid #e3e5e8; }
h3 { font-size: 16px; margin: 20px 0 6px; }
.provenance { color: #555; font-size: 13px; margin: 0 0 16px; }
.provenance code { font-size: 12px; }
.note { color: #555; }
.empty { background: #fff8e1; border: 1px solid #f0d890; padding: 10px 14px; border-radius: 4px; }
.verdict { background: #eef5fb; border-left: 4px solid #0072B2; padding: 8px 14px; margin: 12px 0; }
.verdict li { margin: 3px 0; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 14px; }
th, td { padding: 4px 9px; border-bottom: 1px solid #e3e5e8; text-align: right; white-space: nowrap; }
th { background: #f0f2f5; font-weight: 600; white-space: normal; vertical-align: bottom; }
.scroll { overflow-x: auto; }
td.text, th.text { text-align: left; }
tr:nth-child(even) td { background: #fafbfc; }
td.best { font-weight: 700; }
.ci { color: #666; font-size: 12px; }
figure { margin: 18px 0 26px; }
figure svg { max-width: 100%; height: auto; border: 1px solid #e3e5e8; border-radius: 4px; }
figcaption { font-size: 13.5px; color: #444; max-width: 860px; margin-top: 6px; }
figcaption b { color: #222; }
details { margin: 10px 0; font-size: 13px; }
pre { background: #f6f7f9; padding: 8px 12px; overflow-x: auto; font-size: 12px; }
)css";

}  // namespace

std::string render_page(const Study& s, const ReportConfig& o, const PageInfo& info) {
  const std::string title = o.title.empty() ? "vox2clip report: " + s.name : o.title;
  std::ostringstream os;
  os << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
     << "<meta name=\"generator\" content=\"vox2clip " << escape(info.version) << "\">\n<title>" << escape(title)
     << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n<main>\n";
  os << "<h1>" << escape(title) << "</h1>\n<p class=\"provenance\">Study <code>" << escape(s.dir)
     << "</code> · vox2clip " << escape(info.version) << " · generated " << escape(info.created_utc) << " · "
     << s.metrics.size() << " retrieval metric rows, " << s.predictions.size() << " predictions files, "
     << s.maps.size() << " encoding maps</p>\n";
  os << retrieval_sections(s, o);
  os << prediction_sections(s.predictions);
  os << map_sections(s.maps, o);
  os << "<section id=\"provenance\">\n<h2>Provenance</h2>\n<p class=\"provenance\">Command: <code>"
     << escape(info.command_line) << "</code></p>\n<details><summary>Files read (" << s.inputs.size()
     << ")</summary><pre>";
  for (const auto& f : s.inputs) os << escape(f) << "\n";
  os << "</pre></details>\n<details><summary>Report configuration</summary><pre>" << escape(info.config_yaml)
     << "</pre></details>\n</section>\n</main>\n</body>\n</html>\n";
  return os.str();
}

}  // namespace v2c::report
