// NumPy .npy files (format 1.0/2.0/3.0): the reader of 2-D float feature arrays and the writer
// oracles and benchmark peers read. Format: numpy.lib.format (magic "\x93NUMPY", version, header
// length, a Python dict literal {'descr', 'fortran_order', 'shape'}, then the data).
#pragma once

#include <cstdint>
#include <string>

#include "pipeline/core/types.h"

namespace v2c::npy {

// A 2-D array of dtype f2/f4/f8, little- or big-endian, C or Fortran order, as float32:
// [rows x cols]. Missing file: io_error; anything else (not .npy, another dtype or rank, sizes
// that disagree with the header, an empty array): input_error naming the file.
MatrixF read_npy(const std::string& path);

// IEEE 754 half -> float, exact for all values (subnormals, infinities, NaN payload kept).
float half_to_float(uint16_t bits);

// Writes a matrix as format 1.0, little-endian <f4 / <f8, C order, under a temporary name renamed
// when complete (replacing an existing file).
void write_npy(const std::string& path, const MatrixF& m);
void write_npy(const std::string& path, const MatrixD& m);

}  // namespace v2c::npy
