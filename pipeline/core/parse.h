// Numbers from text: the one parser of user-given numbers (config values, command-line options,
// table cells, run lists, header fields).
//
// Strict and whole-string, as std::from_chars: an optional sign ('+' or '-'; '-' refused for
// unsigned types), the digits, for doubles an optional fraction and exponent ("2.5", ".5", "1e-3"),
// and nothing else: no spaces, no hexadecimal, no trailing text. Out of the type's range is a
// failure (never clamped); so is a non-finite double ("inf", "nan", "1e400").
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>

#include "pipeline/core/error.h"

namespace v2c {

// Without exceptions: false (value untouched) on anything the rules above refuse.
bool parse_double(std::string_view text, double& value);
bool parse_int(std::string_view text, int& value);
bool parse_int(std::string_view text, int64_t& value);
bool parse_int(std::string_view text, uint64_t& value);

// For a named field (an option "--threads", a config key "ridge.explicit_folds", a file and line):
// the value, or Error(code) "<field>: expected an integer in [lo, hi], found '<text>'".
template <class Int>
Int parse_int(std::string_view text, const std::string& field, ExitCode code,
              Int lo = std::numeric_limits<Int>::lowest(), Int hi = std::numeric_limits<Int>::max()) {
  Int v{};
  if (parse_int(text, v) && v >= lo && v <= hi) return v;
  const bool has_lo = lo != std::numeric_limits<Int>::lowest() || std::is_unsigned_v<Int>;
  const bool has_hi = hi != std::numeric_limits<Int>::max();
  std::string range;
  if (has_lo && has_hi)
    range = cat(" in [", lo, ", ", hi, "]");
  else if (has_lo)
    range = cat(" >= ", lo);
  else if (has_hi)
    range = cat(" <= ", hi);
  throw Error(code, cat(field, ": expected an integer", range, ", found '", text, "'"));
}

}  // namespace v2c
