// NIfTI-1 / NIfTI-2 / ANALYZE 7.5 reading, masks on a run's grid, and small NIfTI-1 writers.
//
// Owns: header parsing (through nifticlib, plus the raw header block for nibabel's exact rules),
// voxel data loading (.nii, .nii.gz, .hdr/.img[.gz], either byte order; gzip inflated with
// libdeflate), scaling (scl_slope/scl_inter), the voxel->world affine as nibabel computes it
// (`img.affine`), grid checks for masks, and writing float32 maps / simulated 4D series.
//
// Conventions: voxel (i,j,k) flat index = i + nx*(j + ny*k) (x fastest, as stored on disk);
// volume t of a 4D series starts at t * volume_size(). All errors are v2c::Error:
// io_error (exit 4) for files that cannot be opened/written, input_error (exit 3) for
// malformed, truncated or unsupported content and for mismatched grids.
#pragma once

#include <Eigen/Core>
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/core/types.h"

namespace v2c::nifti {

struct Header {
  std::string path;
  int version = 1;                      // 1 = NIfTI-1, 2 = NIfTI-2, 0 = ANALYZE 7.5
  std::string storage;                  // "single" (.nii[.gz]) or "pair" (.hdr/.img[.gz])
  std::vector<int64_t> dims;            // dim[1..dim[0]]
  int datatype = 0;                     // NIfTI code
  std::string datatype_name;            // "int16", "float32", ...
  std::array<double, 3> voxel_size{};   // pixdim[1..3] (mm as stored)
  double tr_seconds = 0;                // pixdim[4] converted with xyzt_units (ms/us -> s); 0 when absent
  double scl_slope = 0, scl_inter = 0;  // raw header fields (ANALYZE: SPM's funused1/funused2)
  bool big_endian = false;              // byte order of the file
  int qform_code = 0, sform_code = 0;
  Eigen::Matrix4d affine = Eigen::Matrix4d::Identity();  // voxel (i,j,k,1) -> world, as nibabel's img.affine
  std::string affine_source;            // "sform" | "qform" | "pixdim" (ANALYZE: "pixdim" or "origin")

  // Where the voxel data lives (filled by read_header; used by Image::load).
  std::string data_path;                // the .nii[.gz] itself, or the .img[.gz] of a pair
  int64_t data_offset = 0;              // byte offset of the voxel data in the (uncompressed) data file
  int bytes_per_voxel = 0;

  int64_t volume_size() const;          // dims[0]*dims[1]*dims[2] (missing dims = 1)
  int64_t n_volumes() const;            // product of dims[3..] (1 for 3D)
  int64_t n_voxels() const { return volume_size() * n_volumes(); }
  bool has_scaling() const;             // slope != 0 and finite and not (slope==1 && inter==0)
};

// Header only (no voxel data read). Missing file: io_error; not a NIfTI/ANALYZE header,
// unsupported datatype (complex, RGB, float128, ...): input_error naming the file.
Header read_header(const std::string& path);

struct ValueStats {
  double min, max, mean;  // over finite values after scaling (NaN when there are none)
  int64_t n_nonfinite;    // NaN / +-inf values (after scaling)
};

// One-line JSON of a header (and optional stats): path, version, storage, dims, datatype,
// datatype_name, voxel_size, tr, scl_slope, scl_inter, affine (4 rows), affine_source,
// qform_code, sform_code [, min, max, mean, n_nonfinite]. Numbers %.17g, non-finite -> null.
std::string header_json(const Header& h, const ValueStats* stats);

// Header + all voxel data, kept in the file's datatype (converted to native byte order).
class Image {
 public:
  static Image load(const std::string& path);

  const Header& header() const { return header_; }
  // Raw voxel bytes, native byte order, n_voxels() * bytes_per_voxel bytes.
  const uint8_t* data() const { return data_; }

  // Values after scaling at flat in-volume indices (x fastest), for every volume.
  // out: n_volumes x indices.size() (row-major), out(t, m) = value(indices[m], t).
  // Indices must lie in [0, volume_size()) (checked: input_error otherwise).
  MatrixF gather(const std::vector<int64_t>& indices) const;

  // Value after scaling of one voxel (flat in-volume index, volume t).
  double value(int64_t flat, int64_t t = 0) const;

  // Over all voxels and volumes, after scaling, accumulated in double.
  ValueStats stats() const;

 private:
  Header header_;
  std::unique_ptr<uint8_t[]> buffer_;  // owns the bytes; data_ points into it
  const uint8_t* data_ = nullptr;
};

// 3D float32 NIfTI-1 map on a grid (dims[0..2] and affine taken from `grid`; sform and qform set
// with code 1 (scanner) when the affine is a rotation+zoom, else sform only), values x fastest,
// size volume_size(). .nii or .nii.gz by extension. Writes to a temporary name beside `path`
// and renames when complete.
void write_map(const std::string& path, const Header& grid, const std::vector<float>& values);

// A 4D series for simulated studies: dims {nx,ny,nz,nt} (nt == 1 writes a 3D image), affine, TR
// in seconds (xyzt_units mm+sec), values (x fastest, then y, z, t), size nx*ny*nz*nt. datatype
// "int16" (values stored exactly with slope 1 when they are all integers in range, else
// scl_inter 0 and scl_slope = max|value| / 32767, so 0 stays exactly 0; non-finite values are an
// input_error) or "float32".
// .nii or .nii.gz by extension. Temp + rename.
void write_series(const std::string& path, const std::array<int64_t, 4>& dims,
                  const Eigen::Matrix4d& affine, double tr_seconds,
                  const std::vector<float>& values, const std::string& datatype);

// Mask on the grid of a run: voxels with a nonzero (finite) value after scaling.
// Same grid: dims[0..2] equal and affines equal within `tol` (max abs element difference).
// A mask stored in another orientation of the SAME world grid (mask affine = run affine * P,
// P a signed axis permutation with integer shifts mapping the mask grid exactly onto the run
// grid) is reoriented exactly. Anything else (or a mask with more than one volume):
// input_error naming both files, both dims and both affines.
struct Mask {
  std::vector<int64_t> flat;                // sorted flat indices into the RUN grid (x fastest)
  std::vector<std::array<int32_t, 3>> ijk;  // run-grid voxel coordinates of each
};
Mask load_mask(const std::string& mask_path, const Header& run_grid, double tol = 1e-3);

}  // namespace v2c::nifti
