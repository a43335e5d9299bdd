#include "pipeline/report/map_sections.h"

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

}  // namespace

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
                 "<b>Encoding map " + escape(m.label) + "</b> (<code>" + escape(m.path) +
                     "</code>): each voxel's "
                     "cross-validated correlation between predicted and measured response, on " +
                     std::to_string(n_slices) +
                     " axial slices (z: slice index; anterior up, the subject's left on the "
                     "left when the grid is axis-aligned). Red: predicted well; blue: negative; grey: outside the mask "
                     "(0 in the map). Colour limits ±" +
                     short_number(limit, 2) + " (the 99th percentile of |r| over all maps), the same for every map.");
  }
  os << "</section>\n";
  return os.str();
}

}  // namespace v2c::report
