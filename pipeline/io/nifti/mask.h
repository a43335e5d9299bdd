// Masks on the grid of a run: which voxels of a run a brain or ROI mask selects.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/io/nifti/header.h"

namespace v2c::nifti {

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
