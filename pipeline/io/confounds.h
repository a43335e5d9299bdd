// Confound time series of a run: fMRIPrep's *_desc-confounds_timeseries.tsv (or any TSV with a
// header row and one row per volume), with the columns chosen by name or wildcard.
//
// Column patterns: exact names or shell wildcards (fnmatch: `*` any characters, `?` one, `[..]`
// a set). `trans_*` selects trans_x, trans_x_derivative1, trans_x_power2, ...; `trans_?` only the
// three translations; `cosine*` fMRIPrep's own high-pass cosines; `csf`, `white_matter`. Columns
// come in the order of the patterns, each pattern's matches in file order, each column once.
//
// n/a: fMRIPrep writes n/a in the first row of columns that are backward differences — every
// `*derivative*` column (and its powers), framewise_displacement, dvars, std_dvars, rmsd —
// because the first volume has no predecessor. Such a first-row n/a is read as 0 (no change
// before the first volume; nilearn's load_confounds copies the second row instead). Every other
// n/a is an error.
//
// Errors (input_error, exit 3, naming the file and the column): a pattern that matches no column
// (with the columns found), a row count other than the run's volumes, an n/a elsewhere, a
// non-numeric value (with its line). A missing or unreadable file is an io_error (exit 4).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/core/types.h"

namespace v2c::confounds {

struct Confounds {
  std::string path;
  std::vector<std::string> columns;  // selected column names, in order
  MatrixD values;                    // [n_volumes x columns.size()]
};

// Whether fMRIPrep leaves the first row of `column` n/a (see above).
bool is_backward_difference(const std::string& column);

Confounds read_confounds(const std::string& path, const std::vector<std::string>& patterns, int64_t n_volumes);

// The confounds file fMRIPrep writes beside a preprocessed run: the bold file's name without its
// space-/res-/den-/desc- entities and its _bold suffix, + _desc-confounds_timeseries.tsv (or the
// pre-20.2 _desc-confounds_regressors.tsv), in the same directory. "" when neither exists.
std::string find_beside(const std::string& bold_path);

}  // namespace v2c::confounds
