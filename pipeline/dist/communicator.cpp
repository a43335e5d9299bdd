#include "pipeline/dist/communicator.h"

#include <cstdlib>
#include <cstring>

#include "pipeline/core/error.h"

namespace v2c::dist {

void SerialCommunicator::allgatherv(const void* send, void* recv, const std::vector<int64_t>& counts) {
  V2C_ASSERT(counts.size() == 1, "one-process allgatherv with ", counts.size(), " counts");
  if (send != recv && counts[0] > 0) std::memmove(recv, send, size_t(counts[0]));
}

void SerialCommunicator::alltoallv(const void* send, const std::vector<int64_t>& send_counts, void* recv,
                                   const std::vector<int64_t>& recv_counts) {
  V2C_ASSERT(send_counts.size() == 1 && recv_counts.size() == 1 && send_counts[0] == recv_counts[0],
             "one-process alltoallv with mismatched counts");
  if (send != recv && send_counts[0] > 0) std::memmove(recv, send, size_t(send_counts[0]));
}

void SerialCommunicator::abort(int exit_code) { std::exit(exit_code); }

Communicator& serial() {
  static SerialCommunicator one;
  return one;
}

}  // namespace v2c::dist
