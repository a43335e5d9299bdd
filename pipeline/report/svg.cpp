#include "pipeline/report/svg.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <sstream>

#include "pipeline/report/png.h"

namespace v2c::report::svg {

namespace {

constexpr double kFont = 13;        // base font size (px)
constexpr double kCharWidth = 0.6;  // estimated text width per character, in em
const char* kFontFamily = "system-ui, 'Liberation Sans', 'DejaVu Sans', Arial, sans-serif";
const char* kAxisColour = "#444";
const char* kGridColour = "#e4e4e4";
const char* kReferenceColour = "#777";

double text_width(const std::string& s, double font = kFont) {
  size_t chars = 0;  // UTF-8: count code points, not bytes
  for (unsigned char c : s) chars += (c & 0xC0) != 0x80;
  return double(chars) * font * kCharWidth;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s = buf;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

struct Scale {
  double lo = 0, hi = 1, px_lo = 0, px_hi = 1;
  bool log = false;
  double operator()(double v) const {
    const double a = log ? std::log10(v) : v, l = log ? std::log10(lo) : lo, h = log ? std::log10(hi) : hi;
    return px_lo + (a - l) / (h - l) * (px_hi - px_lo);
  }
  bool drawable(double v) const { return std::isfinite(v) && (!log || v > 0); }
};

// About `target` round ticks (steps of 1, 2, 2.5 or 5 x 10^k) covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target = 5) {
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (raw <= m * mag * 1.0001) {
      step = m * mag;
      break;
    }
  std::vector<double> t;
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
    t.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  return t;
}

// A value range over finite values (and > 0 on a log axis).
struct Range {
  double lo = INFINITY, hi = -INFINITY;
  void add(double v, bool log) {
    if (!std::isfinite(v) || (log && v <= 0)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
};

// Y scale and ticks: from 0 when all values are >= 0 (bars and accuracies read from zero).
void y_scale(const Axis& axis, Range r, Scale& s, std::vector<double>& ticks) {
  if (r.empty()) r = {0, 1};
  double lo = std::isfinite(axis.min) ? axis.min : (r.lo >= 0 ? 0.0 : r.lo);
  // Headroom above the highest value, so a bar or point never touches the frame.
  double hi = std::isfinite(axis.max) ? axis.max : r.hi + 0.04 * (r.hi - std::min(lo, r.lo));
  if (hi <= lo) hi = lo + (lo == 0 ? 1.0 : std::abs(lo) * 0.5);
  ticks = axis.ticks.empty() ? nice_ticks(lo, hi) : axis.ticks;
  if (axis.ticks.empty() && !ticks.empty()) {
    const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : hi - lo;
    if (!std::isfinite(axis.min) && ticks.front() > lo + 1e-12) ticks.insert(ticks.begin(), ticks.front() - step);
    if (!std::isfinite(axis.max) && ticks.back() < hi - 1e-12) ticks.push_back(ticks.back() + step);
    if (!std::isfinite(axis.min)) lo = std::min(lo, ticks.front());
    if (!std::isfinite(axis.max)) hi = std::max(hi, ticks.back());
  }
  s.lo = lo;
  s.hi = hi;
}

std::string tick_label(const Axis& a, size_t i, double v) {
  return i < a.tick_labels.size() ? a.tick_labels[i] : short_number(v);
}

std::string svg_open(const std::string& id, const std::string& title, double w, double h) {
  std::ostringstream os;
  os << "<svg id=\"" << escape(id) << "\" class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(w)
     << "\" height=\"" << num(h) << "\" viewBox=\"0 0 " << num(w) << " " << num(h) << "\" role=\"img\" font-family=\""
     << kFontFamily << "\" font-size=\"" << num(kFont) << "\">\n<title>" << escape(title) << "</title>\n"
     << "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  if (!title.empty())
    os << "<text x=\"12\" y=\"22\" font-size=\"15\" font-weight=\"600\" fill=\"#222\">" << escape(title) << "</text>\n";
  return os.str();
}

std::string text(double x, double y, const std::string& s, const std::string& anchor = "start",
                 const std::string& extra = "") {
  std::ostringstream os;
  os << "<text x=\"" << num(x) << "\" y=\"" << num(y) << "\"";
  if (anchor != "start") os << " text-anchor=\"" << anchor << "\"";
  if (!extra.empty()) os << " " << extra;
  os << ">" << escape(s) << "</text>\n";
  return os.str();
}

std::string line(double x1, double y1, double x2, double y2, const std::string& colour, double width = 1,
                 const std::string& extra = "") {
  std::ostringstream os;
  os << "<line x1=\"" << num(x1) << "\" y1=\"" << num(y1) << "\" x2=\"" << num(x2) << "\" y2=\"" << num(y2)
     << "\" stroke=\"" << colour << "\" stroke-width=\"" << num(width) << "\"";
  if (!extra.empty()) os << " " << extra;
  os << "/>\n";
  return os.str();
}

std::string marker(const std::string& shape, double x, double y, const std::string& colour, bool hollow,
                   double opacity = 1.0) {
  std::ostringstream os;
  const std::string fill = hollow ? "#ffffff" : colour;
  const std::string style = "fill=\"" + fill + "\" stroke=\"" + colour + "\" stroke-width=\"1.6\"" +
                            (opacity < 1 ? " opacity=\"" + num(opacity) + "\"" : "");
  if (shape == "triangle")
    os << "<path d=\"M" << num(x) << " " << num(y - 5) << " L" << num(x + 5) << " " << num(y + 4) << " L" << num(x - 5)
       << " " << num(y + 4) << " Z\" " << style << "/>\n";
  else if (shape == "square")
    os << "<rect x=\"" << num(x - 4) << "\" y=\"" << num(y - 4) << "\" width=\"8\" height=\"8\" " << style << "/>\n";
  else if (shape == "circle")
    os << "<circle cx=\"" << num(x) << "\" cy=\"" << num(y) << "\" r=\"4\" " << style << "/>\n";
  return os.str();
}

std::string error_bar(double x, double y_low, double y_high, const std::string& colour, double cap = 4) {
  return line(x, y_low, x, y_high, colour, 1.4) + line(x - cap, y_low, x + cap, y_low, colour, 1.4) +
         line(x - cap, y_high, x + cap, y_high, colour, 1.4);
}

struct LegendEntry {
  std::string label, colour, kind;  // kind: "line", "swatch", "reference"
  std::string marker = "none";
  bool dashed = false, hollow = false;
};

double legend_width(const std::vector<LegendEntry>& entries) {
  double w = 0;
  for (const auto& e : entries) w = std::max(w, text_width(e.label, 12));
  return entries.empty() ? 0 : w + 44;
}

std::string legend(const std::vector<LegendEntry>& entries, double x, double y) {
  std::ostringstream os;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    const double cy = y + 10 + double(i) * 20;
    if (e.kind == "swatch") {
      os << "<rect x=\"" << num(x) << "\" y=\"" << num(cy - 6) << "\" width=\"22\" height=\"12\" fill=\"" << e.colour
         << "\"/>\n";
    } else {
      const std::string dash = e.dashed ? "stroke-dasharray=\"6 4\"" : "";
      os << line(x, cy, x + 22, cy, e.colour, e.kind == "reference" ? 1.5 : 2, dash);
      os << marker(e.marker, x + 11, cy, e.colour, e.hollow);
    }
    os << text(x + 30, cy + 4, e.label, "start", "font-size=\"12\" fill=\"#222\"");
  }
  return os.str();
}

// Frame: horizontal grid lines with y tick labels, the axes, the axis labels.
std::string frame(const Scale& xs, const Scale& ys, const std::vector<double>& yticks, const Axis& yaxis,
                  const std::string& x_label, double plot_top, double plot_bottom) {
  std::ostringstream os;
  for (size_t i = 0; i < yticks.size(); ++i) {
    const double v = yticks[i];
    if (!ys.drawable(v) || v < ys.lo - 1e-12 || v > ys.hi + 1e-12) continue;
    const double py = ys(v);
    os << line(xs.px_lo, py, xs.px_hi, py, kGridColour);
    os << text(xs.px_lo - 8, py + 4, tick_label(yaxis, i, v), "end", "fill=\"#333\" font-size=\"12\"");
  }
  os << line(xs.px_lo, plot_bottom, xs.px_hi, plot_bottom, kAxisColour);
  os << line(xs.px_lo, plot_top, xs.px_lo, plot_bottom, kAxisColour);
  const double mid_y = (plot_top + plot_bottom) / 2;
  os << "<text x=\"16\" y=\"" << num(mid_y) << "\" text-anchor=\"middle\" transform=\"rotate(-90 16 " << num(mid_y)
     << ")\" fill=\"#222\">" << escape(yaxis.label) << "</text>\n";
  if (!x_label.empty()) os << text((xs.px_lo + xs.px_hi) / 2, plot_bottom + 40, x_label, "middle", "fill=\"#222\"");
  return os.str();
}

// Colour maps: piecewise linear between stops.
using RGB = std::array<uint8_t, 3>;
RGB interpolate(const std::vector<std::pair<double, RGB>>& stops, double t) {
  t = std::clamp(t, stops.front().first, stops.back().first);
  for (size_t i = 1; i < stops.size(); ++i) {
    if (t <= stops[i].first) {
      const auto& [t0, c0] = stops[i - 1];
      const auto& [t1, c1] = stops[i];
      const double f = t1 > t0 ? (t - t0) / (t1 - t0) : 0;
      RGB c;
      for (int k = 0; k < 3; ++k)
        c[size_t(k)] = uint8_t(std::lround(c0[size_t(k)] + f * (c1[size_t(k)] - c0[size_t(k)])));
      return c;
    }
  }
  return stops.back().second;
}

// Diverging (ColorBrewer RdBu, reversed: negative blue, 0 white, positive red) or sequential
// (viridis-like) by the sign of the limits.
RGB colour_of(double v, double vmin, double vmax) {
  static const std::vector<std::pair<double, RGB>> diverging = {
      {-1.0, {33, 102, 172}},  {-0.5, {103, 169, 207}}, {-0.15, {209, 229, 240}}, {0.0, {247, 247, 247}},
      {0.15, {253, 219, 199}}, {0.5, {239, 138, 98}},   {1.0, {178, 24, 43}}};
  static const std::vector<std::pair<double, RGB>> sequential = {
      {0.0, {68, 1, 84}}, {0.25, {59, 82, 139}}, {0.5, {33, 145, 140}}, {0.75, {94, 201, 98}}, {1.0, {253, 231, 37}}};
  if (vmin < 0 && vmax > 0) {
    const double t = v < 0 ? -v / vmin : v / vmax;
    return interpolate(diverging, v < 0 ? -std::min(1.0, std::abs(t)) : std::min(1.0, t));
  }
  return interpolate(sequential, (v - vmin) / (vmax - vmin));
}

std::string hex(const RGB& c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c[0], c[1], c[2]);
  return buf;
}

}  // namespace

std::string escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string palette(size_t i) {
  // Okabe & Ito's palette (yellow left out: too light on white), then Paul Tol's wine, teal, olive, indigo.
  static const char* colours[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9",
                                  "#000000", "#882255", "#44AA99", "#999933", "#332288"};
  return colours[i % (sizeof colours / sizeof colours[0])];
}

std::string short_number(double v, int digits) {
  if (!std::isfinite(v)) return std::isnan(v) ? "–" : (v > 0 ? "∞" : "-∞");
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*g", digits, std::abs(v) < 1e-12 ? 0.0 : v);
  return buf;
}

std::string line_plot(const LinePlot& p) {
  std::vector<LegendEntry> entries;
  for (const auto& s : p.series)
    if (s.in_legend) entries.push_back({s.label, s.colour, "line", s.marker, s.dashed, s.hollow});
  for (const auto& r : p.references) entries.push_back({r.label, kReferenceColour, "reference", "none", true, false});
  const double left = 72, top = 42, bottom = 58, right = 20 + legend_width(entries);
  const double height = std::max(double(p.height), top + 20.0 * double(entries.size()) + bottom);
  Scale xs, ys;
  xs.px_lo = left;
  xs.px_hi = p.width - right;
  ys.px_lo = height - bottom;
  ys.px_hi = top;
  xs.log = p.x.log;

  Range xr, yr;
  for (const auto& s : p.series) {
    for (double v : s.x) xr.add(v, p.x.log);
    for (const auto* vals : {&s.y, &s.low, &s.high})
      for (double v : *vals) yr.add(v, false);
  }
  for (const auto& r : p.references) {
    for (double v : r.x) xr.add(v, p.x.log);
    for (double v : r.y) yr.add(v, false);
  }
  for (double v : p.x.ticks) xr.add(v, p.x.log);
  if (xr.empty()) xr = {p.x.log ? 0.1 : 0.0, 1.0};
  if (std::isfinite(p.x.min)) xr.lo = p.x.min;
  if (std::isfinite(p.x.max)) xr.hi = p.x.max;
  if (xr.hi <= xr.lo) {
    xr = p.x.log ? Range{xr.lo / 2, xr.lo * 2} : Range{xr.lo - 0.5, xr.lo + 0.5};
  } else if (p.x.log) {  // a margin of 6% of the range on both sides, so points never sit on the axes
    const double pad = std::pow(xr.hi / xr.lo, 0.06);
    xr = {xr.lo / pad, xr.hi * pad};
  } else {
    const double pad = 0.06 * (xr.hi - xr.lo);
    xr = {xr.lo - pad, xr.hi + pad};
  }
  xs.lo = xr.lo;
  xs.hi = xr.hi;
  std::vector<double> yticks;
  y_scale(p.y, yr, ys, yticks);

  std::ostringstream os;
  os << svg_open(p.id, p.title, p.width, height);
  os << frame(xs, ys, yticks, p.y, p.x.label, top, height - bottom);
  const std::vector<double> xticks = p.x.ticks.empty() ? nice_ticks(xs.lo, xs.hi) : p.x.ticks;
  for (size_t i = 0; i < xticks.size(); ++i) {
    const double v = xticks[i];
    if (!xs.drawable(v) || v < xs.lo || v > xs.hi) continue;
    const double px = xs(v);
    os << line(px, height - bottom, px, height - bottom + 5, kAxisColour);
    os << text(px, height - bottom + 19, tick_label(p.x, i, v), "middle", "fill=\"#333\" font-size=\"12\"");
  }
  for (const auto& r : p.references) {
    std::ostringstream pts;
    if (r.x.empty() && !r.y.empty() && ys.drawable(r.y[0])) {
      pts << num(xs.px_lo) << "," << num(ys(r.y[0])) << " " << num(xs.px_hi) << "," << num(ys(r.y[0]));
    } else {
      for (size_t i = 0; i < r.x.size() && i < r.y.size(); ++i)
        if (xs.drawable(r.x[i]) && ys.drawable(r.y[i])) pts << num(xs(r.x[i])) << "," << num(ys(r.y[i])) << " ";
    }
    os << "<polyline points=\"" << pts.str() << "\" fill=\"none\" stroke=\"" << kReferenceColour
       << "\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n";
  }
  for (const auto& s : p.series) {
    const std::string op = s.opacity < 1 ? " opacity=\"" + num(s.opacity) + "\"" : "";
    os << "<g class=\"series\"" << op << ">\n";
    for (size_t i = 0; i < s.x.size() && i < s.low.size() && i < s.high.size(); ++i)
      if (xs.drawable(s.x[i]) && std::isfinite(s.low[i]) && std::isfinite(s.high[i]))
        os << error_bar(xs(s.x[i]), ys(s.low[i]), ys(s.high[i]), s.colour);
    if (s.line) {
      std::ostringstream pts;
      int n = 0;
      for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
        if (xs.drawable(s.x[i]) && std::isfinite(s.y[i])) pts << num(xs(s.x[i])) << "," << num(ys(s.y[i])) << " ", ++n;
      if (n > 1)
        os << "<polyline points=\"" << pts.str() << "\" fill=\"none\" stroke=\"" << s.colour << "\" stroke-width=\"2\""
           << (s.dashed ? " stroke-dasharray=\"6 4\"" : "") << "/>\n";
    }
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
      if (xs.drawable(s.x[i]) && std::isfinite(s.y[i]))
        os << marker(s.marker, xs(s.x[i]), ys(s.y[i]), s.colour, s.hollow);
    os << "</g>\n";
  }
  os << legend(entries, p.width - right + 16, top);
  os << "</svg>\n";
  return os.str();
}

std::string bar_chart(const BarChart& c) {
  std::vector<LegendEntry> entries;
  for (const auto& s : c.series) entries.push_back({s.label, s.colour, "swatch"});
  for (const auto& r : c.references) entries.push_back({r.label, kReferenceColour, "reference", "none", true, false});
  const double left = 72, top = 42, right = 20 + legend_width(entries);
  const double plot_w = c.width - left - right;
  const double group_w = plot_w / double(std::max<size_t>(1, c.groups.size()));
  double label_w = 0;
  for (const auto& g : c.groups) label_w = std::max(label_w, text_width(g, 12));
  const bool rotate = label_w > group_w - 6;
  const double bottom = (rotate ? 30 + label_w * 0.72 : 40) + (c.x_label.empty() ? 0 : 20);
  const double height =
      std::max(c.height + (rotate ? label_w * 0.72 - 10 : 0), top + 20.0 * double(entries.size()) + bottom);
  Scale xs, ys;
  xs.px_lo = left;
  xs.px_hi = c.width - right;
  ys.px_lo = height - bottom;
  ys.px_hi = top;
  Range yr;
  yr.add(0, false);
  for (const auto& s : c.series)
    for (const auto* vals : {&s.values, &s.low, &s.high})
      for (double v : *vals) yr.add(v, false);
  for (const auto& r : c.references)
    for (double v : r.y) yr.add(v, false);
  std::vector<double> yticks;
  Axis yaxis = c.y;
  yaxis.log = false;
  y_scale(yaxis, yr, ys, yticks);

  std::ostringstream os;
  os << svg_open(c.id, c.title, c.width, height);
  // The x label sits below the (possibly rotated) group labels.
  os << frame(xs, ys, yticks, yaxis, "", top, height - bottom);
  if (!c.x_label.empty()) os << text((xs.px_lo + xs.px_hi) / 2, height - 10, c.x_label, "middle", "fill=\"#222\"");
  const double n_series = double(std::max<size_t>(1, c.series.size()));
  const double bar_w = std::min(48.0, group_w * 0.8 / n_series);
  const double zero = ys(std::clamp(0.0, ys.lo, ys.hi));
  for (size_t g = 0; g < c.groups.size(); ++g) {
    const double gx = left + group_w * double(g);
    const double start = gx + (group_w - bar_w * n_series) / 2;
    for (size_t k = 0; k < c.series.size(); ++k) {
      const auto& s = c.series[k];
      if (g >= s.values.size() || !std::isfinite(s.values[g])) continue;
      const double x = start + bar_w * double(k), y = ys(s.values[g]);
      os << "<rect x=\"" << num(x + 1) << "\" y=\"" << num(std::min(y, zero)) << "\" width=\"" << num(bar_w - 2)
         << "\" height=\"" << num(std::abs(zero - y)) << "\" fill=\"" << s.colour << "\"><title>"
         << escape(s.label + " · " + c.groups[g] + ": " + short_number(s.values[g], 4)) << "</title></rect>\n";
      if (g < s.low.size() && g < s.high.size() && std::isfinite(s.low[g]) && std::isfinite(s.high[g]))
        os << error_bar(x + bar_w / 2, ys(s.low[g]), ys(s.high[g]), "#222", std::min(4.0, bar_w / 3));
    }
    const double cx = gx + group_w / 2, ly = height - bottom + 18;
    if (rotate)
      os << "<text x=\"" << num(cx) << "\" y=\"" << num(ly) << "\" text-anchor=\"end\" transform=\"rotate(-40 "
         << num(cx) << " " << num(ly) << ")\" fill=\"#333\" font-size=\"12\">" << escape(c.groups[g]) << "</text>\n";
    else
      os << text(cx, ly, c.groups[g], "middle", "fill=\"#333\" font-size=\"12\"");
  }
  for (const auto& r : c.references) {
    const std::string dash = "stroke-dasharray=\"6 4\"";
    if (r.y.size() == 1 && std::isfinite(r.y[0])) {
      os << line(xs.px_lo, ys(r.y[0]), xs.px_hi, ys(r.y[0]), kReferenceColour, 1.5, dash);
    } else {
      for (size_t g = 0; g < r.y.size() && g < c.groups.size(); ++g)
        if (std::isfinite(r.y[g]))
          os << line(left + group_w * double(g) + 2, ys(r.y[g]), left + group_w * double(g + 1) - 2, ys(r.y[g]),
                     kReferenceColour, 1.5, dash);
    }
  }
  os << legend(entries, c.width - right + 16, top);
  os << "</svg>\n";
  return os.str();
}

std::string heat_map(const HeatMap& m) {
  const size_t n = m.panels.size();
  const int columns = int(std::max<size_t>(1, std::min<size_t>(size_t(std::max(1, m.columns)), n)));
  const int rows = int((n + size_t(columns) - 1) / size_t(columns));
  int64_t max_side = 1;
  for (const auto& p : m.panels) max_side = std::max({max_side, p.nx, p.ny});
  const double scale = m.panel_px / double(max_side);  // one scale for all panels: sizes compare
  const double cell_w = m.panel_px + 14, cell_h = m.panel_px + 24, left = 12, top = 40;
  const double bar_x = left + cell_w * columns + 16;
  const double width = bar_x + std::max(90.0, text_width(m.colour_label, 12) + 12),
               height = std::max(top + cell_h * rows + 8, top + 190.0);
  std::ostringstream os;
  os << svg_open(m.id, m.title, width, height);
  const RGB background = {236, 236, 236};
  for (size_t i = 0; i < n; ++i) {
    const auto& p = m.panels[i];
    const double x0 = left + cell_w * double(i % size_t(columns));
    const double y0 = top + cell_h * double(i / size_t(columns)) + 18;
    const double pw = double(p.nx) * scale, ph = double(p.ny) * scale;
    os << text(x0, y0 - 5, p.label, "start", "font-size=\"12\" fill=\"#333\"");
    os << "<rect x=\"" << num(x0) << "\" y=\"" << num(y0) << "\" width=\"" << num(pw) << "\" height=\"" << num(ph)
       << "\" fill=\"" << hex(background) << "\"/>\n";
    auto cell_colour = [&](int64_t row, int64_t col) {
      const float v = p.values[size_t(row * p.nx + col)];
      return std::isfinite(v) ? colour_of(v, m.vmin, m.vmax) : background;
    };
    if (p.nx * p.ny > m.png_above) {
      std::vector<uint8_t> rgb(size_t(p.nx * p.ny * 3));
      for (int64_t r = 0; r < p.ny; ++r)
        for (int64_t col = 0; col < p.nx; ++col) {
          const RGB c = cell_colour(r, col);
          std::copy(c.begin(), c.end(), rgb.begin() + (r * p.nx + col) * 3);
        }
      os << "<image x=\"" << num(x0) << "\" y=\"" << num(y0) << "\" width=\"" << num(pw) << "\" height=\"" << num(ph)
         << "\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64,"
         << base64(encode_png_rgb(p.nx, p.ny, rgb)) << "\"/>\n";
    } else {
      // Runs of one colour along a row become one rect (outside-brain zeros are long runs).
      for (int64_t r = 0; r < p.ny; ++r) {
        for (int64_t col = 0; col < p.nx;) {
          const RGB c = cell_colour(r, col);
          int64_t end = col + 1;
          while (end < p.nx && cell_colour(r, end) == c) ++end;
          if (c != background)
            os << "<rect x=\"" << num(x0 + double(col) * scale) << "\" y=\"" << num(y0 + double(r) * scale)
               << "\" width=\"" << num(double(end - col) * scale + 0.3) << "\" height=\"" << num(scale + 0.3)
               << "\" fill=\"" << hex(c) << "\"/>\n";
          col = end;
        }
      }
    }
  }
  // Colour bar: 64 steps from vmin (bottom) to vmax (top).
  const double bar_top = top + 10, bar_h = std::min(180.0, height - top - 30), step_h = bar_h / 64;
  for (int k = 0; k < 64; ++k) {
    const double v = m.vmax - (m.vmax - m.vmin) * (k + 0.5) / 64;
    os << "<rect x=\"" << num(bar_x) << "\" y=\"" << num(bar_top + k * step_h) << "\" width=\"16\" height=\""
       << num(step_h + 0.4) << "\" fill=\"" << hex(colour_of(v, m.vmin, m.vmax)) << "\"/>\n";
  }
  os << "<rect x=\"" << num(bar_x) << "\" y=\"" << num(bar_top) << "\" width=\"16\" height=\"" << num(bar_h)
     << "\" fill=\"none\" stroke=\"#888\"/>\n";
  std::vector<double> ticks = {m.vmin, m.vmax};
  if (m.vmin < 0 && m.vmax > 0) ticks.push_back(0.0);
  for (double v : ticks) {
    const double y = bar_top + (m.vmax - v) / (m.vmax - m.vmin) * bar_h;
    os << line(bar_x + 16, y, bar_x + 20, y, "#444");
    os << text(bar_x + 23, y + 4, short_number(v, 2), "start", "font-size=\"12\" fill=\"#333\"");
  }
  os << text(bar_x, bar_top + bar_h + 18, m.colour_label, "start", "font-size=\"12\" fill=\"#333\"");
  os << "</svg>\n";
  return os.str();
}

}  // namespace v2c::report::svg
