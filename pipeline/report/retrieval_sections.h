// The report's retrieval part: the verdict against ridge, the summary table, learning curves and
// per-subject bars, from the retrieval metric rows of one candidate set.
#pragma once

#include <string>
#include <vector>

#include "pipeline/report/config.h"
#include "pipeline/report/gather.h"

namespace v2c::report {

std::string retrieval_sections(const Study& s, const ReportConfig& o);

}  // namespace v2c::report
