#include "pipeline/report/retrieval_sections.h"

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
#include "pipeline/report/verdict.h"

namespace v2c::report {

namespace {

using namespace page;
using svg::escape;
using svg::short_number;

struct Retrieval {
  std::vector<MetricRow> rows;  // the chosen candidate set
  std::vector<GroupSummary> groups;
  std::vector<std::string> models, subjects, metrics;
  std::vector<double> fractions;  // ascending
  std::string candidate_set, ci_text;
  std::vector<std::string> other_sets;
};

const GroupSummary* find_group(const Retrieval& r, const std::string& model, double f, const std::string& metric) {
  return report::find_group(r.groups, model, f, metric);
}

const MetricRow* find_row(const Retrieval& r, const std::string& subject, const std::string& model, double f,
                          const std::string& metric) {
  return report::find_row(r.rows, subject, model, f, metric);
}

Retrieval organise(const Study& s, const ReportConfig& o) {
  Retrieval r;
  std::map<std::string, int> per_set;
  for (const auto& m : s.metrics) ++per_set[m.candidate_set];
  if (!o.candidate_set.empty()) {
    r.candidate_set = o.candidate_set;
  } else {
    int best = -1;
    for (const auto& [set, n] : per_set)
      if (n > best) best = n, r.candidate_set = set;
  }
  for (const auto& [set, n] : per_set)
    if (set != r.candidate_set) r.other_sets.push_back(set);
  std::set<std::string> models, subjects, metrics_present, methods;
  std::set<double> fractions;
  for (const auto& m : s.metrics) {
    if (m.candidate_set != r.candidate_set) continue;
    r.rows.push_back(m);
    models.insert(m.model);
    subjects.insert(m.subject);
    fractions.insert(m.train_fraction);
    metrics_present.insert(m.metric);
    if (!m.ci_method.empty()) methods.insert(m.ci_method);
  }
  r.groups = summarise(r.rows);
  r.models = model_order({models.begin(), models.end()});
  r.subjects.assign(subjects.begin(), subjects.end());
  r.fractions.assign(fractions.begin(), fractions.end());
  for (const auto& m : o.metrics)
    if (metrics_present.count(m)) r.metrics.push_back(m);
  if (methods.empty()) {
    r.ci_text = "95% intervals as written by the retrieval stage (<code>ci_low</code>, <code>ci_high</code>)";
  } else {
    std::string joined;
    for (const auto& m : methods) joined += (joined.empty() ? "" : "; ") + m;
    r.ci_text = "intervals: " + escape(joined);
  }
  return r;
}

std::string verdict(const Retrieval& r) {
  if (r.metrics.empty()) return "";
  const std::string& metric = r.metrics.front();
  const std::vector<Verdict> verdicts = judge_against_ridge(r.rows, metric);
  if (verdicts.empty()) return "";
  std::ostringstream os;
  os << "<div class=\"verdict\"><b>Encoder vs ridge</b> on " << escape(metric_display_name(metric))
     << " (paired: each model against ridge on the same subjects):<ul>\n";
  for (const Verdict& v : verdicts) {
    const std::string overlap =
        v.intervals_overlap ? std::string("; the intervals ") + (*v.intervals_overlap ? "overlap" : "do not overlap")
                            : std::string();
    const std::string on = cat(v.n_subjects, v.n_subjects == 1 ? " subject" : " subjects");
    const std::string at =
        cat(short_number(v.model_mean), " vs ", short_number(v.ridge_mean), " on ", on, overlap, ")");
    os << "<li><b>" << escape(v.model) << "</b> ";
    if (!v.beats_from) {
      // A model tested at one fraction only (e.g. the self-supervised rows of the default study).
      if (v.fractions.size() == 1)
        os << "does not beat ridge at train_fraction " << fraction_label(v.largest_fraction()) << " (" << at;
      else
        os << "does not beat ridge at the largest training fraction (" << fraction_label(v.largest_fraction()) << ": "
           << at;
    } else {
      // "beats" only when the paired tests say so; a higher mean alone is said as such.
      const std::string verb = v.beats_significantly ? "beats ridge" : "has a higher mean than ridge";
      if (v.fractions.size() == 1)
        os << verb << " at train_fraction " << fraction_label(*v.beats_from);
      else if (*v.beats_from == v.fractions.front())
        os << verb << " at every training fraction tested (" << fraction_label(v.fractions.front()) << " to "
           << fraction_label(v.largest_fraction()) << ")";
      else
        os << verb << " from train_fraction " << fraction_label(*v.beats_from) << " on";
      if (!v.beats_significantly)
        os << (v.fractions.size() == 1 ? ", not significantly (the test below)"
                                       : ", not significantly at every one of them (the tests below)");
      os << " (at " << fraction_label(v.largest_fraction()) << ": " << at;
    }
    os << ".<ul class=\"tests\">";
    for (const PairedTest& t : v.tests) os << "<li>" << escape(describe(t, v.model)) << "</li>";
    os << "</ul></li>\n";
  }
  os << "</ul></div>\n";
  return os.str();
}

// Each subject's permutation p-value (retrieval files: labels permuted within runs) for the
// report's metrics that have one.
std::string permutation_table(const Retrieval& r) {
  std::ostringstream rows;
  for (const auto& row : r.rows)
    if (std::isfinite(row.p_permutation) &&
        std::find(r.metrics.begin(), r.metrics.end(), row.metric) != r.metrics.end())
      rows << "<tr><td class=\"text\">" << escape(row.subject) << "</td><td class=\"text\">" << escape(row.model)
           << "</td><td>" << fraction_label(row.train_fraction) << "</td><td class=\"text\">"
           << escape(metric_display_name(row.metric)) << "</td><td>" << short_number(row.value) << "</td><td>"
           << short_number(row.p_permutation) << "</td></tr>\n";
  if (rows.str().empty()) return "";
  return "<table id=\"permutation-table\">\n<tr><th class=\"text\">subject</th><th class=\"text\">model</th>"
         "<th>train_fraction</th><th class=\"text\">metric</th><th>value</th><th>p (permutation)</th></tr>\n" +
         rows.str() +
         "</table>\n<p class=\"note\">Per subject: is decoding above chance? One-sided p of a permutation test, "
         "the queries' true stimuli permuted within runs (docs/retrieval.md).</p>\n";
}

std::string summary_table(const Retrieval& r) {
  std::ostringstream os;
  os << "<table id=\"summary-table\">\n<tr><th class=\"text\">model</th><th>train_fraction</th><th>subjects</th>";
  for (const auto& m : r.metrics)
    os << "<th>" << escape(metric_display_name(m))
       << "<br><span class=\"ci\">mean [interval]</span></th><th>chance</th>";
  os << "</tr>\n";
  for (double f : r.fractions) {
    // The best mean per metric at this fraction is shown in bold.
    std::map<std::string, double> best;
    for (const auto& m : r.metrics)
      for (const auto& model : r.models)
        if (auto* g = find_group(r, model, f, m))
          best[m] = std::max(best.count(m) ? best[m] : -INFINITY, m == "mean_rank" ? -g->mean : g->mean);
    for (const auto& model : r.models) {
      int n_subjects = 0;
      for (const auto& m : r.metrics)
        if (auto* g = find_group(r, model, f, m)) n_subjects = std::max(n_subjects, g->n_subjects);
      if (!n_subjects) continue;
      os << "<tr><td class=\"text\">" << escape(model) << "</td><td>" << fraction_label(f) << "</td><td>" << n_subjects
         << "</td>";
      for (const auto& m : r.metrics) {
        const GroupSummary* g = find_group(r, model, f, m);
        if (!g) {
          os << "<td>–</td><td>–</td>";
          continue;
        }
        const bool is_best = r.models.size() > 1 && (m == "mean_rank" ? -g->mean : g->mean) == best[m];
        os << "<td" << (is_best ? " class=\"best\"" : "") << ">" << short_number(g->mean) << " <span class=\"ci\">["
           << short_number(g->ci_low) << ", " << short_number(g->ci_high) << "]</span></td><td>"
           << short_number(g->chance) << "</td>";
      }
      os << "</tr>\n";
    }
  }
  os << "</table>\n";
  return os.str();
}

std::string learning_curve(const Retrieval& r, const std::string& metric) {
  const auto colours = model_colours(r.models);
  svg::LinePlot p;
  p.id = "learning-curve-" + id_fragment(metric);
  p.title = metric_display_name(metric) + " against training data";
  const double lo = r.fractions.front(), hi = r.fractions.back();
  p.x.log = lo > 0 && hi / lo >= 4;
  p.x.label =
      std::string("training data (train_fraction: share of each training fold") + (p.x.log ? ", log scale)" : ")");
  for (double f : r.fractions) p.x.ticks.push_back(f), p.x.tick_labels.push_back(fraction_label(f));
  p.y.label = metric_display_name(metric);
  const char* markers[] = {"circle", "square", "triangle"};
  size_t k = 0;
  for (const auto& model : r.models) {
    svg::Series mean, dots;
    mean.label = model;
    mean.colour = dots.colour = colours.at(model);
    mean.marker = dots.marker = markers[k++ % 3];
    dots.line = false;
    dots.hollow = true;
    dots.opacity = 0.45;
    dots.in_legend = false;
    for (double f : r.fractions) {
      const GroupSummary* g = find_group(r, model, f, metric);
      if (!g) continue;
      mean.x.push_back(f), mean.y.push_back(g->mean), mean.low.push_back(g->ci_low), mean.high.push_back(g->ci_high);
      if (g->n_subjects > 1)
        for (double v : g->values) dots.x.push_back(f), dots.y.push_back(v);
    }
    if (mean.x.empty()) continue;
    p.series.push_back(dots);
    p.series.push_back(mean);
  }
  svg::Reference chance{"chance", {}, {}};
  for (double f : r.fractions) {
    std::vector<double> c;
    for (const auto& g : r.groups)
      if (g.metric == metric && g.train_fraction == f) c.push_back(g.chance);
    if (!c.empty()) chance.x.push_back(f), chance.y.push_back(mean_of(c));
  }
  p.references.push_back(chance);
  const std::string caption =
      "<b>" + escape(metric_display_name(metric)) +
      " against the amount of training data.</b> Filled markers and lines: the mean over subjects for each model; "
      "error bars: " +
      r.ci_text +
      " (one subject: its own interval; several: the subjects' intervals propagated to the mean, subjects as fixed "
      "effects). Hollow markers: single subjects. Dashed grey: chance. Higher is better" +
      (metric == "mean_rank" ? " — except for mean rank, where lower is better" : std::string()) +
      "; a curve above ridge's is a higher mean; whether it is more than noise is the paired test's to say (below).";
  return figure(svg::line_plot(p), caption);
}

std::string subject_bars(const Retrieval& r, const std::string& metric, double f, const std::string& which) {
  const auto colours = model_colours(r.models);
  svg::BarChart c;
  c.id = "subject-bars-" + id_fragment(metric) + "-" + which;
  c.title = metric_display_name(metric) + " per subject at train_fraction " + fraction_label(f);
  c.groups = r.subjects;
  c.x_label = "subject";
  c.y.label = metric_display_name(metric);
  std::vector<double> chance(r.subjects.size(), NAN);
  for (const auto& model : r.models) {
    svg::BarSeries s;
    s.label = model;
    s.colour = colours.at(model);
    bool any = false;
    for (size_t i = 0; i < r.subjects.size(); ++i) {
      const MetricRow* m = find_row(r, r.subjects[i], model, f, metric);
      s.values.push_back(m ? m->value : NAN);
      s.low.push_back(m ? m->ci_low : NAN);
      s.high.push_back(m ? m->ci_high : NAN);
      if (m) any = true, chance[i] = std::isfinite(chance[i]) ? std::max(chance[i], m->chance) : m->chance;
    }
    if (any) c.series.push_back(s);
  }
  bool constant = true;
  for (double v : chance) constant = constant && (!std::isfinite(v) || !std::isfinite(chance[0]) || v == chance[0]);
  svg::Reference ref{"chance", {}, constant && std::isfinite(chance[0]) ? std::vector<double>{chance[0]} : chance};
  c.references.push_back(ref);
  const std::string caption = "<b>" + escape(metric_display_name(metric)) +
                              " for each subject and model at train_fraction " + fraction_label(f) +
                              (which == "largest" ? " (the most training data)" : " (the least training data)") +
                              ".</b> Error bars: " + r.ci_text +
                              ". Dashed grey: chance. Bars that clear chance "
                              "by more than their error bar decode above chance for that subject.";
  return figure(svg::bar_chart(c), caption);
}

}  // namespace

std::string retrieval_sections(const Study& s, const ReportConfig& o) {
  std::ostringstream os;
  os << "<section id=\"summary\">\n<h2>Summary: encoder vs ridge</h2>\n";
  if (s.metrics.empty()) {
    os << empty_box(
        "No retrieval results yet: no <code>sub-*/*.retrieval.h5</code> files in the study. Run the "
        "retrieval stage on the predictions files; the sections below show what the predictions "
        "files already say.");
    os << "</section>\n";
    return os.str();
  }
  const Retrieval r = organise(s, o);
  os << "<p class=\"note\">" << r.subjects.size() << " subject(s), models " << escape([&] {
    std::string m;
    for (const auto& x : r.models) m += (m.empty() ? "" : ", ") + x;
    return m;
  }())
     << "; candidate set <code>" << escape(r.candidate_set.empty() ? "(unnamed)" : r.candidate_set) << "</code>";
  if (!r.other_sets.empty()) {
    os << " (results for other candidate sets — ";
    for (size_t i = 0; i < r.other_sets.size(); ++i)
      os << (i ? ", " : "") << "<code>" << escape(r.other_sets[i]) << "</code>";
    os << " — are in results.csv only)";
  }
  os << ". Every metric of every file: <a href=\"results.csv\">results.csv</a>.</p>\n";
  if (r.metrics.empty()) {
    os << empty_box("None of the configured metrics (report.metrics) is in the retrieval files; see results.csv.");
    os << "</section>\n";
    return os.str();
  }
  os << verdict(r);
  os << summary_table(r);
  os << "<p class=\"note\">Mean over subjects; in brackets " << r.ci_text
     << " (several subjects: propagated to the mean). Bold: the best model at that training fraction.</p>\n";
  os << permutation_table(r);
  os << "</section>\n<section id=\"learning-curves\">\n<h2>Learning curves</h2>\n";
  for (const auto& m : r.metrics) os << learning_curve(r, m);
  os << "</section>\n<section id=\"per-subject\">\n<h2>Per subject</h2>\n";
  for (const auto& m : r.metrics) {
    os << subject_bars(r, m, r.fractions.back(), "largest");
    if (r.fractions.size() > 1) os << subject_bars(r, m, r.fractions.front(), "smallest");
  }
  os << "</section>\n";
  return os.str();
}

}  // namespace v2c::report
