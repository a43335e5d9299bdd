#include "pipeline/models/encoder/ssl/next_step.h"

#include "pipeline/models/encoder/parallel.h"

namespace v2c::encoder::ssl {

template <class S>
SslLoss next_step_prediction(SslModel<S>& model, const std::string& subject, const Mat<S>& Xw, int64_t N, int64_t T,
                             const NextStepConfig& cfg, bool with_grad, Mat<S>* prediction) {
  const int64_t p = model.n_voxels(subject), L = model.latent();
  if (N < 1 || T < 1 || Xw.rows() != N * (T + 1) || Xw.cols() != p)
    throw input_error("next-time-point prediction: windows of '", subject, "' are ", Xw.rows(), " x ", Xw.cols(),
                      "; expected ", N * (T + 1), " x ", p, " (N·(T+1) x voxels, N = ", N, ", T = ", T, ")");
  Linear<S>& adapter = model.adapter(subject);
  Linear<S>& readout = model.readout(subject);

  // Context rows (volumes 0..T-1 of each window) and, per scored position, its input and target row.
  Mat<S> Xc(N * T, p);
#pragma omp parallel for schedule(static) if (go_parallel(Xc.size()))
  for (int64_t n = 0; n < N; ++n) Xc.middleRows(n * T, T) = Xw.middleRows(n * (T + 1), T);
  std::vector<int64_t> scored;  // rows of Z (= rows of Xc) whose successor is scored
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = cfg.all_positions ? 0 : T - 1; j < T; ++j) scored.push_back(n * T + j);
  auto target_row = [&](int64_t zrow) { return (zrow / T) * (T + 1) + zrow % T + 1; };

  Mat<S> H, Y;
  adapter.forward(Xc, H);
  // The read-out sees Z + H: a residual around the temporal model, whose final LayerNorm
  // normalises each time point's latent and so would hide the amplitude of the shared latent.
  const Mat<S> Z = model.temporal().forward(H, N, T, true) + H;
  const int64_t M = int64_t(scored.size());
  Mat<S> Zs;
  const Mat<S>* readout_in = &Z;
  if (!cfg.all_positions) {
    Zs.resize(M, L);
    for (int64_t i = 0; i < M; ++i) Zs.row(i) = Z.row(scored[size_t(i)]);
    readout_in = &Zs;
  }
  readout.forward(*readout_in, Y);  // [M x p]
  Param<S>& skip = model.skip(subject);
  if (cfg.residual)
    for (int64_t i = 0; i < M; ++i) Y.row(i) += Xc.row(scored[size_t(i)]).cwiseProduct(skip.value.row(0));

  Mat<S> dY(M, p);
  double sse = 0;
  for (int64_t i = 0; i < M; ++i) {
    dY.row(i) = Y.row(i) - Xw.row(target_row(scored[size_t(i)]));
    sse += dY.row(i).template cast<double>().squaredNorm();
  }
  SslLoss out{sse / double(M * p), M * p};
  if (prediction) {
    prediction->resize(N, p);
    for (int64_t n = 0; n < N; ++n) prediction->row(n) = Y.row(cfg.all_positions ? n * T + T - 1 : n);
  }
  if (!with_grad) return out;

  dY *= S(2.0 / double(M * p));
  if (cfg.residual) {
    Mat<S> dskip = Mat<S>::Zero(1, p);
    for (int64_t i = 0; i < M; ++i) dskip.row(0) += dY.row(i).cwiseProduct(Xc.row(scored[size_t(i)]));
    accumulate_grad(skip, dskip);
  }
  Mat<S> dR, dZ, dH;
  readout.backward(dY, &dR);
  if (cfg.all_positions) {
    dZ = std::move(dR);
  } else {
    dZ.setZero(N * T, L);
    for (int64_t i = 0; i < M; ++i) dZ.row(scored[size_t(i)]) = dR.row(i);
  }
  model.temporal().backward(dZ, dH);
  dH += dZ;
  adapter.backward(dH, nullptr);
  return out;
}

template SslLoss next_step_prediction<float>(SslModel<float>&, const std::string&, const Mat<float>&, int64_t, int64_t,
                                             const NextStepConfig&, bool, Mat<float>*);
template SslLoss next_step_prediction<double>(SslModel<double>&, const std::string&, const Mat<double>&, int64_t,
                                              int64_t, const NextStepConfig&, bool, Mat<double>*);

}  // namespace v2c::encoder::ssl
