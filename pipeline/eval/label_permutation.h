// Per-subject permutation test of identification accuracy (kernel: no I/O): is a subject's
// decoding better than chance, given the dependence between its queries?
//
// Null hypothesis: the decoded vectors carry no information about which stimulus each test
// query showed. Under it, the true-stimulus labels of the queries are exchangeable within a unit
// of independence (a run, or runs tied together: units.h) — never across units, which keep their
// own class balance and fold (Nichols & Holmes 2002; Winkler et al. 2014; Ojala & Garriga 2010).
// Each permutation gives query i the true candidate of query source[i] (stats/permutation.h,
// within_block_permutation) and recomputes the metric from the fixed similarities. Nothing is
// refitted, and nothing needs to be: every query is an out-of-fold prediction, whose model never
// saw the query's label; the test asks whether the decoded vectors match their own stimuli better
// than the other stimuli of their unit.
//
// Metrics (as retrieval.h, ties with the true candidate counting as failures), n_ge(i, t) = the
// number of candidates c != t with similarity(i, c) >= similarity(i, t):
//   top1_all  n_ge < 1;   top5_all  n_ge < 5;   pairwise  (N - 1 - n_ge) / (N - 1).
// p = (1 + #{permutations scoring >= observed}) / (1 + n_perm), one-sided (stats/permutation.h).
// With one query per unit, or every unit holding one stimulus, no permutation changes anything
// and p = 1: a design whose labels cannot be exchanged cannot be tested this way.
#pragma once

#include <cstdint>
#include <vector>

#include "pipeline/core/types.h"

namespace v2c::eval {

struct IdentificationPValues {
  double top1_all = 0, top5_all = 0, pairwise = 0;  // one-sided permutation p-values
  int64_t n_perm = 0;
};

// similarity [n_queries x N] (each query's similarity to every candidate); truth [n_queries]
// candidate column of each query's true stimulus (>= 0); unit [n_queries] exchangeability block.
IdentificationPValues identification_permutation_test(const MatrixD& similarity, const std::vector<int64_t>& truth,
                                                      const std::vector<int64_t>& unit, int64_t n_perm, uint64_t seed);

}  // namespace v2c::eval
