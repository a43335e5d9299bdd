// Retrieval kernels (no I/O): exact cosine top-k of decoded vectors among candidate stimulus
// vectors, the rank of the true candidate, and the identification metrics of the decoding
// literature with their chance levels.
//
// Layout: queries [n_queries x d] and candidates [n_candidates x d], row-major float32, one
// vector per row; neither needs to be normalised (cosine = dot / (|q| |c|); a zero vector has
// cosine 0 with everything).
//
// Exactness. search() scans the candidates in blocks with an approximate score a (float32 BLAS
// GEMM on normalised blocks, or a bfloat16 AVX512-BF16 kernel where the CPU has one) whose error
// is bounded: |a - s| <= eps, eps = (d + 8) 2^-23 (float32) or 2^-7 + 2^-15 + d 2^-23 (bfloat16)
// for the exact cosine s. Every candidate that the bound cannot exclude is rescored exactly
// (double precision, exact_cosine()) before it enters the running top-k or the rank counts, so
// the results equal a brute-force double-precision search whatever the scan precision (up to
// the order of cosines within ~1e-15 of each other, where two double sums may differ; exact
// duplicates always tie).
// Memory: O(block_queries x block_candidates) scores plus O(n_queries x k) state per thread;
// queries x all candidates is never materialised.
//
// Order and ties: candidates are ordered by exact cosine, descending; equal cosines by candidate
// index, ascending (the lower index first). top-k and rank use this order.
//
// Metrics (docs/retrieval.md), per query, then averaged over queries:
//   rank            1 + #candidates before the true one in the order above     chance (N+1)/2
//   pairwise        #false candidates with cosine < the true one's / (N-1)    chance 0.5
//                   (Kamitani lab: ties count as failures)
//   top-k among n   MindEye: n_draws draws of the true candidate plus n-1 random others (fixed
//                   seed); success when fewer than k others have cosine >= the true one's
//                   (ties count as failures); the fraction of successful draws  chance k/n
// Confidence intervals: percentile bootstrap over queries (resampling the per-query values,
// fixed seed), for every metric.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "pipeline/core/types.h"

namespace v2c::retrieval {

enum class Scan {
  automatic,  // bfloat16 where the CPU has AVX512-BF16, else float32
  float32,    // BLAS SGEMM on normalised blocks
  bfloat16,   // own AVX512-BF16 kernel (falls back to float32 on other CPUs)
};

struct SearchOptions {
  int64_t k = 5;                 // neighbours kept per query (fewer when n_candidates < k)
  int64_t block_candidates = 0;  // candidates scored per block (0 = automatic)
  int64_t block_queries = 0;     // float32 scan: queries per GEMM block (0 = automatic)
  Scan scan = Scan::automatic;
  int threads = 0;  // OpenMP threads (0 = the current OpenMP default)
};

struct SearchResult {
  int64_t k = 0;               // columns of index/score: min(options.k, n_candidates)
  std::vector<int64_t> index;  // [n_queries x k] candidate rows, best first
  std::vector<double> score;   // [n_queries x k] their exact cosines
  // Only when true candidates were given (-1 entries: no truth, counts 0 and rank 0):
  std::vector<int64_t> rank;       // [n_queries] rank of the true candidate, 1 = best
  std::vector<int64_t> n_greater;  // [n_queries] candidates with cosine > the true one's
  std::vector<int64_t> n_equal;    // [n_queries] other candidates with cosine == the true one's
  int64_t exact_rescored = 0;      // candidates rescored exactly (diagnostic)
  Scan scan_used = Scan::float32;
};

// Exact top-k (and, with `truth`, the true candidate's rank and counts) of every query row among
// the candidate rows. truth: empty, or [n_queries] candidate row of each query's true
// candidate (-1: none). Dimensions must agree (asserted).
SearchResult search(const MatrixF& queries, const MatrixF& candidates, const std::vector<int64_t>& truth,
                    const SearchOptions& options = {});

// The exact cosine used everywhere above: double-precision dot / (|q| |c|), 0 for a zero vector.
double exact_cosine(const float* q, const float* c, int64_t d);

// Whether this CPU runs the bfloat16 scan.
bool cpu_has_bf16();
const char* scan_name(Scan scan);

// ---- metrics: per-query values ----

// Pairwise identification per query from search() counts: (N-1 - n_greater - n_equal) / (N-1)
// with N = n_candidates; NaN for queries without truth or N < 2.
std::vector<double> pairwise_identification(const SearchResult& r, int64_t n_candidates);

// Draws of n-1 distinct "other" candidate rows among [0, n_candidates) minus `true_row`, by
// Floyd's algorithm from `rng`; appended to `out` in draw order. The one sampler of
// top_k_among_n(), public so that tests can replay it.
void sample_others(std::mt19937_64& rng, int64_t n_candidates, int64_t true_row, int64_t n_others,
                   std::vector<int64_t>& out);

// MindEye's top-k among n: for each query with truth, n_draws draws (query q uses
// std::mt19937_64(seed + q)); per draw, success_k when fewer than k of the n-1 others have
// exact cosine >= the true one's. Returns [ks.size()][n_queries] fraction of successful draws
// (NaN without truth). n must be in [2, n_candidates] (asserted).
std::vector<std::vector<double>> top_k_among_n(const MatrixF& queries, const MatrixF& candidates,
                                               const std::vector<int64_t>& truth, const std::vector<int64_t>& ks,
                                               int64_t n, int64_t n_draws, uint64_t seed);

// ---- summaries ----

struct Estimate {
  double value = 0, ci_low = 0, ci_high = 0;  // mean over queries and its 95% interval
  int64_t n = 0;                              // finite per-query values used
};

// Mean of the finite values with a percentile-bootstrap interval (n_boot resamples of the
// queries, std::mt19937_64(seed)); level 0.95 -> the 2.5 and 97.5 percentiles.
Estimate bootstrap_mean(const std::vector<double>& per_query, int64_t n_boot = 2000, uint64_t seed = 0,
                        double level = 0.95);

}  // namespace v2c::retrieval
