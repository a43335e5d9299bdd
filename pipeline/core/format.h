// Numbers as text: the one formatter of doubles written for people and for files that are read
// back (config YAML, --help, TSV and CSV tables, file names of learning-curve fractions).
#pragma once

#include <string>

namespace v2c {

// The shortest decimal that reads back as exactly `v` (std::to_chars): 0.1, 2.5, 8, 0.125,
// 0.3333333333333333, 1e-05, 1e+06 (the shorter of plain and exponent form, plain on a tie);
// "nan", "inf", "-inf" for non-finite values.
std::string shortest_decimal(double v);

}  // namespace v2c
