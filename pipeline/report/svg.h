// A tiny SVG plotting helper for the report: line plots with error bars, grouped bar charts
// (histograms are bar charts over bins), and heat maps with a colour bar. Each function returns
// one self-contained <svg> element (no scripts, no external resources) carrying the plot's id.
//
// Layout: the plot area sits inside fixed margins; the legend is drawn to the right of the plot
// area, outside it, so it never covers data. Reference lines (chance, thresholds) are dashed grey
// and named in the legend. Text sizes are in CSS pixels; widths of text are estimated
// (0.6 em per character), which is all the layout needs.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace v2c::report::svg {

// Escapes & < > " ' for HTML/SVG text and attribute values.
std::string escape(const std::string& text);

// The i-th colour of a colour-blind-safe palette (Okabe & Ito, then Tol; 11 colours), cycling.
std::string palette(size_t i);

// Number for a tick label or a table: %g with `digits` significant digits.
std::string short_number(double v, int digits = 3);

struct Axis {
  std::string label;
  bool log = false;                      // log10 scale; values <= 0 are not drawn
  double min = NAN, max = NAN;           // NaN: from the data
  std::vector<double> ticks;             // empty: automatic
  std::vector<std::string> tick_labels;  // as many as ticks, or empty (short_number)
};

struct Series {
  std::string label, colour;
  std::vector<double> x, y;       // NaN y: no point
  std::vector<double> low, high;  // error bar ends (empty: none; NaN: none for that point)
  bool line = true;               // join the points
  bool dashed = false;
  std::string marker = "circle";  // "circle" | "triangle" | "square" | "none"
  bool hollow = false;
  double opacity = 1.0;
  bool in_legend = true;
};

// A dashed grey reference line. Line plots: y at each x (x empty: horizontal at y[0]).
// Bar charts: y[0] across the chart, or one y per group (a segment across each group).
struct Reference {
  std::string label;
  std::vector<double> x, y;
};

struct LinePlot {
  std::string id, title;
  Axis x, y;
  std::vector<Series> series;
  std::vector<Reference> references;
  int width = 900, height = 420;
};
std::string line_plot(const LinePlot& plot);

struct BarSeries {
  std::string label, colour;
  std::vector<double> values;     // one per group (NaN: no bar)
  std::vector<double> low, high;  // error bars (empty: none)
};

struct BarChart {
  std::string id, title, x_label;
  std::vector<std::string> groups;  // categories along x
  Axis y;                           // log and ticks are ignored for bars; min/max honoured
  std::vector<BarSeries> series;
  std::vector<Reference> references;
  int width = 900, height = 400;
};
std::string bar_chart(const BarChart& chart);

// One image of a heat map: values row-major, row 0 drawn at the top, `nx` per row.
struct HeatPanel {
  std::string label;
  int64_t nx = 0, ny = 0;
  std::vector<float> values;  // [ny x nx]; NaN drawn as the background
};

struct HeatMap {
  std::string id, title, colour_label;
  std::vector<HeatPanel> panels;  // drawn left to right, `columns` per row
  double vmin = -1, vmax = 1;     // colour limits; vmin < 0 < vmax: diverging map, else sequential
  int columns = 6;
  double panel_px = 150;     // longest side of a panel
  int64_t png_above = 4096;  // panels with more cells are embedded as a PNG (data: URI)
};
std::string heat_map(const HeatMap& map);

}  // namespace v2c::report::svg
