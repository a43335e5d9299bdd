#include "pipeline/dist/collectives.h"

#include <cstring>

#include "pipeline/core/error.h"

namespace v2c::dist {

namespace {

template <class S>
void sum_segments(Communicator& comm, S* data, int64_t n) {
  const int N = comm.size(), me = comm.rank();
  if (N == 1 || n == 0) return;
  const EvenSplit seg{n, N};
  // Segment s of this rank's buffer goes to rank s; rank s's contribution to my segment arrives
  // as block s of `parts`.
  std::vector<int64_t> send_counts(static_cast<size_t>(N)), recv_counts(static_cast<size_t>(N));
  for (int s = 0; s < N; ++s) {
    send_counts[size_t(s)] = seg.count(s) * int64_t(sizeof(S));
    recv_counts[size_t(s)] = seg.count(me) * int64_t(sizeof(S));
  }
  std::vector<S> parts(size_t(seg.count(me)) * size_t(N));
  comm.alltoallv(data, send_counts, parts.data(), recv_counts);
  const int64_t len = seg.count(me);
  S* mine = data + seg.begin(me);
  for (int64_t i = 0; i < len; ++i) {
    double acc = double(parts[size_t(i)]);
    for (int s = 1; s < N; ++s) acc += double(parts[size_t(s) * size_t(len) + size_t(i)]);
    mine[i] = S(acc);
  }
  std::vector<int64_t> counts(static_cast<size_t>(N));
  for (int s = 0; s < N; ++s) counts[size_t(s)] = seg.count(s) * int64_t(sizeof(S));
  comm.allgatherv(mine, data, counts);
}

}  // namespace

void sum_in_rank_order(Communicator& comm, float* data, int64_t n) { sum_segments(comm, data, n); }
void sum_in_rank_order(Communicator& comm, double* data, int64_t n) { sum_segments(comm, data, n); }

template <class S>
void allgather_rows(Communicator& comm, const S* local, S* full, const EvenSplit& split, int64_t cols) {
  V2C_ASSERT(split.parts == comm.size(), "row split in ", split.parts, " parts for ", comm.size(), " ranks");
  std::vector<int64_t> counts(static_cast<size_t>(comm.size()));
  for (int r = 0; r < comm.size(); ++r) counts[size_t(r)] = split.count(r) * cols * int64_t(sizeof(S));
  comm.allgatherv(local, full, counts);
}

template void allgather_rows<float>(Communicator&, const float*, float*, const EvenSplit&, int64_t);
template void allgather_rows<double>(Communicator&, const double*, double*, const EvenSplit&, int64_t);

bool any(Communicator& comm, bool flag) {
  double v = flag ? 1.0 : 0.0;
  sum_in_rank_order(comm, &v, 1);
  return v > 0;
}

double broadcast_value(Communicator& comm, double value, int root) {
  comm.broadcast(&value, sizeof(value), root);
  return value;
}

void check_same_on_every_rank(Communicator& comm, uint64_t fp, const std::string& what) {
  const int N = comm.size();
  if (N == 1) return;
  std::vector<uint64_t> all(static_cast<size_t>(N));
  comm.allgatherv(&fp, all.data(), std::vector<int64_t>(size_t(N), int64_t(sizeof(uint64_t))));
  for (int r = 1; r < N; ++r)
    V2C_ASSERT(all[size_t(r)] == all[0], what, " differs between rank 0 and rank ", r,
               ": the ranks diverged (they must run the same binary, inputs and settings)");
}

uint64_t fingerprint(const void* data, int64_t bytes, uint64_t h) {
  const auto* p = static_cast<const unsigned char*>(data);
  int64_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    uint64_t word;
    std::memcpy(&word, p + i, 8);
    h = (h ^ word) * 0x100000001b3ull;
  }
  for (; i < bytes; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

}  // namespace v2c::dist
