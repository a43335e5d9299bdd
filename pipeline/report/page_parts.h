// Small pieces every section of the report page shares: number labels, figure and notice boxes,
// model colours, finite-only mean and median, display names (no HTML layout of their own).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace v2c::report {

// Display name of a metric: "top1_forward" -> "top-1 (forward)".
std::string metric_display_name(const std::string& metric);

// A string usable inside an id attribute: [A-Za-z0-9_-], others -> '-'.
std::string id_fragment(const std::string& s);

namespace page {

double median(std::vector<double> v);          // of the finite values; NaN when none
double mean_of(const std::vector<double>& v);  // of the finite values; NaN when none
std::string fraction_label(double f);          // 3 significant digits
std::string percent(double v);                 // "41.2%", "–" when not finite
std::string alpha_label(double a);             // "10³" for exact powers of ten, else 3 significant digits
std::string figure(const std::string& svg_text, const std::string& caption);  // <figure> with its caption
std::string empty_box(const std::string& html);  // the notice shown where results are missing
std::map<std::string, std::string> model_colours(const std::vector<std::string>& models);  // palette by order

}  // namespace page
}  // namespace v2c::report
