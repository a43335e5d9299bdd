// A minimal PNG encoder (8-bit RGB, no interlace, zlib from the system) and base64, for images
// embedded in the report as data: URIs (no external files, no image library).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace v2c::report {

// rgb: [height x width x 3] bytes, row-major, top row first. Returns the PNG file's bytes.
std::string encode_png_rgb(int64_t width, int64_t height, const std::vector<uint8_t>& rgb);

// Standard base64 (RFC 4648, with '=' padding).
std::string base64(const std::string& bytes);

}  // namespace v2c::report
