// NIfTI voxel data: a header plus all voxel values in the file's datatype (.nii, .nii.gz,
// .hdr/.img[.gz], either byte order; gzip inflated with libdeflate), read with scaling applied
// (scl_slope/scl_inter) as nibabel's get_fdata gives them.
//
// Errors: io_error (exit 4) for a file that cannot be opened or read, input_error (exit 3) for
// truncated or corrupt data and for voxel indices outside the volume.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/core/types.h"
#include "pipeline/io/nifti/header.h"

namespace v2c::nifti {

struct ValueStats {
  double min, max, mean;  // over finite values after scaling (NaN when there are none)
  int64_t n_nonfinite;    // NaN / +-inf values (after scaling)
};

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

}  // namespace v2c::nifti
