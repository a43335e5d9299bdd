// --mask auto (I/O around the epi_mask.h kernel): the mean image over every volume of the runs,
// and the mask as v2c-prepare uses one.
#pragma once

#include <string>
#include <vector>

#include "pipeline/io/nifti.h"
#include "pipeline/prep/epi_mask.h"

namespace v2c::prep {

// The mean over every volume of every run (read one file at a time, in blocks of voxels, summed in
// double), [nx*ny*nz] x fastest. Runs must share the grid of `grid` (the caller checks).
std::vector<double> mean_image(const std::vector<std::string>& runs, const nifti::Header& grid);

// The mask as v2c-prepare uses a mask file: the voxels inside, as flat indices and coordinates.
nifti::Mask mask_of(const std::vector<uint8_t>& inside, const nifti::Header& grid);

}  // namespace v2c::prep
