#include "pipeline/prep/signal.h"

#include <Eigen/QR>
#include <algorithm>
#include <cmath>

#include "pipeline/core/error.h"
#include "pipeline/prep/drift.h"

namespace v2c::prep {

Scaling parse_scaling(const std::string& name) {
  if (name == "zscore") return Scaling::zscore;
  if (name == "psc") return Scaling::psc;
  if (name == "none") return Scaling::none;
  throw usage_error("unknown scaling '", name, "': expected zscore, psc or none");
}

VoxelHealth scan_nonfinite(MatrixF& y) {
  const int64_t n = y.rows(), v = y.cols();
  VoxelHealth h;
  h.all_nonfinite.assign(v, 0);
  h.some_nonfinite.assign(v, 0);
  h.constant.assign(v, 0);
  std::vector<int64_t> bad_count(v, 0);
  for (int64_t t = 0; t < n; ++t) {
    float* row = y.row(t).data();
    for (int64_t j = 0; j < v; ++j) {
      if (!std::isfinite(row[j])) {
        if (h.first_bad_volume < 0) h.first_bad_volume = t, h.first_bad_voxel = j;
        ++bad_count[j];
        row[j] = 0.0f;
      }
    }
  }
  for (int64_t j = 0; j < v; ++j) {
    if (bad_count[j] == n)
      h.all_nonfinite[j] = 1;
    else if (bad_count[j] > 0)
      h.some_nonfinite[j] = 1;
  }
  return h;
}

Eigen::VectorXd column_means(const MatrixF& y) {
  Eigen::VectorXd sum = Eigen::VectorXd::Zero(y.cols());
  for (int64_t t = 0; t < y.rows(); ++t) {
    const float* row = y.row(t).data();
    for (int64_t j = 0; j < y.cols(); ++j) sum[j] += row[j];
  }
  return y.rows() > 0 ? Eigen::VectorXd(sum / double(y.rows())) : sum;
}

namespace {
// An orthonormal basis [n x rank] of the columns' span (rank-revealing QR: a confound that repeats a
// drift term counts once).
Eigen::MatrixXd orthonormal_span(const MatrixD& basis) {
  if (basis.cols() == 0 || basis.rows() == 0) return Eigen::MatrixXd(basis.rows(), 0);
  const Eigen::MatrixXd b = basis;
  Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(b);
  qr.setThreshold(1e-10);
  return qr.householderQ() * Eigen::MatrixXd::Identity(b.rows(), qr.rank());
}

// y -= Q (Q^T y), in double (runs sit on baselines of ~1000 whose float rounding is not small
// next to the fluctuations that remain).
void project_out(MatrixF& y, const Eigen::MatrixXd& q) {
  if (q.cols() == 0) return;
  Eigen::MatrixXd yd = y.cast<double>();
  const Eigen::MatrixXd coef = q.transpose() * yd;  // rank x n_voxels
  yd.noalias() -= q * coef;
  y = yd.cast<float>();
}
}  // namespace

void regress_out(MatrixF& y, const MatrixD& basis) {
  V2C_ASSERT(basis.rows() == y.rows());
  project_out(y, orthonormal_span(basis));
}

void detrend(MatrixF& y, int order) { regress_out(y, polynomial_basis(y.rows(), order)); }

void scale_columns(MatrixF& y, Scaling scaling, const Eigen::VectorXd& baseline, VoxelHealth& health) {
  const int64_t n = y.rows(), v = y.cols();
  if (scaling == Scaling::none || n == 0) return;
  const Eigen::VectorXd mean = column_means(y);
  Eigen::VectorXd sq = Eigen::VectorXd::Zero(v);
  for (int64_t t = 0; t < n; ++t) {
    const float* row = y.row(t).data();
    for (int64_t j = 0; j < v; ++j) {
      const double d = double(row[j]) - mean[j];
      sq[j] += d * d;
    }
  }
  Eigen::VectorXf mul(v), sub(v);
  for (int64_t j = 0; j < v; ++j) {
    const double sd = std::sqrt(sq[j] / double(n));
    // Relative threshold: an SD below 1e-6 of the signal's magnitude is numerical dust.
    const double scale_ref = std::max({std::abs(mean[j]), std::abs(baseline.size() ? baseline[j] : 0.0), 1e-30});
    const bool flat = !(sd > 1e-6 * scale_ref) || sd == 0.0;
    if (scaling == Scaling::zscore) {
      if (flat) health.constant[j] = 1;
      mul[j] = flat ? 0.0f : float(1.0 / sd);
    } else {  // psc
      const bool zero_base = !(std::abs(baseline[j]) > 1e-12);
      if (flat || zero_base) health.constant[j] = 1;
      mul[j] = (flat || zero_base) ? 0.0f : float(100.0 / baseline[j]);
    }
    sub[j] = float(mean[j]);
  }
  for (int64_t t = 0; t < n; ++t) y.row(t) = (y.row(t) - sub.transpose()).cwiseProduct(mul.transpose());
}

VoxelHealth clean_run(MatrixF& y, const MatrixD& nuisance, Scaling scaling) {
  const int64_t n = y.rows(), v = y.cols();
  V2C_ASSERT(nuisance.rows() == n);
  const Eigen::MatrixXd q = orthonormal_span(nuisance);
  VoxelHealth health;
  health.all_nonfinite.assign(v, 0);
  health.some_nonfinite.assign(v, 0);
  health.constant.assign(v, 0);
  // Blocks of columns small enough to stay in cache: n x 1024 floats.
  constexpr int64_t kBlock = 1024;
  const int64_t n_blocks = (v + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(dynamic) if (n_blocks > 1 && n * v > (int64_t{1} << 16))
  for (int64_t b = 0; b < n_blocks; ++b) {
    const int64_t c0 = b * kBlock, w = std::min(kBlock, v - c0);
    MatrixF block = y.middleCols(c0, w);
    VoxelHealth h = scan_nonfinite(block);
    const Eigen::VectorXd baseline = column_means(block);
    project_out(block, q);
    scale_columns(block, scaling, baseline, h);
    y.middleCols(c0, w) = block;
#pragma omp critical(clean_run_health)
    {
      for (int64_t j = 0; j < w; ++j) {
        health.all_nonfinite[c0 + j] = h.all_nonfinite[j];
        health.some_nonfinite[c0 + j] = h.some_nonfinite[j];
        health.constant[c0 + j] = h.constant[j];
      }
      if (h.first_bad_volume >= 0 && (health.first_bad_voxel < 0 || c0 + h.first_bad_voxel < health.first_bad_voxel))
        health.first_bad_volume = h.first_bad_volume, health.first_bad_voxel = c0 + h.first_bad_voxel;
    }
  }
  return health;
}

VolumeWindow event_window(double onset_s, double duration_s, double shift_s, double tr_s, int64_t n_volumes) {
  // Volume t is acquired at t * TR; it belongs to the window if start <= t*TR < end. A tolerance of
  // 1e-6 TR keeps onsets written with rounded decimals on the grid they were meant for.
  const double start = onset_s + shift_s, end = start + std::max(duration_s, tr_s);
  const double eps = 1e-6 * tr_s;
  int64_t first = int64_t(std::ceil((start - eps) / tr_s));
  int64_t last = int64_t(std::ceil((end - eps) / tr_s)) - 1;  // inclusive
  first = std::max<int64_t>(first, 0);
  last = std::min<int64_t>(last, n_volumes - 1);
  VolumeWindow w;
  w.first = first;
  w.count = last >= first ? last - first + 1 : 0;
  return w;
}

Eigen::RowVectorXf window_mean(const MatrixF& y, const VolumeWindow& w) {
  V2C_ASSERT(w.count > 0 && w.first + w.count <= y.rows());
  Eigen::RowVectorXd acc = Eigen::RowVectorXd::Zero(y.cols());
  for (int64_t t = w.first; t < w.first + w.count; ++t) acc += y.row(t).cast<double>();
  return (acc / double(w.count)).cast<float>();
}

}  // namespace v2c::prep
