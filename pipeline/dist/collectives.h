// Typed collectives over a Communicator (communicator.h), written once so that every rank gets
// bitwise the same result whatever order messages arrive in.
//
// Fixed-order sum (sum_in_rank_order): the buffer is cut into size() contiguous segments; rank r
// receives segment r from every rank (alltoallv) and adds the contributions in rank order
// 0, 1, ..., N-1 in double precision, then every rank receives every reduced segment
// (allgatherv). Each element is therefore the same sum, in the same order, on every rank and in
// every run with the same number of ranks; it costs 2·(N-1)/N of the buffer per rank, like a ring
// all-reduce.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/dist/communicator.h"

namespace v2c::dist {

// [begin(k), begin(k+1)) of n items cut into `parts` contiguous, near-equal ranges (part k gets
// items k·n/parts .. (k+1)·n/parts).
struct EvenSplit {
  int64_t n = 0;
  int parts = 1;
  int64_t begin(int k) const { return int64_t(k) * n / parts; }
  int64_t count(int k) const { return begin(k + 1) - begin(k); }
};

// data[0..n) <- Σ over ranks, added in rank order (above). Every rank passes its n values.
void sum_in_rank_order(Communicator& comm, float* data, int64_t n);
void sum_in_rank_order(Communicator& comm, double* data, int64_t n);

// Rows of a row-major [rows x cols] buffer, rank r holding rows split.begin(r) .. +split.count(r)
// at `local` (row-major [count x cols]): `full` [split.n x cols] gets every rank's rows in order.
// `local` may point at the rank's own rows inside `full`.
template <class S>
void allgather_rows(Communicator& comm, const S* local, S* full, const EvenSplit& split, int64_t cols);

// Whether `flag` is true on any rank.
bool any(Communicator& comm, bool flag);
// Rank root's value, on every rank.
double broadcast_value(Communicator& comm, double value, int root = 0);

// Internal error (exit 1) unless every rank passes the same fingerprint; `what` names the state.
void check_same_on_every_rank(Communicator& comm, uint64_t fingerprint, const std::string& what);
// FNV-1a over 8-byte words (then the tail bytes), continuing from `h`: a fingerprint of model
// state for the check above, not a cryptographic hash.
uint64_t fingerprint(const void* data, int64_t bytes, uint64_t h = 0xcbf29ce484222325ull);

}  // namespace v2c::dist
