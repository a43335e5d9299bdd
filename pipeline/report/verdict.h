// The report's answer to "does the encoder beat ridge, and from how much training data on?", as
// data: each non-ridge model judged against ridge on one metric, paired subject for subject (the
// encoder is usually evaluated on the held-out subjects only, ridge on all). The page
// (report/html.h) renders it; tests check it without HTML.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/report/gather.h"

namespace v2c::report {

struct Verdict {
  std::string model, metric;
  // Training fractions at which the model and ridge share at least one subject, ascending.
  std::vector<double> fractions;
  // The smallest of `fractions` from which the model's paired mean is above ridge's at it and at
  // every larger one; empty when it is not above at the largest.
  std::optional<double> beats_from;
  // At the largest of `fractions`: the paired means over the shared subjects and their number.
  double model_mean = 0, ridge_mean = 0;
  size_t n_subjects = 0;
  // With one shared subject there: whether the model's and ridge's intervals overlap.
  std::optional<bool> intervals_overlap;

  double largest_fraction() const { return fractions.back(); }
};

// One Verdict per model other than "ridge" (in model_order) that shares a subject and a fraction
// with ridge on `metric`; none when `rows` hold no ridge results. `rows`: one candidate set.
std::vector<Verdict> judge_against_ridge(const std::vector<MetricRow>& rows, const std::string& metric);

}  // namespace v2c::report
