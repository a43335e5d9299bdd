// NIfTI-1 / NIfTI-2 / ANALYZE 7.5: one header for the whole reader and writer. Each part lives in
// its own file under pipeline/io/nifti/; include the one you need:
//   header.h       what a header says, read by nifticlib, interpreted by nibabel's rules
//   image.h        voxel data with scaling (.nii, .nii.gz, .hdr/.img[.gz], either byte order)
//   mask.h         a mask's voxels on a run's grid (reoriented when stored in another orientation)
//   writer.h       float32 maps and 4D series (NIfTI-1, nifticlib header, atomic)
//   header_json.h  v2c-info's JSON record of a file
#pragma once

#include "pipeline/io/nifti/header.h"
#include "pipeline/io/nifti/header_json.h"
#include "pipeline/io/nifti/image.h"
#include "pipeline/io/nifti/mask.h"
#include "pipeline/io/nifti/writer.h"
