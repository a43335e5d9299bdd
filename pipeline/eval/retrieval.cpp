#include "pipeline/eval/retrieval.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "pipeline/core/error.h"
#include "pipeline/math/linalg.h"

namespace v2c::retrieval {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Double-precision dot product of float vectors. A float x float product is exact in double, so
// only the sums round; their association is fixed (four AVX2 accumulators, then a fixed combine),
// so any two calls on the same vectors give the same bits. One compiled body on purpose.
__attribute__((noinline)) double dot_double(const float* a, const float* b, int64_t d) {
  __m256d acc[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd()};
  int64_t i = 0;
  for (; i + 16 <= d; i += 16) {
    for (int h = 0; h < 2; ++h) {
      const __m256 va = _mm256_loadu_ps(a + i + 8 * h), vb = _mm256_loadu_ps(b + i + 8 * h);
      acc[2 * h] = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(va)),
                                   _mm256_cvtps_pd(_mm256_castps256_ps128(vb)), acc[2 * h]);
      acc[2 * h + 1] = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(va, 1)),
                                       _mm256_cvtps_pd(_mm256_extractf128_ps(vb, 1)), acc[2 * h + 1]);
    }
  }
  const __m256d sum = _mm256_add_pd(_mm256_add_pd(acc[0], acc[1]), _mm256_add_pd(acc[2], acc[3]));
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, sum);
  double s = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; i < d; ++i) s += double(a[i]) * double(b[i]);
  return s;
}

double norm_double(const float* a, int64_t d) { return std::sqrt(dot_double(a, a, d)); }

double cosine_with_norms(const float* q, double qn, const float* c, double cn, int64_t d) {
  if (qn == 0 || cn == 0) return 0.0;
  return dot_double(q, c, d) / (qn * cn);
}

// Largest float <= x, smallest float >= x (thresholds must never exclude a candidate wrongly).
float float_below(double x) {
  float f = float(x);
  return double(f) > x ? std::nextafter(f, kNegInf) : f;
}
float float_above(double x) {
  float f = float(x);
  return double(f) < x ? std::nextafter(f, -kNegInf) : f;
}

struct Hit {
  double score;
  int64_t index;
};
// a comes before b in the retrieval order (cosine descending, index ascending).
inline bool before(const Hit& a, const Hit& b) {
  return a.score > b.score || (a.score == b.score && a.index < b.index);
}

// The state of one scan: for each query a heap of its best k hits (the worst on top), the
// threshold below which an approximate score cannot enter it, and the rank counts.
struct ScanState {
  int64_t k = 0;
  std::vector<Hit> hits;                                    // [n_queries x k]
  std::vector<int32_t> size;                                // [n_queries]
  std::vector<float> threshold;                             // [n_queries] skip a < threshold
  std::vector<int64_t> greater, equal_before, equal_after;  // [n_queries]
  int64_t rescored = 0;

  ScanState(int64_t n_queries, int64_t k_)
      : k(k_),
        hits(size_t(n_queries * k_)),
        size(size_t(n_queries), 0),
        threshold(size_t(n_queries), kNegInf),
        greater(size_t(n_queries), 0),
        equal_before(size_t(n_queries), 0),
        equal_after(size_t(n_queries), 0) {}
};

// What every scan shares: the data, exact norms, the error bound and the truth.
struct Scanner {
  const MatrixF& Q;
  const MatrixF& C;
  int64_t d;
  double eps;
  std::vector<double> qnorm, cnorm;
  const std::vector<int64_t>& truth;
  std::vector<double> true_score;          // [n_queries] exact cosine with the true candidate
  std::vector<float> band_low, band_high;  // [n_queries] approximate scores in [low, high] are ambiguous

  Scanner(const MatrixF& q, const MatrixF& c, const std::vector<int64_t>& truth_, double eps_)
      : Q(q), C(c), d(q.cols()), eps(eps_), truth(truth_) {
    qnorm.resize(size_t(Q.rows()));
    cnorm.resize(size_t(C.rows()));
#pragma omp parallel for schedule(static) if (C.rows() * d > 1000000)
    for (int64_t i = 0; i < C.rows(); ++i) cnorm[size_t(i)] = norm_double(C.row(i).data(), d);
    for (int64_t i = 0; i < Q.rows(); ++i) qnorm[size_t(i)] = norm_double(Q.row(i).data(), d);
    if (!truth.empty()) {
      true_score.assign(size_t(Q.rows()), 0.0);
      band_low.assign(size_t(Q.rows()), std::numeric_limits<float>::infinity());
      band_high.assign(size_t(Q.rows()), std::numeric_limits<float>::infinity());
      for (int64_t i = 0; i < Q.rows(); ++i) {
        const int64_t t = truth[size_t(i)];
        if (t < 0) continue;
        const double s = exact(i, t);
        true_score[size_t(i)] = s;
        band_low[size_t(i)] = float_below(s - eps);
        band_high[size_t(i)] = float_above(s + eps);
      }
    }
  }

  double exact(int64_t i, int64_t c) const {
    return cosine_with_norms(Q.row(i).data(), qnorm[size_t(i)], C.row(c).data(), cnorm[size_t(c)], d);
  }

  // Candidate c, whose approximate score may put it in query i's top k: rescored exactly.
  void offer(ScanState& st, int64_t i, int64_t c, double s) const {
    Hit* heap = st.hits.data() + i * st.k;
    int32_t& n = st.size[size_t(i)];
    const Hit h{s, c};
    if (n < st.k) {
      heap[n++] = h;
      std::push_heap(heap, heap + n, before);
    } else if (before(h, heap[0])) {
      std::pop_heap(heap, heap + n, before);
      heap[n - 1] = h;
      std::push_heap(heap, heap + n, before);
    } else {
      return;
    }
    if (n == st.k) st.threshold[size_t(i)] = float_below(heap[0].score - eps);
  }

  void count_exact(ScanState& st, int64_t i, int64_t c, double s) const {
    const int64_t t = truth[size_t(i)];
    const double ts = true_score[size_t(i)];
    if (s > ts)
      ++st.greater[size_t(i)];
    else if (s == ts && c != t)
      ++(c < t ? st.equal_before : st.equal_after)[size_t(i)];
  }

  // One element whose approximate score a passed a filter; true when it was rescored exactly.
  bool visit(ScanState& st, int64_t i, int64_t c, float a, bool with_truth) const {
    bool need_truth = false;
    if (with_truth) {
      if (a > band_high[size_t(i)])
        ++st.greater[size_t(i)];
      else if (a >= band_low[size_t(i)])
        need_truth = true;
    }
    const bool need_top = a >= st.threshold[size_t(i)];  // re-read: offers may have raised it
    if (!need_truth && !need_top) return false;
    const double s = exact(i, c);
    if (need_truth) count_exact(st, i, c, s);
    if (need_top) offer(st, i, c, s);
    return true;
  }

  // Approximate scores a[0..n) of query i against candidates col0..col0+n; returns how many
  // were rescored exactly.
  int64_t scan_row(ScanState& st, int64_t i, const float* a, int64_t n, int64_t col0) const {
    const bool with_truth = !truth.empty() && truth[size_t(i)] >= 0;
    const float low_i = with_truth ? band_low[size_t(i)] : std::numeric_limits<float>::infinity();
    const __m256 low = _mm256_set1_ps(low_i);
    int64_t rescored = 0, j = 0;
    for (; j + 8 <= n; j += 8) {
      const __m256 v = _mm256_loadu_ps(a + j);
      const int hits = _mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_set1_ps(st.threshold[size_t(i)]), _CMP_GE_OQ)) |
                       _mm256_movemask_ps(_mm256_cmp_ps(v, low, _CMP_GE_OQ));
      if (hits == 0) continue;
      for (int b = 0; b < 8; ++b)
        if ((hits >> b) & 1) rescored += visit(st, i, col0 + j + b, a[j + b], with_truth);
    }
    for (; j < n; ++j)
      if (a[j] >= st.threshold[size_t(i)] || a[j] >= low_i) rescored += visit(st, i, col0 + j, a[j], with_truth);
    return rescored;
  }
};

void normalized_rows(const MatrixF& src, int64_t first, int64_t count, const std::vector<double>& norms,
                     linalg::Mat<float>& out) {
  out.resize(count, src.cols());
#pragma omp parallel for schedule(static) if (count * src.cols() > 1000000)
  for (int64_t r = 0; r < count; ++r) {
    const double n = norms[size_t(first + r)];
    const float scale = n > 0 ? float(1.0 / n) : 0.0f;
    out.row(r) = src.row(first + r) * scale;
  }
}

// ---- float32 scan: BLAS GEMM on normalised blocks, selection in parallel over queries ----
void scan_float32(const Scanner& sc, ScanState& st, int64_t block_c, int64_t block_q) {
  const int64_t nq = sc.Q.rows(), nc = sc.C.rows();
  std::vector<linalg::Mat<float>> qblocks;
  for (int64_t q0 = 0; q0 < nq; q0 += block_q) {
    qblocks.emplace_back();
    normalized_rows(sc.Q, q0, std::min(block_q, nq - q0), sc.qnorm, qblocks.back());
  }
  linalg::Mat<float> cblock, scores;
  int64_t rescored = 0;
  for (int64_t c0 = 0; c0 < nc; c0 += block_c) {
    const int64_t nb = std::min(block_c, nc - c0);
    normalized_rows(sc.C, c0, nb, sc.cnorm, cblock);
    for (size_t b = 0; b < qblocks.size(); ++b) {
      const int64_t q0 = int64_t(b) * block_q;
      linalg::gemm(qblocks[b], false, cblock, true, scores);
      // Serial on purpose: the scan costs ~1% of the GEMM, and an OpenMP team spinning between
      // BLAS calls competes with BLAS's own threads for the cores (measured: 2x slower).
      for (int64_t r = 0; r < scores.rows(); ++r) rescored += sc.scan_row(st, q0 + r, scores.row(r).data(), nb, c0);
    }
  }
  st.rescored += rescored;
}

// ---- bfloat16 scan: own AVX512-BF16 kernel, candidate blocks in parallel ----
// Queries and candidates, normalised, are rounded to bfloat16 (unit roundoff 2^-8) and stored
// as pairs of dimensions in 32-bit words. A candidate panel holds 32 candidates:
// word [pair j][lane l] = (c_l[2j], c_l[2j+1]). vdpbf16ps accumulates the pair products in float32.
constexpr int64_t kTileQ = 8, kPanel = 32;

uint16_t to_bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even (inputs are finite)
  return uint16_t(u >> 16);
}

void pack_pairs(const float* v, double norm, int64_t d, uint32_t* out, int64_t stride) {
  const float scale = norm > 0 ? float(1.0 / norm) : 0.0f;
  for (int64_t j = 0; j < (d + 1) / 2; ++j) {
    const uint16_t lo = to_bf16(v[2 * j] * scale);
    const uint16_t hi = 2 * j + 1 < d ? to_bf16(v[2 * j + 1] * scale) : 0;
    out[j * stride] = uint32_t(lo) | (uint32_t(hi) << 16);
  }
}

// out[r][0..32) = scores of queries q[r] (r < 8, rows of `pairs` words) against one panel.
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void kernel_8x32(const uint32_t* q, int64_t pairs,
                                                                        const uint32_t* panel, float* out,
                                                                        int64_t out_stride) {
  __m512 acc[kTileQ][2];
  for (int r = 0; r < kTileQ; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t j = 0; j < pairs; ++j) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(panel + j * kPanel);
    const __m512bh b1 = (__m512bh)_mm512_loadu_si512(panel + j * kPanel + 16);
#pragma GCC unroll 8
    for (int r = 0; r < kTileQ; ++r) {
      const __m512bh a = (__m512bh)_mm512_set1_epi32(int(q[r * pairs + j]));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], a, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], a, b1);
    }
  }
  for (int r = 0; r < kTileQ; ++r) {
    _mm512_storeu_ps(out + r * out_stride, acc[r][0]);
    _mm512_storeu_ps(out + r * out_stride + 16, acc[r][1]);
  }
}

void scan_bfloat16(const Scanner& sc, std::vector<ScanState>& states, int64_t block_c) {
  const int64_t nq = sc.Q.rows(), nc = sc.C.rows(), d = sc.d, pairs = (d + 1) / 2;
  const int64_t nq_pad = (nq + kTileQ - 1) / kTileQ * kTileQ;
  std::vector<uint32_t> qpack(size_t(nq_pad * pairs), 0);
#pragma omp parallel for schedule(static) if (nq * d > 1000000)
  for (int64_t i = 0; i < nq; ++i) pack_pairs(sc.Q.row(i).data(), sc.qnorm[size_t(i)], d, &qpack[size_t(i * pairs)], 1);
  const int64_t n_blocks = (nc + block_c - 1) / block_c;
  const int n_threads = int(states.size());
#pragma omp parallel num_threads(n_threads)
  {
    ScanState& st = states[size_t(omp_get_thread_num())];
    std::vector<uint32_t> cpack(size_t(block_c * pairs));
    std::vector<float> tile(size_t(kTileQ * block_c));
#pragma omp for schedule(dynamic, 1)
    for (int64_t b = 0; b < n_blocks; ++b) {
      const int64_t c0 = b * block_c, nb = std::min(block_c, nc - c0);
      const int64_t n_panels = (nb + kPanel - 1) / kPanel;
      for (int64_t p = 0; p < n_panels; ++p) {
        uint32_t* panel = &cpack[size_t(p * kPanel * pairs)];
        for (int64_t l = 0; l < kPanel; ++l) {
          const int64_t c = p * kPanel + l;
          if (c < nb)
            pack_pairs(sc.C.row(c0 + c).data(), sc.cnorm[size_t(c0 + c)], d, panel + l, kPanel);
          else
            for (int64_t j = 0; j < pairs; ++j) panel[j * kPanel + l] = 0;
        }
      }
      for (int64_t q0 = 0; q0 < nq_pad; q0 += kTileQ) {
        for (int64_t p = 0; p < n_panels; ++p)
          kernel_8x32(&qpack[size_t(q0 * pairs)], pairs, &cpack[size_t(p * kPanel * pairs)], &tile[size_t(p * kPanel)],
                      block_c);
        for (int64_t r = 0; r < kTileQ && q0 + r < nq; ++r)
          st.rescored += sc.scan_row(st, q0 + r, &tile[size_t(r * block_c)], nb, c0);
      }
    }
  }
}

}  // namespace

double exact_cosine(const float* q, const float* c, int64_t d) {
  return cosine_with_norms(q, norm_double(q, d), c, norm_double(c, d), d);
}

bool cpu_has_bf16() {
  static const bool has =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512bf16");
  return has;
}

const char* scan_name(Scan scan) {
  switch (scan) {
    case Scan::automatic:
      return "automatic";
    case Scan::float32:
      return "float32";
    case Scan::bfloat16:
      return "bfloat16";
  }
  return "?";
}

SearchResult search(const MatrixF& queries, const MatrixF& candidates, const std::vector<int64_t>& truth,
                    const SearchOptions& options) {
  V2C_ASSERT(queries.cols() == candidates.cols(), "search(): queries have ", queries.cols(), " dimensions, candidates ",
             candidates.cols());
  V2C_ASSERT(truth.empty() || int64_t(truth.size()) == queries.rows(), "search(): ", truth.size(), " truths for ",
             queries.rows(), " queries");
  V2C_ASSERT(options.k >= 1, "search(): k = ", options.k);
  for (int64_t t : truth) V2C_ASSERT(t >= -1 && t < candidates.rows(), "search(): true candidate ", t);
  const int64_t nq = queries.rows(), nc = candidates.rows(), d = queries.cols();
  SearchResult res;
  res.k = std::min(options.k, nc);
  const bool bf16 = options.scan != Scan::float32 && cpu_has_bf16() && d >= 2;
  res.scan_used = bf16 ? Scan::bfloat16 : Scan::float32;
  const double u = std::ldexp(1.0, -23);
  const double eps = bf16 ? std::ldexp(1.0, -7) + std::ldexp(1.0, -15) + double(d) * u : double(d + 8) * u;
  const int threads = options.threads > 0 ? options.threads : omp_get_max_threads();

  Scanner sc(queries, candidates, truth, eps);
  std::vector<ScanState> states;
  if (nq > 0 && res.k > 0) {
    if (bf16) {
      const int64_t block_c =
          options.block_candidates > 0 ? (options.block_candidates + kPanel - 1) / kPanel * kPanel : 512;
      const int64_t n_blocks = (nc + block_c - 1) / block_c;
      const int used = int(std::max<int64_t>(1, std::min<int64_t>(threads, n_blocks)));
      states.assign(size_t(used), ScanState(nq, res.k));
      scan_bfloat16(sc, states, block_c);
    } else {
      states.assign(1, ScanState(nq, res.k));
      const int64_t block_c = options.block_candidates > 0 ? options.block_candidates : 4096;
      const int64_t block_q = options.block_queries > 0 ? options.block_queries : 4096;
      scan_float32(sc, states[0], block_c, block_q);
    }
  }

  res.index.assign(size_t(nq * res.k), -1);
  res.score.assign(size_t(nq * res.k), std::nan(""));
  if (!truth.empty()) {
    res.rank.assign(size_t(nq), 0);
    res.n_greater.assign(size_t(nq), 0);
    res.n_equal.assign(size_t(nq), 0);
  }
  std::vector<Hit> merged;
  for (int64_t i = 0; i < nq && res.k > 0; ++i) {
    merged.clear();
    for (const auto& st : states) {
      const Hit* h = st.hits.data() + i * st.k;
      merged.insert(merged.end(), h, h + st.size[size_t(i)]);
    }
    std::sort(merged.begin(), merged.end(), before);
    for (int64_t j = 0; j < res.k && j < int64_t(merged.size()); ++j) {
      res.index[size_t(i * res.k + j)] = merged[size_t(j)].index;
      res.score[size_t(i * res.k + j)] = merged[size_t(j)].score;
    }
    if (!truth.empty() && truth[size_t(i)] >= 0) {
      int64_t g = 0, eb = 0, ea = 0;
      for (const auto& st : states) {
        g += st.greater[size_t(i)];
        eb += st.equal_before[size_t(i)];
        ea += st.equal_after[size_t(i)];
      }
      res.n_greater[size_t(i)] = g;
      res.n_equal[size_t(i)] = eb + ea;
      res.rank[size_t(i)] = 1 + g + eb;
    }
  }
  for (const auto& st : states) res.exact_rescored += st.rescored;
  return res;
}

std::vector<double> pairwise_identification(const SearchResult& r, int64_t n_candidates) {
  std::vector<double> out(r.rank.size(), std::nan(""));
  if (n_candidates < 2) return out;
  for (size_t i = 0; i < r.rank.size(); ++i)
    if (r.rank[i] > 0) out[i] = double(n_candidates - 1 - r.n_greater[i] - r.n_equal[i]) / double(n_candidates - 1);
  return out;
}

void sample_others(std::mt19937_64& rng, int64_t n_candidates, int64_t true_row, int64_t n_others,
                   std::vector<int64_t>& out) {
  const int64_t pool = n_candidates - (true_row >= 0 ? 1 : 0);
  V2C_ASSERT(n_others >= 0 && n_others <= pool, "sample_others(): ", n_others, " of ", pool);
  std::unordered_set<int64_t> chosen;
  chosen.reserve(size_t(n_others) * 2);
  for (int64_t j = pool - n_others; j < pool; ++j) {
    const int64_t t = std::uniform_int_distribution<int64_t>(0, j)(rng);
    const int64_t pick = chosen.insert(t).second ? t : (chosen.insert(j), j);
    out.push_back(true_row >= 0 && pick >= true_row ? pick + 1 : pick);
  }
}

std::vector<std::vector<double>> top_k_among_n(const MatrixF& queries, const MatrixF& candidates,
                                               const std::vector<int64_t>& truth, const std::vector<int64_t>& ks,
                                               int64_t n, int64_t n_draws, uint64_t seed) {
  V2C_ASSERT(queries.cols() == candidates.cols() && int64_t(truth.size()) == queries.rows(), "top_k_among_n(): shapes");
  V2C_ASSERT(n >= 2 && n <= candidates.rows() && n_draws >= 1, "top_k_among_n(): n = ", n, " of ", candidates.rows(),
             " candidates, ", n_draws, " draws");
  const int64_t nq = queries.rows(), d = queries.cols();
  std::vector<double> cnorm(size_t(candidates.rows()));
  for (int64_t c = 0; c < candidates.rows(); ++c) cnorm[size_t(c)] = norm_double(candidates.row(c).data(), d);
  std::vector<std::vector<double>> out(ks.size(), std::vector<double>(size_t(nq), std::nan("")));
#pragma omp parallel for schedule(dynamic, 4) if (nq * n_draws * n * d > 1000000)
  for (int64_t i = 0; i < nq; ++i) {
    const int64_t t = truth[size_t(i)];
    if (t < 0) continue;
    const float* q = queries.row(i).data();
    const double qn = norm_double(q, d);
    const double ts = cosine_with_norms(q, qn, candidates.row(t).data(), cnorm[size_t(t)], d);
    std::mt19937_64 rng(seed + uint64_t(i));
    std::vector<int64_t> others;
    std::vector<int64_t> success(ks.size(), 0);
    for (int64_t draw = 0; draw < n_draws; ++draw) {
      others.clear();
      sample_others(rng, candidates.rows(), t, n - 1, others);
      int64_t at_least = 0;  // others with cosine >= the true one's
      for (int64_t c : others)
        at_least += cosine_with_norms(q, qn, candidates.row(c).data(), cnorm[size_t(c)], d) >= ts;
      for (size_t kk = 0; kk < ks.size(); ++kk) success[kk] += at_least < ks[kk];
    }
    for (size_t kk = 0; kk < ks.size(); ++kk) out[kk][size_t(i)] = double(success[kk]) / double(n_draws);
  }
  return out;
}

Estimate bootstrap_mean(const std::vector<double>& per_query, int64_t n_boot, uint64_t seed, double level) {
  std::vector<double> v;
  for (double x : per_query)
    if (std::isfinite(x)) v.push_back(x);
  Estimate e;
  e.n = int64_t(v.size());
  if (v.empty()) {
    e.value = e.ci_low = e.ci_high = std::nan("");
    return e;
  }
  double sum = 0;
  for (double x : v) sum += x;
  e.value = sum / double(v.size());
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, v.size() - 1);
  std::vector<double> means(size_t(std::max<int64_t>(n_boot, 1)));
  for (auto& m : means) {
    double s = 0;
    for (size_t j = 0; j < v.size(); ++j) s += v[pick(rng)];
    m = s / double(v.size());
  }
  std::sort(means.begin(), means.end());
  auto quantile = [&](double p) {  // linear interpolation between order statistics
    const double pos = p * double(means.size() - 1);
    const size_t lo = size_t(std::floor(pos)), hi = std::min(lo + 1, means.size() - 1);
    return means[lo] + (pos - double(lo)) * (means[hi] - means[lo]);
  };
  e.ci_low = quantile((1 - level) / 2);
  e.ci_high = quantile(1 - (1 - level) / 2);
  return e;
}

}  // namespace v2c::retrieval
