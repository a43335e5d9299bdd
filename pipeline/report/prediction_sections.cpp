#include "pipeline/report/prediction_sections.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "pipeline/core/error.h"
#include "pipeline/report/page_parts.h"
#include "pipeline/report/svg.h"

namespace v2c::report {

namespace {

using namespace page;
using svg::escape;
using svg::short_number;

// Per subject, the predictions at the largest train_fraction that subject has (any model).
std::vector<const PredictionsSummary*> largest_fraction_per_subject(const std::vector<PredictionsSummary>& preds,
                                                                    bool with_alpha) {
  std::map<std::string, double> largest;
  for (const auto& p : preds)
    if (!with_alpha || !p.alphas.empty())
      largest[p.subject] = std::max(largest.count(p.subject) ? largest[p.subject] : -INFINITY, p.train_fraction);
  std::vector<const PredictionsSummary*> out;
  for (const auto& p : preds)
    if ((!with_alpha || !p.alphas.empty()) && p.train_fraction == largest[p.subject]) out.push_back(&p);
  return out;
}

std::string series_label(const PredictionsSummary& p, bool with_model) {
  return with_model ? p.subject + " · " + p.model + (p.mode.empty() ? "" : " (" + p.mode + ")") : p.subject;
}

std::string predictions_table(const std::vector<PredictionsSummary>& preds) {
  std::ostringstream os;
  os << "<div class=\"scroll\"><table id=\"predictions-table\">\n<tr><th class=\"text\">subject</th><th "
        "class=\"text\">model</th>"
        "<th class=\"text\">mode</th><th>train_fraction</th><th>samples</th><th>targets</th><th>folds</th>"
        "<th>mean profile r</th><th>mean pattern r</th><th>mean R²</th><th>median α</th>"
        "<th>at smallest α</th><th>at largest α</th></tr>\n";
  for (const auto& p : preds) {
    os << "<tr><td class=\"text\">" << escape(p.subject) << "</td><td class=\"text\">" << escape(p.model)
       << "</td><td class=\"text\">" << escape(p.mode) << "</td><td>" << fraction_label(p.train_fraction) << "</td><td>"
       << p.n_samples << "</td><td>" << p.n_targets << "</td><td>" << p.n_folds << "</td><td>"
       << short_number(p.mean_profile_corr) << "</td><td>" << short_number(p.mean_pattern_corr) << "</td><td>"
       << short_number(p.mean_r2) << "</td><td>" << (p.alphas.empty() ? "–" : alpha_label(median(p.fold_alpha)))
       << "</td><td>" << percent(mean_of(p.edge_low)) << "</td><td>" << percent(mean_of(p.edge_high)) << "</td></tr>\n";
  }
  os << "</table></div>\n";
  return os.str();
}

std::string profile_chart(const std::vector<PredictionsSummary>& preds) {
  const auto chosen = largest_fraction_per_subject(preds, false);
  std::set<std::string> subject_set;
  std::vector<std::string> kinds;  // "model (mode)" in display order
  for (const auto* p : chosen) {
    subject_set.insert(p->subject);
    const std::string k = p->model + (p->mode.empty() ? "" : " (" + p->mode + ")");
    if (std::find(kinds.begin(), kinds.end(), k) == kinds.end()) kinds.push_back(k);
  }
  std::sort(kinds.begin(), kinds.end(), [](const std::string& a, const std::string& b) {
    const bool ra = a.rfind("ridge", 0) == 0, rb = b.rfind("ridge", 0) == 0;
    return ra != rb ? ra : a < b;
  });
  svg::BarChart c;
  c.id = "profile-corr";
  c.title = "Mean profile correlation per subject";
  c.groups.assign(subject_set.begin(), subject_set.end());
  c.x_label = "subject";
  c.y.label = "mean profile correlation r";
  for (size_t k = 0; k < kinds.size(); ++k) {
    svg::BarSeries s;
    s.label = kinds[k];
    s.colour = svg::palette(k);
    for (const auto& subject : c.groups) {
      double v = NAN;
      for (const auto* p : chosen)
        if (p->subject == subject && p->model + (p->mode.empty() ? "" : " (" + p->mode + ")") == kinds[k])
          v = p->mean_profile_corr;
      s.values.push_back(v);
    }
    c.series.push_back(s);
  }
  return figure(svg::bar_chart(c),
                "<b>Mean profile correlation</b>: for each target (a feature when decoding, a voxel when encoding) the "
                "Pearson correlation between its out-of-fold predictions and the truth across samples, averaged over "
                "targets; each subject at the largest train_fraction it has. 0 is chance; it says how well the "
                "targets are tracked, retrieval says whether whole stimuli can be told apart.");
}

std::string alpha_sections(const std::vector<PredictionsSummary>& preds) {
  const auto chosen = largest_fraction_per_subject(preds, true);
  std::ostringstream os;
  os << "<section id=\"alpha\">\n<h2>Regularisation (α) diagnostics</h2>\n";
  if (chosen.empty()) {
    os << empty_box("No predictions file with an α grid (ridge) in the study.");
    os << "</section>\n";
    return os.str();
  }
  std::set<std::string> subjects;
  for (const auto* p : chosen) subjects.insert(p->subject);
  const bool with_model = chosen.size() > subjects.size();  // several files per subject: name the model
  const bool pooled = chosen.size() > 4;

  std::set<double> grid;
  for (const auto* p : chosen) grid.insert(p->alphas.begin(), p->alphas.end());
  const std::vector<double> alphas(grid.begin(), grid.end());
  svg::BarChart h;
  h.id = "alpha-histogram";
  h.title = "α chosen by the inner cross-validation";
  for (double a : alphas) h.groups.push_back(alpha_label(a));
  h.x_label = "α (the grid's values, log-spaced)";
  h.y.label = "share of targets × folds (%)";
  auto histogram = [&](const std::vector<const PredictionsSummary*>& files) {
    std::vector<double> counts(alphas.size(), 0);
    double total = 0;
    for (const auto* p : files)
      for (double a : p->fold_alpha) {
        const auto it = std::lower_bound(alphas.begin(), alphas.end(), a * (1 - 1e-9));
        if (it != alphas.end() && std::abs(*it - a) <= 1e-9 * std::abs(a)) counts[size_t(it - alphas.begin())] += 1;
        total += 1;
      }
    for (double& c : counts) c = total > 0 ? 100 * c / total : NAN;
    return counts;
  };
  if (pooled) {
    h.series.push_back(
        {"all subjects (" + std::to_string(chosen.size()) + " files)", svg::palette(0), histogram(chosen), {}, {}});
  } else {
    for (size_t i = 0; i < chosen.size(); ++i)
      h.series.push_back({series_label(*chosen[i], with_model), svg::palette(i), histogram({chosen[i]}), {}, {}});
  }
  os << figure(svg::bar_chart(h),
               std::string("<b>Which α the inner cross-validation chose</b>, over all outer folds and targets") +
                   (pooled ? ", pooled over subjects" : ", per subject") +
                   " (each subject at its largest train_fraction). Mass piled on the first or last bar means the "
                   "grid is too narrow there: extend <code>ridge.alphas</code> in that direction.");

  int64_t max_folds = 0;
  for (const auto* p : chosen) max_folds = std::max<int64_t>(max_folds, int64_t(p->edge_low.size()));
  if (max_folds > 1 && chosen.size() <= 6) {
    // Few files with several folds: every fold's value, one colour per subject.
    svg::LinePlot e;
    e.id = "alpha-edges";
    e.title = "Targets at the ends of the α grid, per outer fold";
    e.x.label = "outer fold";
    e.y.label = "share of targets (%)";
    for (int64_t k = 1; k <= max_folds; ++k)
      e.x.ticks.push_back(double(k)), e.x.tick_labels.push_back(std::to_string(k));
    for (size_t i = 0; i < chosen.size(); ++i) {
      const auto& p = *chosen[i];
      svg::Series lo, lo_points, hi;
      lo.label = series_label(p, with_model);
      lo.colour = lo_points.colour = hi.colour = svg::palette(i);
      lo.marker = "none";  // the legend shows the colour; the style entries below show the edge
      lo_points.marker = "circle";
      lo_points.line = false;
      lo_points.in_legend = false;
      hi.marker = "triangle";
      hi.dashed = true;
      hi.in_legend = false;
      for (size_t k = 0; k < p.edge_low.size(); ++k) lo.x.push_back(double(k + 1)), lo.y.push_back(100 * p.edge_low[k]);
      for (size_t k = 0; k < p.edge_high.size(); ++k)
        hi.x.push_back(double(k + 1)), hi.y.push_back(100 * p.edge_high[k]);
      lo_points.x = lo.x;
      lo_points.y = lo.y;
      e.series.insert(e.series.end(), {lo, lo_points, hi});
    }
    svg::Series style_lo, style_hi;
    style_lo.label = "smallest α";
    style_hi.label = "largest α";
    style_lo.colour = style_hi.colour = "#555";
    style_hi.marker = "triangle";
    style_hi.dashed = true;
    e.series.push_back(style_lo);
    e.series.push_back(style_hi);
    e.references.push_back({"warning level (10%)", {}, {10.0}});
    os << figure(svg::line_plot(e),
                 "<b>Share of targets whose chosen α is the grid's smallest (solid, circles) or largest (dashed, "
                 "triangles) value</b>, per outer fold; one colour per subject. v2c-ridge warns above the dashed 10% "
                 "line: α may want to go beyond the grid there.");
  } else {
    // Many files or a single fold: per file, the mean over folds with the range of the folds.
    svg::BarChart e;
    e.id = "alpha-edges";
    e.title = "Targets at the ends of the α grid";
    e.x_label = "subject";
    e.y.label = "share of targets (%)";
    svg::BarSeries lo{"smallest α", svg::palette(5), {}, {}, {}}, hi{"largest α", svg::palette(4), {}, {}, {}};
    for (const auto* p : chosen) {
      e.groups.push_back(series_label(*p, with_model));
      for (auto [series, values] : {std::pair{&lo, &p->edge_low}, std::pair{&hi, &p->edge_high}}) {
        std::vector<double> v = *values;
        for (double& x : v) x *= 100;
        series->values.push_back(mean_of(v));
        const bool spread = v.size() > 1;
        series->low.push_back(spread ? *std::min_element(v.begin(), v.end()) : NAN);
        series->high.push_back(spread ? *std::max_element(v.begin(), v.end()) : NAN);
      }
    }
    e.series = {lo, hi};
    e.references.push_back({"warning level (10%)", {}, {10.0}});
    os << figure(svg::bar_chart(e),
                 "<b>Share of targets whose chosen α is the grid's smallest or largest value</b>, per subject (at "
                 "its largest train_fraction): the mean over outer folds" +
                     std::string(max_folds > 1 ? ", whiskers from the lowest to the highest fold" : " (one fold)") +
                     ". v2c-ridge warns above the dashed 10% line: α may want to go beyond the grid there.");
  }
  os << "</section>\n";
  return os.str();
}

}  // namespace

std::string prediction_sections(const std::vector<PredictionsSummary>& preds) {
  std::ostringstream os;
  os << "<section id=\"predictions\">\n<h2>Predictions</h2>\n";
  if (preds.empty()) {
    os << empty_box("No predictions files (<code>sub-*/*.h5</code> of kind <code>predictions</code>) in the study.");
  } else {
    os << predictions_table(preds) << profile_chart(preds);
  }
  os << "</section>\n";
  os << alpha_sections(preds);
  return os.str();
}

}  // namespace v2c::report
