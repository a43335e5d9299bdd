// Gathering a study's results for the report: what the retrieval, predictions and encoding-map
// files under <study>/sub-*/ say, read without loading predictions or weights, plus the
// summaries the report shows (means over subjects) and results.csv.
//
// Files looked at (one level of sub-* directories; names starting with '.' are temporaries):
//   *.h5          a vox2clip artifact: "retrieval" (version <= kRetrievalMaxVersion) and
//                 "predictions" (version <= kPredictionsFormatVersion) are read; other known
//                 kinds (samples, features...) are skipped quietly; an unknown kind, a newer
//                 version, an unreadable file or a non-vox2clip HDF5 file: a warning naming it.
//   *_corr.nii.gz an encoding map (3D float32: each voxel's cross-validated correlation).
// Everything else is ignored. Files are visited in sorted path order, so the report is
// deterministic.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace v2c::report {

constexpr int kRetrievalMaxVersion = 1;

// One metric of one retrieval file (one row of results.csv).
struct MetricRow {
  std::string subject, model, candidate_set, metric, ci_method, source;  // source: the file
  double train_fraction = 1.0;
  double value = 0, ci_low = 0, ci_high = 0, chance = 0;
  int64_t n_candidates = 0;
  double p_permutation = std::nan("");  // per-subject permutation p-value (NaN: not tested)
};

// What a predictions file says about itself (read without the predictions or weights).
struct PredictionsSummary {
  std::string path, subject, model, mode;
  double train_fraction = 1.0;
  int64_t n_samples = 0, n_targets = 0;
  double mean_profile_corr = 0, mean_pattern_corr = 0, mean_r2 = 0;  // NaN when absent
  std::vector<double> alphas;                                        // the α grid (empty: model without α)
  std::vector<double> fold_alpha;                                    // [n_folds x n_targets] chosen α, row-major
  int64_t n_folds = 0;
  std::vector<double> edge_low, edge_high;  // [n_folds] fraction of targets at the grid's ends
};

// A 3D encoding map on its grid.
struct EncodingMap {
  std::string path, subject, label;  // label: "<subject> · <file stem>"
  int64_t nx = 0, ny = 0, nz = 0;
  std::vector<float> values;            // [nx*ny*nz], x fastest (NaN kept)
  bool flip_x = false, flip_y = false;  // display so that world +x is right, +y is up
};

struct Study {
  std::string dir, name;           // name: the directory's base name
  std::vector<MetricRow> metrics;  // sorted as results.csv
  std::vector<PredictionsSummary> predictions;
  std::vector<EncodingMap> maps;
  std::vector<std::string> inputs;  // every file read
};

// Reads every result file of `study_dir` (a directory; else io_error). Problems with single
// files are warnings (log::warn) and the file is skipped.
Study gather_study(const std::string& study_dir);

// results.csv: header `subject,model,train_fraction,metric,value,ci_low,ci_high,chance,n_candidates,p_permutation`,
// one row per metric row, numbers in the shortest form that reads back to the same double.
std::string results_csv(const std::vector<MetricRow>& rows);

// shortest_decimal (core/format.h) with CSV's spelling of NaN: "NaN", "inf", "-inf" for non-finite values.
std::string format_number(double v);

// Mean over subjects of one metric for one (model, train_fraction).
struct GroupSummary {
  std::string model, metric;
  double train_fraction = 1.0;
  double mean = 0, ci_low = 0, ci_high = 0, chance = 0;
  int n_subjects = 0;
  std::vector<std::string> subjects;
  std::vector<double> values;  // per subject, in `subjects` order
};

// Groups `rows` of one candidate set by (model, train_fraction, metric). The interval of the
// mean: one subject -> that subject's own interval; several -> mean ± 1.96·sqrt(Σ se_i²)/n with
// se_i = (ci_high_i - ci_low_i) / (2·1.96), i.e. the retrieval files' intervals propagated to the
// mean (subjects as fixed effects). Chance: the mean of the files' chance levels.
std::vector<GroupSummary> summarise(const std::vector<MetricRow>& rows);

// The group of (model, train_fraction, metric), or nullptr; the row of (subject, model,
// train_fraction, metric), or nullptr.
const GroupSummary* find_group(const std::vector<GroupSummary>& groups, const std::string& model, double train_fraction,
                               const std::string& metric);
const MetricRow* find_row(const std::vector<MetricRow>& rows, const std::string& subject, const std::string& model,
                          double train_fraction, const std::string& metric);

// Models in display order: "ridge" first, then the others by name.
std::vector<std::string> model_order(const std::vector<std::string>& models);

}  // namespace v2c::report
