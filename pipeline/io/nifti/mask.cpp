#include "pipeline/io/nifti/mask.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "pipeline/core/error.h"
#include "pipeline/io/nifti/datatypes.h"
#include "pipeline/io/nifti/image.h"

namespace v2c::nifti {
namespace {

// Plain loop: Eigen's vectorised maxCoeff on 4x4 trips a GCC 12 -Wmaybe-uninitialized false positive.
double max_abs_diff(const Eigen::Matrix4d& a, const Eigen::Matrix4d& b) {
  double m = 0;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) {
      const double d = std::fabs(a(r, c) - b(r, c));
      if (!(d <= m)) m = d;  // NaN propagates
    }
  return m;
}

std::string format_affine(const Eigen::Matrix4d& a) {
  std::string s = "[";
  char buf[64];
  for (int r = 0; r < 4; ++r) {
    s += r ? ", [" : "[";
    for (int c = 0; c < 4; ++c) {
      std::snprintf(buf, sizeof buf, "%s%.6g", c ? ", " : "", a(r, c));
      s += buf;
    }
    s += "]";
  }
  return s + "]";
}

}  // namespace

Mask load_mask(const std::string& mask_path, const Header& run_grid, double tol) {
  const Image img = Image::load(mask_path);
  const Header& mh = img.header();
  const Header& rh = run_grid;
  auto mismatch = [&](const std::string& why) {
    return input_error("mask '", mask_path, "' is not on the grid of run '", rh.path, "' (", why, "): mask dims ",
                       format_dims(mh.dims), ", affine ", format_affine(mh.affine), "; run dims ", format_dims(rh.dims),
                       ", affine ", format_affine(rh.affine));
  };
  if (mh.n_volumes() != 1) throw mismatch(cat("the mask has ", mh.n_volumes(), " volumes, expected 1"));
  if (rh.dims.size() < 3 && mh.dims.size() < 3 && rh.dims != mh.dims) throw mismatch("different dims");
  int64_t rd[3], md[3];
  for (size_t i = 0; i < 3; ++i) {
    rd[i] = i < rh.dims.size() ? rh.dims[i] : 1;
    md[i] = i < mh.dims.size() ? mh.dims[i] : 1;
  }

  // P maps mask voxel coordinates to run voxel coordinates: run_affine * P = mask_affine.
  // perm[a] = run axis of mask axis a, sign[a] = +-1, shift[r] = offset along run axis r.
  int perm[3] = {0, 1, 2}, sign[3] = {1, 1, 1};
  int64_t shift[3] = {0, 0, 0};
  const double diff = max_abs_diff(mh.affine, rh.affine);
  const bool same_dims = rd[0] == md[0] && rd[1] == md[1] && rd[2] == md[2];
  if (!(same_dims && diff <= tol)) {
    const Eigen::Matrix4d p = rh.affine.inverse() * mh.affine;
    Eigen::Matrix4d pr = Eigen::Matrix4d::Zero();
    pr(3, 3) = 1;
    bool used[3] = {false, false, false};
    bool ok = p.allFinite();
    for (int a = 0; a < 3 && ok; ++a) {
      int best = 0;
      for (int r = 1; r < 3; ++r)
        if (std::fabs(p(r, a)) > std::fabs(p(best, a))) best = r;
      if (used[best] || std::fabs(p(best, a)) < 0.5) {
        ok = false;
        break;
      }
      used[best] = true;
      perm[a] = best;
      sign[a] = p(best, a) > 0 ? 1 : -1;
      pr(best, a) = sign[a];
    }
    if (ok) {
      for (int r = 0; r < 3; ++r) {
        shift[r] = static_cast<int64_t>(std::llround(p(r, 3)));
        pr(r, 3) = static_cast<double>(shift[r]);
      }
      // The rounded P must reproduce the mask affine, and map the mask box onto the run box.
      ok = max_abs_diff(rh.affine * pr, mh.affine) <= tol;
      for (int a = 0; a < 3 && ok; ++a) {
        const int r = perm[a];
        ok = md[a] == rd[r] && shift[r] == (sign[a] > 0 ? 0 : md[a] - 1);
      }
    }
    if (!ok)
      throw mismatch(same_dims ? cat("affines differ by up to ", diff, " > tolerance ", tol)
                               : std::string("different dims or affine"));
  }

  Mask mask;
  dispatch(mh.datatype, [&](auto zero) {
    using T = decltype(zero);
    const T* p = reinterpret_cast<const T*>(img.data());
    const bool scale = mh.has_scaling();
    const int64_t n = mh.volume_size();
    for (int64_t f = 0; f < n; ++f) {
      double v = static_cast<double>(p[f]);
      if (scale) v = v * mh.scl_slope + mh.scl_inter;
      if (v == 0 || !std::isfinite(v)) continue;
      const int64_t m[3] = {f % md[0], (f / md[0]) % md[1], f / (md[0] * md[1])};
      int64_t r[3];
      for (int a = 0; a < 3; ++a) r[perm[a]] = sign[a] * m[a] + shift[perm[a]];
      mask.flat.push_back(r[0] + rd[0] * (r[1] + rd[1] * r[2]));
    }
  });
  std::sort(mask.flat.begin(), mask.flat.end());
  mask.ijk.reserve(mask.flat.size());
  for (int64_t f : mask.flat)
    mask.ijk.push_back({static_cast<int32_t>(f % rd[0]), static_cast<int32_t>((f / rd[0]) % rd[1]),
                        static_cast<int32_t>(f / (rd[0] * rd[1]))});
  return mask;
}

}  // namespace v2c::nifti
