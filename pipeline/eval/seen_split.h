// Identification split by what the model saw (kernel: no I/O). A gallery or category set mixes
// candidates whose stimulus (or category) appeared in the query's training fold with candidates
// the model never saw; a model that learnt the training distribution ranks the seen ones high, so
// top-1 among all N with chance 1/N mixes two questions (issue 10). For each query, two top-1s:
//   seen    its true candidate against the OTHER candidates seen in its fold's training rows,
//   unseen  its true candidate against the other candidates never seen there,
// each a hit when the true candidate's cosine is strictly above every other's of that kind (ties
// count as failures, as in every identification metric here), with that query's own chance
// 1 / (others of the kind + 1). A query with no other candidate of a kind has no value for it.
//
// Inputs are transformed already (similarity.h: centring, Pearson); scores are cosines in float32
// accumulated by Eigen's GEMM, in blocks of queries so memory stays [block x N].
#pragma once

#include <cstdint>
#include <vector>

#include "pipeline/core/types.h"

namespace v2c::eval {

struct SeenSplit {
  std::vector<double> seen_hit, unseen_hit;         // [n_queries] 1/0, NaN: no other of that kind
  std::vector<int64_t> seen_others, unseen_others;  // [n_queries] other candidates of each kind
};

// queries [nq x d], candidates [N x d]; truth [nq] row of candidates; seen [nq] one flag per
// candidate (N each): candidate seen in the training rows of the query's fold. Appends nothing,
// returns [nq] entries.
SeenSplit seen_split_top1(const MatrixF& queries, const MatrixF& candidates, const std::vector<int64_t>& truth,
                          const std::vector<const std::vector<char>*>& seen);

}  // namespace v2c::eval
