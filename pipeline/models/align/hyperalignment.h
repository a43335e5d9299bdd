// Procrustes hyperalignment (Haxby et al. 2011, "A common, high-dimensional model of the
// representational space in human ventral temporal cortex", Neuron 72; kernel: no I/O).
// Layout and maps: common_space.h.
//
// Each subject's normalised responses Z_i [n x p_i] are rotated (orthogonal Procrustes, no
// scaling, no translation: the voxels are centred) onto a common template T [n x k], k = max p_i
// (a subject with fewer voxels maps onto a k-dimensional subspace: its W has orthonormal rows, the
// same result as zero-padding it to k voxels). The template is built in the paper's three passes:
//   1. T = Z_1 (zero-padded to k columns); for i = 2..m: T ← (T + Z_i R_i) / 2, with R_i the
//      Procrustes map of Z_i onto the current T (the running reference of the paper);
//   2. every subject is mapped onto that T, and T ← mean_i Z_i R_i;
//   3. every subject's final map W_i = Procrustes of Z_i onto T; T is the common response.
// The result depends on the order of the subjects (pass 1), as in the paper. Haxby et al. then
// reduced the space by PCA (35 dimensions); not done here — use srm.h for a reduced space.
// Cost: per subject and pass one thin SVD of a p_i x k matrix, O(p_i k min(p_i, k)): select
// voxels first (the paper used 1000 per subject).
#pragma once

#include <vector>

#include "pipeline/models/align/common_space.h"

namespace v2c::align {

struct HyperalignSettings {
  bool standardize = true;  // z-score voxels (else centre only)
};

// X[i] [n x p_i]: subject i's training responses to the shared stimuli (same rows for all).
// Throws v2c::Error (input) on mismatched rows or no subjects, (numerical) when an SVD fails.
template <class S>
CommonSpace<S> fit_hyperalignment(const std::vector<Mat<S>>& X, const HyperalignSettings& settings = {});

}  // namespace v2c::align
