// The real Haxby slice with its CLIP category vectors, as several suites prepare it
// (needs ../shared/data: guard the test with needs_shared_data{"clip-vitb32/oid_clip_a+cname.npy"}).
#pragma once

#include "pipeline/prep/prepare.h"
#include "tests/test_util.h"

namespace v2c::test {

// The concatenated slice (530 voxels) with per-volume category names, joined to the OpenImages
// CLIP text vectors through category_to_clip.tsv (L2-normalised); cfg gets the alias columns.
inline prep::PrepareInputs haxby_slice_with_clip(prep::PrepareConfig& cfg) {
  prep::PrepareInputs in;
  in.bold = {shared_data("haxby2001-sub001/bold.nii.gz")};
  in.labels = shared_data("haxby2001-sub001/attributes_literal.txt");
  in.mask = shared_data("haxby2001-sub001/mask.nii.gz");
  in.features = shared_data("clip-vitb32/oid_clip_a+cname.npy");
  in.feature_names = shared_data("clip-vitb32/names_oid.txt");
  in.feature_aliases = shared_data("haxby2001-sub001/category_to_clip.tsv");
  cfg.alias_from_column = "category";
  cfg.alias_to_column = "clip_name";
  cfg.l2_normalize_features = true;
  return in;
}

}  // namespace v2c::test
