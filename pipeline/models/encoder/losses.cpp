#include "pipeline/models/encoder/losses.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "pipeline/core/error.h"
#include "pipeline/core/rng.h"
#include "pipeline/models/encoder/parallel.h"

namespace v2c::encoder {

using linalg::Mat;

namespace {

// log σ(x), stable for any x.
double log_sigmoid(double x) { return x >= 0 ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x)); }
double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x)); }

// One direction of the symmetric InfoNCE: -Σ_k Σ_m q(k, m) log softmax over row k of `logits`
// [B x B], its gradient p(k, m)·Σ_m q(k, m) - q(k, m) added to dl (the columns' direction passes
// the transposes). keep(k, m) is 1 where the entry takes part in the softmax and 0 where it is
// masked (its label must be 0); empty keep = every entry; empty q = the identity (hard labels).
// One exp per entry, vectorised over the row: p = e / Σe with e = exp(l - max).
double softmax_cross_entropy(const Mat<double>& logits, const Mat<double>& q, const Mat<double>& keep,
                             Mat<double>& dl) {
  const int64_t B = logits.rows();
  Eigen::Array<double, 1, Eigen::Dynamic> e(B);
  double loss = 0;
  for (int64_t k = 0; k < B; ++k) {
    const auto l = logits.row(k).array();
    const double mx = keep.size()
                          ? (keep.row(k).array() != 0.0).select(l, -std::numeric_limits<double>::infinity()).maxCoeff()
                          : l.maxCoeff();
    e = (l - mx).exp();
    if (keep.size()) e *= keep.row(k).array();
    const double sum = e.sum(), lse = mx + std::log(sum);
    if (q.size() == 0) {
      loss -= l(k) - lse;
      dl.row(k).array() += e * (1.0 / sum);
      dl(k, k) -= 1.0;
      continue;
    }
    const auto qk = q.row(k).array();
    loss -= (qk * (l - lse)).sum();  // masked entries: q = 0, l finite
    dl.row(k).array() += e * (qk.sum() / sum) - qk;
  }
  return loss;
}

// A hash of n values under which values that compare equal hash equally (+0 and -0 alike): four
// independent FNV-1a lanes (value i into lane i mod 4), so the multiplications do not wait on
// each other, then mixed.
template <class S>
uint64_t value_hash(const S* x, int64_t n) {
  constexpr int kLanes = 4;
  uint64_t h[kLanes] = {0xcbf29ce484222325ull, 0xcbf29ce484222325ull ^ 1, 0xcbf29ce484222325ull ^ 2,
                        0xcbf29ce484222325ull ^ 3};
  const auto mix = [&](int lane, S value) {
    const double v = double(value) + 0.0;  // -0 + 0 = +0: equal values, equal bits
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof(bits));
    h[lane] = (h[lane] ^ bits) * 0x100000001b3ull;
  };
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int k = 0; k < kLanes; ++k) mix(k, x[i + k]);
  for (; i < n; ++i) mix(int(i % kLanes), x[i]);
  uint64_t out = 0;
  for (uint64_t lane : h) out = rng::splitmix64(out ^ lane);
  return out;
}

}  // namespace

template <class S>
LossParts loss_and_grad(const LossConfig& cfg, const Mat<S>& P, const Mat<S>& Tc, const Mat<S>& soft,
                        const Mat<S>& mse_target, const LossScalars<S>& sc, Mat<S>* dP, LossScalars<S>* dsc,
                        LossWorkspace<S>* workspace) {
  const int64_t B = P.rows(), D = P.cols();
  LossWorkspace<S> local;
  LossWorkspace<S>& ws = workspace ? *workspace : local;
  V2C_ASSERT(Tc.rows() == B && Tc.cols() == D, "target ", Tc.rows(), " x ", Tc.cols(), " vs pred ", B, " x ", D);
  V2C_ASSERT(soft.size() == 0 || (soft.rows() == B && soft.cols() == B), "soft labels must be B x B");
  const Mat<S>& Tm = mse_target.size() ? mse_target : Tc;
  V2C_ASSERT(Tm.rows() == B && Tm.cols() == D, "mse target shape");
  LossParts parts;
  if (dP) dP->setZero(B, D);
  if (dsc) *dsc = LossScalars<S>{};
  // Targets that are exactly equal (repeats of one stimulus in a batch) are one target: for
  // prediction i, another copy j of its own target is not a negative. clip: the pair (i, j),
  // i != j, T_i = T_j, is masked out of row i's softmax (prediction over targets) and out of
  // column j's (target over predictions); its label mass, if any (MixCo), moves to (i, i) in the
  // row direction and to (j, j) in the column direction. siglip: such a pair is a positive,
  // y(i, j) = 1. With distinct targets nothing changes.
  // Rows are compared element by element only where their hashes agree (B·D work, not B²·D).
  std::vector<uint64_t>& row_hash = ws.row_hash;
  row_hash.resize(static_cast<size_t>(B));
  for (int64_t i = 0; i < B; ++i) row_hash[size_t(i)] = value_hash(Tc.row(i).data(), D);
  std::vector<unsigned char>& same = ws.same;
  same.assign(static_cast<size_t>(B * B), 0);
  for (int64_t i = 0; i < B; ++i)
    for (int64_t j = 0; j < B; ++j)
      same[size_t(i * B + j)] = i != j && row_hash[size_t(i)] == row_hash[size_t(j)] && Tc.row(i) == Tc.row(j);
  auto masked = [&](int64_t i, int64_t j) { return same[size_t(i * B + j)] != 0; };
  // Labels [B x B] of each direction and of siglip, and which entries the softmaxes keep; all
  // empty (the identity, every entry kept) with hard labels and distinct targets, the common case.
  Mat<double> q_row, q_col, q_sig, keep;
  if (soft.size() || std::find(same.begin(), same.end(), 1) != same.end()) {
    Mat<double> base(B, B);
    for (int64_t i = 0; i < B; ++i)
      for (int64_t j = 0; j < B; ++j) base(i, j) = soft.size() ? double(soft(i, j)) : (i == j ? 1.0 : 0.0);
    q_row = q_col = q_sig = base;
    keep.setOnes(B, B);
    for (int64_t i = 0; i < B; ++i)
      for (int64_t j = 0; j < B; ++j)
        if (masked(i, j)) {
          q_row(i, i) += base(i, j);
          q_col(j, j) += base(i, j);
          q_row(i, j) = q_col(i, j) = 0;
          q_sig(i, j) = 1;
          keep(i, j) = 0;
        }
  }

  if (cfg.w_clip > 0 || cfg.w_siglip > 0) {
    Mat<S>&Pn = ws.Pn, &Tn = ws.Tn;
    Pn.resize(B, D);
    Tn.resize(B, D);
    std::vector<double>& pnorm = ws.pnorm;
    pnorm.resize(static_cast<size_t>(B));
    for (int64_t i = 0; i < B; ++i) {
      // Norms in double, summed in eight lanes (a single running sum is one long dependency chain).
      pnorm[size_t(i)] = std::max(std::sqrt(sum_squares(P.row(i).data(), D)), 1e-12);
      Pn.row(i) = P.row(i) / S(pnorm[size_t(i)]);
      Tn.row(i) = Tc.row(i) / S(std::max(std::sqrt(sum_squares(Tc.row(i).data(), D)), 1e-12));
    }
    Mat<S>& sim = ws.sim;
    linalg::gemm(Pn, false, Tn, true, sim);  // [B x B] cosine similarities
    Mat<double>& dsim = ws.dsim;
    dsim.setZero(B, B);
    if (cfg.w_clip > 0) {
      const bool clamped = double(sc.logit_scale) > cfg.max_logit_scale;
      const double scale = std::exp(std::min(double(sc.logit_scale), cfg.max_logit_scale));
      Mat<double>&logits = ws.logits, &dl = ws.dl;
      logits = sim.template cast<double>() * scale;
      dl.setZero(B, B);
      const double loss_rows = softmax_cross_entropy(logits, q_row, keep, dl);  // prediction i over targets
      // Target j over predictions: the same on the transposes, its gradient transposed back.
      Mat<double>&dl_cols = ws.dl_cols, &logits_t = ws.logits_t;
      dl_cols.setZero(B, B);
      logits_t = logits.transpose();
      const Mat<double> q_col_t = q_col.transpose(), keep_t = keep.transpose();
      const double loss_cols = softmax_cross_entropy(logits_t, q_col_t, keep_t, dl_cols);
      dl += dl_cols.transpose();
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
          const double l = t * double(sim(i, j)) + b, y = q_sig.size() ? q_sig(i, j) : double(i == j);
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
      Mat<S>&dsim_s = ws.dsim_s, &dPn = ws.dPn;
      dsim_s = dsim.template cast<S>();
      linalg::gemm(dsim_s, false, Tn, false, dPn);
      for (int64_t i = 0; i < B; ++i) {
        const S proj = Pn.row(i).dot(dPn.row(i));
        dP->row(i) += (dPn.row(i) - proj * Pn.row(i)) / S(pnorm[size_t(i)]);
      }
    }
  }
  if (cfg.w_mse > 0) {
    Mat<S>& diff = ws.diff;
    diff = P - Tm;
    parts.mse = sum_squares(diff.data(), diff.size()) / double(B * D);
    if (dP) *dP += S(cfg.w_mse * 2.0 / double(B * D)) * diff;
  }
  if (cfg.w_cos > 0) {
    double s = 0;
    for (int64_t i = 0; i < B; ++i) {
      const double np = std::max(double(P.row(i).template cast<double>().norm()), 1e-8);
      const double nt = std::max(double(Tm.row(i).template cast<double>().norm()), 1e-8);
      const double c = double(P.row(i).template cast<double>().dot(Tm.row(i).template cast<double>())) / (np * nt);
      s += 1.0 - c;
      if (dP) dP->row(i) -= S(cfg.w_cos / double(B)) * ((Tm.row(i) / S(nt) - S(c) * P.row(i) / S(np)) / S(np));
    }
    parts.cos = s / double(B);
  }
  parts.total = cfg.w_clip * parts.clip + cfg.w_siglip * parts.siglip + cfg.w_mse * parts.mse + cfg.w_cos * parts.cos;
  return parts;
}

template LossParts loss_and_grad<float>(const LossConfig&, const Mat<float>&, const Mat<float>&, const Mat<float>&,
                                        const Mat<float>&, const LossScalars<float>&, Mat<float>*, LossScalars<float>*,
                                        LossWorkspace<float>*);
template LossParts loss_and_grad<double>(const LossConfig&, const Mat<double>&, const Mat<double>&, const Mat<double>&,
                                         const Mat<double>&, const LossScalars<double>&, Mat<double>*,
                                         LossScalars<double>*, LossWorkspace<double>*);

}  // namespace v2c::encoder
