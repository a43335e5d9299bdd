#include "pipeline/dist/mpi_communicator.h"

// The C API only (OpenMPI's and MPICH's headers would pull in the deprecated C++ bindings).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <climits>
#include <cstdlib>

#include "pipeline/core/error.h"

namespace v2c::dist {

namespace {

// MPI counts are ints: refuse (rather than truncate) a block of 2 GiB or more.
std::vector<int> int_counts(const std::vector<int64_t>& bytes, std::vector<int>& displs) {
  std::vector<int> counts(bytes.size());
  displs.assign(bytes.size(), 0);
  int64_t offset = 0;
  for (size_t r = 0; r < bytes.size(); ++r) {
    if (bytes[r] > INT_MAX || offset > INT_MAX)
      throw io_error("MPI transfer of ", bytes[r], " bytes at offset ", offset,
                     ": more than MPI's int count (2 GiB) allows in one collective");
    counts[r] = int(bytes[r]);
    displs[r] = int(offset);
    offset += bytes[r];
  }
  return counts;
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(int* argc, char*** argv) {
    int provided = 0;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
    MPI_Comm_size(local, &local_size_);
    int local_rank = 0;
    MPI_Comm_rank(local, &local_rank);
    MPI_Comm_free(&local);
    int leader = local_rank == 0 ? 1 : 0;
    MPI_Allreduce(&leader, &hosts_, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  }
  ~MpiCommunicator() override { MPI_Finalize(); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_size() const override { return local_size_; }

  void allgatherv(const void* send, void* recv, const std::vector<int64_t>& counts) override {
    V2C_ASSERT(int(counts.size()) == size_, "allgatherv with ", counts.size(), " counts for ", size_, " ranks");
    std::vector<int> displs;
    const std::vector<int> c = int_counts(counts, displs);
    const char* own = static_cast<const char*>(recv) + displs[size_t(rank_)];
    if (send == own)
      MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_BYTE, recv, c.data(), displs.data(), MPI_BYTE, MPI_COMM_WORLD);
    else
      MPI_Allgatherv(send, c[size_t(rank_)], MPI_BYTE, recv, c.data(), displs.data(), MPI_BYTE, MPI_COMM_WORLD);
  }

  void alltoallv(const void* send, const std::vector<int64_t>& send_counts, void* recv,
                 const std::vector<int64_t>& recv_counts) override {
    V2C_ASSERT(int(send_counts.size()) == size_ && int(recv_counts.size()) == size_, "alltoallv counts");
    std::vector<int> sd, rd;
    const std::vector<int> sc = int_counts(send_counts, sd), rc = int_counts(recv_counts, rd);
    MPI_Alltoallv(send, sc.data(), sd.data(), MPI_BYTE, recv, rc.data(), rd.data(), MPI_BYTE, MPI_COMM_WORLD);
  }

  void broadcast(void* data, int64_t bytes, int root) override {
    if (bytes > INT_MAX) throw io_error("MPI broadcast of ", bytes, " bytes: more than 2 GiB in one collective");
    MPI_Bcast(data, int(bytes), MPI_BYTE, root, MPI_COMM_WORLD);
  }

  [[noreturn]] void abort(int exit_code) override {
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::exit(exit_code);
  }

  std::string describe() const override {
    return cat("MPI, ", size_, " rank", size_ == 1 ? "" : "s", " on ", hosts_, " host", hosts_ == 1 ? "" : "s");
  }

 private:
  int rank_ = 0, size_ = 1, local_size_ = 1, hosts_ = 1;
};

}  // namespace

bool launched_by_mpi() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (const char* v = std::getenv(var); v && *v) return true;
  return false;
}

std::unique_ptr<Communicator> connect_world(int* argc, char*** argv) {
  if (!launched_by_mpi()) return std::make_unique<SerialCommunicator>();
  return std::make_unique<MpiCommunicator>(argc, argv);
}

}  // namespace v2c::dist
