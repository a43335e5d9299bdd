#include "pipeline/models/encoder/model.h"

#include <algorithm>
#include <cmath>
#include <unsupported/Eigen/SpecialFunctions>

#include "pipeline/core/error.h"
#include "pipeline/models/encoder/parallel.h"
#include "pipeline/models/encoder/row_kernels.h"

namespace v2c::encoder {

namespace {

// Dropout keep test for element `idx` of the mask keyed by `key`: 24-bit uniform >= p.
inline bool keep(uint64_t key, uint64_t idx, uint32_t threshold) {
  return uint32_t(rng::splitmix64(key ^ (idx * 0xD1B54A32D192ED03ull)) >> 40) >= threshold;
}

}  // namespace

template <class S>
Param<S>* Encoder<S>::add_param(const std::string& name, int64_t rows, int64_t cols, bool decay) {
  return params_.add(name, rows, cols, decay);
}

template <class S>
Encoder<S>::Encoder(const EncoderConfig& cfg, uint64_t seed) : cfg_(cfg) {
  cfg_.validate();
  const int64_t L = cfg.latent, D = cfg.clip_dim;
  Rng rng(seed);
  const double bound = 1.0 / std::sqrt(double(L));
  for (int k = 0; k < cfg.n_blocks; ++k) {
    const std::string pre = cat("block", k, "/");
    Block b;
    b.ln_g = add_param(pre + "ln/g", 1, L, false);
    b.ln_g->value.setOnes();
    b.ln_b = add_param(pre + "ln/b", 1, L, false);
    b.W = add_param(pre + "W", L, L, true);
    fill_uniform(b.W->value, bound, rng);
    b.b = add_param(pre + "b", 1, L, false);
    fill_uniform(b.b->value, bound, rng);
    blocks_.push_back(std::move(b));
  }
  lnf_g_ = add_param("head/ln/g", 1, L, false);
  lnf_g_->value.setOnes();
  lnf_b_ = add_param("head/ln/b", 1, L, false);
  head_W_ = add_param("head/W", L, D, true);
  fill_uniform(head_W_->value, bound, rng);
  head_b_ = add_param("head/b", 1, D, false);
  fill_uniform(head_b_->value, bound, rng);
  add_param("loss/logit_scale", 1, 1, false)->value(0, 0) = S(cfg.init_logit_scale);
  add_param("loss/siglip_t", 1, 1, false)->value(0, 0) = S(cfg.siglip_init_t);
  add_param("loss/siglip_b", 1, 1, false)->value(0, 0) = S(cfg.siglip_init_b);
}

template <class S>
void Encoder<S>::add_subject(const std::string& id, int64_t n_voxels, const AdapterInit<S>& init, uint64_t seed) {
  if (id.empty() || id.find('/') != std::string::npos)
    throw usage_error("encoder: subject id '", id, "' must be non-empty and contain no '/'");
  if (adapters_.count(id)) throw usage_error("encoder: subject '", id, "' added twice");
  if (n_voxels < 1) throw input_error("encoder: subject '", id, "' has ", n_voxels, " voxels; need >= 1");
  const int64_t L = cfg_.latent;
  Adapter a;
  a.W = add_param("adapter/" + id + "/W", n_voxels, L, true);
  a.b = add_param("adapter/" + id + "/b", 1, L, false);
  if (init.W.size()) {
    if (init.W.rows() != n_voxels || init.W.cols() != L)
      throw input_error("encoder: initial adapter of '", id, "' is ", init.W.rows(), " x ", init.W.cols(),
                        "; expected ", n_voxels, " x ", L, " (voxels x latent)");
    if (init.b.size() && init.b.size() != L)
      throw input_error("encoder: initial adapter bias of '", id, "' has ", init.b.size(), " values; expected ", L);
    a.W->value = init.W;
    if (init.b.size()) a.b->value = Eigen::Map<const Mat<S>>(init.b.data(), 1, L);
  } else {
    Rng rng(seed);
    const double bound = init.scale / std::sqrt(double(n_voxels));
    fill_uniform(a.W->value, bound, rng);
    fill_uniform(a.b->value, bound, rng);
  }
  adapters_[id] = a;
}

template <class S>
std::vector<std::string> Encoder<S>::subjects() const {
  std::vector<std::string> out;
  for (const auto& [id, a] : adapters_) out.push_back(id);
  return out;
}

template <class S>
int64_t Encoder<S>::n_voxels(const std::string& id) const {
  auto it = adapters_.find(id);
  if (it == adapters_.end()) throw input_error("encoder: no adapter for subject '", id, "'");
  return it->second.W->value.rows();
}

template <class S>
Param<S>& Encoder<S>::param(const std::string& name) {
  return params_.get(name);
}
template <class S>
const Param<S>& Encoder<S>::param(const std::string& name) const {
  return params_.get(name);
}

template <class S>
std::vector<Param<S>*> Encoder<S>::params() {
  return params_.all();
}
template <class S>
std::vector<const Param<S>*> Encoder<S>::params() const {
  return params_.all();
}

template <class S>
int Encoder<S>::set_trainable(const std::string& prefix, bool trainable) {
  return params_.set_trainable(prefix, trainable);
}

template <class S>
const Mat<S>& Encoder<S>::forward(const std::string& subject, const Mat<S>& X, bool train, Rng* rng,
                                  int64_t row_offset) {
  auto it = adapters_.find(subject);
  if (it == adapters_.end()) throw input_error("encoder forward: no adapter for subject '", subject, "'");
  const Adapter& a = it->second;
  if (X.cols() != a.W->value.rows())
    throw input_error("encoder forward: subject '", subject, "' has ", a.W->value.rows(), " voxels; X has ", X.cols(),
                      " columns");
  const bool drop = train && cfg_.dropout > 0;
  V2C_ASSERT(!drop || rng, "forward in train mode needs an Rng");
  x_ = &X;
  subject_ = subject;
  train_ = train;
  row_offset_ = row_offset;
  const int64_t B = X.rows(), L = cfg_.latent;
  linalg::gemm(X, false, a.W->value, false, h_);
  add_row_bias(h_, a.b->value);

  const uint32_t threshold = uint32_t(std::lround(cfg_.dropout * double(1u << 24)));
  const S keep_scale = S(1.0 / (1.0 - cfg_.dropout));
  for (Block& blk : blocks_) {
    layer_norm_forward(h_, blk.ln_g->value, blk.ln_b->value, blk.xhat, blk.rstd, y_);
    linalg::gemm(y_, false, blk.W->value, false, blk.z);
    blk.key = drop ? rng->next() : 0;
    if (drop) blk.kept.resize(size_t(B * L));
#pragma omp parallel for schedule(static) if (go_parallel(B * L))
    for (int64_t i = 0; i < B; ++i) {
      blk.z.row(i) += blk.b->value.row(0);
      const auto z = blk.z.row(i).array();
      auto act = (S(0.5) * z * (S(1) + (z * S(M_SQRT1_2)).erf())).eval();
      if (drop) {
        unsigned char* kept = blk.kept.data() + i * L;
        for (int64_t j = 0; j < L; ++j) {
          kept[j] = keep(blk.key, uint64_t((row_offset_ + i) * L + j), threshold);
          act(j) = kept[j] ? act(j) * keep_scale : S(0);
        }
      }
      h_.row(i).array() += act;
    }
  }
  layer_norm_forward(h_, lnf_g_->value, lnf_b_->value, xhat_f_, rstd_f_, y_);
  linalg::gemm(y_, false, head_W_->value, false, out_);
  add_row_bias(out_, head_b_->value);
  return out_;
}

template <class S>
void Encoder<S>::backward(const Mat<S>& dY, bool materialize_adapter_grad) {
  V2C_ASSERT(x_, "backward before forward");
  V2C_ASSERT(dY.rows() == out_.rows() && dY.cols() == out_.cols(), "dY is ", dY.rows(), " x ", dY.cols(),
             ", output was ", out_.rows(), " x ", out_.cols());
  const int64_t B = dY.rows(), L = cfg_.latent;
  if (head_W_->trainable) linalg::gemm(y_, true, dY, false, head_W_->grad);
  if (head_b_->trainable) colsum(dY, static_cast<const Mat<S>*>(nullptr), head_b_->grad);
  linalg::gemm(dY, false, head_W_->value, true, dy_);
  layer_norm_backward(dy_, xhat_f_, rstd_f_, *lnf_g_, *lnf_b_, d_h0_, false);  // d_h0_ holds dloss/dh

  const bool drop = train_ && cfg_.dropout > 0;
  const S keep_scale = S(1.0 / (1.0 - cfg_.dropout));
  const S inv_sqrt_2pi = S(0.3989422804014327);
  for (auto bit = blocks_.rbegin(); bit != blocks_.rend(); ++bit) {
    Block& blk = *bit;
    dz_.resize(B, L);
#pragma omp parallel for schedule(static) if (go_parallel(B * L))
    for (int64_t i = 0; i < B; ++i) {
      const auto z = blk.z.row(i).array();
      // GELU'(z) = Φ(z) + z φ(z)
      auto d = (d_h0_.row(i).array() *
                (S(0.5) * (S(1) + (z * S(M_SQRT1_2)).erf()) + z * inv_sqrt_2pi * (S(-0.5) * z * z).exp()))
                   .eval();
      if (drop) {
        const unsigned char* kept = blk.kept.data() + i * L;  // the forward's mask
        for (int64_t j = 0; j < L; ++j) d(j) = kept[j] ? d(j) * keep_scale : S(0);
      }
      dz_.row(i) = d.matrix();
    }
    if (blk.W->trainable) {
      ytmp_.resize(B, L);
#pragma omp parallel for schedule(static) if (go_parallel(B * L))
      for (int64_t i = 0; i < B; ++i)
        ytmp_.row(i) = blk.xhat.row(i).array() * blk.ln_g->value.row(0).array() + blk.ln_b->value.row(0).array();
      linalg::gemm(ytmp_, true, dz_, false, blk.W->grad);
    }
    if (blk.b->trainable) colsum(dz_, static_cast<const Mat<S>*>(nullptr), blk.b->grad);
    linalg::gemm(dz_, false, blk.W->value, true, dy_);
    layer_norm_backward(dy_, blk.xhat, blk.rstd, *blk.ln_g, *blk.ln_b, d_h0_, true);
  }
  const Adapter& a = adapters_.at(subject_);
  if (a.b->trainable) colsum(d_h0_, static_cast<const Mat<S>*>(nullptr), a.b->grad);
  if (a.W->trainable && materialize_adapter_grad) linalg::gemm(*x_, true, d_h0_, false, a.W->grad);
}

template <class S>
std::vector<Param<S>*> Encoder<S>::path_params(const std::string& subject) {
  std::vector<Param<S>*> out;
  for (Block& b : blocks_) out.insert(out.end(), {b.ln_g, b.ln_b, b.W, b.b});
  out.insert(out.end(), {lnf_g_, lnf_b_, head_W_, head_b_});
  const Adapter& a = adapters_.at(subject);
  out.insert(out.end(), {a.W, a.b});
  return out;
}

template class Encoder<float>;
template class Encoder<double>;

}  // namespace v2c::encoder
