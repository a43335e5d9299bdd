#include "pipeline/report/html.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "pipeline/core/error.h"
#include "pipeline/report/svg.h"
#include "pipeline/report/verdict.h"

namespace v2c::report {

namespace {

using svg::escape;
using svg::short_number;

const char* kStyle = R"css(
:root { color-scheme: light; }
body { font-family: system-ui, 'Liberation Sans', 'DejaVu Sans', Arial, sans-serif; font-size: 15px;
       line-height: 1.45; color: #222; background: #f6f7f9; margin: 0; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; min-height: 100vh;
       box-shadow: 0 0 0 1px #e3e5e8; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 20px; margin: 36px 0 8px; padding-bottom: 4px; border-bottom: 2px solid #e3e5e8; }
h3 { font-size: 16px; margin: 20px 0 6px; }
.provenance { color: #555; font-size: 13px; margin: 0 0 16px; }
.provenance code { font-size: 12px; }
.note { color: #555; }
.empty { background: #fff8e1; border: 1px solid #f0d890; padding: 10px 14px; border-radius: 4px; }
.verdict { background: #eef5fb; border-left: 4px solid #0072B2; padding: 8px 14px; margin: 12px 0; }
.verdict li { margin: 3px 0; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 14px; }
th, td { padding: 4px 9px; border-bottom: 1px solid #e3e5e8; text-align: right; white-space: nowrap; }
th { background: #f0f2f5; font-weight: 600; white-space: normal; vertical-align: bottom; }
.scroll { overflow-x: auto; }
td.text, th.text { text-align: left; }
tr:nth-child(even) td { background: #fafbfc; }
td.best { font-weight: 700; }
.ci { color: #666; font-size: 12px; }
figure { margin: 18px 0 26px; }
figure svg { max-width: 100%; height: auto; border: 1px solid #e3e5e8; border-radius: 4px; }
figcaption { font-size: 13.5px; color: #444; max-width: 860px; margin-top: 6px; }
figcaption b { color: #222; }
details { margin: 10px 0; font-size: 13px; }
pre { background: #f6f7f9; padding: 8px 12px; overflow-x: auto; font-size: 12px; }
)css";

double median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  int n = 0;
  for (double x : v)
    if (std::isfinite(x)) s += x, ++n;
  return n ? s / n : NAN;
}

std::string fraction_label(double f) { return short_number(f, 3); }

std::string percent(double v) { return std::isfinite(v) ? short_number(100 * v, 3) + "%" : "–"; }

// "10³" for exact powers of ten, else 3 significant digits.
std::string alpha_label(double a) {
  if (a > 0) {
    const double e = std::log10(a);
    if (std::abs(e - std::round(e)) < 1e-9) {
      static const char* sup[] = {"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"};
      const long k = std::lround(e);
      std::string s = "10";
      if (k < 0) s += "⁻";
      for (char c : std::to_string(std::labs(k))) s += sup[c - '0'];
      return s;
    }
  }
  return short_number(a, 3);
}

std::string figure(const std::string& svg_text, const std::string& caption) {
  return "<figure>\n" + svg_text + "<figcaption>" + caption + "</figcaption>\n</figure>\n";
}

std::string empty_box(const std::string& html) { return "<p class=\"empty\">" + html + "</p>\n"; }

struct Retrieval {
  std::vector<MetricRow> rows;           // the chosen candidate set
  std::vector<GroupSummary> groups;
  std::vector<std::string> models, subjects, metrics;
  std::vector<double> fractions;         // ascending
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

std::map<std::string, std::string> model_colours(const std::vector<std::string>& models) {
  std::map<std::string, std::string> c;
  for (size_t i = 0; i < models.size(); ++i) c[models[i]] = svg::palette(i);
  return c;
}

// ---- retrieval sections ----

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
    const std::string at = cat(short_number(v.model_mean), " vs ", short_number(v.ridge_mean), " on ", on, overlap, ")");
    os << "<li><b>" << escape(v.model) << "</b> ";
    if (!v.beats_from) {
      os << "does not beat ridge at the largest training fraction (" << fraction_label(v.largest_fraction()) << ": "
         << at;
    } else {
      if (v.fractions.size() == 1)
        os << "beats ridge at train_fraction " << fraction_label(*v.beats_from);
      else if (*v.beats_from == v.fractions.front())
        os << "beats ridge at every training fraction tested (" << fraction_label(v.fractions.front()) << " to "
           << fraction_label(v.largest_fraction()) << ")";
      else
        os << "beats ridge from train_fraction " << fraction_label(*v.beats_from) << " on";
      os << " (at " << fraction_label(v.largest_fraction()) << ": " << at;
    }
    os << ".</li>\n";
  }
  os << "</ul></div>\n";
  return os.str();
}

std::string summary_table(const Retrieval& r) {
  std::ostringstream os;
  os << "<table id=\"summary-table\">\n<tr><th class=\"text\">model</th><th>train_fraction</th><th>subjects</th>";
  for (const auto& m : r.metrics)
    os << "<th>" << escape(metric_display_name(m)) << "<br><span class=\"ci\">mean [interval]</span></th><th>chance</th>";
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
      os << "<tr><td class=\"text\">" << escape(model) << "</td><td>" << fraction_label(f) << "</td><td>"
         << n_subjects << "</td>";
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
  p.x.label = std::string("training data (train_fraction: share of each training fold") + (p.x.log ? ", log scale)" : ")");
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
      "error bars: " + r.ci_text +
      " (one subject: its own interval; several: the subjects' intervals propagated to the mean, subjects as fixed "
      "effects). Hollow markers: single subjects. Dashed grey: chance. Higher is better" +
      (metric == "mean_rank" ? " — except for mean rank, where lower is better" : std::string()) +
      "; a model whose curve stays above ridge's from some training fraction on beats ridge from there.";
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
  const std::string caption = "<b>" + escape(metric_display_name(metric)) + " for each subject and model at train_fraction " +
                              fraction_label(f) + (which == "largest" ? " (the most training data)" : " (the least training data)") +
                              ".</b> Error bars: " + r.ci_text + ". Dashed grey: chance. Bars that clear chance "
                              "by more than their error bar decode above chance for that subject.";
  return figure(svg::bar_chart(c), caption);
}

std::string retrieval_sections(const Study& s, const ReportConfig& o) {
  std::ostringstream os;
  os << "<section id=\"summary\">\n<h2>Summary: encoder vs ridge</h2>\n";
  if (s.metrics.empty()) {
    os << empty_box("No retrieval results yet: no <code>sub-*/*.retrieval.h5</code> files in the study. Run the "
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
  }()) << "; candidate set <code>" << escape(r.candidate_set.empty() ? "(unnamed)" : r.candidate_set) << "</code>";
  if (!r.other_sets.empty()) {
    os << " (results for other candidate sets — ";
    for (size_t i = 0; i < r.other_sets.size(); ++i) os << (i ? ", " : "") << "<code>" << escape(r.other_sets[i]) << "</code>";
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

// ---- predictions sections ----

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
  os << "<div class=\"scroll\"><table id=\"predictions-table\">\n<tr><th class=\"text\">subject</th><th class=\"text\">model</th>"
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
    h.series.push_back({"all subjects (" + std::to_string(chosen.size()) + " files)", svg::palette(0), histogram(chosen), {}, {}});
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

// ---- encoding maps ----

std::string map_sections(const std::vector<EncodingMap>& maps, const ReportConfig& o) {
  std::ostringstream os;
  os << "<section id=\"encoding-maps\">\n<h2>Encoding maps</h2>\n";
  if (maps.empty()) {
    os << empty_box("No encoding maps (<code>sub-*/*_corr.nii.gz</code>) in the study.");
    os << "</section>\n";
    return os.str();
  }
  // One colour scale for all maps (so they compare): ± the 99th percentile of |r| inside the masks.
  std::vector<float> magnitudes;
  for (const auto& m : maps)
    for (float v : m.values)
      if (std::isfinite(v) && v != 0) magnitudes.push_back(std::abs(v));
  double limit = 0.1;
  if (!magnitudes.empty()) {
    const size_t q = std::min(magnitudes.size() - 1, size_t(0.99 * double(magnitudes.size())));
    std::nth_element(magnitudes.begin(), magnitudes.begin() + std::ptrdiff_t(q), magnitudes.end());
    limit = std::max(1e-6, double(magnitudes[q]));
  }
  for (size_t i = 0; i < maps.size(); ++i) {
    const auto& m = maps[i];
    // Slices that hold voxels (non-zero values), evenly spaced over that range.
    int64_t z_lo = m.nz, z_hi = -1;
    for (int64_t z = 0; z < m.nz; ++z)
      for (int64_t v = 0; v < m.nx * m.ny; ++v) {
        const float x = m.values[size_t(z * m.nx * m.ny + v)];
        if (std::isfinite(x) && x != 0) {
          z_lo = std::min(z_lo, z), z_hi = std::max(z_hi, z);
          break;
        }
      }
    if (z_hi < 0) z_lo = 0, z_hi = m.nz - 1;
    const int64_t n_slices = std::min<int64_t>(std::max(1, o.map_slices), z_hi - z_lo + 1);
    svg::HeatMap h;
    h.id = "encoding-map-" + std::to_string(i + 1);
    h.title = m.label;
    h.colour_label = "correlation r";
    h.vmin = -limit;
    h.vmax = limit;
    h.png_above = o.png_above;
    h.columns = int(std::min<int64_t>(n_slices, 6));
    for (int64_t s = 0; s < n_slices; ++s) {
      const int64_t z = n_slices == 1 ? (z_lo + z_hi) / 2 : z_lo + (z_hi - z_lo) * s / (n_slices - 1);
      svg::HeatPanel p;
      p.label = "z = " + std::to_string(z);
      p.nx = m.nx;
      p.ny = m.ny;
      p.values.resize(size_t(m.nx * m.ny));
      for (int64_t row = 0; row < m.ny; ++row) {
        const int64_t j = m.flip_y ? row : m.ny - 1 - row;  // top row: the most anterior (+y)
        for (int64_t col = 0; col < m.nx; ++col) {
          const int64_t ii = m.flip_x ? m.nx - 1 - col : col;
          const float v = m.values[size_t(ii + m.nx * (j + m.ny * z))];
          p.values[size_t(row * m.nx + col)] = v == 0 ? NAN : v;
        }
      }
      h.panels.push_back(std::move(p));
    }
    os << figure(svg::heat_map(h),
                 "<b>Encoding map " + escape(m.label) + "</b> (<code>" + escape(m.path) + "</code>): each voxel's "
                 "cross-validated correlation between predicted and measured response, on " +
                 std::to_string(n_slices) + " axial slices (z: slice index; anterior up, the subject's left on the "
                 "left when the grid is axis-aligned). Red: predicted well; blue: negative; grey: outside the mask "
                 "(0 in the map). Colour limits ±" + short_number(limit, 2) +
                 " (the 99th percentile of |r| over all maps), the same for every map.");
  }
  os << "</section>\n";
  return os.str();
}

}  // namespace

std::string metric_display_name(const std::string& metric) {
  static const std::map<std::string, std::string> names = {
      {"top1_forward", "top-1 (forward)"},   {"top5_forward", "top-5 (forward)"},
      {"top1_backward", "top-1 (backward)"}, {"top5_backward", "top-5 (backward)"},
      {"pairwise_identification", "pairwise identification"}, {"mean_rank", "mean rank"}};
  const auto it = names.find(metric);
  if (it != names.end()) return it->second;
  std::string s = metric;
  std::replace(s.begin(), s.end(), '_', ' ');
  return s;
}

std::string id_fragment(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') ? c : '-';
  return out;
}

std::string render_page(const Study& s, const ReportConfig& o, const PageInfo& info) {
  const std::string title = o.title.empty() ? "vox2clip report: " + s.name : o.title;
  std::ostringstream os;
  os << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
     << "<meta name=\"generator\" content=\"vox2clip " << escape(info.version) << "\">\n<title>" << escape(title)
     << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n<main>\n";
  os << "<h1>" << escape(title) << "</h1>\n<p class=\"provenance\">Study <code>" << escape(s.dir) << "</code> · vox2clip "
     << escape(info.version) << " · generated " << escape(info.created_utc) << " · " << s.metrics.size()
     << " retrieval metric rows, " << s.predictions.size() << " predictions files, " << s.maps.size()
     << " encoding maps</p>\n";
  os << retrieval_sections(s, o);
  os << "<section id=\"predictions\">\n<h2>Predictions</h2>\n";
  if (s.predictions.empty()) {
    os << empty_box("No predictions files (<code>sub-*/*.h5</code> of kind <code>predictions</code>) in the study.");
  } else {
    os << predictions_table(s.predictions) << profile_chart(s.predictions);
  }
  os << "</section>\n";
  os << alpha_sections(s.predictions);
  os << map_sections(s.maps, o);
  os << "<section id=\"provenance\">\n<h2>Provenance</h2>\n<p class=\"provenance\">Command: <code>"
     << escape(info.command_line) << "</code></p>\n<details><summary>Files read (" << s.inputs.size()
     << ")</summary><pre>";
  for (const auto& f : s.inputs) os << escape(f) << "\n";
  os << "</pre></details>\n<details><summary>Report configuration</summary><pre>" << escape(info.config_yaml)
     << "</pre></details>\n</section>\n</main>\n</body>\n</html>\n";
  return os.str();
}

}  // namespace v2c::report
