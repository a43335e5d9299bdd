// The one exception type of vox2clip, its exit codes, and message helpers.
//
// Two tiers (see STYLE.md): V2C_ASSERT for our own broken invariants (a bug: exit 1),
// v2c::Error for everything a user can cause (bad usage, bad data, I/O, numerics).
// An Error carries a chain of context added as it unwinds:
//   "while reading run 3 of sub-02: bold.nii.gz: expected 4 dims, found 3"
// and is caught once, in the shared stage main, which maps it to its exit code.
#pragma once

#include <exception>
#include <sstream>
#include <string>
#include <utility>

namespace v2c {

// Documented in README.md ("Exit codes"); keep the two in step.
enum class ExitCode : int {
  ok = 0,
  internal = 1,      // a bug in vox2clip (assertion), or an unexpected exception
  usage = 2,         // bad command line or config: unknown option/key, value out of range
  input = 3,         // bad input data: malformed file, mismatched grids, missing stimulus, NaNs
  io = 4,            // cannot read or write a file: missing, permission, disk full
  numerical = 5,     // a computation failed: singular system, no finite values left
  interrupted = 130  // SIGINT/SIGTERM; temporary outputs removed
};

const char* exit_code_name(ExitCode code);

// Concatenate anything streamable into a string: cat("run ", 3, " of ", subject).
template <class... Args>
std::string cat(Args&&... args) {
  if constexpr (sizeof...(Args) == 0) {
    return {};
  } else {
    std::ostringstream os;
    (os << ... << std::forward<Args>(args));
    return os.str();
  }
}

// `text` cut to at most `max` characters for a message ("abc... (40030 characters)"): errors
// quote what they found without echoing a whole input.
inline std::string excerpt(const std::string& text, size_t max = 100) {
  if (text.size() <= max) return text;
  return text.substr(0, max) + cat("... (", text.size(), " characters)");
}

class Error : public std::exception {
 public:
  Error(ExitCode code, std::string message) : code_(code), message_(std::move(message)) {}

  // Prepends one level of context: "while <what>: <message so far>".
  Error& add_context(const std::string& what) {
    message_ = "while " + what + ": " + message_;
    return *this;
  }
  ExitCode code() const noexcept { return code_; }
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  ExitCode code_;
  std::string message_;
};

template <class... Args>
Error usage_error(Args&&... args) {
  return Error(ExitCode::usage, cat(std::forward<Args>(args)...));
}
template <class... Args>
Error input_error(Args&&... args) {
  return Error(ExitCode::input, cat(std::forward<Args>(args)...));
}
template <class... Args>
Error io_error(Args&&... args) {
  return Error(ExitCode::io, cat(std::forward<Args>(args)...));
}
template <class... Args>
Error numerical_error(Args&&... args) {
  return Error(ExitCode::numerical, cat(std::forward<Args>(args)...));
}

// Runs fn(); an Error escaping it gets `what` added as context.
template <class Fn>
decltype(auto) with_context(const std::string& what, Fn&& fn) {
  try {
    return fn();
  } catch (Error& e) {
    e.add_context(what);
    throw;
  }
}

[[noreturn]] void assertion_failed(const char* expr, const char* file, int line, const std::string& msg);

}  // namespace v2c

#define V2C_ASSERT(cond, ...)                                                                 \
  do {                                                                                        \
    if (!(cond)) ::v2c::assertion_failed(#cond, __FILE__, __LINE__, ::v2c::cat(__VA_ARGS__)); \
  } while (0)
