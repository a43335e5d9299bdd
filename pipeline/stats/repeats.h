// Averaging repeated presentations of a stimulus before retrieval (kernel: no I/O).
//
// Test protocol of the decoding literature: the decoded vectors of all presentations of one
// test stimulus are averaged into one query before identification (Horikawa & Kamitani 2017,
// averaged over the repeats of each test image; MindEye, Scotti et al. 2023, over the 3 repeats of
// each NSD test image). Averaging reduces the noise of the query, and makes the stimulus —
// not the presentation — the object of the score.
//
// Only presentations tested in the SAME outer fold are averaged: each fold has its own model, so
// a mean across folds would mix models (and, under leave-one-run-out, the same stimulus is a
// test query of several folds). A query is a (fold, stimulus) pair; queries are ordered by the
// first appearance of the pair in `rows`. The mean is computed in double precision.
//
// The unit of independence of an averaged query (for bootstrap.h) must contain every one of its
// members: its run when all members share one run, otherwise its fold (always valid).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/core/types.h"

namespace v2c::stats {

struct AveragedQueries {
  MatrixF values;                             // [m x d] the mean of each query's member rows
  std::vector<std::string> stimulus;          // [m]
  std::vector<int32_t> fold;                  // [m]
  std::vector<std::vector<int64_t>> members;  // [m] rows of `decoded` averaged, ascending
};

// decoded [n x d]; stimulus and fold [n] per row; rows: the rows to use (tested ones: fold >= 0,
// asserted), each at most once (asserted).
AveragedQueries average_repeats(const MatrixF& decoded, const std::vector<std::string>& stimulus,
                                const std::vector<int32_t>& fold, const std::vector<int64_t>& rows);

}  // namespace v2c::stats
