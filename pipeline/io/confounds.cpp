#include "pipeline/io/confounds.h"

#include <fnmatch.h>

#include <filesystem>
#include <set>

#include "pipeline/core/error.h"
#include "pipeline/io/bids_name.h"
#include "pipeline/io/tsv.h"

namespace fs = std::filesystem;

namespace v2c::confounds {

bool is_backward_difference(const std::string& column) {
  return column.find("derivative") != std::string::npos || column == "framewise_displacement" || column == "dvars" ||
         column == "std_dvars" || column == "rmsd";
}

Confounds read_confounds(const std::string& path, const std::vector<std::string>& patterns, int64_t n_volumes) {
  const Table table = read_table(path, '\t', true);
  Confounds out;
  out.path = path;
  std::vector<int> cols;
  std::set<int> taken;
  for (const std::string& pattern : patterns) {
    bool matched = false;
    for (size_t c = 0; c < table.columns.size(); ++c) {
      if (fnmatch(pattern.c_str(), table.columns[c].c_str(), 0) != 0) continue;
      matched = true;
      if (taken.insert(int(c)).second) cols.push_back(int(c)), out.columns.push_back(table.columns[c]);
    }
    if (!matched) {
      std::string found;
      for (size_t c = 0; c < table.columns.size() && c < 12; ++c) found += (c ? ", " : "") + table.columns[c];
      if (table.columns.size() > 12) found += ", ... (" + std::to_string(table.columns.size()) + " columns)";
      throw input_error(path, ": no column matches confound column '", pattern, "'; the file has ", found);
    }
  }
  if (int64_t(table.rows.size()) != n_volumes)
    throw input_error(path, ": ", table.rows.size(), " rows, but its run has ", n_volumes,
                      " volumes; expected one row per volume (is it the confounds file of this run?)");
  out.values.resize(n_volumes, int64_t(cols.size()));
  for (size_t j = 0; j < cols.size(); ++j) {
    const int c = cols[j];
    const bool difference = is_backward_difference(table.columns[size_t(c)]);
    for (size_t r = 0; r < table.rows.size(); ++r) {
      if (table.cell(r, c) == "n/a") {
        if (r == 0 && difference) {
          out.values(0, int64_t(j)) = 0.0;
          continue;
        }
        throw input_error(table.where(r, c), ": n/a ",
                          difference ? "after the first row" : "in a column that is not a backward difference",
                          "; fMRIPrep leaves only the first row of derivative, framewise_displacement and dvars "
                          "columns empty. Fix the file or leave the column out of prepare.confounds");
      }
      out.values(int64_t(r), int64_t(j)) = table.number(r, c);
    }
  }
  return out;
}

std::string find_beside(const std::string& bold_path) {
  const fs::path dir = fs::path(bold_path).parent_path();
  const std::string stem = bids::run_stem(bold_path);
  for (const char* suffix : {"_desc-confounds_timeseries.tsv", "_desc-confounds_regressors.tsv"}) {
    const fs::path candidate = dir / (stem + suffix);
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return candidate.string();
  }
  return "";
}

}  // namespace v2c::confounds
