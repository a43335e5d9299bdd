// The processes of a data-parallel job and the collectives v2c-pretrain needs from them, behind a
// small interface so that the library never includes MPI: the one-process implementation lives
// here; the MPI one (pipeline/dist/mpi_communicator.h) is linked into v2c-pretrain only.
//
// Ranks are numbered 0..size()-1; rank 0 writes every file. Every call is collective: each rank
// makes the same calls in the same order with matching sizes (a rank that does not hangs the job,
// so decisions that depend on one rank's state are broadcast first, see collectives.h).
// Buffers are raw bytes; counts are in bytes. Blocks are placed in rank order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace v2c::dist {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Ranks that share this rank's machine (for sizing thread pools); 1 when alone.
  virtual int local_size() const = 0;

  // recv = the concatenation of every rank's block, in rank order; rank r's block has counts[r]
  // bytes. send may point into recv at this rank's own block (in place).
  virtual void allgatherv(const void* send, void* recv, const std::vector<int64_t>& counts) = 0;
  // Rank r sends send_counts[s] bytes to rank s (blocks of send in rank order) and receives
  // recv_counts[s] bytes from rank s (blocks of recv in rank order).
  virtual void alltoallv(const void* send, const std::vector<int64_t>& send_counts, void* recv,
                         const std::vector<int64_t>& recv_counts) = 0;
  // data [bytes] of rank `root` copied to every rank.
  virtual void broadcast(void* data, int64_t bytes, int root) = 0;
  // Ends every rank of the job with this exit code (after the failing rank printed its error).
  [[noreturn]] virtual void abort(int exit_code) = 0;
  // "one process", "MPI: 4 ranks on 2 hosts", ... (for the log).
  virtual std::string describe() const = 0;
};

// The job of one process: size 1; the collectives copy or do nothing.
class SerialCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_size() const override { return 1; }
  void allgatherv(const void* send, void* recv, const std::vector<int64_t>& counts) override;
  void alltoallv(const void* send, const std::vector<int64_t>& send_counts, void* recv,
                 const std::vector<int64_t>& recv_counts) override;
  void broadcast(void*, int64_t, int) override {}
  [[noreturn]] void abort(int exit_code) override;
  std::string describe() const override { return "one process"; }
};

// A process-wide SerialCommunicator.
Communicator& serial();

}  // namespace v2c::dist
