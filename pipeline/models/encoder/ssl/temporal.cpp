#include "pipeline/models/encoder/ssl/temporal.h"

#include "pipeline/models/encoder/parallel.h"

namespace v2c::encoder::ssl {

void TemporalConfig::validate(int64_t d) const {
  if (n_layers < 0) throw usage_error("temporal.n_layers = ", n_layers, ": must be >= 0");
  if (n_heads < 1 || d % n_heads != 0)
    throw usage_error("temporal.n_heads = ", n_heads, ": must be >= 1 and divide the latent width ", d);
  if (ff_mult < 1) throw usage_error("temporal.ff_mult = ", ff_mult, ": must be >= 1");
  if (max_len < 1) throw usage_error("temporal.max_len = ", max_len, ": must be >= 1");
}

template <class S>
TemporalModel<S>::TemporalModel(ParamSet<S>& ps, const std::string& prefix, int64_t d, const TemporalConfig& cfg,
                                Rng& rng)
    : d_(d), cfg_(cfg) {
  cfg.validate(d);
  pos_ = ps.add(prefix + "/pos", cfg.max_len, d, false);
  fill_normal(pos_->value, 0.02, rng);
  for (int k = 0; k < cfg.n_layers; ++k) {
    const std::string pre = cat(prefix, "/layer", k);
    auto layer = std::make_unique<Layer>();
    layer->ln1.create(ps, pre + "/ln1", d);
    layer->attn.create(ps, pre + "/attn", d, cfg.n_heads, rng);
    layer->ln2.create(ps, pre + "/ln2", d);
    layer->fc1.create(ps, pre + "/mlp/fc1", d, int64_t(cfg.ff_mult) * d, rng);
    layer->fc2.create(ps, pre + "/mlp/fc2", int64_t(cfg.ff_mult) * d, d, rng);
    layers_.push_back(std::move(layer));
  }
  ln_f_.create(ps, prefix + "/ln_f", d);
}

template <class S>
const Mat<S>& TemporalModel<S>::forward(const Mat<S>& H, int64_t N, int64_t T, bool causal) {
  V2C_ASSERT(N >= 1 && T >= 1 && H.rows() == N * T && H.cols() == d_, "temporal model input ", H.rows(), " x ",
             H.cols(), " for N = ", N, ", T = ", T, ", d = ", d_);
  V2C_ASSERT(T <= cfg_.max_len, "window of ", T, " time points; the positional embedding covers ", cfg_.max_len);
  N_ = N;
  T_ = T;
  x_.resize(N * T, d_);
#pragma omp parallel for schedule(static) if (go_parallel(H.size()))
  for (int64_t i = 0; i < N * T; ++i) x_.row(i) = H.row(i) + pos_->value.row(i % T);
  for (auto& L : layers_) {
    L->ln1.forward(x_, L->a_in);
    L->attn.forward(L->a_in, N, T, causal, tmp_);
    x_ += tmp_;
    L->ln2.forward(x_, L->m_in);
    L->fc1.forward(L->m_in, L->z1);
    gelu_forward(L->z1, L->g1);
    L->fc2.forward(L->g1, tmp_);
    x_ += tmp_;
  }
  ln_f_.forward(x_, z_);
  return z_;
}

template <class S>
void TemporalModel<S>::backward(const Mat<S>& dZ, Mat<S>& dH) {
  V2C_ASSERT(dZ.rows() == N_ * T_ && dZ.cols() == d_, "temporal model backward shape");
  ln_f_.backward(dZ, dx_);  // dx_ = dloss/dX after the last layer
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) {
    Layer& L = **it;
    // X = X + fc2(GELU(fc1(LN2(X))))
    L.fc2.backward(dx_, &dtmp_);
    gelu_backward(L.z1, dtmp_, tmp_);
    L.fc1.backward(tmp_, &dtmp_);
    L.ln2.backward(dtmp_, tmp_);
    dx_ += tmp_;
    // X = X + Attn(LN1(X))
    L.attn.backward(dx_, dtmp_);
    L.ln1.backward(dtmp_, tmp_);
    dx_ += tmp_;
  }
  if (pos_->trainable) {  // Σ over windows, in window order
    Mat<S> dpos = Mat<S>::Zero(pos_->value.rows(), d_);
    for (int64_t n = 0; n < N_; ++n) dpos.topRows(T_) += dx_.middleRows(n * T_, T_);
    accumulate_grad(*pos_, dpos);
  }
  dH = dx_;
}

template class TemporalModel<float>;
template class TemporalModel<double>;

}  // namespace v2c::encoder::ssl
