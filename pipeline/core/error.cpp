#include "pipeline/core/error.h"

#include <cstdio>
#include <cstdlib>

namespace v2c {

const char* exit_code_name(ExitCode code) {
  switch (code) {
    case ExitCode::ok:
      return "ok";
    case ExitCode::internal:
      return "internal error";
    case ExitCode::usage:
      return "usage or config error";
    case ExitCode::input:
      return "bad input data";
    case ExitCode::io:
      return "I/O error";
    case ExitCode::numerical:
      return "numerical failure";
    case ExitCode::interrupted:
      return "interrupted";
  }
  return "unknown";
}

void assertion_failed(const char* expr, const char* file, int line, const std::string& msg) {
  std::fprintf(stderr, "vox2clip: internal error: assertion '%s' failed at %s:%d%s%s\n", expr, file, line,
               msg.empty() ? "" : ": ", msg.c_str());
  std::fflush(stderr);
  std::exit(static_cast<int>(ExitCode::internal));
}

}  // namespace v2c
