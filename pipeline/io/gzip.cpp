#include "pipeline/io/gzip.h"

#include <libdeflate.h>
#include <zlib.h>

#include <algorithm>

#include "pipeline/core/error.h"

namespace v2c::gzip {
namespace {

// zlib path: used when libdeflate stops early (corrupt or truncated stream, or a member that
// runs past the bytes we need). Fills out[0..out_size) or throws with what went wrong.
void inflate_zlib(const uint8_t* in, size_t in_size, uint8_t* out, size_t out_size, const std::string& path,
                  size_t data_offset) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) throw io_error("zlib: inflateInit2 failed for '", path, "'");
  size_t in_pos = 0, out_pos = 0;
  std::string failure;
  while (out_pos < out_size) {
    zs.next_in = const_cast<Bytef*>(in + in_pos);
    zs.avail_in = static_cast<uInt>(std::min<size_t>(in_size - in_pos, 1u << 30));
    zs.next_out = out + out_pos;
    zs.avail_out = static_cast<uInt>(std::min<size_t>(out_size - out_pos, 1u << 30));
    const uInt ai = zs.avail_in, ao = zs.avail_out;
    const int r = ::inflate(&zs, Z_NO_FLUSH);
    in_pos += ai - zs.avail_in;
    out_pos += ao - zs.avail_out;
    if (r == Z_STREAM_END) {
      if (in_pos >= in_size) break;
      inflateReset(&zs);  // concatenated gzip member
      continue;
    }
    if (r == Z_OK) continue;
    if (r == Z_BUF_ERROR && in_pos >= in_size) break;  // input ended mid-stream
    failure = zs.msg ? zs.msg : "inflate error " + std::to_string(r);
    break;
  }
  inflateEnd(&zs);
  if (out_pos >= out_size) return;
  const auto have = out_pos > data_offset ? out_pos - data_offset : 0;
  const auto want = out_size - data_offset;
  if (!failure.empty())
    throw input_error("'", path, "': corrupt gzip data (", failure, ") after ", out_pos,
                      " uncompressed bytes; expected ", want, " bytes of voxel data, found ", have);
  throw input_error("'", path, "': truncated gzip file: expected ", want, " bytes of voxel data, found ", have);
}

}  // namespace

void inflate(const uint8_t* in, size_t in_size, uint8_t* out, size_t out_size, const std::string& path,
             size_t data_offset) {
  libdeflate_decompressor* d = libdeflate_alloc_decompressor();
  if (!d) throw io_error("libdeflate: out of memory while reading '", path, "'");
  size_t in_pos = 0, out_pos = 0;
  bool ok = true;
  while (out_pos < out_size && in_pos < in_size) {
    size_t in_used = 0, out_got = 0;
    const auto r = libdeflate_gzip_decompress_ex(d, in + in_pos, in_size - in_pos, out + out_pos, out_size - out_pos,
                                                 &in_used, &out_got);
    if (r != LIBDEFLATE_SUCCESS || in_used == 0) {
      ok = false;
      break;
    }
    in_pos += in_used;
    out_pos += out_got;
  }
  libdeflate_free_decompressor(d);
  if (ok && out_pos == out_size) return;
  inflate_zlib(in, in_size, out, out_size, path, data_offset);
}

std::vector<uint8_t> compress(const uint8_t* in, size_t size, const std::string& path) {
  libdeflate_compressor* c = libdeflate_alloc_compressor(6);
  if (!c) throw io_error("libdeflate: out of memory while writing '", path, "'");
  std::vector<uint8_t> out(libdeflate_gzip_compress_bound(c, size));
  const size_t n = libdeflate_gzip_compress(c, in, size, out.data(), out.size());
  libdeflate_free_compressor(c);
  if (n == 0) throw io_error("libdeflate: cannot compress data for '", path, "'");
  out.resize(n);
  return out;
}

}  // namespace v2c::gzip
