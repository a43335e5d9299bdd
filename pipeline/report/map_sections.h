// The report's encoding-map part: axial slices of each *_corr.nii.gz with a colour bar.
#pragma once

#include <string>
#include <vector>

#include "pipeline/report/config.h"
#include "pipeline/report/gather.h"

namespace v2c::report {

std::string map_sections(const std::vector<EncodingMap>& maps, const ReportConfig& o);

}  // namespace v2c::report
