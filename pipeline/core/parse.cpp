#include "pipeline/core/parse.h"

#include <charconv>
#include <cmath>
#include <system_error>

namespace v2c {
namespace {

// from_chars over the whole text, after an optional '+' (from_chars itself takes only '-').
template <class T>
bool whole(std::string_view text, T& value) {
  const char* first = text.data();
  const char* last = first + text.size();
  if (first != last && *first == '+') {
    ++first;
    if (first != last && *first == '-') return false;  // "+-1"
  }
  if (first == last) return false;
  T v{};
  const auto [ptr, ec] = std::from_chars(first, last, v);
  if (ec != std::errc() || ptr != last) return false;
  value = v;
  return true;
}

}  // namespace

bool parse_double(std::string_view text, double& value) {
  double v = 0;
  if (!whole(text, v) || !std::isfinite(v)) return false;
  value = v;
  return true;
}

bool parse_int(std::string_view text, int& value) { return whole(text, value); }
bool parse_int(std::string_view text, int64_t& value) { return whole(text, value); }
bool parse_int(std::string_view text, uint64_t& value) { return whole(text, value); }

}  // namespace v2c
