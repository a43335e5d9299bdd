// v2c-align's settings (config section `align:`): the functional-alignment half of the
// align-ridge baseline (align_ridge.h). The ridge half takes v2c-ridge's own settings (`ridge:`),
// so both ridge rows of a study are tuned alike.
#pragma once

#include "pipeline/core/config.h"

namespace v2c::align {

struct AlignRidgeConfig {
  int features = 50;        // k: dimensions of the common space (at most the held-out rows and voxels)
  bool standardize = true;  // z-score voxels before alignment (else centre only)
  int min_shared = 10;      // a subject sharing fewer training stimuli with the held-out one is not pooled

  void describe(config::Schema& s) {
    s.field("features", features,
            "dimensions of the common space: the held-out subject's first principal axes (capped at its training "
            "stimuli and voxels in each fold)")
        .range(1, 100000);
    s.field("standardize", standardize, "z-score each voxel before alignment (else centre only)");
    s.field("min_shared", min_shared,
            "a subject sharing fewer training stimuli with the held-out subject's fold is left out of that fold's pool")
        .range(1, 1000000);
  }
};

}  // namespace v2c::align
