#include "pipeline/io/predictions.h"

#include <algorithm>
#include <cmath>

#include "pipeline/core/error.h"
#include "pipeline/io/h5.h"
#include "pipeline/math/metrics.h"

namespace v2c {

namespace {

// The training rows of every fold are sorted, in range, disjoint from the fold's test rows, and
// there is a list for every fold that tests a sample.
void check_fold_train(const Predictions& p) {
  if (p.fold_train.empty()) return;
  const int64_t n = int64_t(p.fold.size());
  int32_t max_fold = -1;
  for (int32_t f : p.fold) max_fold = std::max(max_fold, f);
  if (int64_t(p.fold_train.size()) <= max_fold)
    throw input_error("/folds/train_rows: training rows of ", p.fold_train.size(),
                      " fold(s); /samples/fold names fold ", max_fold);
  for (size_t f = 0; f < p.fold_train.size(); ++f) {
    const auto& rows = p.fold_train[f];
    for (size_t i = 0; i < rows.size(); ++i) {
      if (rows[i] < 0 || rows[i] >= n)
        throw input_error("/folds/train_rows: fold ", f, " trains on row ", rows[i], "; there are ", n, " samples");
      if (i && rows[i] <= rows[i - 1])
        throw input_error("/folds/train_rows: fold ", f, "'s rows are not strictly ascending at position ", i);
      if (p.fold[size_t(rows[i])] == int32_t(f))
        throw input_error("/folds/train_rows: fold ", f, " trains on row ", rows[i], ", which it also tests");
    }
  }
}

}  // namespace

std::vector<int64_t> fold_test_rows(const Predictions& p, int f) {
  std::vector<int64_t> rows;
  for (size_t i = 0; i < p.fold.size(); ++i)
    if (p.fold[i] == f) rows.push_back(int64_t(i));
  return rows;
}

namespace {

// Every length and index of a predictions file is checked before anything uses it.
void check_predictions(const Predictions& p) {
  const int64_t n = p.predictions.rows(), t = p.predictions.cols(), n_folds = p.fold_alpha.rows();
  const int64_t n_alphas = int64_t(p.alphas.size());
  auto length = [](const char* name, int64_t found, int64_t expected, const char* what) {
    if (found != expected)
      throw input_error("dataset '", name, "' has ", found, " entries; expected ", expected, " (", what, ")");
  };
  if (p.truth.rows() != n || p.truth.cols() != t)
    throw input_error("dataset 'truth' is ", p.truth.rows(), " x ", p.truth.cols(), "; 'predictions' is ", n, " x ", t);
  length("samples/stimulus", int64_t(p.stimulus.size()), n, "one per row of /predictions");
  length("samples/run", int64_t(p.run.size()), n, "one per row of /predictions");
  length("samples/fold", int64_t(p.fold.size()), n, "one per row of /predictions");
  length("samples/feature_row", int64_t(p.feature_row.size()), n, "one per row of /predictions");
  length("metrics/pattern_corr", int64_t(p.pattern_corr.size()), n, "one per row of /predictions");
  length("metrics/profile_corr", int64_t(p.profile_corr.size()), t, "one per column of /predictions");
  length("metrics/r2", int64_t(p.r2.size()), t, "one per column of /predictions");
  if (n_folds > n) throw input_error("dataset 'folds/alpha' has ", n_folds, " folds for ", n, " samples");
  if (p.fold_alpha.cols() != t && p.fold_alpha.cols() != 0)  // 0: a model without α (the encoder)
    throw input_error("dataset 'folds/alpha' has ", p.fold_alpha.cols(), " columns; expected ", t, " (one per target)");
  if (p.inner_score.rows() != n_folds || p.inner_score.cols() != n_alphas)
    throw input_error("dataset 'folds/inner_score' is ", p.inner_score.rows(), " x ", p.inner_score.cols(),
                      "; expected ", n_folds, " x ", n_alphas, " (folds x alphas)");
  length("folds/edge_low", int64_t(p.edge_low.size()), n_folds, "one per fold");
  length("folds/edge_high", int64_t(p.edge_high.size()), n_folds, "one per fold");
  for (int64_t i = 0; i < n; ++i) {
    const int32_t f = p.fold[size_t(i)];
    if (f < -1 || f >= n_folds)
      throw input_error("dataset 'samples/fold': entry ", i, " is ", f, "; expected -1 (untested) or a fold in [0, ",
                        n_folds, ") (folds/alpha has ", n_folds, " folds)");
    if (p.run[size_t(i)] < 0) throw input_error("dataset 'samples/run': entry ", i, " is ", p.run[size_t(i)]);
    if (p.feature_row[size_t(i)] < -1)
      throw input_error("dataset 'samples/feature_row': entry ", i, " is ", p.feature_row[size_t(i)],
                        "; expected -1 (none) or a row >= 0");
  }
  if (!p.truth.allFinite()) throw input_error("dataset 'truth' holds non-finite values");
  for (double a : p.alphas)
    if (!(a > 0 && std::isfinite(a))) throw input_error("dataset 'folds/alphas' holds ", a, "; expected values > 0");
  if (p.weights.size() > 0) {
    length("model/intercept", int64_t(p.intercept.size()), t, "one per target");
    length("model/alpha", int64_t(p.final_alpha.size()), t, "one per target");
    if (p.weights.cols() != t)
      throw input_error("dataset 'model/weights' has ", p.weights.cols(), " columns; expected ", t,
                        " (one per target)");
  }
}

}  // namespace

void write_predictions(const std::string& path, const Predictions& p, const Provenance& prov, bool force,
                       const std::vector<AtomicOutput*>& commit_with) {
  with_context("writing predictions file '" + path + "'", [&] { check_fold_train(p); });
  h5::ArtifactWriter w(path, "predictions", kPredictionsFormatVersion, prov, force);
  w.attr("/", "subject", p.subject);
  w.attr("/", "model", p.model);
  w.attr("/", "mode", p.mode);
  w.attr("/", "samples", p.samples_path);
  w.attr("/", "train_fraction", p.train_fraction);
  w.write("predictions", p.predictions);
  w.write("truth", p.truth);
  w.write("samples/stimulus", p.stimulus);
  w.write("samples/run", p.run);
  w.write("samples/fold", p.fold);
  w.write("samples/feature_row", p.feature_row);
  w.write("folds/alphas", p.alphas);
  w.write("folds/alpha", p.fold_alpha);
  w.write("folds/inner_score", p.inner_score);
  w.write("folds/edge_low", p.edge_low);
  w.write("folds/edge_high", p.edge_high);
  std::vector<int64_t> rows, offsets = {0};
  for (const auto& f : p.fold_train) {
    rows.insert(rows.end(), f.begin(), f.end());
    offsets.push_back(int64_t(rows.size()));
  }
  w.write("folds/train_rows", rows);
  w.write("folds/train_offsets", offsets);
  if (!p.lr_grid.empty()) {
    w.write("folds/lr_grid", p.lr_grid);
    w.write("folds/tuning_score", p.tuning_score);
    w.write("folds/lr", p.tuned_lr);
    w.write("folds/epochs", p.tuned_epochs);
  }
  w.write("metrics/profile_corr", p.profile_corr);
  w.write("metrics/pattern_corr", p.pattern_corr);
  w.write("metrics/r2", p.r2);
  w.attr("/metrics", "mean_profile_corr", metrics::mean_finite(p.profile_corr));
  w.attr("/metrics", "mean_pattern_corr", metrics::mean_finite(p.pattern_corr));
  w.attr("/metrics", "mean_r2", metrics::mean_finite(p.r2));
  if (p.weights.size() > 0) {
    w.write("model/weights", p.weights);
    w.write("model/intercept", p.intercept);
    w.write("model/alpha", p.final_alpha);
  }
  w.finish();
  commit_together(commit_with, w.output());
}

Predictions read_predictions(const std::string& path) {
  return with_context("reading predictions file '" + path + "'", [&] {
    h5::ArtifactReader r(path, "predictions", kPredictionsFormatVersion);
    Predictions p;
    p.subject = r.attr_string("/", "subject");
    p.model = r.attr_string("/", "model");
    p.mode = r.attr_string("/", "mode");
    p.samples_path = r.attr_string("/", "samples");
    p.train_fraction = r.attr_double("/", "train_fraction");
    p.predictions = r.read_matrix_f("predictions");
    p.truth = r.read_matrix_f("truth");
    p.stimulus = r.read_strings("samples/stimulus");
    p.run = r.read_int32s("samples/run");
    p.fold = r.read_int32s("samples/fold");
    p.feature_row = r.read_int32s("samples/feature_row");
    p.alphas = r.read_doubles("folds/alphas");
    p.fold_alpha = r.read_matrix_d("folds/alpha");
    p.inner_score = r.read_matrix_d("folds/inner_score");
    p.edge_low = r.read_doubles("folds/edge_low");
    p.edge_high = r.read_doubles("folds/edge_high");
    if (r.has("folds/train_rows")) {
      const std::vector<int64_t> rows = r.read_ints("folds/train_rows"), offsets = r.read_ints("folds/train_offsets");
      if (offsets.empty() || offsets.front() != 0 || offsets.back() != int64_t(rows.size()))
        throw input_error("/folds/train_offsets: expected ascending offsets from 0 to ", rows.size(),
                          " (the length of /folds/train_rows)");
      for (size_t f = 0; f + 1 < offsets.size(); ++f) {
        if (offsets[f + 1] < offsets[f] || offsets[f + 1] > int64_t(rows.size()))
          throw input_error("/folds/train_offsets: fold ", f, " ends at ", offsets[f + 1],
                            ", before its start or past ", rows.size());
        p.fold_train.emplace_back(rows.begin() + offsets[f], rows.begin() + offsets[f + 1]);
      }
    }
    if (r.has("folds/lr_grid")) {
      p.lr_grid = r.read_doubles("folds/lr_grid");
      p.tuning_score = r.read_matrix_d("folds/tuning_score");
      p.tuned_lr = r.read_doubles("folds/lr");
      p.tuned_epochs = r.read_doubles("folds/epochs");
    }
    p.profile_corr = r.read_doubles("metrics/profile_corr");
    p.pattern_corr = r.read_doubles("metrics/pattern_corr");
    p.r2 = r.read_doubles("metrics/r2");
    if (r.has("model/weights")) {
      p.weights = r.read_matrix_f("model/weights");
      const MatrixF b = r.read_matrix_f("model/intercept");
      p.intercept.assign(b.data(), b.data() + b.size());
      p.final_alpha = r.read_doubles("model/alpha");
    }
    check_predictions(p);
    check_fold_train(p);
    return p;
  });
}

}  // namespace v2c
