// Test helper: N ranks as N threads of this process, sharing memory, behind the Communicator
// interface (pipeline/dist/communicator.h), so that the data-parallel code runs in a unit test
// without an MPI launcher. Every collective is a barrier, a copy from the other ranks' posted
// buffers, and a barrier; arrival order never matters. run_ranks(N, fn) runs fn(comm) on N threads.
#pragma once

#include <barrier>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "pipeline/dist/communicator.h"

namespace v2c::test {

class ThreadCommunicator final : public dist::Communicator {
 public:
  struct Shared {
    explicit Shared(int n) : size(n), sync(n), posted(size_t(n)), counts(size_t(n)) {}
    int size;
    std::barrier<> sync;
    std::vector<const void*> posted;
    std::vector<std::vector<int64_t>> counts;
  };
  ThreadCommunicator(Shared& shared, int rank) : s_(shared), rank_(rank) {}

  int rank() const override { return rank_; }
  int size() const override { return s_.size; }
  int local_size() const override { return s_.size; }

  void allgatherv(const void* send, void* recv, const std::vector<int64_t>& counts) override {
    // A rank's block is copied to a side buffer first: `send` may alias another rank's `recv`.
    std::vector<char> mine(static_cast<const char*>(send), static_cast<const char*>(send) + counts[size_t(rank_)]);
    post(mine.data(), counts);
    int64_t at = 0;
    for (int r = 0; r < s_.size; ++r) {
      const size_t bytes = size_t(counts[size_t(r)]);
      if (bytes) std::memcpy(static_cast<char*>(recv) + at, s_.posted[size_t(r)], bytes);
      at += counts[size_t(r)];
    }
    s_.sync.arrive_and_wait();
  }

  void alltoallv(const void* send, const std::vector<int64_t>& send_counts, void* recv,
                 const std::vector<int64_t>& recv_counts) override {
    post(send, send_counts);
    int64_t at = 0;
    for (int r = 0; r < s_.size; ++r) {
      int64_t offset = 0;  // where rank r's block for me starts in its send buffer
      for (int k = 0; k < rank_; ++k) offset += s_.counts[size_t(r)][size_t(k)];
      if (s_.counts[size_t(r)][size_t(rank_)] != recv_counts[size_t(r)])
        throw std::logic_error("alltoallv: mismatched counts");
      std::memcpy(static_cast<char*>(recv) + at, static_cast<const char*>(s_.posted[size_t(r)]) + offset,
                  size_t(recv_counts[size_t(r)]));
      at += recv_counts[size_t(r)];
    }
    s_.sync.arrive_and_wait();
  }

  void broadcast(void* data, int64_t bytes, int root) override {
    std::vector<char> copy;
    if (rank_ == root) copy.assign(static_cast<char*>(data), static_cast<char*>(data) + bytes);
    post(copy.data(), {});
    if (rank_ != root) std::memcpy(data, s_.posted[size_t(root)], size_t(bytes));
    s_.sync.arrive_and_wait();
  }

  [[noreturn]] void abort(int code) override { std::exit(code); }
  std::string describe() const override { return "threads"; }

 private:
  void post(const void* p, const std::vector<int64_t>& counts) {
    s_.posted[size_t(rank_)] = p;
    s_.counts[size_t(rank_)] = counts;
    s_.sync.arrive_and_wait();
  }
  Shared& s_;
  int rank_;
};

// Runs fn(comm) for ranks 0..n-1, each on its own thread; rethrows the first exception.
inline void run_ranks(int n, const std::function<void(dist::Communicator&)>& fn) {
  ThreadCommunicator::Shared shared(n);
  std::vector<std::exception_ptr> errors(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] {
      ThreadCommunicator comm(shared, r);
      try {
        fn(comm);
      } catch (...) {
        errors[size_t(r)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace v2c::test
