// gzip in memory: inflating a whole (possibly multi-member) gzip file into a buffer of known size
// with libdeflate, falling back to zlib to say what went wrong, and compressing a buffer into one
// gzip member. Used by the NIfTI reader and writer (.nii.gz, .img.gz).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace v2c::gzip {

// Inflates in[0..in_size) into out[0..out_size) exactly. A stream that ends early or is corrupt is
// an input_error naming `path` and counting what arrived of the `out_size - data_offset` bytes of
// voxel data that follow a header of `data_offset` bytes.
void inflate(const uint8_t* in, size_t in_size, uint8_t* out, size_t out_size, const std::string& path,
             size_t data_offset);

// One gzip member of in[0..size) (compression level 6); io_error naming `path` when it fails.
std::vector<uint8_t> compress(const uint8_t* in, size_t size, const std::string& path);

}  // namespace v2c::gzip
