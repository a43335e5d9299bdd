// The record v2c-info prints per file with --json (and its nibabel oracle compares against).
#pragma once

#include <string>

#include "pipeline/io/nifti/header.h"
#include "pipeline/io/nifti/image.h"

namespace v2c::nifti {

// One-line JSON of a header (and optional stats): path, version, storage, dims [, stored_dims
// (FreeSurfer ico7 only)], intent_code, cifti (true for CIFTI-2), datatype,
// datatype_name, voxel_size, tr, scl_slope, scl_inter, affine (4 rows), affine_source,
// qform_code, sform_code [, min, max, mean, n_nonfinite]. Strings escaped by core/json.h;
// numbers with 17 significant digits (%.17g: every double exactly), non-finite -> null.
std::string header_json(const Header& h, const ValueStats* stats);

}  // namespace v2c::nifti
