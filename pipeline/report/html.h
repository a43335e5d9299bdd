// The report page: one self-contained index.html (inline CSS and SVG, no scripts, no external
// fonts or files) answering "does the pretrained encoder beat ridge on my data, and from how much
// training data on?" from a gathered Study (pipeline/report/gather.h).
//
// Sections, each figure an <svg> with a stable id and a caption saying how to read it:
//   summary           verdict per model vs ridge, table model x train_fraction (mean over subjects,
//                     interval, chance)                                   (retrieval files)
//   learning-curve-<metric>                 accuracy vs train_fraction per model
//   subject-bars-<metric>-largest|smallest  per-subject bars at the largest / smallest fraction
//   profile-corr      mean profile correlation per subject and model     (predictions files)
//   alpha-histogram, alpha-edges            the α chosen and the share at the grid's ends
//   encoding-map-<n>  axial slices of each *_corr.nii.gz with a colour bar
// Without retrieval files the retrieval parts say "no retrieval results yet"; the rest renders.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/report/config.h"
#include "pipeline/report/gather.h"
#include "pipeline/report/page_parts.h"  // metric_display_name, id_fragment

namespace v2c::report {

struct PageInfo {
  std::string version, created_utc, command_line, config_yaml;
};

std::string render_page(const Study& study, const ReportConfig& config, const PageInfo& info);

}  // namespace v2c::report
