#include "pipeline/models/encoder/trainer.h"

#include <algorithm>
#include <cmath>

#include "pipeline/core/error.h"
#include "pipeline/dist/collectives.h"
#include "pipeline/models/encoder/parallel.h"

namespace v2c::encoder {

namespace {
// Rows of the adapter updated per block by the fused gradient + AdamW pass: about
// kAdapterBlockElems elements, so that the block's gradient is still in cache for its update, and
// at least kAdapterBlockMinRows rows: each block's BLAS call packs all of G [B x L] again, a cost
// of 1/rows against the block's product. At 20000 voxels x latent 1024, one thread, 256 rows ran
// about 5% faster than 128 (4 interleaved rounds), with bitwise the same weights: each element of
// Xᵀ·G is one dot product over the batch whatever the rows (the blocks way's norm, a sum of
// per-block sums, could round differently).
constexpr int64_t kAdapterBlockElems = int64_t(1) << 17;
constexpr int64_t kAdapterBlockMinRows = 256;
int64_t adapter_block_rows(int64_t L) { return std::max(kAdapterBlockMinRows, kAdapterBlockElems / L); }
// AdapterNorm::automatic takes the Gram matrices when L >= kGramLatentPerRow · B: XXᵀ costs B²·p
// multiply-adds against Xᵀ·G's B·p·L, so at most 1/8 of it (1/16 with syrk's half).
constexpr int64_t kGramLatentPerRow = 8;
// The Gram way's X·Xᵀ in column chunks of at most kGramChunkCols voxels (the columns split evenly;
// one chunk at or below it), each chunk one syrk call, G·Gᵀ one more: tasks over the threads, the
// chunks' sums added in chunk order. The chunks depend on the voxel count alone, so the norm does
// not depend on the thread count. At 20000 voxels x batch 128, 2 threads: 29-30 µs per sample
// against 46-58 as one call on one thread.
constexpr int64_t kGramChunkCols = 4096;

// ⟨X[:, c0..c1)·X[:, c0..c1)ᵀ, G·Gᵀ⟩_F = ‖X[:, c0..c1)ᵀ·G‖²_F, X [B x p] and G [B x L] row-major.
template <class S>
double gram_norm(const Mat<S>& X, int64_t c0, int64_t c1, const Mat<S>& G) {
  const int64_t B = X.rows(), L = G.cols(), cols = c1 - c0;
  const int64_t n_chunks = std::max<int64_t>(1, (cols + kGramChunkCols - 1) / kGramChunkCols);
  const dist::EvenSplit chunks{cols, int(n_chunks)};
  std::vector<Mat<S>> part(size_t(n_chunks + 1), Mat<S>::Zero(B, B));  // each chunk's X·Xᵀ, then G·Gᵀ
  {
    const linalg::BlasThreads serial(1);
    run_tasks(n_chunks + 1, [&](int64_t task, int64_t) {
      S* out = part[size_t(task)].data();
      if (task == n_chunks)
        linalg::syrk_block(B, L, G.data(), L, out, B);
      else
        linalg::syrk_block(B, chunks.count(int(task)), X.data() + c0 + chunks.begin(int(task)), X.cols(), out, B);
    });
  }
  Mat<S>& gx = part[0];
  for (int64_t c = 1; c < n_chunks; ++c) gx += part[size_t(c)];
  Mat<S>& gg = part[size_t(n_chunks)];
  for (int64_t i = 0; i < B; ++i)
    for (int64_t j = 0; j < i; ++j) gx(i, j) = gx(j, i), gg(i, j) = gg(j, i);
  return (gx.template cast<double>().array() * gg.template cast<double>().array()).sum();
}
}  // namespace

template <class S>
Trainer<S>::Trainer(Encoder<S>& enc, const LossConfig& loss, const AdamWConfig& opt, uint64_t seed)
    : enc_(enc), comm_(&dist::serial()), loss_(loss), opt_(opt), rng_(seed) {
  loss_.validate();
  opt.validate();
}

template <class S>
void Trainer<S>::set_communicator(dist::Communicator& comm) {
  comm_ = &comm;
}

template <class S>
std::pair<int64_t, int64_t> Trainer<S>::adapter_rows(int64_t p, int64_t L, int rank) const {
  const int64_t rows = adapter_block_rows(L);
  const dist::EvenSplit blocks{(p + rows - 1) / rows, comm_->size()};
  return {std::min(p, blocks.begin(rank) * rows), std::min(p, blocks.begin(rank + 1) * rows)};
}

template <class S>
void Trainer<S>::allgather_adapter_rows(Mat<S>& M) {
  const int64_t p = M.rows(), L = M.cols();
  std::vector<int64_t> bytes(static_cast<size_t>(comm_->size()));
  for (int r = 0; r < comm_->size(); ++r) {
    const auto [r0, r1] = adapter_rows(p, L, r);
    bytes[size_t(r)] = (r1 - r0) * L * int64_t(sizeof(S));
  }
  comm_->allgatherv(M.data() + adapter_rows(p, L, comm_->rank()).first * L, M.data(), bytes);
}

template <class S>
void Trainer<S>::gather_optimizer_state() {
  if (comm_->size() == 1) return;
  for (const std::string& id : enc_.subjects()) {
    Param<S>& W = enc_.param("adapter/" + id + "/W");
    // Every rank allocates the moments at its first update of W (AdamW::begin), or none has.
    if (W.m.size() == 0) continue;
    allgather_adapter_rows(W.m);
    allgather_adapter_rows(W.v);
  }
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
  x_batch_ = x_in;
  // Data-parallel: this rank's rows forward, every rank's predictions gathered for the loss.
  const int N = comm_->size();
  const dist::EvenSplit split{B, N};
  const int64_t row0 = split.begin(comm_->rank()), n_rows = split.count(comm_->rank());
  if (N > 1) {
    x_rows_ = x_in->middleRows(row0, n_rows);
    const Mat<S>& Y_rows = enc_.forward(subject, x_rows_, true, &rng_, row0);
    y_all_.resize(B, D);
    dist::allgather_rows(*comm_, Y_rows.data(), y_all_.data(), split, D);
  }
  const Mat<S>& Y = N > 1 ? y_all_ : enc_.forward(subject, *x_in, true, &rng_);
  Param<S>& ls = enc_.param("loss/logit_scale");
  Param<S>& st = enc_.param("loss/siglip_t");
  Param<S>& sb = enc_.param("loss/siglip_b");
  const LossScalars<S> sc{ls.value(0, 0), st.value(0, 0), sb.value(0, 0)};
  LossScalars<S> dsc;
  const LossParts parts = loss_and_grad(loss_, Y, T, soft_, t_mix_, sc, with_grad ? &dY_ : nullptr, &dsc, &loss_ws_);
  if (!std::isfinite(parts.total))
    throw numerical_error("encoder training: loss is ", parts.total, " at step ", step_, " (subject ", subject, ")");
  if (with_grad) {
    if (N > 1) {
      dy_rows_ = dY_.middleRows(row0, n_rows);
      enc_.backward(dy_rows_, false);
    } else {
      enc_.backward(dY_, materialize);
    }
    // Loss scalars get a gradient only from the losses in use (otherwise AdamW leaves them alone).
    // Every rank computed the same whole-batch value; rank 0's alone enters the sum over ranks.
    const bool contributes = comm_->rank() == 0;
    auto set = [contributes](Param<S>& p, bool active, S g) {
      if (p.trainable && active)
        p.grad.setConstant(1, 1, contributes ? g : S(0));
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
  V2C_ASSERT(comm_->size() == 1, "Trainer::loss is for one process");
  return run(subject, X, T, with_grad, true);
}

template <class S>
LossParts Trainer<S>::train_step(const std::string& subject, const Mat<S>& X, const Mat<S>& T) {
  const LossParts parts = run(subject, X, T, true, false);
  // The parameters this batch reaches; the adapter's W gradient is computed below, in blocks (Xᵀ·G).
  std::vector<Param<S>*> path = enc_.path_params(subject);
  Param<S>* adapter_W = &enc_.param("adapter/" + subject + "/W");
  if (loss_.w_clip > 0) path.push_back(&enc_.param("loss/logit_scale"));
  if (loss_.w_siglip > 0) {
    path.push_back(&enc_.param("loss/siglip_t"));
    path.push_back(&enc_.param("loss/siglip_b"));
  }
  const int N = comm_->size();
  const Mat<S>& Xin = *x_batch_;
  if (N > 1) {
    // Gradients summed over ranks: rows of dloss/dh0 gathered, the explicit ones added in rank order.
    const dist::EvenSplit split{Xin.rows(), N};
    g_all_.resize(Xin.rows(), adapter_W->value.cols());
    dist::allgather_rows(*comm_, enc_.adapter_grad().data(), g_all_.data(), split, g_all_.cols());
    flat_.clear();
    for (Param<S>* p : path)
      if (p != adapter_W && p->trainable) flat_.insert(flat_.end(), p->grad.data(), p->grad.data() + p->grad.size());
    dist::sum_in_rank_order(*comm_, flat_.data(), int64_t(flat_.size()));
    const S* at = flat_.data();
    for (Param<S>* p : path)
      if (p != adapter_W && p->trainable) {
        std::copy(at, at + p->grad.size(), p->grad.data());
        at += p->grad.size();
      }
  }
  const Mat<S>& G = N > 1 ? g_all_ : enc_.adapter_grad();
  const int64_t p_vox = adapter_W->value.rows(), L = adapter_W->value.cols(), B = Xin.rows();
  const auto [own0, own1] = adapter_rows(p_vox, L, comm_->rank());
  const int64_t rows = adapter_block_rows(L);
  const int64_t first_block = own0 / rows, n_blocks = (own1 - own0 + rows - 1) / rows;
  const bool gram =
      adapter_norm_ == AdapterNorm::gram || (adapter_norm_ == AdapterNorm::automatic && L >= kGramLatentPerRow * B);
  double sq = 0;
  if (adapter_W->trainable && gram) {
    // ‖Xᵀ[own rows]·G‖²_F = ⟨X[:, own]·X[:, own]ᵀ, G·Gᵀ⟩_F; the gradient itself is computed below,
    // block by block inside the update.
    sq += gram_norm(Xin, own0, own1, G);
  } else if (adapter_W->trainable) {
    // This rank's rows of the adapter's gradient, Xᵀ[rows]·G, one fixed block per BLAS call on one
    // thread (so the result does not depend on the thread count), with each block's squared norm.
    adapter_grad_.resize(size_t((own1 - own0) * L));
    std::vector<double> block_sq(size_t(n_blocks), 0.0);
    const linalg::BlasThreads serial(1);
    run_tasks(n_blocks, [&](int64_t task, int64_t) {
      const int64_t r0 = (first_block + task) * rows, n = std::min(rows, own1 - r0);
      S* g = adapter_grad_.data() + (r0 - own0) * L;
      linalg::gemm_block(true, false, n, L, B, Xin.data() + r0, p_vox, G.data(), L, g, L);
      block_sq[size_t(task)] = sum_squares(g, n * L);
    });
    for (double b : block_sq) sq += b;
  }
  if (comm_->rank() == 0)
    for (Param<S>* p : path)
      if (p != adapter_W && p->trainable) sq += sum_squares(p->grad.data(), p->grad.size());
  dist::sum_in_rank_order(*comm_, &sq, 1);
  grad_norm_ = std::sqrt(std::max(sq, 0.0));
  const double clip = opt_.config().clip_norm;
  const double scale = clip > 0 ? std::min(1.0, clip / (grad_norm_ + 1e-6)) : 1.0;
  lr_ = opt_.lr_at(step_);
  for (Param<S>* p : path)
    if (p != adapter_W && p->trainable) opt_.update(*p, lr_, scale);
  if (adapter_W->trainable) {
    // Clipping + AdamW on this rank's rows of W, block by block (fixed blocks, any thread count).
    opt_.begin(*adapter_W);
    // gram: each block of the gradient is computed here, by the same call as the blocks way above,
    // and applied at once.
    if (gram) g_blocks_.resize(size_t(max_workers()));
    const linalg::BlasThreads serial(1);
    run_tasks(n_blocks, [&](int64_t task, int64_t worker) {
      const int64_t r0 = (first_block + task) * rows, n = std::min(rows, own1 - r0);
      const S* g = nullptr;
      if (gram) {
        Mat<S>& block = g_blocks_[size_t(worker)];
        block.resize(rows, L);
        linalg::gemm_block(true, false, n, L, B, Xin.data() + r0, p_vox, G.data(), L, block.data(), L);
        g = block.data();
      } else {
        g = adapter_grad_.data() + (r0 - own0) * L;
      }
      opt_.update_range(*adapter_W, r0 * L, n * L, g, lr_, scale);
    });
    if (N > 1) allgather_adapter_rows(adapter_W->value);
  }
  Param<S>& ls = enc_.param("loss/logit_scale");
  ls.value(0, 0) = std::clamp(ls.value(0, 0), S(0), S(loss_.max_logit_scale));
  ++step_;
  return parts;
}

template class Trainer<float>;
template class Trainer<double>;

}  // namespace v2c::encoder
