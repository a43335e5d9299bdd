// The report's answer to "does the encoder beat ridge, and from how much training data on?", as
// data: each non-ridge model judged against ridge on one metric, paired subject for subject (the
// encoder is usually evaluated on the held-out subjects only, ridge on all), with a paired test
// across subjects at every training fraction (PairedTest). The page (report/html.h) renders it;
// tests check it without HTML.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/report/gather.h"
#include "pipeline/stats/sign_flip.h"
#include "pipeline/stats/wilcoxon.h"

namespace v2c::report {

// Across subjects, at one training fraction: the model against ridge, paired subject for
// subject (the subject is the unit of independence; stats/sign_flip.h, stats/wilcoxon.h).
struct PairedTest {
  double fraction = 1.0;
  size_t n_subjects = 0;                  // subjects with both scores
  double model_mean = 0, ridge_mean = 0;  // over those subjects
  stats::SignFlipResult sign_flip;        // exact sign-flip test of the mean difference (the verdict's test)
  stats::WilcoxonResult wilcoxon;         // Wilcoxon signed-rank (Pratt), alongside
  // "above ridge" / "below ridge" when the sign-flip p <= kVerdictLevel, else "no evidence of a
  // difference"; "one subject: no test across subjects" with fewer than 2 subjects.
  std::string conclusion;
};

// The significance level of the verdict's wording.
constexpr double kVerdictLevel = 0.05;

// One sentence for the page: the conclusion, the mean difference with its t interval, Cohen's
// d_z, the sign-flip p (and whether exact), Wilcoxon's p, the number of subjects, and, when the
// design cannot reach kVerdictLevel, the smallest p it can attain.
std::string describe(const PairedTest& t, const std::string& model);

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
  // The paired test across subjects at each of `fractions` (same order).
  std::vector<PairedTest> tests;
  // Whether the paired test says "above ridge" at beats_from and every larger fraction: false when
  // a mean above ridge's is not significant somewhere (always true with one subject: no test).
  bool beats_significantly = false;

  double largest_fraction() const { return fractions.back(); }
};

// One Verdict per model other than "ridge" (in model_order) that shares a subject and a fraction
// with ridge on `metric`; none when `rows` hold no ridge results. `rows`: one candidate set.
std::vector<Verdict> judge_against_ridge(const std::vector<MetricRow>& rows, const std::string& metric);

}  // namespace v2c::report
