// Sizes a user or a file can ask for are checked against the machine before anything is
// allocated, so "out of memory" always says what was asked and where it came from.
#pragma once

#include <string>

namespace v2c {

// Bytes this process may use: physical memory, or less under RLIMIT_AS / RLIMIT_DATA.
double memory_limit_bytes();

// Throws Error(ExitCode::numerical) naming `what` (e.g. "dataset 'data' of 'x.h5' (9 x 8 float32)")
// when `bytes` exceeds memory_limit_bytes().
void require_memory(double bytes, const std::string& what);

// "1.5 GiB": a byte count for messages.
std::string format_bytes(double bytes);

}  // namespace v2c
