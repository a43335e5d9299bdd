// Whole text files: the one writer of small text outputs (TSV, JSON sidecars, report pages).
// Atomicity is the caller's: write into an AtomicOutput's temporary (core/output.h).
#pragma once

#include <string>

namespace v2c {

// Writes `text` to `path` as is (binary: no newline translation), creating the parent directory.
// io_error naming the directory or the file when either cannot be written.
void write_text(const std::string& path, const std::string& text);

}  // namespace v2c
