#include "pipeline/models/encoder/ssl/masked.h"

#include <algorithm>
#include <cmath>

#include "pipeline/models/encoder/parallel.h"

namespace v2c::encoder::ssl {

MaskKind parse_mask_kind(const std::string& s) {
  if (s == "time") return MaskKind::time;
  if (s == "voxel") return MaskKind::voxel;
  throw usage_error("masked prediction: hide = '", s, "': must be time or voxel");
}

const char* mask_kind_name(MaskKind k) { return k == MaskKind::time ? "time" : "voxel"; }

void MaskConfig::validate() const {
  if (!(ratio > 0 && ratio < 1)) throw usage_error("masked prediction: ratio = ", ratio, ": must be in (0, 1)");
}

Mask draw_mask(const MaskConfig& cfg, int64_t N, int64_t T, int64_t p, Rng& rng) {
  cfg.validate();
  Mask m;
  m.kind = cfg.kind;
  m.N = N;
  m.T = T;
  m.p = p;
  const int64_t width = cfg.kind == MaskKind::time ? T : p;
  V2C_ASSERT(N >= 1 && width >= 2, "masking ", mask_kind_name(cfg.kind), "s needs at least 2 per window; have ", width);
  const int64_t k = std::clamp<int64_t>(std::llround(cfg.ratio * double(width)), 1, width - 1);
  m.hidden.assign(size_t(N * width), 0);
  std::vector<int64_t> idx(static_cast<size_t>(width));
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t j = 0; j < width; ++j) idx[size_t(j)] = j;
    for (int64_t j = 0; j < k; ++j) {  // partial Fisher-Yates: the first k are a uniform k-subset
      const int64_t pick = j + int64_t(rng.next() % uint64_t(width - j));
      std::swap(idx[size_t(j)], idx[size_t(pick)]);
      m.hidden[size_t(n * width + idx[size_t(j)])] = 1;
    }
  }
  return m;
}

namespace {

template <class S>
Mat<S> gather_rows(const Mat<S>& A, const std::vector<int64_t>& rows) {
  Mat<S> out(int64_t(rows.size()), A.cols());
#pragma omp parallel for schedule(static) if (go_parallel(out.size()))
  for (int64_t i = 0; i < out.rows(); ++i) out.row(i) = A.row(rows[size_t(i)]);
  return out;
}

template <class S>
SslLoss masked_time(SslModel<S>& model, const std::string& subject, const Mat<S>& X, int64_t N, int64_t T,
                    const Mask& mask, bool with_grad, Mat<S>* reconstruction) {
  const int64_t p = X.cols(), L = model.latent();
  std::vector<int64_t> visible, hidden;
  for (int64_t i = 0; i < N * T; ++i) (mask.time_hidden(i / T, i % T) ? hidden : visible).push_back(i);
  V2C_ASSERT(!hidden.empty() && !visible.empty(), "time mask hides ", hidden.size(), " of ", N * T, " time points");
  Linear<S>& adapter = model.adapter(subject);
  Linear<S>& readout = model.readout(subject);
  Param<S>& token = model.mask_token();

  const Mat<S> Xv = gather_rows(X, visible);
  Mat<S> Hv;
  adapter.forward(Xv, Hv);  // only visible volumes enter the model
  Mat<S> H(N * T, L);
  for (size_t i = 0; i < visible.size(); ++i) H.row(visible[i]) = Hv.row(int64_t(i));
  for (int64_t i : hidden) H.row(i) = token.value.row(0);
  const Mat<S>& Z = model.temporal().forward(H, N, T, false);
  const Mat<S> Zh = gather_rows(Z, hidden);
  Mat<S> Xhat;
  readout.forward(Zh, Xhat);  // [M x p]

  const int64_t M = int64_t(hidden.size());
  Mat<S> dXhat(M, p);
  double sse = 0;
  for (int64_t i = 0; i < M; ++i) {
    dXhat.row(i) = Xhat.row(i) - X.row(hidden[size_t(i)]);
    sse += dXhat.row(i).template cast<double>().squaredNorm();
  }
  SslLoss out{sse / double(M * p), M * p};
  if (reconstruction) {
    *reconstruction = X;
    for (int64_t i = 0; i < M; ++i) reconstruction->row(hidden[size_t(i)]) = Xhat.row(i);
  }
  if (!with_grad) return out;

  dXhat *= S(2.0 / double(M * p));
  Mat<S> dZh, dZ = Mat<S>::Zero(N * T, L), dH;
  readout.backward(dXhat, &dZh);
  for (int64_t i = 0; i < M; ++i) dZ.row(hidden[size_t(i)]) = dZh.row(i);
  model.temporal().backward(dZ, dH);
  if (token.trainable) {
    Mat<S> dtoken = Mat<S>::Zero(1, L);
    for (int64_t i : hidden) dtoken += dH.row(i);
    accumulate_grad(token, dtoken);
  }
  adapter.backward(gather_rows(dH, visible), nullptr);
  return out;
}

template <class S>
SslLoss masked_voxels(SslModel<S>& model, const std::string& subject, const Mat<S>& X, int64_t N, int64_t T,
                      const Mask& mask, bool with_grad, Mat<S>* reconstruction) {
  const int64_t p = X.cols();
  Linear<S>& adapter = model.adapter(subject);
  Linear<S>& readout = model.readout(subject);
  Mat<S> Xin = X;
  int64_t n_hidden = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t v = 0; v < p; ++v)
      if (mask.voxel_hidden(n, v)) {
        Xin.block(n * T, v, T, 1).setZero();
        n_hidden += T;
      }
  V2C_ASSERT(n_hidden > 0, "voxel mask hides nothing");
  Mat<S> H, Xhat;
  adapter.forward(Xin, H);
  const Mat<S>& Z = model.temporal().forward(H, N, T, false);
  readout.forward(Z, Xhat);  // [N·T x p]

  Mat<S> dXhat = Mat<S>::Zero(N * T, p);
  double sse = 0;
  for (int64_t i = 0; i < N * T; ++i)
    for (int64_t v = 0; v < p; ++v)
      if (mask.voxel_hidden(i / T, v)) {
        const S e = Xhat(i, v) - X(i, v);
        dXhat(i, v) = e;
        sse += double(e) * double(e);
      }
  SslLoss out{sse / double(n_hidden), n_hidden};
  if (reconstruction) {
    *reconstruction = X;
    for (int64_t i = 0; i < N * T; ++i)
      for (int64_t v = 0; v < p; ++v)
        if (mask.voxel_hidden(i / T, v)) (*reconstruction)(i, v) = Xhat(i, v);
  }
  if (!with_grad) return out;

  dXhat *= S(2.0 / double(n_hidden));
  Mat<S> dZ, dH;
  readout.backward(dXhat, &dZ);
  model.temporal().backward(dZ, dH);
  adapter.backward(dH, nullptr);
  return out;
}

}  // namespace

template <class S>
SslLoss masked_prediction(SslModel<S>& model, const std::string& subject, const Mat<S>& X, int64_t N, int64_t T,
                          const Mask& mask, bool with_grad, Mat<S>* reconstruction) {
  if (X.rows() != N * T || X.cols() != model.n_voxels(subject))
    throw input_error("masked prediction: windows of '", subject, "' are ", X.rows(), " x ", X.cols(), "; expected ",
                      N * T, " x ", model.n_voxels(subject), " (N·T x voxels)");
  V2C_ASSERT(mask.N == N && mask.T == T && mask.p == X.cols(), "mask drawn for ", mask.N, " x ", mask.T, " x ", mask.p,
             "; batch is ", N, " x ", T, " x ", X.cols());
  return mask.kind == MaskKind::time ? masked_time(model, subject, X, N, T, mask, with_grad, reconstruction)
                                     : masked_voxels(model, subject, X, N, T, mask, with_grad, reconstruction);
}

template SslLoss masked_prediction<float>(SslModel<float>&, const std::string&, const Mat<float>&, int64_t, int64_t,
                                          const Mask&, bool, Mat<float>*);
template SslLoss masked_prediction<double>(SslModel<double>&, const std::string&, const Mat<double>&, int64_t, int64_t,
                                           const Mask&, bool, Mat<double>*);

}  // namespace v2c::encoder::ssl
