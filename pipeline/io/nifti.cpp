#include "pipeline/io/nifti.h"

#include <fcntl.h>
#include <libdeflate.h>
#include <nifti2_io.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <Eigen/Dense>
#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <type_traits>

#include "pipeline/core/error.h"
#include "pipeline/core/json.h"

namespace v2c::nifti {

namespace {

// ---- small file helpers -------------------------------------------------------------------

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Opens for reading; io_error with the reason when it cannot.
int open_or_throw(const std::string& path, const std::string& role = "") {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    std::string why = err == ENOENT ? "no such file" : std::strerror(err);
    throw io_error("cannot open '", path, "': ", why, role);
  }
  struct stat st{};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw io_error("cannot open '", path, "': is a directory", role);
  }
  return fd;
}

int64_t file_size(int fd) {
  struct stat st{};
  if (::fstat(fd, &st) != 0) return -1;
  return static_cast<int64_t>(st.st_size);
}

// Reads up to n bytes at offset; returns the count actually read (short at end of file).
int64_t pread_full(int fd, uint8_t* dst, int64_t n, int64_t offset, const std::string& path) {
  int64_t done = 0;
  while (done < n) {
    const size_t chunk = static_cast<size_t>(std::min<int64_t>(n - done, int64_t{1} << 30));
    ssize_t r = ::pread(fd, dst + done, chunk, offset + done);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw io_error("cannot read '", path, "': ", std::strerror(errno));
    }
    if (r == 0) break;
    done += r;
  }
  return done;
}

bool is_gzip_file(int fd) {
  uint8_t magic[2] = {0, 0};
  return ::pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// ---- datatypes ----------------------------------------------------------------------------

struct TypeInfo {
  int code;
  const char* name;
  int bytes;
  bool supported;
};

constexpr TypeInfo kTypes[] = {
    {2, "uint8", 1, true},        {4, "int16", 2, true},       {8, "int32", 4, true},
    {16, "float32", 4, true},     {64, "float64", 8, true},    {256, "int8", 1, true},
    {512, "uint16", 2, true},     {768, "uint32", 4, true},    {1024, "int64", 8, true},
    {1280, "uint64", 8, true},    {1, "binary", 0, false},     {32, "complex64", 8, false},
    {128, "rgb24", 3, false},     {1536, "float128", 16, false}, {1792, "complex128", 16, false},
    {2048, "complex256", 32, false}, {2304, "rgba32", 4, false},
};

const TypeInfo* find_type(int code) {
  for (const auto& t : kTypes)
    if (t.code == code) return &t;
  return nullptr;
}

// Calls fn(T{}) with the C++ type of a supported datatype code.
template <class Fn>
decltype(auto) dispatch(int code, Fn&& fn) {
  switch (code) {
    case 2: return fn(uint8_t{});
    case 4: return fn(int16_t{});
    case 8: return fn(int32_t{});
    case 16: return fn(float{});
    case 64: return fn(double{});
    case 256: return fn(int8_t{});
    case 512: return fn(uint16_t{});
    case 768: return fn(uint32_t{});
    case 1024: return fn(int64_t{});
    case 1280: return fn(uint64_t{});
  }
  V2C_ASSERT(false, "dispatch on unsupported datatype ", code);
  return fn(uint8_t{});
}

// ---- the raw header block -----------------------------------------------------------------
// Parsed by offset from the file bytes so that nibabel's rules (which read the raw fields)
// can be followed exactly; nifticlib has already validated the header and resolved the files.

struct RawHeader {
  int version = 1;  // 0 ANALYZE, 1, 2
  bool single = true;
  bool swapped = false;
  int64_t dim[8] = {};
  int datatype = 0;
  double pixdim[8] = {};
  double vox_offset = 0;
  double scl_slope = 0, scl_inter = 0, cal_max = 0, cal_min = 0;
  int32_t glmax = 0, glmin = 0;
  int xyzt_units = 0;
  int qform_code = 0, sform_code = 0;
  double quatern[3] = {}, qoffset[3] = {};
  double srow[3][4] = {};
  int16_t origin[3] = {};  // SPM's use of ANALYZE's originator field
};

template <class T>
T get(const uint8_t* b, size_t off, bool swap) {
  T v;
  std::memcpy(&v, b + off, sizeof(T));
  if (swap) {
    uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    std::reverse(tmp, tmp + sizeof(T));
    std::memcpy(&v, tmp, sizeof(T));
  }
  return v;
}

int32_t bswap32(int32_t v) {
  uint32_t u = static_cast<uint32_t>(v);
  u = (u >> 24) | ((u >> 8) & 0xff00u) | ((u << 8) & 0xff0000u) | (u << 24);
  return static_cast<int32_t>(u);
}

RawHeader parse_raw_header(const std::string& hdr_path) {
  gzFile gz = gzopen(hdr_path.c_str(), "rb");
  if (!gz) throw io_error("cannot open '", hdr_path, "': ", std::strerror(errno));
  uint8_t b[540] = {};
  const int n = gzread(gz, b, sizeof b);
  gzclose(gz);
  if (n < 348)
    throw input_error("'", hdr_path, "': expected a 348 or 540 byte NIfTI/ANALYZE header, found ",
                      std::max(n, 0), " bytes");
  int32_t sizeof_hdr;
  std::memcpy(&sizeof_hdr, b, 4);
  RawHeader h;
  if (sizeof_hdr == 348 || bswap32(sizeof_hdr) == 348) {
    const bool sw = h.swapped = sizeof_hdr != 348;
    const char* magic = reinterpret_cast<const char*>(b + 344);
    if (std::memcmp(magic, "n+1\0", 4) == 0) {
      h.version = 1, h.single = true;
    } else if (std::memcmp(magic, "ni1\0", 4) == 0) {
      h.version = 1, h.single = false;
    } else {
      h.version = 0, h.single = false;
    }
    for (int i = 0; i < 8; ++i) h.dim[i] = get<int16_t>(b, 40 + 2 * i, sw);
    h.datatype = get<int16_t>(b, 70, sw);
    for (int i = 0; i < 8; ++i) h.pixdim[i] = get<float>(b, 76 + 4 * i, sw);
    h.vox_offset = get<float>(b, 108, sw);
    h.scl_slope = get<float>(b, 112, sw);
    h.scl_inter = get<float>(b, 116, sw);
    h.xyzt_units = b[123];
    h.cal_max = get<float>(b, 124, sw);
    h.cal_min = get<float>(b, 128, sw);
    h.glmax = get<int32_t>(b, 140, sw);
    h.glmin = get<int32_t>(b, 144, sw);
    h.qform_code = get<int16_t>(b, 252, sw);
    h.sform_code = get<int16_t>(b, 254, sw);
    for (int i = 0; i < 3; ++i) h.quatern[i] = get<float>(b, 256 + 4 * i, sw);
    for (int i = 0; i < 3; ++i) h.qoffset[i] = get<float>(b, 268 + 4 * i, sw);
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 4; ++c) h.srow[r][c] = get<float>(b, 280 + 16 * r + 4 * c, sw);
    for (int i = 0; i < 3; ++i) h.origin[i] = get<int16_t>(b, 253 + 2 * i, sw);
  } else if (sizeof_hdr == 540 || bswap32(sizeof_hdr) == 540) {
    if (n < 540)
      throw input_error("'", hdr_path, "': expected a 540 byte NIfTI-2 header, found ", n, " bytes");
    const bool sw = h.swapped = sizeof_hdr != 540;
    h.version = 2;
    h.single = std::memcmp(b + 4, "n+2\0", 4) == 0;
    h.datatype = get<int16_t>(b, 12, sw);
    for (int i = 0; i < 8; ++i) h.dim[i] = get<int64_t>(b, 16 + 8 * i, sw);
    for (int i = 0; i < 8; ++i) h.pixdim[i] = get<double>(b, 104 + 8 * i, sw);
    h.vox_offset = static_cast<double>(get<int64_t>(b, 168, sw));
    h.scl_slope = get<double>(b, 176, sw);
    h.scl_inter = get<double>(b, 184, sw);
    h.cal_max = get<double>(b, 192, sw);
    h.cal_min = get<double>(b, 200, sw);
    h.qform_code = get<int32_t>(b, 344, sw);
    h.sform_code = get<int32_t>(b, 348, sw);
    for (int i = 0; i < 3; ++i) h.quatern[i] = get<double>(b, 352 + 8 * i, sw);
    for (int i = 0; i < 3; ++i) h.qoffset[i] = get<double>(b, 376 + 8 * i, sw);
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 4; ++c) h.srow[r][c] = get<double>(b, 400 + 32 * r + 8 * c, sw);
    h.xyzt_units = get<int32_t>(b, 500, sw);
  } else {
    throw input_error("'", hdr_path,
                      "': not a NIfTI-1, NIfTI-2 or ANALYZE 7.5 header (expected sizeof_hdr 348 or "
                      "540, found ",
                      sizeof_hdr, ")");
  }
  return h;
}

// ---- nibabel's affine rules ---------------------------------------------------------------

// nibabel's header check_fix on load: pixdim[1..3] zero -> 1, negative -> abs; qfac not +-1 -> 1;
// unknown xform codes -> 0.
void nibabel_fix(RawHeader& h) {
  for (int i = 1; i <= 3; ++i) {
    if (h.pixdim[i] == 0) h.pixdim[i] = 1;
    h.pixdim[i] = std::fabs(h.pixdim[i]);
  }
  if (h.version > 0) {
    if (h.pixdim[0] != 1 && h.pixdim[0] != -1) h.pixdim[0] = 1;
    if (h.qform_code < 0 || h.qform_code > 5) h.qform_code = 0;
    if (h.sform_code < 0 || h.sform_code > 5) h.sform_code = 0;
  }
}

// nibabel.affines.shape_zoom_affine(dim[1:ndim+1], pixdim[1:ndim+1], x_flip=True)
Eigen::Matrix4d base_affine(const RawHeader& h) {
  const int64_t nd = h.dim[0];
  Eigen::Matrix4d a = Eigen::Matrix4d::Identity();
  for (int i = 0; i < 3; ++i) {
    const double shape = i < nd ? static_cast<double>(h.dim[i + 1]) : 1.0;
    double zoom = i < nd ? h.pixdim[i + 1] : 1.0;
    if (i == 0) zoom = -zoom;
    a(i, i) = zoom;
    a(i, 3) = -((shape - 1) / 2.0) * zoom;
  }
  return a;
}

// nibabel.spm99analyze.Spm99AnalyzeHeader.get_origin_affine
Eigen::Matrix4d spm_origin_affine(const RawHeader& h, bool* used_origin) {
  Eigen::Matrix4d a = Eigen::Matrix4d::Identity();
  bool any = false, in_range = true;
  for (int i = 0; i < 3; ++i) {
    any = any || h.origin[i] != 0;
    const int64_t d = h.dim[i + 1];
    in_range = in_range && h.origin[i] > -d && h.origin[i] < d * 2;
  }
  *used_origin = any && in_range;
  for (int i = 0; i < 3; ++i) {
    const double zoom = i == 0 ? -h.pixdim[1] : h.pixdim[i + 1];
    const double o = *used_origin ? h.origin[i] - 1.0 : (static_cast<double>(h.dim[i + 1]) - 1) / 2.0;
    a(i, i) = zoom;
    a(i, 3) = -o * zoom;
  }
  return a;
}

// nibabel's get_qform: fillpositive + quat2mat (long double, as numpy's MAX_FLOAT), R * diag(pixdim),
// pixdim[3] times qfac.
Eigen::Matrix4d qform_affine(const RawHeader& h, const std::string& path) {
  using LD = long double;
  const LD x = h.quatern[0], y = h.quatern[1], z = h.quatern[2];
  const LD thresh = h.version == 2 ? -3 * LD(std::numeric_limits<double>::epsilon())
                                   : -3 * LD(std::numeric_limits<float>::epsilon());
  const LD w2 = 1.0L - (x * x + y * y + z * z);
  LD w;
  if (w2 < 0) {
    if (w2 < thresh)
      throw input_error("'", path, "': invalid qform quaternion (b,c,d) = (", h.quatern[0], ", ",
                        h.quatern[1], ", ", h.quatern[2], "): 1 - (b^2+c^2+d^2) = ",
                        static_cast<double>(w2), " is negative");
    w = 0;
  } else {
    w = std::sqrt(w2);
  }
  LD R[3][3];
  const LD nq = w * w + x * x + y * y + z * z;
  if (nq < LD(std::numeric_limits<double>::epsilon())) {
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) R[i][j] = i == j;
  } else {
    const LD s = 2.0L / nq;
    const LD X = x * s, Y = y * s, Z = z * s;
    const LD wX = w * X, wY = w * Y, wZ = w * Z;
    const LD xX = x * X, xY = x * Y, xZ = x * Z;
    const LD yY = y * Y, yZ = y * Z, zZ = z * Z;
    const LD m[3][3] = {{1.0L - (yY + zZ), xY - wZ, xZ + wY},
                        {xY + wZ, 1.0L - (xX + zZ), yZ - wX},
                        {xZ - wY, yZ + wX, 1.0L - (xX + yY)}};
    std::memcpy(R, m, sizeof R);
  }
  const LD vox[3] = {h.pixdim[1], h.pixdim[2], h.pixdim[3] * h.pixdim[0]};
  Eigen::Matrix4d a = Eigen::Matrix4d::Identity();
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) a(i, j) = static_cast<double>(R[i][j] * vox[j]);
    a(i, 3) = h.qoffset[i];
  }
  return a;
}

// Plain loop: Eigen's vectorised maxCoeff on 4x4 trips a GCC 12 -Wmaybe-uninitialized false positive.
double max_abs_diff(const Eigen::Matrix4d& a, const Eigen::Matrix4d& b) {
  double m = 0;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) {
      const double d = std::fabs(a(r, c) - b(r, c));
      if (!(d <= m)) m = d;  // NaN propagates
    }
  return m;
}

std::string format_affine(const Eigen::Matrix4d& a) {
  std::string s = "[";
  char buf[64];
  for (int r = 0; r < 4; ++r) {
    s += r ? ", [" : "[";
    for (int c = 0; c < 4; ++c) {
      std::snprintf(buf, sizeof buf, "%s%.6g", c ? ", " : "", a(r, c));
      s += buf;
    }
    s += "]";
  }
  return s + "]";
}

std::string format_dims(const std::vector<int64_t>& d) {
  std::string s;
  for (size_t i = 0; i < d.size(); ++i) s += (i ? "x" : "") + std::to_string(d[i]);
  return s.empty() ? "(none)" : s;
}

// ---- gzip ---------------------------------------------------------------------------------

// zlib path: used when libdeflate stops early (corrupt or truncated stream, or a member that
// runs past the bytes we need). Fills out[0..out_size) or throws with what went wrong.
void inflate_zlib(const uint8_t* in, size_t in_size, uint8_t* out, size_t out_size,
                  const std::string& path, size_t data_offset) {
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
    const int r = inflate(&zs, Z_NO_FLUSH);
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
  throw input_error("'", path, "': truncated gzip file: expected ", want,
                    " bytes of voxel data, found ", have);
}

// Inflates the gzip file `in` (possibly several concatenated members) into out[0..out_size).
void inflate_gzip(const uint8_t* in, size_t in_size, uint8_t* out, size_t out_size,
                  const std::string& path, size_t data_offset) {
  libdeflate_decompressor* d = libdeflate_alloc_decompressor();
  if (!d) throw io_error("libdeflate: out of memory while reading '", path, "'");
  size_t in_pos = 0, out_pos = 0;
  bool ok = true;
  while (out_pos < out_size && in_pos < in_size) {
    size_t in_used = 0, out_got = 0;
    const auto r = libdeflate_gzip_decompress_ex(d, in + in_pos, in_size - in_pos, out + out_pos,
                                                 out_size - out_pos, &in_used, &out_got);
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

// ---- byte swapping ------------------------------------------------------------------------

template <int N>
void swap_bytes(uint8_t* p, int64_t n) {
#pragma omp parallel for schedule(static) if (n > (int64_t{1} << 20))
  for (int64_t i = 0; i < n; ++i) std::reverse(p + i * N, p + i * N + N);
}

// ---- JSON ---------------------------------------------------------------------------------

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// ---- writing ------------------------------------------------------------------------------

template <class T>
void put(uint8_t* b, size_t off, T v) {
  std::memcpy(b + off, &v, sizeof(T));
}

// A NIfTI-1 single-file header (352 bytes incl. the empty extension flag), little-endian native.
std::vector<uint8_t> make_n1_header(const std::vector<int64_t>& dims, int datatype, int bitpix,
                                    const Eigen::Matrix4d& affine, double tr_seconds, double slope,
                                    double inter, const std::string& path) {
  static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big);
  std::vector<uint8_t> b(352, 0);
  put<int32_t>(b.data(), 0, 348);
  put<int16_t>(b.data(), 40, static_cast<int16_t>(dims.size()));
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] < 1 || dims[i] > 32767)
      throw input_error("cannot write '", path, "': dimension ", i, " = ", dims[i],
                        " does not fit a NIfTI-1 header (1..32767)");
    put<int16_t>(b.data(), 42 + 2 * i, static_cast<int16_t>(dims[i]));
  }
  for (size_t i = dims.size() + 1; i < 8; ++i) put<int16_t>(b.data(), 40 + 2 * i, 1);
  put<int16_t>(b.data(), 70, static_cast<int16_t>(datatype));
  put<int16_t>(b.data(), 72, static_cast<int16_t>(bitpix));

  const Eigen::Matrix3d m = affine.topLeftCorner<3, 3>();
  double zooms[3];
  for (int i = 0; i < 3; ++i) zooms[i] = m.col(i).norm();
  // Rotation + zoom (orthogonal columns): the qform can carry it too.
  bool orthogonal = true;
  for (int i = 0; i < 3; ++i)
    for (int j = i + 1; j < 3; ++j)
      orthogonal = orthogonal && std::fabs(m.col(i).dot(m.col(j))) <= 1e-6 * zooms[i] * zooms[j];
  orthogonal = orthogonal && zooms[0] > 0 && zooms[1] > 0 && zooms[2] > 0;
  double qfac = 1, qb = 0, qc = 0, qd = 0, qx = 0, qy = 0, qz = 0;
  if (orthogonal) {
    nifti_dmat44 R;
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 4; ++c) R.m[r][c] = affine(r, c);
    double dx, dy, dz;
    nifti_dmat44_to_quatern(R, &qb, &qc, &qd, &qx, &qy, &qz, &dx, &dy, &dz, &qfac);
  }
  put<float>(b.data(), 76, static_cast<float>(qfac));
  for (int i = 0; i < 3; ++i) put<float>(b.data(), 80 + 4 * i, static_cast<float>(zooms[i]));
  put<float>(b.data(), 92, static_cast<float>(dims.size() >= 4 ? tr_seconds : 0.0));
  for (int i = 5; i < 8; ++i) put<float>(b.data(), 76 + 4 * i, 1.0f);
  put<float>(b.data(), 108, 352.0f);
  put<float>(b.data(), 112, static_cast<float>(slope));
  put<float>(b.data(), 116, static_cast<float>(inter));
  b[123] = NIFTI_UNITS_MM | NIFTI_UNITS_SEC;
  std::memcpy(b.data() + 148, "vox2clip", 8);  // descrip
  put<int16_t>(b.data(), 252, static_cast<int16_t>(orthogonal ? 1 : 0));
  put<int16_t>(b.data(), 254, 1);
  put<float>(b.data(), 256, static_cast<float>(qb));
  put<float>(b.data(), 260, static_cast<float>(qc));
  put<float>(b.data(), 264, static_cast<float>(qd));
  put<float>(b.data(), 268, static_cast<float>(qx));
  put<float>(b.data(), 272, static_cast<float>(qy));
  put<float>(b.data(), 276, static_cast<float>(qz));
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) put<float>(b.data(), 280 + 16 * r + 4 * c, static_cast<float>(affine(r, c)));
  std::memcpy(b.data() + 344, "n+1\0", 4);
  return b;
}

void write_all(int fd, const uint8_t* p, size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, std::min<size_t>(n, size_t{1} << 30));
    if (w < 0) {
      if (errno == EINTR) continue;
      throw io_error("cannot write '", path, "': ", std::strerror(errno));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// Writes header + data (gzipped when path ends in .gz) to a temporary beside `path`, then renames.
void write_file(const std::string& path, const std::vector<uint8_t>& header, const uint8_t* data,
                size_t data_bytes) {
  const bool gz = ends_with(path, ".gz");
  if (!(ends_with(path, ".nii") || ends_with(path, ".nii.gz")))
    throw usage_error("cannot write '", path, "': expected a .nii or .nii.gz file name");
  std::vector<uint8_t> compressed;
  if (gz) {
    std::vector<uint8_t> whole(header.size() + data_bytes);
    std::memcpy(whole.data(), header.data(), header.size());
    if (data_bytes) std::memcpy(whole.data() + header.size(), data, data_bytes);
    libdeflate_compressor* c = libdeflate_alloc_compressor(6);
    if (!c) throw io_error("libdeflate: out of memory while writing '", path, "'");
    compressed.resize(libdeflate_gzip_compress_bound(c, whole.size()));
    const size_t n = libdeflate_gzip_compress(c, whole.data(), whole.size(), compressed.data(),
                                              compressed.size());
    libdeflate_free_compressor(c);
    if (n == 0) throw io_error("libdeflate: cannot compress data for '", path, "'");
    compressed.resize(n);
  }
  const std::string tmp = cat(path, ".tmp.", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) throw io_error("cannot write '", tmp, "': ", std::strerror(errno));
  try {
    Fd guard(fd);
    if (gz) {
      write_all(fd, compressed.data(), compressed.size(), tmp);
    } else {
      write_all(fd, header.data(), header.size(), tmp);
      write_all(fd, data, data_bytes, tmp);
    }
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw io_error("cannot rename '", tmp, "' to '", path, "': ", std::strerror(err));
  }
}

}  // namespace

// ---- Header -------------------------------------------------------------------------------

int64_t Header::volume_size() const {
  int64_t n = 1;
  for (size_t i = 0; i < 3 && i < dims.size(); ++i) n *= dims[i];
  return n;
}

int64_t Header::n_volumes() const {
  int64_t n = 1;
  for (size_t i = 3; i < dims.size(); ++i) n *= dims[i];
  return n;
}

bool Header::has_scaling() const {
  return scl_slope != 0 && std::isfinite(scl_slope) && !(scl_slope == 1 && scl_inter == 0);
}

Header read_header(const std::string& path) {
  {
    Fd probe(open_or_throw(path));
  }
  nifti_set_debug_level(0);
  nifti_image* nim = nifti_image_read(path.c_str(), 0);
  if (!nim) {
    // Say what we found: the raw parse names the header size; else a generic message.
    const std::string hdr_name = [&] {
      char* h = nifti_findhdrname(path.c_str());
      std::string s = h ? h : path;
      std::free(h);
      return s;
    }();
    parse_raw_header(hdr_name);
    throw input_error("'", path, "': not a readable NIfTI-1, NIfTI-2 or ANALYZE 7.5 image "
                      "(nifticlib rejected the header or could not find its image file)");
  }
  Header h;
  h.path = path;
  const std::string hdr_path = nim->fname ? nim->fname : path;
  h.data_path = nim->iname ? nim->iname : path;
  h.data_offset = nim->iname_offset;
  const int nifti_type = nim->nifti_type;
  nifti_image_free(nim);
  if (nifti_type == 3) throw input_error("'", path, "': NIfTI-ASCII images are not supported");

  RawHeader raw = parse_raw_header(hdr_path);
  h.version = raw.version;
  h.storage = raw.single ? "single" : "pair";
  h.big_endian = (std::endian::native == std::endian::big) != raw.swapped;
  if (raw.dim[0] < 1 || raw.dim[0] > 7)
    throw input_error("'", path, "': dim[0] = ", raw.dim[0], " (expected 1..7)");
  for (int64_t i = 1; i <= raw.dim[0]; ++i) {
    if (raw.dim[i] < 0) throw input_error("'", path, "': dim[", i, "] = ", raw.dim[i], " is negative");
    h.dims.push_back(raw.dim[i]);
  }
  h.datatype = raw.datatype;
  const TypeInfo* t = find_type(raw.datatype);
  if (!t) throw input_error("'", path, "': unknown datatype code ", raw.datatype);
  h.datatype_name = t->name;
  if (!t->supported)
    throw input_error("'", path, "': datatype ", t->name, " (code ", t->code,
                      ") is not supported (expected one of uint8, int8, int16, uint16, int32, uint32, "
                      "int64, uint64, float32, float64)");
  h.bytes_per_voxel = t->bytes;
  for (int i = 0; i < 3; ++i) h.voxel_size[i] = raw.pixdim[i + 1];

  if (h.dims.size() >= 4 && std::isfinite(raw.pixdim[4]) && raw.pixdim[4] > 0) {
    switch (raw.xyzt_units & 0x38) {
      case 0:                   // unknown: seconds by convention
      case NIFTI_UNITS_SEC: h.tr_seconds = raw.pixdim[4]; break;
      case NIFTI_UNITS_MSEC: h.tr_seconds = raw.pixdim[4] / 1e3; break;
      case NIFTI_UNITS_USEC: h.tr_seconds = raw.pixdim[4] / 1e6; break;
      default: h.tr_seconds = 0;  // Hz, ppm, rad/s: not a repetition time
    }
  }

  nibabel_fix(raw);
  if (raw.version == 0) {
    // nibabel loads ANALYZE .hdr as Spm2AnalyzeImage: SPM scale factor (funused1/funused2, else
    // from glmax/glmin + cal_max/cal_min) and the SPM origin field.
    if (std::isfinite(raw.scl_slope) && raw.scl_slope != 0) {
      h.scl_slope = raw.scl_slope;
      h.scl_inter = std::isfinite(raw.scl_inter) ? raw.scl_inter : 0.0;
    } else {
      const double unscaled = static_cast<double>(raw.glmax) - raw.glmin;
      const double scaled = static_cast<float>(raw.cal_max - raw.cal_min);
      if (unscaled != 0 && scaled != 0) {
        h.scl_slope = scaled / unscaled;
        h.scl_inter = raw.cal_min - h.scl_slope * raw.glmin;
      }
    }
    bool used_origin = false;
    h.affine = spm_origin_affine(raw, &used_origin);
    h.affine_source = used_origin ? "origin" : "pixdim";
  } else {
    h.scl_slope = raw.scl_slope;
    h.scl_inter = raw.scl_inter;
    if (h.has_scaling() && !std::isfinite(h.scl_inter))
      throw input_error("'", path, "': valid scl_slope ", h.scl_slope, " but invalid scl_inter ",
                        h.scl_inter);
    h.qform_code = raw.qform_code;
    h.sform_code = raw.sform_code;
    if (raw.sform_code != 0) {
      h.affine = Eigen::Matrix4d::Identity();
      for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 4; ++c) h.affine(r, c) = raw.srow[r][c];
      h.affine_source = "sform";
    } else if (raw.qform_code != 0) {
      h.affine = qform_affine(raw, path);
      h.affine_source = "qform";
    } else {
      h.affine = base_affine(raw);
      h.affine_source = "pixdim";
    }
  }
  return h;
}

std::string header_json(const Header& h, const ValueStats* stats) {
  std::string s = "{\"path\":" + json::quote(h.path);
  s += ",\"version\":" + std::to_string(h.version);
  s += ",\"storage\":" + json::quote(h.storage);
  s += ",\"dims\":[";
  for (size_t i = 0; i < h.dims.size(); ++i) s += (i ? "," : "") + std::to_string(h.dims[i]);
  s += "],\"datatype\":" + std::to_string(h.datatype);
  s += ",\"datatype_name\":" + json::quote(h.datatype_name);
  s += ",\"voxel_size\":[" + json_number(h.voxel_size[0]) + "," + json_number(h.voxel_size[1]) + "," +
       json_number(h.voxel_size[2]) + "]";
  s += ",\"tr\":" + json_number(h.tr_seconds);
  s += ",\"scl_slope\":" + json_number(h.scl_slope);
  s += ",\"scl_inter\":" + json_number(h.scl_inter);
  s += ",\"affine\":[";
  for (int r = 0; r < 4; ++r) {
    s += r ? ",[" : "[";
    for (int c = 0; c < 4; ++c) s += (c ? "," : "") + json_number(h.affine(r, c));
    s += "]";
  }
  s += "],\"affine_source\":" + json::quote(h.affine_source);
  s += ",\"qform_code\":" + std::to_string(h.qform_code);
  s += ",\"sform_code\":" + std::to_string(h.sform_code);
  if (stats) {
    s += ",\"min\":" + json_number(stats->min);
    s += ",\"max\":" + json_number(stats->max);
    s += ",\"mean\":" + json_number(stats->mean);
    s += ",\"n_nonfinite\":" + std::to_string(stats->n_nonfinite);
  }
  return s + "}";
}

// ---- Image --------------------------------------------------------------------------------

Image Image::load(const std::string& path) {
  Image img;
  img.header_ = read_header(path);
  const Header& h = img.header_;
  const int64_t nbytes = h.n_voxels() * h.bytes_per_voxel;
  const int64_t offset = h.data_offset;
  const std::string role = h.data_path == path ? "" : cat(" (image data of '", path, "')");
  Fd fd(open_or_throw(h.data_path, role));

  if (is_gzip_file(fd.fd)) {
    const int64_t csize = file_size(fd.fd);
    auto comp = std::make_unique_for_overwrite<uint8_t[]>(static_cast<size_t>(std::max<int64_t>(csize, 1)));
    const int64_t got = pread_full(fd.fd, comp.get(), csize, 0, h.data_path);
    img.buffer_ = std::make_unique_for_overwrite<uint8_t[]>(static_cast<size_t>(offset + nbytes + 1));
    inflate_gzip(comp.get(), static_cast<size_t>(got), img.buffer_.get(),
                 static_cast<size_t>(offset + nbytes), h.data_path, static_cast<size_t>(offset));
    comp.reset();
    if (offset % 16 != 0) std::memmove(img.buffer_.get(), img.buffer_.get() + offset, nbytes);
    img.data_ = img.buffer_.get() + (offset % 16 != 0 ? 0 : offset);
  } else {
    const int64_t fsize = file_size(fd.fd);
    if (fsize < offset + nbytes)
      throw input_error("'", h.data_path, "': expected ", nbytes, " bytes of voxel data at offset ",
                        offset, ", found ", std::max<int64_t>(fsize - offset, 0));
    img.buffer_ = std::make_unique_for_overwrite<uint8_t[]>(static_cast<size_t>(nbytes + 1));
    const int64_t got = pread_full(fd.fd, img.buffer_.get(), nbytes, offset, h.data_path);
    if (got < nbytes)
      throw input_error("'", h.data_path, "': expected ", nbytes, " bytes of voxel data, found ", got);
    img.data_ = img.buffer_.get();
  }

  const bool native_big = std::endian::native == std::endian::big;
  if (h.big_endian != native_big) {
    uint8_t* p = const_cast<uint8_t*>(img.data_);
    const int64_t n = h.n_voxels();
    switch (h.bytes_per_voxel) {
      case 2: swap_bytes<2>(p, n); break;
      case 4: swap_bytes<4>(p, n); break;
      case 8: swap_bytes<8>(p, n); break;
      default: break;
    }
  }
  return img;
}

double Image::value(int64_t flat, int64_t t) const {
  const Header& h = header_;
  V2C_ASSERT(flat >= 0 && flat < h.volume_size() && t >= 0 && t < h.n_volumes(), "voxel ", flat,
             " volume ", t, " outside ", format_dims(h.dims));
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
      throw input_error("'", h.path, "': voxel index ", indices[m], " (position ", m,
                        ") outside the volume of ", vs, " voxels (", format_dims(h.dims), ")");
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

// ---- writers ------------------------------------------------------------------------------

void write_map(const std::string& path, const Header& grid, const std::vector<float>& values) {
  if (grid.dims.size() < 3)
    throw input_error("cannot write map '", path, "': grid of '", grid.path, "' has dims ",
                      format_dims(grid.dims), " (expected at least 3)");
  const std::vector<int64_t> dims(grid.dims.begin(), grid.dims.begin() + 3);
  if (static_cast<int64_t>(values.size()) != grid.volume_size())
    throw input_error("cannot write map '", path, "': expected ", grid.volume_size(),
                      " values for grid ", format_dims(dims), ", got ", values.size());
  const auto header = make_n1_header(dims, 16, 32, grid.affine, 0.0, 0.0, 0.0, path);
  write_file(path, header, reinterpret_cast<const uint8_t*>(values.data()), values.size() * sizeof(float));
}

void write_series(const std::string& path, const std::array<int64_t, 4>& dims,
                  const Eigen::Matrix4d& affine, double tr_seconds, const std::vector<float>& values,
                  const std::string& datatype) {
  // nt == 1: a plain 3D image (masks), as tools expect.
  const std::vector<int64_t> d(dims.begin(), dims.end() - (dims[3] == 1 ? 1 : 0));
  const int64_t n = dims[0] * dims[1] * dims[2] * dims[3];
  if (static_cast<int64_t>(values.size()) != n)
    throw input_error("cannot write series '", path, "': expected ", n, " values for dims ",
                      format_dims(d), ", got ", values.size());
  if (datatype == "float32") {
    const auto header = make_n1_header(d, 16, 32, affine, tr_seconds, 0.0, 0.0, path);
    write_file(path, header, reinterpret_cast<const uint8_t*>(values.data()), values.size() * sizeof(float));
    return;
  }
  if (datatype != "int16")
    throw usage_error("cannot write series '", path, "': datatype '", datatype,
                      "' (expected int16 or float32)");
  double mn = std::numeric_limits<double>::infinity(), mx = -mn;
  bool integral = true;
  for (int64_t i = 0; i < n; ++i) {
    const double v = values[i];
    if (!std::isfinite(v))
      throw input_error("cannot write series '", path, "' as int16: value ", i, " is not finite");
    mn = std::min(mn, v);
    mx = std::max(mx, v);
    integral = integral && v == std::nearbyint(v);
  }
  if (n == 0) mn = mx = 0;
  float slope = 1, inter = 0;
  if (!(integral && mn >= -32768 && mx <= 32767)) {
    // Intercept 0 keeps 0 exactly 0 (outside-brain voxels, masks): slope from the largest |value|.
    inter = 0;
    slope = static_cast<float>(std::max(std::abs(mn), std::abs(mx)) / 32767.0);
    if (!(slope > 0)) slope = 1;
  }
  std::vector<int16_t> raw(static_cast<size_t>(n));
  const double s = slope, c = inter;
#pragma omp parallel for schedule(static) if (n > (int64_t{1} << 20))
  for (int64_t i = 0; i < n; ++i) {
    const double r = std::nearbyint((values[i] - c) / s);
    raw[i] = static_cast<int16_t>(std::clamp(r, -32768.0, 32767.0));
  }
  const bool scaled = !(slope == 1 && inter == 0);
  const auto header = make_n1_header(d, 4, 16, affine, tr_seconds, scaled ? slope : 0.0, scaled ? inter : 0.0, path);
  write_file(path, header, reinterpret_cast<const uint8_t*>(raw.data()), raw.size() * sizeof(int16_t));
}

// ---- masks --------------------------------------------------------------------------------

Mask load_mask(const std::string& mask_path, const Header& run_grid, double tol) {
  const Image img = Image::load(mask_path);
  const Header& mh = img.header();
  const Header& rh = run_grid;
  auto mismatch = [&](const std::string& why) {
    return input_error("mask '", mask_path, "' is not on the grid of run '", rh.path, "' (", why,
                       "): mask dims ", format_dims(mh.dims), ", affine ", format_affine(mh.affine),
                       "; run dims ", format_dims(rh.dims), ", affine ", format_affine(rh.affine));
  };
  if (mh.n_volumes() != 1) throw mismatch(cat("the mask has ", mh.n_volumes(), " volumes, expected 1"));
  if (rh.dims.size() < 3 && mh.dims.size() < 3 && rh.dims != mh.dims)
    throw mismatch("different dims");
  int64_t rd[3], md[3];
  for (size_t i = 0; i < 3; ++i) {
    rd[i] = i < rh.dims.size() ? rh.dims[i] : 1;
    md[i] = i < mh.dims.size() ? mh.dims[i] : 1;
  }

  // P maps mask voxel coordinates to run voxel coordinates: run_affine * P = mask_affine.
  // perm[a] = run axis of mask axis a, sign[a] = +-1, shift[r] = offset along run axis r.
  int perm[3] = {0, 1, 2}, sign[3] = {1, 1, 1};
  int64_t shift[3] = {0, 0, 0};
  const double diff = max_abs_diff(mh.affine, rh.affine);
  const bool same_dims = rd[0] == md[0] && rd[1] == md[1] && rd[2] == md[2];
  if (!(same_dims && diff <= tol)) {
    const Eigen::Matrix4d p = rh.affine.inverse() * mh.affine;
    Eigen::Matrix4d pr = Eigen::Matrix4d::Zero();
    pr(3, 3) = 1;
    bool used[3] = {false, false, false};
    bool ok = p.allFinite();
    for (int a = 0; a < 3 && ok; ++a) {
      int best = 0;
      for (int r = 1; r < 3; ++r)
        if (std::fabs(p(r, a)) > std::fabs(p(best, a))) best = r;
      if (used[best] || std::fabs(p(best, a)) < 0.5) {
        ok = false;
        break;
      }
      used[best] = true;
      perm[a] = best;
      sign[a] = p(best, a) > 0 ? 1 : -1;
      pr(best, a) = sign[a];
    }
    if (ok) {
      for (int r = 0; r < 3; ++r) {
        shift[r] = static_cast<int64_t>(std::llround(p(r, 3)));
        pr(r, 3) = static_cast<double>(shift[r]);
      }
      // The rounded P must reproduce the mask affine, and map the mask box onto the run box.
      ok = max_abs_diff(rh.affine * pr, mh.affine) <= tol;
      for (int a = 0; a < 3 && ok; ++a) {
        const int r = perm[a];
        ok = md[a] == rd[r] && shift[r] == (sign[a] > 0 ? 0 : md[a] - 1);
      }
    }
    if (!ok) throw mismatch(same_dims ? cat("affines differ by up to ", diff, " > tolerance ", tol)
                                      : std::string("different dims or affine"));
  }

  Mask mask;
  dispatch(mh.datatype, [&](auto zero) {
    using T = decltype(zero);
    const T* p = reinterpret_cast<const T*>(img.data());
    const bool scale = mh.has_scaling();
    const int64_t n = mh.volume_size();
    for (int64_t f = 0; f < n; ++f) {
      double v = static_cast<double>(p[f]);
      if (scale) v = v * mh.scl_slope + mh.scl_inter;
      if (v == 0 || !std::isfinite(v)) continue;
      const int64_t m[3] = {f % md[0], (f / md[0]) % md[1], f / (md[0] * md[1])};
      int64_t r[3];
      for (int a = 0; a < 3; ++a) r[perm[a]] = sign[a] * m[a] + shift[perm[a]];
      mask.flat.push_back(r[0] + rd[0] * (r[1] + rd[1] * r[2]));
    }
  });
  std::sort(mask.flat.begin(), mask.flat.end());
  mask.ijk.reserve(mask.flat.size());
  for (int64_t f : mask.flat)
    mask.ijk.push_back({static_cast<int32_t>(f % rd[0]), static_cast<int32_t>((f / rd[0]) % rd[1]),
                        static_cast<int32_t>(f / (rd[0] * rd[1]))});
  return mask;
}

}  // namespace v2c::nifti
