#include "pipeline/models/encoder.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>
#include <unsupported/Eigen/SpecialFunctions>

#include "pipeline/io/h5.h"

namespace v2c::encoder {

namespace {

// Element count above which elementwise / per-row work is spread over OpenMP threads. High on
// purpose: an OpenMP region just before a BLAS call leaves libgomp's workers spinning on the cores
// OpenBLAS's threads need, which costs far more than a [128 x 1024] LayerNorm done serially.
constexpr int64_t kParallelMin = int64_t(1) << 20;
// Rows of the adapter updated per block by the fused gradient + AdamW pass (× L elements).
constexpr int64_t kAdapterBlockElems = int64_t(1) << 17;
// Fixed chunk of the deterministic sums of squares.
constexpr int64_t kSumChunk = int64_t(1) << 16;

bool go_parallel(int64_t work) { return work >= kParallelMin && !omp_in_parallel(); }

// Runs fn(task, worker) for every task in [0, n_tasks), contiguous ranges of tasks on up to
// omp_get_max_threads() std::threads (worker 0 is the caller). Not OpenMP on purpose: libgomp's
// idle workers keep spinning after a region and would take the cores from the OpenBLAS calls of
// the next forward pass. Which tasks exist never depends on the thread count.
template <class F>
void run_tasks(int64_t n_tasks, F&& fn) {
  const int64_t n_workers = std::min<int64_t>(n_tasks, omp_in_parallel() ? 1 : std::max(1, omp_get_max_threads()));
  if (n_workers <= 1) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    for (int64_t k = 0; k < n_tasks; ++k) fn(k, 0);
    omp_set_num_threads(saved);
    return;
  }
  // Each worker is one thread: Eigen must not start OpenMP teams of its own inside (its parallel
  // GEMM spin-waits), so the OpenMP thread count of every worker is 1 while it runs.
  auto work = [&](int64_t w) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    for (int64_t k = w * n_tasks / n_workers; k < (w + 1) * n_tasks / n_workers; ++k) fn(k, w);
    omp_set_num_threads(saved);
  };
  std::vector<std::thread> pool;
  for (int64_t w = 1; w < n_workers; ++w) pool.emplace_back(work, w);
  work(0);
  for (auto& t : pool) t.join();
}

int max_workers() { return omp_in_parallel() ? 1 : std::max(1, omp_get_max_threads()); }

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Dropout keep test for element `idx` of the mask keyed by `key`: 24-bit uniform >= p.
inline bool keep(uint64_t key, uint64_t idx, uint32_t threshold) {
  return uint32_t(splitmix64(key ^ (idx * 0xD1B54A32D192ED03ull)) >> 40) >= threshold;
}

// out [1 x cols] = Σ_i A(i, :) (∘ B(i, :) when B is given); parallel over column blocks, so every
// column is summed in row order whatever the thread count.
template <class S>
void colsum(const Mat<S>& A, const Mat<S>* B, Mat<S>& out) {
  const int64_t rows = A.rows(), cols = A.cols();
  out.setZero(1, cols);
  constexpr int64_t kCols = 256;
  const int64_t n_blocks = (cols + kCols - 1) / kCols;
#pragma omp parallel for schedule(static) if (go_parallel(rows * cols))
  for (int64_t blk = 0; blk < n_blocks; ++blk) {
    const int64_t j0 = blk * kCols, n = std::min(kCols, cols - j0);
    auto acc = out.row(0).segment(j0, n);
    for (int64_t i = 0; i < rows; ++i) {
      if (B)
        acc.array() += A.row(i).segment(j0, n).array() * B->row(i).segment(j0, n).array();
      else
        acc += A.row(i).segment(j0, n);
    }
  }
}

// Σ x² in double over fixed chunks, chunk sums added in order (thread-count independent).
template <class S>
double sum_squares(const S* x, int64_t n) {
  const int64_t n_chunks = (n + kSumChunk - 1) / kSumChunk;
  std::vector<double> part(static_cast<size_t>(n_chunks), 0.0);
  auto chunk = [&](int64_t c, int64_t) {
    const int64_t i0 = c * kSumChunk, i1 = std::min(n, i0 + kSumChunk);
    double acc = 0;
    for (int64_t i = i0; i < i1; ++i) acc += double(x[i]) * double(x[i]);
    part[size_t(c)] = acc;
  };
  if (n >= kParallelMin)
    run_tasks(n_chunks, chunk);
  else
    for (int64_t c = 0; c < n_chunks; ++c) chunk(c, 0);
  double total = 0;
  for (double v : part) total += v;
  return total;
}

template <class S>
void add_row_bias(Mat<S>& M, const Mat<S>& b) {
#pragma omp parallel for schedule(static) if (go_parallel(M.size()))
  for (int64_t i = 0; i < M.rows(); ++i) M.row(i) += b.row(0);
}

// xhat = (h - μ)/σ per row, y = xhat ∘ g + β; rstd = 1/σ.
template <class S>
void layer_norm_forward(const Mat<S>& h, const Mat<S>& g, const Mat<S>& beta, Mat<S>& xhat, std::vector<S>& rstd,
                        Mat<S>& y) {
  const int64_t B = h.rows(), L = h.cols();
  xhat.resize(B, L);
  y.resize(B, L);
  rstd.resize(size_t(B));
#pragma omp parallel for schedule(static) if (go_parallel(h.size()))
  for (int64_t i = 0; i < B; ++i) {
    double mean = 0;
    for (int64_t j = 0; j < L; ++j) mean += double(h(i, j));
    mean /= double(L);
    double var = 0;
    for (int64_t j = 0; j < L; ++j) var += (double(h(i, j)) - mean) * (double(h(i, j)) - mean);
    var /= double(L);
    const S r = S(1.0 / std::sqrt(var + 1e-5));
    rstd[size_t(i)] = r;
    xhat.row(i) = (h.row(i).array() - S(mean)) * r;
    y.row(i) = xhat.row(i).array() * g.row(0).array() + beta.row(0).array();
  }
}

// dx = rstd ∘ (dx̂ - mean(dx̂) - x̂ ∘ mean(dx̂ ∘ x̂)) with dx̂ = dy ∘ g; gradients of g and β when trainable.
// accumulate: dx += ... instead of dx = ...
template <class S>
void layer_norm_backward(const Mat<S>& dy, const Mat<S>& xhat, const std::vector<S>& rstd, Param<S>& g,
                         Param<S>& beta, Mat<S>& dx, bool accumulate) {
  const int64_t B = dy.rows(), L = dy.cols();
  if (g.trainable) colsum(dy, &xhat, g.grad);
  if (beta.trainable) colsum(dy, static_cast<const Mat<S>*>(nullptr), beta.grad);
  if (!accumulate) dx.resize(B, L);
#pragma omp parallel for schedule(static) if (go_parallel(dy.size()))
  for (int64_t i = 0; i < B; ++i) {
    const auto dxh = (dy.row(i).array() * g.value.row(0).array()).eval();
    const S a = S(dxh.template cast<double>().sum() / double(L));
    const S c = S((dxh * xhat.row(i).array()).template cast<double>().sum() / double(L));
    const auto r = (rstd[size_t(i)] * (dxh - a - xhat.row(i).array() * c)).eval();
    if (accumulate)
      dx.row(i).array() += r;
    else
      dx.row(i) = r.matrix();
  }
}

// log σ(x), stable for any x.
double log_sigmoid(double x) { return x >= 0 ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x)); }
double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x)); }

}  // namespace

// ---- Rng ---------------------------------------------------------------------------------

Rng::Rng(uint64_t seed) {
  uint64_t x = seed;
  for (auto& w : s_) {
    x += 0x9E3779B97F4A7C15ull;
    w = splitmix64(x);
  }
}

uint64_t Rng::next() {
  auto rotl = [](uint64_t v, int k) { return (v << k) | (v >> (64 - k)); };
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() { return double(next() >> 11) * 0x1.0p-53; }

double Rng::normal() {
  const double u1 = 1.0 - uniform(), u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

double Rng::gamma(double shape) {
  if (shape < 1.0) {  // Gamma(a) = Gamma(a + 1) · U^(1/a)
    const double g = gamma(shape + 1.0);
    return g * std::pow(1.0 - uniform(), 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x, v;
    do {
      x = normal();
      v = 1.0 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const double u = uniform();
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

double Rng::beta(double a, double b) {
  const double x = gamma(a), y = gamma(b);
  return x + y > 0 ? x / (x + y) : 0.5;
}

// ---- configs -----------------------------------------------------------------------------

void EncoderConfig::validate() const {
  if (latent < 1) throw usage_error("encoder.latent = ", latent, ": must be >= 1");
  if (n_blocks < 0) throw usage_error("encoder.n_blocks = ", n_blocks, ": must be >= 0");
  if (!(dropout >= 0 && dropout < 1)) throw usage_error("encoder.dropout = ", dropout, ": must be in [0, 1)");
  if (clip_dim < 1) throw usage_error("encoder.clip_dim = ", clip_dim, ": must be >= 1");
}

void LossConfig::validate() const {
  for (auto [name, w] : {std::pair{"w_clip", w_clip}, {"w_siglip", w_siglip}, {"w_mse", w_mse}, {"w_cos", w_cos}})
    if (!(w >= 0 && std::isfinite(w))) throw usage_error("loss.", name, " = ", w, ": must be finite and >= 0");
  if (w_clip + w_siglip + w_mse + w_cos <= 0) throw usage_error("loss: every weight is 0; give at least one > 0");
  if (!(mixco_fraction >= 0 && mixco_fraction <= 1))
    throw usage_error("loss.mixco_fraction = ", mixco_fraction, ": must be in [0, 1]");
  if (!(mixco_alpha > 0)) throw usage_error("loss.mixco_alpha = ", mixco_alpha, ": must be > 0");
  if (!(mixco_prob >= 0 && mixco_prob <= 1))
    throw usage_error("loss.mixco_prob = ", mixco_prob, ": must be in [0, 1]");
}

void AdamWConfig::validate() const {
  if (!(lr > 0)) throw usage_error("optimizer.lr = ", lr, ": must be > 0");
  if (!(beta1 >= 0 && beta1 < 1)) throw usage_error("optimizer.beta1 = ", beta1, ": must be in [0, 1)");
  if (!(beta2 >= 0 && beta2 < 1)) throw usage_error("optimizer.beta2 = ", beta2, ": must be in [0, 1)");
  if (!(eps > 0)) throw usage_error("optimizer.eps = ", eps, ": must be > 0");
  if (!(weight_decay >= 0)) throw usage_error("optimizer.weight_decay = ", weight_decay, ": must be >= 0");
  if (warmup_steps < 0) throw usage_error("optimizer.warmup_steps = ", warmup_steps, ": must be >= 0");
  if (total_steps < 1) throw usage_error("optimizer.total_steps = ", total_steps, ": must be >= 1");
  if (!(min_lr >= 0 && min_lr <= lr)) throw usage_error("optimizer.min_lr = ", min_lr, ": must be in [0, lr]");
  if (!(clip_norm >= 0)) throw usage_error("optimizer.clip_norm = ", clip_norm, ": must be >= 0 (0 = off)");
}

// ---- Encoder -----------------------------------------------------------------------------

template <class S>
Param<S>* Encoder<S>::add_param(const std::string& name, int64_t rows, int64_t cols, bool decay) {
  V2C_ASSERT(!by_name_.count(name), "duplicate parameter ", name);
  auto p = std::make_unique<Param<S>>();
  p->name = name;
  p->value.setZero(rows, cols);
  p->decay = decay;
  Param<S>* raw = p.get();
  params_.push_back(std::move(p));
  by_name_[name] = raw;
  return raw;
}

namespace {
template <class S>
void fill_uniform(Mat<S>& m, double bound, Rng& rng) {
  for (int64_t i = 0; i < m.size(); ++i) m.data()[i] = S((2.0 * rng.uniform() - 1.0) * bound);
}
}  // namespace

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
  auto it = by_name_.find(name);
  if (it == by_name_.end()) throw input_error("encoder: no parameter named '", name, "'");
  return *it->second;
}
template <class S>
const Param<S>& Encoder<S>::param(const std::string& name) const {
  return const_cast<Encoder<S>*>(this)->param(name);
}

template <class S>
std::vector<Param<S>*> Encoder<S>::params() {
  std::vector<Param<S>*> out;
  for (auto& p : params_) out.push_back(p.get());
  return out;
}
template <class S>
std::vector<const Param<S>*> Encoder<S>::params() const {
  std::vector<const Param<S>*> out;
  for (auto& p : params_) out.push_back(p.get());
  return out;
}

template <class S>
int Encoder<S>::set_trainable(const std::string& prefix, bool trainable) {
  int n = 0;
  for (auto& p : params_) {
    if (p->name.compare(0, prefix.size(), prefix) != 0) continue;
    p->trainable = trainable;
    if (!trainable) {
      p->grad.resize(0, 0);
      p->m.resize(0, 0);
      p->v.resize(0, 0);
    }
    ++n;
  }
  return n;
}

template <class S>
const Mat<S>& Encoder<S>::forward(const std::string& subject, const Mat<S>& X, bool train, Rng* rng) {
  auto it = adapters_.find(subject);
  if (it == adapters_.end()) throw input_error("encoder forward: no adapter for subject '", subject, "'");
  const Adapter& a = it->second;
  if (X.cols() != a.W->value.rows())
    throw input_error("encoder forward: subject '", subject, "' has ", a.W->value.rows(), " voxels; X has ",
                      X.cols(), " columns");
  const bool drop = train && cfg_.dropout > 0;
  V2C_ASSERT(!drop || rng, "forward in train mode needs an Rng");
  x_ = &X;
  subject_ = subject;
  train_ = train;
  const int64_t B = X.rows(), L = cfg_.latent;
  linalg::gemm(X, false, a.W->value, false, h_);
  add_row_bias(h_, a.b->value);

  const uint32_t threshold = uint32_t(std::lround(cfg_.dropout * double(1u << 24)));
  const S keep_scale = S(1.0 / (1.0 - cfg_.dropout));
  for (Block& blk : blocks_) {
    layer_norm_forward(h_, blk.ln_g->value, blk.ln_b->value, blk.xhat, blk.rstd, y_);
    linalg::gemm(y_, false, blk.W->value, false, blk.z);
    blk.key = drop ? rng->next() : 0;
#pragma omp parallel for schedule(static) if (go_parallel(B * L))
    for (int64_t i = 0; i < B; ++i) {
      blk.z.row(i) += blk.b->value.row(0);
      const auto z = blk.z.row(i).array();
      auto act = (S(0.5) * z * (S(1) + (z * S(M_SQRT1_2)).erf())).eval();
      if (drop) {
        for (int64_t j = 0; j < L; ++j)
          act(j) = keep(blk.key, uint64_t(i * L + j), threshold) ? act(j) * keep_scale : S(0);
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
  const uint32_t threshold = uint32_t(std::lround(cfg_.dropout * double(1u << 24)));
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
        for (int64_t j = 0; j < L; ++j)
          d(j) = keep(blk.key, uint64_t(i * L + j), threshold) ? d(j) * keep_scale : S(0);
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

// ---- losses ------------------------------------------------------------------------------

template <class S>
LossParts loss_and_grad(const LossConfig& cfg, const Mat<S>& P, const Mat<S>& Tc, const Mat<S>& soft,
                        const Mat<S>& mse_target, const LossScalars<S>& sc, Mat<S>* dP, LossScalars<S>* dsc) {
  const int64_t B = P.rows(), D = P.cols();
  V2C_ASSERT(Tc.rows() == B && Tc.cols() == D, "target ", Tc.rows(), " x ", Tc.cols(), " vs pred ", B, " x ", D);
  V2C_ASSERT(soft.size() == 0 || (soft.rows() == B && soft.cols() == B), "soft labels must be B x B");
  const Mat<S>& Tm = mse_target.size() ? mse_target : Tc;
  V2C_ASSERT(Tm.rows() == B && Tm.cols() == D, "mse target shape");
  LossParts parts;
  if (dP) dP->setZero(B, D);
  if (dsc) *dsc = LossScalars<S>{};
  auto q = [&](int64_t i, int64_t j) { return soft.size() ? double(soft(i, j)) : (i == j ? 1.0 : 0.0); };

  if (cfg.w_clip > 0 || cfg.w_siglip > 0) {
    Mat<S> Pn(B, D), Tn(B, D);
    std::vector<double> pnorm(static_cast<size_t>(B));
    for (int64_t i = 0; i < B; ++i) {
      pnorm[size_t(i)] = std::max(double(P.row(i).template cast<double>().norm()), 1e-12);
      Pn.row(i) = P.row(i) / S(pnorm[size_t(i)]);
      Tn.row(i) = Tc.row(i) / S(std::max(double(Tc.row(i).template cast<double>().norm()), 1e-12));
    }
    Mat<S> sim;
    linalg::gemm(Pn, false, Tn, true, sim);  // [B x B] cosine similarities
    Mat<double> dsim = Mat<double>::Zero(B, B);
    if (cfg.w_clip > 0) {
      const bool clamped = double(sc.logit_scale) > cfg.max_logit_scale;
      const double scale = std::exp(std::min(double(sc.logit_scale), cfg.max_logit_scale));
      Mat<double> logits = sim.template cast<double>() * scale, dl = Mat<double>::Zero(B, B);
      double loss_rows = 0, loss_cols = 0;
      for (int64_t i = 0; i < B; ++i) {  // prediction i over targets
        const double mx = logits.row(i).maxCoeff();
        const double lse = mx + std::log((logits.row(i).array() - mx).exp().sum());
        double qsum = 0;
        for (int64_t j = 0; j < B; ++j) {
          loss_rows -= q(i, j) * (logits(i, j) - lse);
          qsum += q(i, j);
        }
        for (int64_t j = 0; j < B; ++j) dl(i, j) += std::exp(logits(i, j) - lse) * qsum - q(i, j);
      }
      for (int64_t j = 0; j < B; ++j) {  // target j over predictions
        const double mx = logits.col(j).maxCoeff();
        const double lse = mx + std::log((logits.col(j).array() - mx).exp().sum());
        double qsum = 0;
        for (int64_t i = 0; i < B; ++i) {
          loss_cols -= q(i, j) * (logits(i, j) - lse);
          qsum += q(i, j);
        }
        for (int64_t i = 0; i < B; ++i) dl(i, j) += std::exp(logits(i, j) - lse) * qsum - q(i, j);
      }
      parts.clip = (loss_rows + loss_cols) / (2.0 * double(B));
      dl /= 2.0 * double(B);
      dsim += cfg.w_clip * scale * dl;
      if (dsc && !clamped) dsc->logit_scale = S(cfg.w_clip * (dl.array() * logits.array()).sum());
    }
    if (cfg.w_siglip > 0) {
      const double t = std::exp(double(sc.siglip_t)), b = double(sc.siglip_b);
      double loss = 0, dt = 0, db = 0;
      for (int64_t i = 0; i < B; ++i)
        for (int64_t j = 0; j < B; ++j) {
          const double l = t * double(sim(i, j)) + b, y = q(i, j);
          loss -= y * log_sigmoid(l) + (1.0 - y) * log_sigmoid(-l);
          const double d = (sigmoid(l) - y) / double(B);
          dsim(i, j) += cfg.w_siglip * t * d;
          dt += d * t * double(sim(i, j));
          db += d;
        }
      parts.siglip = loss / double(B);
      if (dsc) {
        dsc->siglip_t = S(cfg.w_siglip * dt);
        dsc->siglip_b = S(cfg.w_siglip * db);
      }
    }
    if (dP) {
      Mat<S> dsim_s = dsim.template cast<S>(), dPn;
      linalg::gemm(dsim_s, false, Tn, false, dPn);
      for (int64_t i = 0; i < B; ++i) {
        const S proj = Pn.row(i).dot(dPn.row(i));
        dP->row(i) += (dPn.row(i) - proj * Pn.row(i)) / S(pnorm[size_t(i)]);
      }
    }
  }
  if (cfg.w_mse > 0) {
    double s = 0;
    for (int64_t i = 0; i < B; ++i) s += (P.row(i) - Tm.row(i)).template cast<double>().squaredNorm();
    parts.mse = s / double(B * D);
    if (dP) *dP += S(cfg.w_mse * 2.0 / double(B * D)) * (P - Tm);
  }
  if (cfg.w_cos > 0) {
    double s = 0;
    for (int64_t i = 0; i < B; ++i) {
      const double np = std::max(double(P.row(i).template cast<double>().norm()), 1e-8);
      const double nt = std::max(double(Tm.row(i).template cast<double>().norm()), 1e-8);
      const double c = double(P.row(i).template cast<double>().dot(Tm.row(i).template cast<double>())) / (np * nt);
      s += 1.0 - c;
      if (dP)
        dP->row(i) -= S(cfg.w_cos / double(B)) *
                      ((Tm.row(i) / S(nt) - S(c) * P.row(i) / S(np)) / S(np));
    }
    parts.cos = s / double(B);
  }
  parts.total = cfg.w_clip * parts.clip + cfg.w_siglip * parts.siglip + cfg.w_mse * parts.mse + cfg.w_cos * parts.cos;
  return parts;
}

// ---- AdamW -------------------------------------------------------------------------------

template <class S>
double AdamW<S>::lr_at(int64_t step) const {
  if (step < cfg_.warmup_steps) return cfg_.lr * double(step + 1) / double(cfg_.warmup_steps);
  const double span = double(std::max<int64_t>(1, cfg_.total_steps - cfg_.warmup_steps));
  const double progress = std::min(1.0, double(step - cfg_.warmup_steps) / span);
  return cfg_.min_lr + (cfg_.lr - cfg_.min_lr) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

template <class S>
void AdamW<S>::begin(Param<S>& p) const {
  V2C_ASSERT(p.trainable, "AdamW update of frozen parameter ", p.name);
  if (p.m.size() != p.value.size()) {
    p.m.setZero(p.value.rows(), p.value.cols());
    p.v.setZero(p.value.rows(), p.value.cols());
  }
  ++p.steps;
}

template <class S>
void AdamW<S>::update_range(Param<S>& p, int64_t offset, int64_t count, const S* grad, double lr,
                            double grad_scale) const {
  const double t = double(p.steps);
  const double bc1 = 1.0 - std::pow(cfg_.beta1, t), bc2 = 1.0 - std::pow(cfg_.beta2, t);
  const S step_size = S(lr / bc1), inv_sqrt_bc2 = S(1.0 / std::sqrt(bc2)), eps = S(cfg_.eps);
  const S decay = p.decay ? S(1.0 - lr * cfg_.weight_decay) : S(1);
  const S b1 = S(cfg_.beta1), b2 = S(cfg_.beta2), c1 = S(1.0 - cfg_.beta1), c2 = S(1.0 - cfg_.beta2);
  const S gs = S(grad_scale);
  using Arr = Eigen::Array<S, Eigen::Dynamic, 1>;
  // One pass: short segments (L1-resident) through three vectorised Eigen statements.
  constexpr int64_t kSeg = 512;
  for (int64_t i0 = 0; i0 < count; i0 += kSeg) {
    const int64_t n = std::min(kSeg, count - i0);
    Eigen::Map<Arr> w(p.value.data() + offset + i0, n), m(p.m.data() + offset + i0, n),
        v(p.v.data() + offset + i0, n);
    const Eigen::Map<const Arr> g(grad + i0, n);
    m = b1 * m + c1 * gs * g;
    v = b2 * v + c2 * (gs * g).square();
    w = w * decay - step_size * m / (v.sqrt() * inv_sqrt_bc2 + eps);
  }
}

template <class S>
void AdamW<S>::update(Param<S>& p, double lr, double grad_scale) const {
  V2C_ASSERT(p.grad.size() == p.value.size(), "AdamW: ", p.name, " has no gradient");
  begin(p);
  const int64_t n = p.value.size();
  if (n < kParallelMin) {
    update_range(p, 0, n, p.grad.data(), lr, grad_scale);
    return;
  }
  const int64_t n_tasks = (n + kSumChunk - 1) / kSumChunk;
  run_tasks(n_tasks, [&](int64_t k, int64_t) {
    const int64_t i0 = k * kSumChunk, len = std::min(kSumChunk, n - i0);
    update_range(p, i0, len, p.grad.data() + i0, lr, grad_scale);
  });
}

// ---- Trainer -----------------------------------------------------------------------------

template <class S>
Trainer<S>::Trainer(Encoder<S>& enc, const LossConfig& loss, const AdamWConfig& opt, uint64_t seed)
    : enc_(enc), loss_(loss), opt_(opt), rng_(seed) {
  loss_.validate();
  opt.validate();
}

template <class S>
LossParts Trainer<S>::run(const std::string& subject, const Mat<S>& X, const Mat<S>& T, bool with_grad,
                          bool materialize) {
  const int64_t B = X.rows(), D = enc_.config().clip_dim;
  if (T.rows() != B || T.cols() != D)
    throw input_error("encoder training: targets are ", T.rows(), " x ", T.cols(), "; expected ", B, " x ", D,
                      " (batch x clip_dim)");
  if (B < 1) throw input_error("encoder training: empty batch");
  const bool mix = loss_.mixco && double(step_) < loss_.mixco_fraction * double(opt_.config().total_steps);
  const Mat<S>* x_in = &X;
  soft_.resize(0, 0);
  t_mix_.resize(0, 0);
  if (mix) {
    std::vector<int64_t> perm(static_cast<size_t>(B));
    for (int64_t i = 0; i < B; ++i) perm[size_t(i)] = i;
    for (int64_t i = B - 1; i > 0; --i) std::swap(perm[size_t(i)], perm[size_t(rng_.next() % uint64_t(i + 1))]);
    std::vector<S> lambda(static_cast<size_t>(B), S(1));
    for (int64_t i = 0; i < B; ++i)
      if (rng_.uniform() < loss_.mixco_prob) lambda[size_t(i)] = S(rng_.beta(loss_.mixco_alpha, loss_.mixco_alpha));
    x_mix_.resize(B, X.cols());
    t_mix_.resize(B, D);
    soft_.setZero(B, B);
#pragma omp parallel for schedule(static) if (go_parallel(X.size()))
    for (int64_t i = 0; i < B; ++i) {
      const S l = lambda[size_t(i)];
      const int64_t k = perm[size_t(i)];
      x_mix_.row(i) = l * X.row(i) + (S(1) - l) * X.row(k);
      t_mix_.row(i) = l * T.row(i) + (S(1) - l) * T.row(k);
    }
    for (int64_t i = 0; i < B; ++i) {
      soft_(i, i) += lambda[size_t(i)];
      soft_(i, perm[size_t(i)]) += S(1) - lambda[size_t(i)];
    }
    x_in = &x_mix_;
  }
  const Mat<S>& Y = enc_.forward(subject, *x_in, true, &rng_);
  Param<S>& ls = enc_.param("loss/logit_scale");
  Param<S>& st = enc_.param("loss/siglip_t");
  Param<S>& sb = enc_.param("loss/siglip_b");
  const LossScalars<S> sc{ls.value(0, 0), st.value(0, 0), sb.value(0, 0)};
  LossScalars<S> dsc;
  const LossParts parts = loss_and_grad(loss_, Y, T, soft_, t_mix_, sc, with_grad ? &dY_ : nullptr, &dsc);
  if (!std::isfinite(parts.total))
    throw numerical_error("encoder training: loss is ", parts.total, " at step ", step_, " (subject ", subject, ")");
  if (with_grad) {
    enc_.backward(dY_, materialize);
    // Loss scalars get a gradient only from the losses in use (otherwise AdamW leaves them alone).
    auto set = [](Param<S>& p, bool active, S g) {
      if (p.trainable && active)
        p.grad.setConstant(1, 1, g);
      else
        p.grad.resize(0, 0);
    };
    set(ls, loss_.w_clip > 0, dsc.logit_scale);
    set(st, loss_.w_siglip > 0, dsc.siglip_t);
    set(sb, loss_.w_siglip > 0, dsc.siglip_b);
  }
  return parts;
}

template <class S>
LossParts Trainer<S>::loss(const std::string& subject, const Mat<S>& X, const Mat<S>& T, bool with_grad) {
  return run(subject, X, T, with_grad, true);
}

template <class S>
LossParts Trainer<S>::train_step(const std::string& subject, const Mat<S>& X, const Mat<S>& T) {
  const LossParts parts = run(subject, X, T, true, false);
  // The parameters this batch reaches; the adapter's W gradient stays implicit (Xᵀ·G).
  std::vector<Param<S>*> path = enc_.path_params(subject);
  Param<S>* adapter_W = &enc_.param("adapter/" + subject + "/W");
  if (loss_.w_clip > 0) path.push_back(&enc_.param("loss/logit_scale"));
  if (loss_.w_siglip > 0) {
    path.push_back(&enc_.param("loss/siglip_t"));
    path.push_back(&enc_.param("loss/siglip_b"));
  }
  const Mat<S>& Xin = enc_.last_input();
  const Mat<S>& G = enc_.adapter_grad();
  double sq = 0;
  if (adapter_W->trainable) {  // ‖XᵀG‖²_F = ⟨XXᵀ, GGᵀ⟩_F
    const Mat<S> gx = linalg::gram(Xin), gg = linalg::gram(G);
    sq += (gx.template cast<double>().array() * gg.template cast<double>().array()).sum();
  }
  for (Param<S>* p : path)
    if (p != adapter_W && p->trainable) sq += sum_squares(p->grad.data(), p->grad.size());
  grad_norm_ = std::sqrt(std::max(sq, 0.0));
  const double clip = opt_.config().clip_norm;
  const double scale = clip > 0 ? std::min(1.0, clip / (grad_norm_ + 1e-6)) : 1.0;
  lr_ = opt_.lr_at(step_);
  for (Param<S>* p : path)
    if (p != adapter_W && p->trainable) opt_.update(*p, lr_, scale);
  if (adapter_W->trainable) {
    // Row blocks of the gradient, each computed and applied to AdamW while in cache; the blocks are
    // fixed, so the result does not depend on the thread count.
    const int64_t p = adapter_W->value.rows(), L = adapter_W->value.cols();
    const int64_t rows = std::max<int64_t>(1, kAdapterBlockElems / L);
    const int64_t n_blocks = (p + rows - 1) / rows;
    opt_.begin(*adapter_W);
    g_blocks_.resize(size_t(max_workers()));
    run_tasks(n_blocks, [&](int64_t blk, int64_t worker) {
      Mat<S>& g_block = g_blocks_[size_t(worker)];
      g_block.resize(rows, L);
      const int64_t r0 = blk * rows, n = std::min(rows, p - r0);
      auto g = g_block.topRows(n);
      g.noalias() = Xin.middleCols(r0, n).transpose() * G;  // Eigen's kernel on this thread
      opt_.update_range(*adapter_W, r0 * L, n * L, g_block.data(), lr_, scale);
    });
  }
  Param<S>& ls = enc_.param("loss/logit_scale");
  ls.value(0, 0) = std::clamp(ls.value(0, 0), S(0), S(loss_.max_logit_scale));
  ++step_;
  return parts;
}

// ---- checkpoints -------------------------------------------------------------------------

namespace {
constexpr int kCheckpointVersion = 1;
const char* kCheckpointKind = "encoder_checkpoint";
template <class S>
const char* scalar_name() {
  return sizeof(S) == 4 ? "float32" : "float64";
}
}  // namespace

template <class S>
void save_checkpoint(const std::string& path, const Trainer<S>& tr, const Provenance& prov, bool force) {
  with_context(cat("writing encoder checkpoint '", path, "'"), [&] {
    h5::ArtifactWriter w(path, kCheckpointKind, kCheckpointVersion, prov, force);
    const Encoder<S>& enc = tr.encoder();
    std::vector<std::string> names;
    std::vector<int32_t> trainable, has_moments;
    std::vector<int64_t> steps;
    for (const Param<S>* p : enc.params()) {
      names.push_back(p->name);
      trainable.push_back(p->trainable ? 1 : 0);
      has_moments.push_back(p->m.size() ? 1 : 0);
      steps.push_back(p->steps);
      w.write("params/" + p->name, p->value);
      if (p->m.size()) {
        w.write("adam_m/" + p->name, p->m);
        w.write("adam_v/" + p->name, p->v);
      }
    }
    w.write("param_names", names);
    w.write("param_trainable", trainable);
    w.write("param_has_moments", has_moments);
    w.write("param_steps", steps);
    std::vector<int64_t> rng;
    for (uint64_t s : const_cast<Trainer<S>&>(tr).rng().state()) rng.push_back(int64_t(s));
    w.write("trainer/rng_state", rng);
    w.write("trainer/step", std::vector<int64_t>{tr.step()});
    const EncoderConfig& ec = enc.config();
    const AdamWConfig& oc = tr.optimizer().config();
    w.attr("/", "scalar_type", std::string(scalar_name<S>()));
    w.attr("/", "latent", int64_t(ec.latent));
    w.attr("/", "n_blocks", int64_t(ec.n_blocks));
    w.attr("/", "clip_dim", int64_t(ec.clip_dim));
    w.attr("/", "dropout", ec.dropout);
    w.attr("/", "lr", oc.lr);
    w.attr("/", "min_lr", oc.min_lr);
    w.attr("/", "warmup_steps", int64_t(oc.warmup_steps));
    w.attr("/", "total_steps", int64_t(oc.total_steps));
    w.commit();
  });
}

template <class S>
void load_checkpoint(const std::string& path, Trainer<S>& tr) {
  with_context(cat("reading encoder checkpoint '", path, "'"), [&] {
    h5::ArtifactReader r(path, kCheckpointKind, kCheckpointVersion);
    if (r.format_version() != kCheckpointVersion)
      throw input_error("format version ", r.format_version(), "; this vox2clip reads version ", kCheckpointVersion);
    const std::string scalar = r.attr_string("/", "scalar_type");
    if (scalar != scalar_name<S>())
      throw input_error("parameters are ", scalar, "; this model uses ", scalar_name<S>());
    Encoder<S>& enc = tr.encoder();
    const EncoderConfig& ec = enc.config();
    const AdamWConfig& oc = tr.optimizer().config();
    auto check = [&](const char* field, double found, double expected) {
      if (found != expected)
        throw input_error(field, " is ", found, " in the checkpoint; this model has ", expected);
    };
    check("latent", r.attr_double("/", "latent"), ec.latent);
    check("n_blocks", r.attr_double("/", "n_blocks"), ec.n_blocks);
    check("clip_dim", r.attr_double("/", "clip_dim"), ec.clip_dim);
    check("optimizer lr", r.attr_double("/", "lr"), oc.lr);
    check("optimizer min_lr", r.attr_double("/", "min_lr"), oc.min_lr);
    check("optimizer warmup_steps", r.attr_double("/", "warmup_steps"), double(oc.warmup_steps));
    check("optimizer total_steps", r.attr_double("/", "total_steps"), double(oc.total_steps));
    const auto names = r.read_strings("param_names");
    const auto trainable = r.read_ints("param_trainable");
    const auto has_moments = r.read_ints("param_has_moments");
    const auto steps = r.read_ints("param_steps");
    if (trainable.size() != names.size() || has_moments.size() != names.size() || steps.size() != names.size())
      throw input_error("param_names has ", names.size(), " entries but the per-parameter lists differ in length");
    if (names.size() != enc.params().size())
      throw input_error("holds ", names.size(), " parameters; this model has ", enc.params().size(),
                        " (different subjects or architecture)");
    auto read = [&](const std::string& name) -> Mat<S> {
      if constexpr (sizeof(S) == 4)
        return r.read_matrix_f(name);
      else
        return r.read_matrix_d(name);
    };
    for (size_t k = 0; k < names.size(); ++k) {
      if (!enc.has_param(names[k])) throw input_error("has parameter '", names[k], "' that this model lacks");
      Param<S>& p = enc.param(names[k]);
      Mat<S> value = read("params/" + names[k]);
      if (value.rows() != p.value.rows() || value.cols() != p.value.cols())
        throw input_error("parameter '", names[k], "' is ", value.rows(), " x ", value.cols(), "; this model has ",
                          p.value.rows(), " x ", p.value.cols());
      p.value = std::move(value);
      p.trainable = trainable[k] != 0;
      p.steps = steps[k];
      p.grad.resize(0, 0);
      if (has_moments[k]) {
        p.m = read("adam_m/" + names[k]);
        p.v = read("adam_v/" + names[k]);
        if (p.m.size() != p.value.size() || p.v.size() != p.value.size())
          throw input_error("AdamW moments of '", names[k], "' do not match its shape");
        p.m.resize(p.value.rows(), p.value.cols());
        p.v.resize(p.value.rows(), p.value.cols());
      } else {
        p.m.resize(0, 0);
        p.v.resize(0, 0);
      }
    }
    const auto rng = r.read_ints("trainer/rng_state");
    const auto step = r.read_ints("trainer/step");
    if (rng.size() != 4 || step.size() != 1) throw input_error("trainer state is malformed");
    std::array<uint64_t, 4> state;
    for (int i = 0; i < 4; ++i) state[size_t(i)] = uint64_t(rng[size_t(i)]);
    tr.rng().set_state(state);
    tr.set_step(step[0]);
  });
}

#define V2C_ENCODER_INSTANTIATE(S)                                                                                 \
  template class Encoder<S>;                                                                                     \
  template class AdamW<S>;                                                                                       \
  template class Trainer<S>;                                                                                     \
  template LossParts loss_and_grad<S>(const LossConfig&, const Mat<S>&, const Mat<S>&, const Mat<S>&,            \
                                      const Mat<S>&, const LossScalars<S>&, Mat<S>*, LossScalars<S>*);           \
  template void save_checkpoint<S>(const std::string&, const Trainer<S>&, const Provenance&, bool);              \
  template void load_checkpoint<S>(const std::string&, Trainer<S>&);

V2C_ENCODER_INSTANTIATE(float)
V2C_ENCODER_INSTANTIATE(double)

}  // namespace v2c::encoder
