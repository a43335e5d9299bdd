#include "pipeline/io/nifti/writer.h"

#include <fcntl.h>
#include <nifti2_io.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>

#include "pipeline/core/error.h"
#include "pipeline/io/gzip.h"

namespace v2c::nifti {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct NimDeleter {
  void operator()(nifti_image* nim) const { nifti_image_free(nim); }
};

// A NIfTI-1 single-file header made by nifticlib, plus the 4-byte extension flag (no extensions):
// 352 bytes, native byte order. slope 0 = no scaling.
std::vector<uint8_t> n1_header(const std::vector<int64_t>& dims, int datatype, const Eigen::Matrix4d& affine,
                               double tr_seconds, double slope, double inter, const std::string& path) {
  int64_t d[8] = {int64_t(dims.size()), 1, 1, 1, 1, 1, 1, 1};
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] < 1 || dims[i] > 32767)
      throw input_error("cannot write '", path, "': dimension ", i, " = ", dims[i],
                        " does not fit a NIfTI-1 header (1..32767)");
    d[i + 1] = dims[i];
  }
  std::unique_ptr<nifti_image, NimDeleter> nim(nifti_make_new_nim(d, datatype, /*data_fill=*/0));
  if (!nim) throw io_error("nifticlib: cannot make a header for '", path, "'");
  nim->nifti_type = NIFTI_FTYPE_NIFTI1_1;
  nim->iname_offset = 352;
  // Unused dimensions: size 1, spacing 1 (as most writers; nifticlib would leave 0).
  int64_t* const extent[8] = {nullptr, &nim->nx, &nim->ny, &nim->nz, &nim->nt, &nim->nu, &nim->nv, &nim->nw};
  double* const spacing[8] = {nullptr, &nim->dx, &nim->dy, &nim->dz, &nim->dt, &nim->du, &nim->dv, &nim->dw};
  for (size_t i = dims.size() + 1; i < 8; ++i) {
    nim->dim[i] = *extent[i] = 1;
    if (i > 4) nim->pixdim[i] = *spacing[i] = 1.0;
  }

  const Eigen::Matrix3d m = affine.topLeftCorner<3, 3>();
  double zooms[3];
  for (int i = 0; i < 3; ++i) zooms[i] = m.col(i).norm();
  nim->dx = nim->pixdim[1] = zooms[0];
  nim->dy = nim->pixdim[2] = zooms[1];
  nim->dz = nim->pixdim[3] = zooms[2];
  nim->dt = nim->pixdim[4] = dims.size() >= 4 ? tr_seconds : 0.0;
  nim->xyz_units = NIFTI_UNITS_MM;
  nim->time_units = NIFTI_UNITS_SEC;
  nim->scl_slope = slope;
  nim->scl_inter = inter;
  std::strncpy(nim->descrip, "vox2clip", sizeof nim->descrip - 1);

  nim->sform_code = NIFTI_XFORM_SCANNER_ANAT;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) nim->sto_xyz.m[r][c] = affine(r, c);
  // Rotation + zoom (orthogonal columns): the qform can carry it too.
  bool orthogonal = zooms[0] > 0 && zooms[1] > 0 && zooms[2] > 0;
  for (int i = 0; i < 3; ++i)
    for (int j = i + 1; j < 3; ++j)
      orthogonal = orthogonal && std::fabs(m.col(i).dot(m.col(j))) <= 1e-6 * zooms[i] * zooms[j];
  nim->qform_code = orthogonal ? NIFTI_XFORM_SCANNER_ANAT : NIFTI_XFORM_UNKNOWN;
  if (orthogonal) {
    double dx, dy, dz;
    nifti_dmat44_to_quatern(nim->sto_xyz, &nim->quatern_b, &nim->quatern_c, &nim->quatern_d, &nim->qoffset_x,
                            &nim->qoffset_y, &nim->qoffset_z, &dx, &dy, &dz, &nim->qfac);
  }

  nifti_1_header hdr;
  if (nifti_convert_nim2n1hdr(nim.get(), &hdr) != 0) throw io_error("nifticlib: cannot make a header for '", path, "'");
  std::vector<uint8_t> bytes(352, 0);
  static_assert(sizeof(nifti_1_header) == 348);
  std::memcpy(bytes.data(), &hdr, sizeof hdr);
  return bytes;
}

// Writes all of `bytes` to fd; false (errno set) on failure.
bool write_all(int fd, const uint8_t* bytes, size_t n) {
  while (n > 0) {
    const ssize_t k = ::write(fd, bytes, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    bytes += k, n -= size_t(k);
  }
  return true;
}

// Header + data into out's temporary (gzipped when the final name ends in .gz), then commit
// (unless the caller commits it with other outputs). The temporary is created exclusively and
// never through a symbolic link (F14: a link planted at its name would have had its target
// overwritten).
void write_file(AtomicOutput& out, const std::vector<uint8_t>& header, const uint8_t* data, size_t data_bytes,
                bool commit = true) {
  const std::string& path = out.final_path();
  if (!(ends_with(path, ".nii") || ends_with(path, ".nii.gz")))
    throw usage_error("cannot write '", path, "': expected a .nii or .nii.gz file name");
  const int fd = ::open(out.temp_path().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) throw io_error("cannot create '", path, "': ", std::strerror(errno));
  bool ok;
  if (ends_with(path, ".gz")) {
    std::vector<uint8_t> whole(header.size() + data_bytes);
    std::memcpy(whole.data(), header.data(), header.size());
    if (data_bytes) std::memcpy(whole.data() + header.size(), data, data_bytes);
    const std::vector<uint8_t> compressed = gzip::compress(whole.data(), whole.size(), path);
    ok = write_all(fd, compressed.data(), compressed.size());
  } else {
    ok = write_all(fd, header.data(), header.size()) && write_all(fd, data, data_bytes);
  }
  const int saved = errno;
  if (::close(fd) != 0 && ok)
    ok = false;
  else if (!ok)
    errno = saved;
  if (!ok) throw io_error("cannot write '", path, "': ", std::strerror(errno));
  if (commit) out.commit();
}

}  // namespace

void write_map(AtomicOutput& out, const Header& grid, const std::vector<float>& values, bool commit) {
  const std::string& path = out.final_path();
  if (grid.dims.size() < 3)
    throw input_error("cannot write map '", path, "': grid of '", grid.path, "' has dims ", format_dims(grid.dims),
                      " (expected at least 3)");
  const std::vector<int64_t> dims(grid.dims.begin(), grid.dims.begin() + 3);
  if (static_cast<int64_t>(values.size()) != grid.volume_size())
    throw input_error("cannot write map '", path, "': expected ", grid.volume_size(), " values for grid ",
                      format_dims(dims), ", got ", values.size());
  const auto header = n1_header(dims, NIFTI_TYPE_FLOAT32, grid.affine, 0.0, 0.0, 0.0, path);
  write_file(out, header, reinterpret_cast<const uint8_t*>(values.data()), values.size() * sizeof(float), commit);
}

void write_map(const std::string& path, const Header& grid, const std::vector<float>& values) {
  AtomicOutput out(path, /*force=*/true);
  write_map(out, grid, values);
}

void write_series(const std::string& path, const std::array<int64_t, 4>& dims, const Eigen::Matrix4d& affine,
                  double tr_seconds, const std::vector<float>& values, const std::string& datatype) {
  // nt == 1: a plain 3D image (masks), as tools expect.
  const std::vector<int64_t> d(dims.begin(), dims.end() - (dims[3] == 1 ? 1 : 0));
  const int64_t n = dims[0] * dims[1] * dims[2] * dims[3];
  if (static_cast<int64_t>(values.size()) != n)
    throw input_error("cannot write series '", path, "': expected ", n, " values for dims ", format_dims(d), ", got ",
                      values.size());
  if (datatype == "float32") {
    const auto header = n1_header(d, NIFTI_TYPE_FLOAT32, affine, tr_seconds, 0.0, 0.0, path);
    AtomicOutput out(path, /*force=*/true);
    write_file(out, header, reinterpret_cast<const uint8_t*>(values.data()), values.size() * sizeof(float));
    return;
  }
  if (datatype != "int16")
    throw usage_error("cannot write series '", path, "': datatype '", datatype, "' (expected int16 or float32)");
  double mn = std::numeric_limits<double>::infinity(), mx = -mn;
  bool integral = true;
  for (int64_t i = 0; i < n; ++i) {
    const double v = values[i];
    if (!std::isfinite(v)) throw input_error("cannot write series '", path, "' as int16: value ", i, " is not finite");
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
  const auto header =
      n1_header(d, NIFTI_TYPE_INT16, affine, tr_seconds, scaled ? slope : 0.0, scaled ? inter : 0.0, path);
  AtomicOutput out(path, /*force=*/true);
  write_file(out, header, reinterpret_cast<const uint8_t*>(raw.data()), raw.size() * sizeof(int16_t));
}

}  // namespace v2c::nifti
