#include "pipeline/report/verdict.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

namespace v2c::report {
namespace {

// The means of `a` and of ridge over the subjects both have.
struct Paired {
  double model = 0, ridge = 0;
  size_t n = 0;
};
Paired paired_means(const GroupSummary& a, const GroupSummary& ridge) {
  Paired p;
  for (size_t i = 0; i < a.subjects.size(); ++i) {
    const auto it = std::find(ridge.subjects.begin(), ridge.subjects.end(), a.subjects[i]);
    if (it == ridge.subjects.end()) continue;
    p.model += a.values[i];
    p.ridge += ridge.values[size_t(it - ridge.subjects.begin())];
    ++p.n;
  }
  if (p.n) p.model /= double(p.n), p.ridge /= double(p.n);
  return p;
}

// The paired test of `a` against ridge over the subjects both have.
PairedTest paired_test(const GroupSummary& a, const GroupSummary& ridge, double fraction) {
  std::vector<double> model, base;
  for (size_t i = 0; i < a.subjects.size(); ++i) {
    const auto it = std::find(ridge.subjects.begin(), ridge.subjects.end(), a.subjects[i]);
    if (it == ridge.subjects.end()) continue;
    model.push_back(a.values[i]);
    base.push_back(ridge.values[size_t(it - ridge.subjects.begin())]);
  }
  PairedTest t;
  t.fraction = fraction;
  const Paired p = paired_means(a, ridge);
  t.n_subjects = p.n;
  t.model_mean = p.model;
  t.ridge_mean = p.ridge;
  t.sign_flip = stats::sign_flip_test(model, base);
  t.wilcoxon = stats::wilcoxon_signed_rank(model, base);
  if (t.sign_flip.n < 2)
    t.conclusion = "one subject: no test across subjects";
  else if (t.sign_flip.p_value <= kVerdictLevel)
    t.conclusion = t.sign_flip.mean_difference > 0 ? "above ridge" : "below ridge";
  else
    t.conclusion = "no evidence of a difference";
  return t;
}

std::string number(double v) {
  if (!std::isfinite(v)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

}  // namespace

std::string describe(const PairedTest& t, const std::string& model) {
  std::ostringstream os;
  os << model << " at train_fraction " << number(t.fraction) << ": " << t.conclusion;
  const auto& s = t.sign_flip;
  if (s.n < 2) {
    os << " (" << number(t.model_mean) << " vs ridge " << number(t.ridge_mean) << ")";
    return os.str();
  }
  os << " (mean difference " << (s.mean_difference >= 0 ? "+" : "") << number(s.mean_difference) << ", 95% CI ["
     << number(s.ci_low) << ", " << number(s.ci_high) << "], d_z " << number(s.cohens_dz) << "; "
     << (s.exact ? "exact " : "Monte Carlo ") << "sign-flip p = " << number(s.p_value)
     << ", Wilcoxon p = " << number(t.wilcoxon.p_value) << "; " << s.n << " subjects";
  if (s.p_min > kVerdictLevel)
    os << "; with " << s.n << " subjects the smallest attainable p is " << number(s.p_min)
       << ", so no difference can reach " << number(kVerdictLevel);
  os << ")";
  return os.str();
}

std::vector<Verdict> judge_against_ridge(const std::vector<MetricRow>& rows, const std::string& metric) {
  std::set<std::string> model_set;
  std::set<double> fraction_set;
  for (const auto& m : rows) model_set.insert(m.model), fraction_set.insert(m.train_fraction);
  if (!model_set.count("ridge")) return {};
  const std::vector<GroupSummary> groups = summarise(rows);
  std::vector<Verdict> out;
  for (const auto& model : model_order({model_set.begin(), model_set.end()})) {
    if (model == "ridge") continue;
    Verdict v;
    v.model = model;
    v.metric = metric;
    for (double f : fraction_set) {
      const GroupSummary *a = find_group(groups, model, f, metric), *b = find_group(groups, "ridge", f, metric);
      if (a && b && paired_means(*a, *b).n > 0) v.fractions.push_back(f);
    }
    if (v.fractions.empty()) continue;
    for (double f : v.fractions)
      v.tests.push_back(paired_test(*find_group(groups, model, f, metric), *find_group(groups, "ridge", f, metric), f));
    for (auto it = v.fractions.rbegin(); it != v.fractions.rend(); ++it) {
      const Paired p = paired_means(*find_group(groups, model, *it, metric), *find_group(groups, "ridge", *it, metric));
      if (!(p.model > p.ridge)) break;
      v.beats_from = *it;
    }
    v.beats_significantly = v.beats_from.has_value();
    for (const PairedTest& t : v.tests)
      if (v.beats_from && t.fraction >= *v.beats_from && t.sign_flip.n >= 2 && t.conclusion != "above ridge")
        v.beats_significantly = false;
    const GroupSummary *a = find_group(groups, model, v.largest_fraction(), metric),
                       *b = find_group(groups, "ridge", v.largest_fraction(), metric);
    const Paired last = paired_means(*a, *b);
    v.model_mean = last.model, v.ridge_mean = last.ridge, v.n_subjects = last.n;
    if (last.n == 1) {
      const MetricRow *ra = find_row(rows, a->subjects.front(), model, v.largest_fraction(), metric),
                      *rb = find_row(rows, a->subjects.front(), "ridge", v.largest_fraction(), metric);
      if (ra && rb) v.intervals_overlap = !(ra->ci_low > rb->ci_high || rb->ci_low > ra->ci_high);
    }
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace v2c::report
