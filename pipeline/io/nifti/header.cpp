#include "pipeline/io/nifti/header.h"

#include <nifti2_io.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>

#include "pipeline/core/error.h"
#include "pipeline/io/nifti/datatypes.h"
#include "pipeline/io/read_file.h"

namespace v2c::nifti {
namespace {

// ---- the raw header -----------------------------------------------------------------------
// The fields nibabel's rules read, as nifticlib's raw header reader returns them (native byte
// order, NIfTI-1 / ANALYZE or NIfTI-2 layout), before any of nifticlib's own interpretation.

struct RawHeader {
  int version = 1;  // 0 ANALYZE, 1, 2
  bool single = true;
  bool swapped = false;
  int64_t dim[8] = {};
  int datatype = 0;
  double pixdim[8] = {};
  double scl_slope = 0, scl_inter = 0, cal_max = 0, cal_min = 0;
  int32_t glmax = 0, glmin = 0;
  int xyzt_units = 0;
  int intent_code = 0;
  bool cifti_extension = false;  // an extension with ecode 32 (NIFTI_ECODE_CIFTI)
  int qform_code = 0, sform_code = 0;
  double quatern[3] = {}, qoffset[3] = {};
  double srow[3][4] = {};
  int16_t origin[3] = {};  // SPM's use of ANALYZE's originator field
  // Where the voxel data is, as nifticlib resolves it.
  std::string data_path;
  int64_t data_offset = 0;
};

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

// The fields nifticlib trusts, checked on the raw bytes before it sees them (a NIfTI-2 dim[0]
// of 2^31+4 crashed inside libnifti2): dim[0] in 1..7, every used dim[i] >= 0, a product of the
// non-zero dims times the datatype's bytes that fits in 62 bits, and a vox_offset that is a finite, non-negative
// byte offset below 2^62 (NIfTI-1 stores it as a float: NaN, inf and >= 2^31 are refused, as
// nibabel does). The byte order is the one of sizeof_hdr.
void check_raw_fields(const std::string& path, const uint8_t* b, int size, bool swapped) {
  const auto get = [&](int at, auto zero) {
    decltype(zero) v;
    std::memcpy(&v, b + at, sizeof v);
    if (swapped) {
      auto* bytes = reinterpret_cast<uint8_t*>(&v);
      std::reverse(bytes, bytes + sizeof v);
    }
    return v;
  };
  const bool n2 = size == 540;
  const int64_t dim0 = n2 ? get(16, int64_t{}) : get(40, int16_t{});
  if (dim0 < 1 || dim0 > 7) throw input_error("'", path, "': header field dim[0] = ", dim0, " (expected 1..7)");
  const TypeInfo* t = find_type(n2 ? get(12, int16_t{}) : get(70, int16_t{}));
  using u128 = unsigned __int128;
  u128 bytes = t && t->bytes > 0 ? unsigned(t->bytes) : 1;
  for (int64_t i = 1; i <= dim0; ++i) {
    const int64_t d = n2 ? get(16 + 8 * int(i), int64_t{}) : get(40 + 2 * int(i), int16_t{});
    if (d == -1 && i == 1 && !n2 && get(144, int32_t{}) > 0)
      throw input_error("'", path, "': dim[1] = -1 with the length ", get(144, int32_t{}),
                        " in glmin: FreeSurfer's large-vector convention, which vox2clip does not read");
    if (d < 0) throw input_error("'", path, "': header field dim[", i, "] = ", d, " is negative");
    // Saturating at 2^100 before the product can wrap 128 bits (bytes x 68719476738 x
    // 4611686019492741120 came to just below 2^100, and times the next dim wrapped to a small
    // number: found by `make fuzz`). A zero dim makes the image empty, but the others still
    // multiply in every size computed from them, so they count here too.
    if (d > 0) bytes = bytes > (u128(1) << 100) / uint64_t(d) ? u128(1) << 100 : bytes * uint64_t(d);
  }
  if (bytes >= u128(1) << 62)
    throw input_error("'", path, "': the header's dimensions (dim[1..", dim0,
                      "]) times the bytes per voxel exceed 2^62 bytes of voxel data");
  if (n2) {
    const int64_t off = get(168, int64_t{});
    if (off < 0 || off >= (int64_t{1} << 62))
      throw input_error("'", path, "': header field vox_offset = ", off, " (expected a byte offset from 0 to 2^62)");
  } else {
    const float off = get(108, float{});
    if (!(off >= 0 && off < 2147483648.0f))
      throw input_error("'", path, "': header field vox_offset = ", off,
                        " (expected a finite byte offset from 0 to 2^31)");
  }
}

// sizeof_hdr tells which reader applies: 348 (NIfTI-1 / ANALYZE) or 540 (NIfTI-2), in either byte
// order. Reads (and inflates) only the first bytes; a short or foreign header, or one whose
// dimensions or data offset are out of range (check_raw_fields), is an input_error.
int header_size(const std::string& hdr_path) {
  gzFile gz = gzopen(hdr_path.c_str(), "rb");
  if (!gz) throw io_error("cannot open '", hdr_path, "': ", std::strerror(errno));
  uint8_t b[540] = {};
  const int n = gzread(gz, b, sizeof b);
  gzclose(gz);
  if (n < 348)
    throw input_error("'", hdr_path, "': expected a 348 or 540 byte NIfTI/ANALYZE header, found ", std::max(n, 0),
                      " bytes");
  uint32_t size;
  std::memcpy(&size, b, 4);
  const uint32_t swapped = __builtin_bswap32(size);
  if (size == 348 || swapped == 348) {
    check_raw_fields(hdr_path, b, 348, size != 348);
    return 348;
  }
  if (size == 540 || swapped == 540) {
    if (n < 540) throw input_error("'", hdr_path, "': expected a 540 byte NIfTI-2 header, found ", n, " bytes");
    check_raw_fields(hdr_path, b, 540, size != 540);
    return 540;
  }
  throw input_error("'", hdr_path,
                    "': not a NIfTI-1, NIfTI-2 or ANALYZE 7.5 header (expected sizeof_hdr 348 or 540, found ",
                    int32_t(size), ")");
}

// Whether the extensions after a header (NIfTI-1 348 / NIfTI-2 540 bytes, then a 4-byte extender
// whose first byte says whether extensions follow, then esize/ecode pairs) include a CIFTI one
// (ecode 32). Reads only the extensions' 8-byte heads; stops at the first malformed one.
bool has_cifti_extension(const std::string& hdr_path, int size, bool swapped) {
  gzFile gz = gzopen(hdr_path.c_str(), "rb");
  if (!gz) return false;
  const auto int32_at = [&](const uint8_t* b) {
    uint32_t v;
    std::memcpy(&v, b, 4);
    return int32_t(swapped ? __builtin_bswap32(v) : v);
  };
  bool found = false;
  uint8_t extender[4] = {};
  if (gzseek(gz, size, SEEK_SET) == size && gzread(gz, extender, 4) == 4 && extender[0] != 0) {
    z_off_t at = size + 4;
    for (int k = 0; k < 64 && !found; ++k) {
      uint8_t head[8];
      if (gzseek(gz, at, SEEK_SET) != at || gzread(gz, head, 8) != 8) break;
      const int32_t esize = int32_at(head), ecode = int32_at(head + 4);
      if (esize < 16 || esize % 16 != 0) break;
      found = ecode == 32;
      at += esize;
    }
  }
  gzclose(gz);
  return found;
}

template <class H>
void copy_common(const H& h, RawHeader& r) {
  for (int i = 0; i < 8; ++i) r.dim[i] = h.dim[i], r.pixdim[i] = h.pixdim[i];
  r.datatype = h.datatype;
  r.intent_code = h.intent_code;
  r.scl_slope = h.scl_slope, r.scl_inter = h.scl_inter;
  r.cal_max = h.cal_max, r.cal_min = h.cal_min;
  r.qform_code = h.qform_code, r.sform_code = h.sform_code;
  r.quatern[0] = h.quatern_b, r.quatern[1] = h.quatern_c, r.quatern[2] = h.quatern_d;
  r.qoffset[0] = h.qoffset_x, r.qoffset[1] = h.qoffset_y, r.qoffset[2] = h.qoffset_z;
  for (int c = 0; c < 4; ++c) r.srow[0][c] = h.srow_x[c], r.srow[1][c] = h.srow_y[c], r.srow[2][c] = h.srow_z[c];
}

// nifticlib's nifti_image for the same header: the data file and offset it resolves.
void locate_data(nifti_image* nim, const std::string& path, RawHeader& r) {
  if (!nim || !nim->iname)
    throw input_error("'", path,
                      "': not a readable NIfTI-1, NIfTI-2 or ANALYZE 7.5 image "
                      "(nifticlib rejected the header or could not find its image file)");
  const int nifti_type = nim->nifti_type;
  r.data_path = nim->iname;
  r.data_offset = nim->iname_offset;
  nifti_image_free(nim);
  if (nifti_type == NIFTI_FTYPE_ASCII) throw input_error("'", path, "': NIfTI-ASCII images are not supported");
}

RawHeader read_raw_header(const std::string& path, const std::string& hdr_path) {
  RawHeader r;
  const int size = header_size(hdr_path);
  int swapped = 0;
  const auto unreadable = [&] {
    return input_error("'", path,
                       "': not a readable NIfTI-1, NIfTI-2 or ANALYZE 7.5 image "
                       "(nifticlib rejected the header or could not find its image file)");
  };
  if (size == 348) {
    std::unique_ptr<nifti_1_header, FreeDeleter> h(nifti_read_n1_hdr(hdr_path.c_str(), &swapped, /*check=*/1));
    if (!h) throw unreadable();
    r.swapped = swapped != 0;
    if (std::memcmp(h->magic, "n+1\0", 4) == 0)
      r.version = 1, r.single = true;
    else if (std::memcmp(h->magic, "ni1\0", 4) == 0)
      r.version = 1, r.single = false;
    else
      r.version = 0, r.single = false;
    copy_common(*h, r);
    r.glmax = h->glmax, r.glmin = h->glmin;
    // ANALYZE's funused3 holds the NIfTI-1 xyzt_units byte: no units there (nibabel: "unknown").
    r.xyzt_units = r.version == 0 ? 0 : h->xyzt_units;
    // SPM's originator: three int16 at byte 253, which nifticlib keeps as characters (unswapped).
    std::memcpy(r.origin, reinterpret_cast<const uint8_t*>(h.get()) + 253, sizeof r.origin);
    if (r.swapped)
      for (auto& o : r.origin) o = int16_t(__builtin_bswap16(uint16_t(o)));
    locate_data(nifti_convert_n1hdr2nim(*h, hdr_path.c_str()), path, r);
  } else {
    std::unique_ptr<nifti_2_header, FreeDeleter> h(nifti_read_n2_hdr(hdr_path.c_str(), &swapped, /*check=*/1));
    if (!h) throw unreadable();
    r.swapped = swapped != 0;
    r.version = 2;
    r.single = std::memcmp(h->magic, "n+2\0", 4) == 0;
    copy_common(*h, r);
    r.xyzt_units = h->xyzt_units;
    r.cifti_extension = has_cifti_extension(hdr_path, size, r.swapped);
    locate_data(nifti_convert_n2hdr2nim(*h, hdr_path.c_str()), path, r);
  }
  return r;
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
  const LD thresh =
      h.version == 2 ? -3 * LD(std::numeric_limits<double>::epsilon()) : -3 * LD(std::numeric_limits<float>::epsilon());
  const LD w2 = 1.0L - (x * x + y * y + z * z);
  LD w;
  if (w2 < 0) {
    if (w2 < thresh)
      throw input_error("'", path, "': invalid qform quaternion (b,c,d) = (", h.quatern[0], ", ", h.quatern[1], ", ",
                        h.quatern[2], "): 1 - (b^2+c^2+d^2) = ", static_cast<double>(w2), " is negative");
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

}  // namespace

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

std::string not_a_volume(const Header& h) {
  if (h.cifti)
    return cat("a CIFTI-2 file (intent_code ", h.intent_code,
               "): its data are grayordinates (surface vertices and voxels), not a volume on a voxel grid");
  if (!h.stored_dims.empty())
    return cat("a FreeSurfer surface (", h.dims[0], " vertices stored as ", format_dims(h.stored_dims),
               "), not a volume on a voxel grid");
  return "";
}

std::string format_dims(const std::vector<int64_t>& d) {
  std::string s;
  for (size_t i = 0; i < d.size(); ++i) s += (i ? "x" : "") + std::to_string(d[i]);
  return s.empty() ? "(none)" : s;
}

Header read_header(const std::string& path) {
  { ReadFile probe(path); }  // io_error for a missing file or a directory, before nifticlib
  nifti_set_debug_level(0);
  const std::string hdr_path = [&] {
    std::unique_ptr<char, FreeDeleter> h(nifti_findhdrname(path.c_str()));
    return h ? std::string(h.get()) : path;
  }();
  RawHeader raw = read_raw_header(path, hdr_path);

  Header h;
  h.path = path;
  h.data_path = raw.data_path;
  h.data_offset = raw.data_offset;
  h.version = raw.version;
  h.storage = raw.single ? "single" : "pair";
  h.big_endian = (std::endian::native == std::endian::big) != raw.swapped;
  if (raw.dim[0] < 1 || raw.dim[0] > 7) throw input_error("'", path, "': dim[0] = ", raw.dim[0], " (expected 1..7)");
  for (int64_t i = 1; i <= raw.dim[0]; ++i) {
    if (raw.dim[i] < 0) throw input_error("'", path, "': dim[", i, "] = ", raw.dim[i], " is negative");
    h.dims.push_back(raw.dim[i]);
  }
  if (h.version == 1 && h.dims.size() >= 3 && h.dims[0] == 27307 && h.dims[1] == 1 && h.dims[2] == 6) {
    h.stored_dims = h.dims;
    h.dims[0] = 163842, h.dims[2] = 1;
    // (nibabel's pixdim affine keeps the stored dims: raw.dim stays as it is)
  }
  h.intent_code = raw.intent_code;
  h.cifti = h.version == 2 && ((raw.intent_code >= 3000 && raw.intent_code <= 3099) || raw.cifti_extension);
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
      case 0:  // unknown: seconds by convention
      case NIFTI_UNITS_SEC:
        h.tr_seconds = raw.pixdim[4];
        break;
      case NIFTI_UNITS_MSEC:
        h.tr_seconds = raw.pixdim[4] / 1e3;
        break;
      case NIFTI_UNITS_USEC:
        h.tr_seconds = raw.pixdim[4] / 1e6;
        break;
      default:
        h.tr_seconds = 0;  // Hz, ppm, rad/s: not a repetition time
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
      throw input_error("'", path, "': valid scl_slope ", h.scl_slope, " but invalid scl_inter ", h.scl_inter);
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

}  // namespace v2c::nifti
