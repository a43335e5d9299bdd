#include "pipeline/core/format.h"

#include <charconv>
#include <system_error>

#include "pipeline/core/error.h"

namespace v2c {

std::string shortest_decimal(double v) {
  char buf[64];
  const auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  V2C_ASSERT(ec == std::errc(), "to_chars failed for ", v);
  return std::string(buf, ptr);
}

}  // namespace v2c
