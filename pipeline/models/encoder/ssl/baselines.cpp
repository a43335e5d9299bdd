#include "pipeline/models/encoder/ssl/baselines.h"

#include "pipeline/core/error.h"

namespace v2c::encoder::ssl {

Ar1 fit_ar1(const std::vector<const MatrixF*>& runs) {
  if (runs.empty()) throw input_error("AR(1) baseline: no training runs");
  return fit_ar1_over([&](const RunVisitor& visit) {
    for (const MatrixF* r : runs) visit(*r);
  });
}

Ar1 fit_ar1_over(const std::function<void(const RunVisitor&)>& each_run) {
  // Two passes over the pairs (x, y) = (x[t-1], x[t]): means, then centred sums (no cancellation).
  int64_t p = -1, n = 0, n_runs = 0;
  VectorD mx, my;
  each_run([&](const MatrixF& run) {
    if (p < 0) {
      p = run.cols();
      mx = VectorD::Zero(p);
      my = VectorD::Zero(p);
    }
    if (run.cols() != p)
      throw input_error("AR(1) baseline: training run ", n_runs, " has ", run.cols(), " voxels; run 0 has ", p);
    ++n_runs;
    for (int64_t t = 1; t < run.rows(); ++t) {
      mx += run.row(t - 1).transpose().cast<double>();
      my += run.row(t).transpose().cast<double>();
      ++n;
    }
  });
  if (n_runs == 0) throw input_error("AR(1) baseline: no training runs");
  if (n == 0) throw input_error("AR(1) baseline: the training runs hold no pair of consecutive volumes");
  mx /= double(n);
  my /= double(n);
  VectorD sxx = VectorD::Zero(p), sxy = VectorD::Zero(p);
  each_run([&](const MatrixF& run) {
    for (int64_t t = 1; t < run.rows(); ++t) {
      const VectorD x = run.row(t - 1).transpose().cast<double>() - mx;
      const VectorD y = run.row(t).transpose().cast<double>() - my;
      sxx.array() += x.array() * x.array();
      sxy.array() += x.array() * y.array();
    }
  });
  Ar1 m;
  m.a.resize(p);
  m.c.resize(p);
  for (int64_t v = 0; v < p; ++v) {
    const double a = sxx(v) > 0 ? sxy(v) / sxx(v) : 0.0;
    m.a(v) = a;
    m.c(v) = my(v) - a * mx(v);
  }
  return m;
}

MatrixF ar1_predict(const Ar1& model, const MatrixF& prev) {
  V2C_ASSERT(prev.cols() == model.a.size(), "AR(1) of ", model.a.size(), " voxels applied to ", prev.cols());
  MatrixF out(prev.rows(), prev.cols());
  for (int64_t i = 0; i < prev.rows(); ++i)
    out.row(i) =
        (prev.row(i).cast<double>().array() * model.a.transpose().array() + model.c.transpose().array()).cast<float>();
  return out;
}

namespace {
template <class Predict>
NextStepError score(const MatrixF& run, int64_t first, Predict&& predict) {
  V2C_ASSERT(first >= 1, "the first scored volume must have a predecessor; first = ", first);
  NextStepError e;
  for (int64_t t = first; t < run.rows(); ++t) {
    e.sse += (predict(t) - run.row(t).cast<double>()).squaredNorm();
    e.n_values += run.cols();
  }
  return e;
}
}  // namespace

NextStepError persistence_error(const MatrixF& run, int64_t first) {
  return score(run, first, [&](int64_t t) -> Eigen::RowVectorXd { return run.row(t - 1).cast<double>(); });
}

NextStepError ar1_error(const Ar1& model, const MatrixF& run, int64_t first) {
  V2C_ASSERT(run.cols() == model.a.size(), "AR(1) of ", model.a.size(), " voxels applied to ", run.cols());
  return score(run, first, [&](int64_t t) -> Eigen::RowVectorXd {
    return (run.row(t - 1).cast<double>().array() * model.a.transpose().array() + model.c.transpose().array()).matrix();
  });
}

}  // namespace v2c::encoder::ssl
