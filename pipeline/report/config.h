// The `report:` section of a config: what v2c-report shows. The page (report/html.h) takes it as
// it is; these are its only defaults.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/core/config.h"

namespace v2c::report {

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

}  // namespace v2c::report
