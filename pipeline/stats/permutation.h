// Permutation test of a decoding score within one subject, with labels permuted only inside
// their exchangeability blocks (kernel: no I/O; the caller computes the score).
//
// Unit of exchangeability: the block the caller names for each item (a run, or a CV group of
// runs). Under the null hypothesis (the brain data carry no information about the labels) the
// labels can be exchanged among the items of one block but not across blocks, which keep their
// own class balance, drift and fold membership (Nichols & Holmes 2002; Winkler et al. 2014,
// "Permutation inference for the general linear model", exchangeability blocks; Ojala &
// Garriga 2010 for classifiers). Labels, targets or stimulus assignments: whatever the score
// depends on — the caller applies the permutation and recomputes the score from scratch
// (refitting where the labels entered the fit, or the test is not a test of the pipeline).
//
// A permutation is a vector `source` [n_items]: item i takes the label of item source[i].
// Items whose block is negative stay in place (source[i] = i). Permutation b (0-based) is drawn
// from std::mt19937_64(seed + b) by a Fisher-Yates shuffle of each block's items (blocks in
// ascending id order, std::uniform_int_distribution), so any permutation can be regenerated on
// its own (within_block_permutation) and callers may compute them in parallel.
//
// The score must be oriented so that larger is better (negate a rank or an error). One-sided
// p = (1 + #{b : score_b >= observed}) / (1 + n_perm) (Phipson & Smyth 2010: the observed
// labelling is one of the permutations, so p is never 0); score_b counts as >= observed when it
// is within 1e-12 · max(1, |observed|) below it (rounding), and a non-finite score_b counts as
// >= observed (conservative; reported in n_nonfinite).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace v2c::stats {

struct PermutationOptions {
  int64_t n_perm = 1000;  // permutations besides the observed labelling
  uint64_t seed = 0;
};

struct PermutationResult {
  double observed = 0;       // score of the identity permutation
  std::vector<double> null;  // [n_perm] score of each permutation, in draw order
  int64_t n_at_least = 0;    // permutations with score >= observed
  int64_t n_nonfinite = 0;   // of which non-finite
  double p_value = 0;        // (1 + n_at_least) / (1 + n_perm); NaN when `observed` is not finite
};

// score(source) -> the decoding score after relabelling with `source`.
using PermutedScore = std::function<double(const std::vector<int64_t>& source)>;

// Permutation number `index` of the items, within their blocks (see above).
std::vector<int64_t> within_block_permutation(const std::vector<int64_t>& block_of_item, uint64_t seed, int64_t index);

// Calls score() once with the identity, then n_perm times, serially, in order.
PermutationResult permutation_test(const std::vector<int64_t>& block_of_item, const PermutedScore& score,
                                   const PermutationOptions& options = {});

}  // namespace v2c::stats
