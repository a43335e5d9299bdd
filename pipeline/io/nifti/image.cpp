#include "pipeline/io/nifti/image.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "pipeline/core/error.h"
#include "pipeline/core/memory.h"
#include "pipeline/io/gzip.h"
#include "pipeline/io/nifti/datatypes.h"
#include "pipeline/io/read_file.h"

namespace v2c::nifti {
namespace {

template <int N>
void swap_bytes(uint8_t* p, int64_t n) {
#pragma omp parallel for schedule(static) if (n > (int64_t{1} << 20))
  for (int64_t i = 0; i < n; ++i) std::reverse(p + i * N, p + i * N + N);
}

}  // namespace

Image Image::load(const std::string& path) {
  Image img;
  img.header_ = read_header(path);
  const Header& h = img.header_;
  const int64_t nbytes = h.n_voxels() * h.bytes_per_voxel;
  const int64_t offset = h.data_offset;
  const std::string role = h.data_path == path ? "" : cat(" (image data of '", path, "')");
  const ReadFile file(h.data_path, role);

  if (file.is_gzip()) {
    const int64_t csize = file.size();
    auto comp = std::make_unique_for_overwrite<uint8_t[]>(static_cast<size_t>(std::max<int64_t>(csize, 1)));
    const int64_t got = file.read_at(comp.get(), csize, 0);
    // Deflate expands a byte to at most 1032 (RFC 1951's longest match, 258 bytes, from a code
    // of 2 bits), so a file that cannot hold the data is refused before any buffer for it: a
    // 47-byte .nii.gz declaring gigabytes made us allocate them (found by `make fuzz`).
    if (double(offset + nbytes) > 1032.0 * double(got) + 1024.0)
      throw input_error("'", h.data_path, "': ", got, " compressed bytes cannot hold the ", offset + nbytes,
                        " bytes of header and voxel data the header declares (", format_dims(h.dims), " ",
                        h.datatype_name, "; deflate expands at most 1032:1)");
    require_memory(double(offset + nbytes),
                   cat("the voxel data of '", h.data_path, "' (", format_dims(h.dims), " ", h.datatype_name, ")"));
    img.buffer_ = std::make_unique_for_overwrite<uint8_t[]>(static_cast<size_t>(offset + nbytes + 1));
    gzip::inflate(comp.get(), static_cast<size_t>(got), img.buffer_.get(), static_cast<size_t>(offset + nbytes),
                  h.data_path, static_cast<size_t>(offset));
    comp.reset();
    if (offset % 16 != 0) std::memmove(img.buffer_.get(), img.buffer_.get() + offset, nbytes);
    img.data_ = img.buffer_.get() + (offset % 16 != 0 ? 0 : offset);
  } else {
    const int64_t fsize = file.size();
    if (fsize < offset + nbytes)
      throw input_error("'", h.data_path, "': expected ", nbytes, " bytes of voxel data at offset ", offset, ", found ",
                        std::max<int64_t>(fsize - offset, 0));
    img.buffer_ = std::make_unique_for_overwrite<uint8_t[]>(static_cast<size_t>(nbytes + 1));
    const int64_t got = file.read_at(img.buffer_.get(), nbytes, offset);
    if (got < nbytes) throw input_error("'", h.data_path, "': expected ", nbytes, " bytes of voxel data, found ", got);
    img.data_ = img.buffer_.get();
  }

  const bool native_big = std::endian::native == std::endian::big;
  if (h.big_endian != native_big) {
    uint8_t* p = const_cast<uint8_t*>(img.data_);
    const int64_t n = h.n_voxels();
    switch (h.bytes_per_voxel) {
      case 2:
        swap_bytes<2>(p, n);
        break;
      case 4:
        swap_bytes<4>(p, n);
        break;
      case 8:
        swap_bytes<8>(p, n);
        break;
      default:
        break;
    }
  }
  return img;
}

double Image::value(int64_t flat, int64_t t) const {
  const Header& h = header_;
  V2C_ASSERT(flat >= 0 && flat < h.volume_size() && t >= 0 && t < h.n_volumes(), "voxel ", flat, " volume ", t,
             " outside ", format_dims(h.dims));
  return dispatch(h.datatype, [&](auto zero) {
    using T = decltype(zero);
    const double raw = static_cast<double>(reinterpret_cast<const T*>(data_)[t * h.volume_size() + flat]);
    return h.has_scaling() ? raw * h.scl_slope + h.scl_inter : raw;
  });
}

MatrixF Image::gather(const std::vector<int64_t>& indices) const {
  const Header& h = header_;
  const int64_t vs = h.volume_size(), nv = h.n_volumes();
  const int64_t nm = static_cast<int64_t>(indices.size());
  for (int64_t m = 0; m < nm; ++m)
    if (indices[m] < 0 || indices[m] >= vs)
      throw input_error("'", h.path, "': voxel index ", indices[m], " (position ", m, ") outside the volume of ", vs,
                        " voxels (", format_dims(h.dims), ")");
  MatrixF out(nv, nm);
  const bool scale = h.has_scaling();
  const double slope = h.scl_slope, inter = h.scl_inter;
  dispatch(h.datatype, [&](auto zero) {
    using T = decltype(zero);
    const T* base = reinterpret_cast<const T*>(data_);
    const int64_t* idx = indices.data();
#pragma omp parallel for schedule(static) if (nv > 1 && nv * nm > (int64_t{1} << 18))
    for (int64_t t = 0; t < nv; ++t) {
      const T* v = base + t * vs;
      float* o = out.data() + t * nm;
      if (scale) {
        for (int64_t m = 0; m < nm; ++m) o[m] = static_cast<float>(static_cast<double>(v[idx[m]]) * slope + inter);
      } else {
        for (int64_t m = 0; m < nm; ++m) o[m] = static_cast<float>(v[idx[m]]);
      }
    }
  });
  return out;
}

ValueStats Image::stats() const {
  const Header& h = header_;
  const int64_t n = h.n_voxels();
  const bool scale = h.has_scaling();
  const double slope = h.scl_slope, inter = h.scl_inter;
  double mn = std::numeric_limits<double>::infinity(), mx = -mn, sum = 0;
  int64_t nonfinite = 0;
  dispatch(h.datatype, [&](auto zero) {
    using T = decltype(zero);
    const T* p = reinterpret_cast<const T*>(data_);
#pragma omp parallel for schedule(static) reduction(min : mn) reduction(max : mx) \
    reduction(+ : sum, nonfinite) if (n > (int64_t{1} << 20))
    for (int64_t i = 0; i < n; ++i) {
      double v = static_cast<double>(p[i]);
      if (scale) v = v * slope + inter;
      if (!std::isfinite(v)) {
        ++nonfinite;
        continue;
      }
      mn = std::min(mn, v);
      mx = std::max(mx, v);
      sum += v;
    }
  });
  const int64_t finite = n - nonfinite;
  if (finite == 0) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    return {nan, nan, nan, nonfinite};
  }
  return {mn, mx, sum / static_cast<double>(finite), nonfinite};
}

}  // namespace v2c::nifti
