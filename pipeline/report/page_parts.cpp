#include "pipeline/report/page_parts.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "pipeline/report/svg.h"

namespace v2c::report {

std::string metric_display_name(const std::string& metric) {
  static const std::map<std::string, std::string> names = {{"top1_forward", "top-1 (forward)"},
                                                           {"top5_forward", "top-5 (forward)"},
                                                           {"top1_backward", "top-1 (backward)"},
                                                           {"top5_backward", "top-5 (backward)"},
                                                           {"pairwise_identification", "pairwise identification"},
                                                           {"mean_rank", "mean rank"}};
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

namespace page {

using svg::short_number;

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

std::map<std::string, std::string> model_colours(const std::vector<std::string>& models) {
  std::map<std::string, std::string> c;
  for (size_t i = 0; i < models.size(); ++i) c[models[i]] = svg::palette(i);
  return c;
}

}  // namespace page
}  // namespace v2c::report
