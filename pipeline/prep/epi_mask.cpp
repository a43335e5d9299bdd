#include "pipeline/prep/epi_mask.h"

#include <algorithm>
#include <cmath>

#include "pipeline/core/error.h"

namespace v2c::prep {

namespace {

struct Grid {
  int64_t nx, ny, nz;
  int64_t index(int64_t i, int64_t j, int64_t k) const { return i + nx * (j + ny * k); }
  int64_t size() const { return nx * ny * nz; }
};

// Index of a mirror-reflected position (d c b a | a b c d | d c b a) for an axis of n samples.
int64_t reflect(int64_t i, int64_t n) {
  if (n == 1) return 0;
  const int64_t period = 2 * n;
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - 1 - i;
}

// One pass of a 1-D correlation along `axis` (0 = x, 1 = y, 2 = z) with reflected edges.
std::vector<double> filter_axis(const std::vector<double>& in, const Grid& g, int axis, const std::vector<double>& w) {
  const int64_t radius = int64_t(w.size() / 2);
  const int64_t n = axis == 0 ? g.nx : axis == 1 ? g.ny : g.nz;
  std::vector<double> out(in.size());
  for (int64_t k = 0; k < g.nz; ++k)
    for (int64_t j = 0; j < g.ny; ++j)
      for (int64_t i = 0; i < g.nx; ++i) {
        const int64_t pos = axis == 0 ? i : axis == 1 ? j : k;
        double acc = 0;
        for (int64_t d = -radius; d <= radius; ++d) {
          const int64_t q = reflect(pos + d, n);
          const int64_t at = axis == 0 ? g.index(q, j, k) : axis == 1 ? g.index(i, q, k) : g.index(i, j, q);
          acc += w[size_t(d + radius)] * in[size_t(at)];
        }
        out[size_t(g.index(i, j, k))] = acc;
      }
  return out;
}

// Gaussian of FWHM 1 voxel, truncated at 4 sigma.
std::vector<double> smooth_fwhm1(const std::vector<double>& values, const Grid& g) {
  const double sigma = 1.0 / std::sqrt(8.0 * std::log(2.0));
  const int64_t radius = int64_t(4.0 * sigma + 0.5);
  std::vector<double> w(size_t(2 * radius + 1));
  double sum = 0;
  for (int64_t d = -radius; d <= radius; ++d)
    sum += w[size_t(d + radius)] = std::exp(-0.5 * double(d * d) / (sigma * sigma));
  for (double& x : w) x /= sum;
  std::vector<double> out = values;
  for (int axis = 0; axis < 3; ++axis) out = filter_axis(out, g, axis, w);
  return out;
}

// The six face neighbours of voxel (i, j, k) that lie inside the grid; calls f(flat index).
template <class F>
void for_neighbours(const Grid& g, int64_t i, int64_t j, int64_t k, F&& f) {
  if (i > 0) f(g.index(i - 1, j, k));
  if (i + 1 < g.nx) f(g.index(i + 1, j, k));
  if (j > 0) f(g.index(i, j - 1, k));
  if (j + 1 < g.ny) f(g.index(i, j + 1, k));
  if (k > 0) f(g.index(i, j, k - 1));
  if (k + 1 < g.nz) f(g.index(i, j, k + 1));
}

int neighbours_outside_grid(const Grid& g, int64_t i, int64_t j, int64_t k) {
  return (i == 0) + (i + 1 == g.nx) + (j == 0) + (j + 1 == g.ny) + (k == 0) + (k + 1 == g.nz);
}

// A voxel stays when it and its 6 neighbours are inside (outside the grid counts as outside).
std::vector<uint8_t> erode(const std::vector<uint8_t>& m, const Grid& g) {
  std::vector<uint8_t> out(m.size(), 0);
  for (int64_t k = 0; k < g.nz; ++k)
    for (int64_t j = 0; j < g.ny; ++j)
      for (int64_t i = 0; i < g.nx; ++i) {
        const int64_t at = g.index(i, j, k);
        if (!m[size_t(at)] || neighbours_outside_grid(g, i, j, k) > 0) continue;
        bool all = true;
        for_neighbours(g, i, j, k, [&](int64_t q) { all = all && m[size_t(q)]; });
        out[size_t(at)] = all;
      }
  return out;
}

// A voxel joins when it or one of its 6 neighbours is inside.
std::vector<uint8_t> dilate(const std::vector<uint8_t>& m, const Grid& g) {
  std::vector<uint8_t> out(m.size(), 0);
  for (int64_t k = 0; k < g.nz; ++k)
    for (int64_t j = 0; j < g.ny; ++j)
      for (int64_t i = 0; i < g.nx; ++i) {
        const int64_t at = g.index(i, j, k);
        bool any = m[size_t(at)];
        for_neighbours(g, i, j, k, [&](int64_t q) { any = any || m[size_t(q)]; });
        out[size_t(at)] = any;
      }
  return out;
}

// The largest 6-connected component; among equals, the one whose first voxel in C order (i slowest,
// k fastest, as numpy scans a [i, j, k] array) comes first.
std::vector<uint8_t> largest_component(const std::vector<uint8_t>& m, const Grid& g) {
  std::vector<int64_t> label(m.size(), -1);
  int64_t best = -1, best_size = 0, n_labels = 0;
  std::vector<int64_t> stack;
  for (int64_t i = 0; i < g.nx; ++i)
    for (int64_t j = 0; j < g.ny; ++j)
      for (int64_t k = 0; k < g.nz; ++k) {
        const int64_t seed = g.index(i, j, k);
        if (!m[size_t(seed)] || label[size_t(seed)] >= 0) continue;
        const int64_t id = n_labels++;
        int64_t size = 0;
        label[size_t(seed)] = id;
        stack.assign(1, seed);
        while (!stack.empty()) {
          const int64_t at = stack.back();
          stack.pop_back();
          ++size;
          const int64_t ai = at % g.nx, aj = (at / g.nx) % g.ny, ak = at / (g.nx * g.ny);
          for_neighbours(g, ai, aj, ak, [&](int64_t q) {
            if (m[size_t(q)] && label[size_t(q)] < 0) label[size_t(q)] = id, stack.push_back(q);
          });
        }
        if (size > best_size) best = id, best_size = size;
      }
  std::vector<uint8_t> out(m.size(), 0);
  for (size_t v = 0; v < m.size(); ++v) out[v] = label[v] == best && best >= 0;
  return out;
}

}  // namespace

EpiMask compute_epi_mask(const std::vector<double>& mean, const std::array<int64_t, 3>& dims, const EpiMaskParams& p) {
  const Grid g{dims[0], dims[1], dims[2]};
  V2C_ASSERT(int64_t(mean.size()) == g.size());
  std::vector<double> values = mean;
  std::vector<uint8_t> finite(values.size(), 1);
  for (size_t v = 0; v < values.size(); ++v)
    if (!std::isfinite(values[v])) values[v] = 0, finite[v] = 0;
  if (p.opening > 0) {
    values = smooth_fwhm1(values, g);
    for (size_t v = 0; v < values.size(); ++v)
      if (!finite[v]) values[v] = 0;  // a non-finite mean stays out (nilearn restores its NaN, then zeroes it)
  }

  std::vector<double> sorted;
  sorted.reserve(values.size());
  for (double x : values)
    if (!(p.exclude_zeros && x == 0)) sorted.push_back(x);
  std::sort(sorted.begin(), sorted.end());
  const int64_t n = int64_t(sorted.size());
  const int64_t lo = int64_t(std::floor(p.lower_cutoff * double(n)));
  const int64_t hi = std::min(int64_t(std::floor(p.upper_cutoff * double(n))), n - 1);
  if (!(hi > lo && lo >= 0))
    throw input_error("automatic mask: ", n, " image values leave nothing between the histogram cut-offs ",
                      p.lower_cutoff, " and ", p.upper_cutoff);
  int64_t at = lo;
  double widest = -1;
  for (int64_t i = lo; i < hi; ++i) {
    const double gap = sorted[size_t(i + 1)] - sorted[size_t(i)];
    if (gap > widest) widest = gap, at = i;
  }
  EpiMask out;
  out.threshold = 0.5 * (sorted[size_t(at)] + sorted[size_t(at + 1)]);
  std::vector<uint8_t> m(values.size());
  for (size_t v = 0; v < values.size(); ++v) m[v] = values[v] >= out.threshold;

  for (int r = 0; r < p.opening; ++r) m = erode(m, g);
  const bool any = std::any_of(m.begin(), m.end(), [](uint8_t x) { return x != 0; });
  if (p.connected && any) m = largest_component(m, g);
  if (p.opening > 0) {
    for (int r = 0; r < 2 * p.opening; ++r) m = dilate(m, g);
    for (int r = 0; r < p.opening; ++r) m = erode(m, g);
  }
  out.inside = std::move(m);
  out.n_inside = std::count(out.inside.begin(), out.inside.end(), uint8_t(1));
  return out;
}

double dice(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  V2C_ASSERT(a.size() == b.size());
  int64_t both = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) both += a[i] && b[i], na += a[i] != 0, nb += b[i] != 0;
  return na + nb == 0 ? 1.0 : 2.0 * double(both) / double(na + nb);
}

}  // namespace v2c::prep
