// The report's predictions part: the per-subject predictions table, the profile-correlation chart
// and the α sections (histogram, share at the grid's ends).
#pragma once

#include <string>
#include <vector>

#include "pipeline/report/config.h"
#include "pipeline/report/gather.h"

namespace v2c::report {

std::string prediction_sections(const std::vector<PredictionsSummary>& preds);

}  // namespace v2c::report
