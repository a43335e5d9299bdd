#include "pipeline/math/metrics.h"

#include <cmath>

#include "pipeline/core/error.h"

namespace v2c::metrics {
namespace {

bool row_ok(const MatrixF& m, int64_t i) { return m.row(i).allFinite(); }

double corr(const Eigen::VectorXd& a, const Eigen::VectorXd& b) {
  const Eigen::VectorXd ac = a.array() - a.mean(), bc = b.array() - b.mean();
  const double d = ac.norm() * bc.norm();
  return d > 0 ? ac.dot(bc) / d : 0.0;
}

std::vector<int64_t> valid_rows(const MatrixF& pred, const MatrixF& truth) {
  V2C_ASSERT(pred.rows() == truth.rows() && pred.cols() == truth.cols());
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < pred.rows(); ++i)
    if (row_ok(pred, i) && row_ok(truth, i)) rows.push_back(i);
  return rows;
}

}  // namespace

std::vector<double> profile_correlation(const MatrixF& pred, const MatrixF& truth) {
  const auto rows = valid_rows(pred, truth);
  std::vector<double> out(size_t(pred.cols()));
  for (int64_t j = 0; j < pred.cols(); ++j) {
    Eigen::VectorXd a(int64_t(rows.size())), b(int64_t(rows.size()));
    for (size_t k = 0; k < rows.size(); ++k) a[int64_t(k)] = pred(rows[k], j), b[int64_t(k)] = truth(rows[k], j);
    out[size_t(j)] = rows.size() > 1 ? corr(a, b) : std::nan("");
  }
  return out;
}

std::vector<double> pattern_correlation(const MatrixF& pred, const MatrixF& truth) {
  V2C_ASSERT(pred.rows() == truth.rows() && pred.cols() == truth.cols());
  std::vector<double> out(size_t(pred.rows()));
  for (int64_t i = 0; i < pred.rows(); ++i)
    out[size_t(i)] = row_ok(pred, i) && row_ok(truth, i)
                         ? corr(pred.row(i).transpose().cast<double>(), truth.row(i).transpose().cast<double>())
                         : std::nan("");
  return out;
}

std::vector<double> r2(const MatrixF& pred, const MatrixF& truth) {
  const auto rows = valid_rows(pred, truth);
  std::vector<double> out(size_t(pred.cols()));
  for (int64_t j = 0; j < pred.cols(); ++j) {
    double mean = 0, ss_res = 0, ss_tot = 0;
    for (int64_t r : rows) mean += truth(r, j);
    mean /= std::max<size_t>(rows.size(), 1);
    for (int64_t r : rows) {
      ss_res += std::pow(double(pred(r, j)) - truth(r, j), 2);
      ss_tot += std::pow(double(truth(r, j)) - mean, 2);
    }
    out[size_t(j)] = ss_tot > 0 ? 1.0 - ss_res / ss_tot : std::nan("");
  }
  return out;
}

MatrixF cosine_similarity(const MatrixF& q, const MatrixF& c) {
  V2C_ASSERT(q.cols() == c.cols());
  MatrixF qn = q, cn = c;
  for (int64_t i = 0; i < qn.rows(); ++i) {
    const float n = qn.row(i).norm();
    if (n > 0) qn.row(i) /= n;
  }
  for (int64_t i = 0; i < cn.rows(); ++i) {
    const float n = cn.row(i).norm();
    if (n > 0) cn.row(i) /= n;
  }
  return qn * cn.transpose();
}

std::vector<int64_t> nearest(const MatrixF& queries, const MatrixF& candidates) {
  const MatrixF sim = cosine_similarity(queries, candidates);
  std::vector<int64_t> out(size_t(sim.rows()));
  for (int64_t i = 0; i < sim.rows(); ++i) {
    Eigen::Index best = 0;
    sim.row(i).maxCoeff(&best);
    out[size_t(i)] = best;
  }
  return out;
}

double mean_finite(const std::vector<double>& v) {
  double s = 0;
  int64_t n = 0;
  for (double x : v)
    if (std::isfinite(x)) s += x, ++n;
  return n ? s / double(n) : std::nan("");
}

}  // namespace v2c::metrics
