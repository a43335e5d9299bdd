// NIfTI-1 / NIfTI-2 / ANALYZE 7.5 headers: what a file's header says, read once by nifticlib
// (its raw header reader, in native byte order) and interpreted by nibabel's rules, so the
// voxel -> world affine, the scaling and the TR are the ones nibabel's `img` gives.
//
// Conventions: voxel (i,j,k) flat index = i + nx*(j + ny*k) (x fastest, as stored on disk);
// volume t of a 4D series starts at t * volume_size(). Errors: io_error (exit 4) for a file that
// cannot be opened, input_error (exit 3) for a header that is malformed or unsupported.
#pragma once

#include <Eigen/Core>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace v2c::nifti {

struct Header {
  std::string path;
  int version = 1;            // 1 = NIfTI-1, 2 = NIfTI-2, 0 = ANALYZE 7.5
  std::string storage;        // "single" (.nii[.gz]) or "pair" (.hdr/.img[.gz])
  std::vector<int64_t> dims;  // dim[1..dim[0]], after FreeSurfer's ico7 convention (below)
  // NIfTI-1 files of FreeSurfer's 7th-order icosahedron surface store its 163842 vertices as
  // 27307 x 1 x 6 (int16 dims); nibabel reads them as 163842 x 1 x 1 (same voxel order), and so
  // do we. stored_dims holds dim[1..] as stored when that happened, else it is empty.
  std::vector<int64_t> stored_dims;
  int intent_code = 0;  // NIfTI intent_code
  // CIFTI-2 (a NIfTI-2 file with a connectivity intent 3000-3099 or a CIFTI extension, ecode 32):
  // read as the plain NIfTI-2 array it stores (no brain models, parcels or series from its XML).
  bool cifti = false;
  int datatype = 0;                     // NIfTI code
  std::string datatype_name;            // "int16", "float32", ...
  std::array<double, 3> voxel_size{};   // pixdim[1..3] (mm as stored)
  double tr_seconds = 0;                // pixdim[4] converted with xyzt_units (ms/us -> s); 0 when absent
  double scl_slope = 0, scl_inter = 0;  // raw header fields (ANALYZE: SPM's funused1/funused2)
  bool big_endian = false;              // byte order of the file
  int qform_code = 0, sform_code = 0;
  Eigen::Matrix4d affine = Eigen::Matrix4d::Identity();  // voxel (i,j,k,1) -> world, as nibabel's img.affine
  std::string affine_source;                             // "sform" | "qform" | "pixdim" (ANALYZE: "pixdim" or "origin")

  // Where the voxel data lives (filled by read_header; used by Image::load).
  std::string data_path;    // the .nii[.gz] itself, or the .img[.gz] of a pair
  int64_t data_offset = 0;  // byte offset of the voxel data in the (uncompressed) data file
  int bytes_per_voxel = 0;

  int64_t volume_size() const;  // dims[0]*dims[1]*dims[2] (missing dims = 1)
  int64_t n_volumes() const;    // product of dims[3..] (1 for 3D)
  int64_t n_voxels() const { return volume_size() * n_volumes(); }
  bool has_scaling() const;  // slope != 0 and finite and not (slope==1 && inter==0)
};

// Header only (no voxel data read). Missing file: io_error; not a NIfTI/ANALYZE header,
// unsupported datatype (complex, RGB, float128, ...): input_error naming the file.
Header read_header(const std::string& path);

// Why the file is not a volume on a voxel grid (a CIFTI-2 file, a FreeSurfer surface), for a
// stage that needs one; empty when it is one.
std::string not_a_volume(const Header& h);

// "6x5x4x2" (or "(none)"), for messages.
std::string format_dims(const std::vector<int64_t>& dims);

}  // namespace v2c::nifti
