// Writing NIfTI-1: float32 maps on a run's grid and 4D series (simulated studies). The header is
// made by nifticlib (nifti_image -> nifti_1_header); the file is a single .nii, or .nii.gz (gzip by
// libdeflate), written through AtomicOutput: a temporary beside it, renamed when complete.
#pragma once

#include <Eigen/Core>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/core/output.h"
#include "pipeline/io/nifti/header.h"

namespace v2c::nifti {

// 3D float32 NIfTI-1 map on a grid (dims[0..2] and affine taken from `grid`; sform and qform set
// with code 1 (scanner) when the affine is a rotation+zoom, else sform only), values x fastest,
// size volume_size(). .nii or .nii.gz by the extension of the final path.
// The AtomicOutput form is for a stage's output (made before the work, so an existing file is
// refused without --force; committed here, or left complete under its temporary name when
// !commit, for a stage that commits all its outputs together: core/output.h commit_together);
// the path form replaces an existing file (files inside an output the caller already owns, tests).
void write_map(AtomicOutput& out, const Header& grid, const std::vector<float>& values, bool commit = true);
void write_map(const std::string& path, const Header& grid, const std::vector<float>& values);

// A 4D series for simulated studies: dims {nx,ny,nz,nt} (nt == 1 writes a 3D image), affine, TR
// in seconds (xyzt_units mm+sec), values (x fastest, then y, z, t), size nx*ny*nz*nt. datatype
// "int16" (values stored exactly with slope 1 when they are all integers in range, else
// scl_inter 0 and scl_slope = max|value| / 32767, so 0 stays exactly 0; non-finite values are an
// input_error) or "float32". .nii or .nii.gz by extension; replaces an existing file.
void write_series(const std::string& path, const std::array<int64_t, 4>& dims, const Eigen::Matrix4d& affine,
                  double tr_seconds, const std::vector<float>& values, const std::string& datatype);

}  // namespace v2c::nifti
