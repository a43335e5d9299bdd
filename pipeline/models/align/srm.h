// Shared response model, deterministic form (Chen et al. 2015, "A reduced-dimension fMRI shared
// response model", NIPS 28, the deterministic SRM; kernel: no I/O). Layout and maps:
// common_space.h.
//
// Model, for subjects i = 1..m with normalised responses Z_i [n x p_i] to the same n stimuli:
//   Z_i ≈ S W_iᵀ,  W_iᵀ W_i = I_k,  S [n x k] the shared response,
// fitted by minimising J = Σ_i ||Z_i - S W_iᵀ||²_F. (The paper writes X_i ≈ W_i S with voxels as
// rows; ours is its transpose.) Block-coordinate descent, each step the exact minimiser, so J
// never increases:
//   W_i ← U_i V_iᵀ from the thin SVD U_i Σ V_iᵀ = Z_iᵀ S   (orthogonal Procrustes),
//   S   ← (1/m) Σ_i Z_i W_i.
// Initialisation: each W_i the Q factor of a [p_i x k] standard-normal matrix from
// std::mt19937_64(seed + i) (random orthonormal columns, as the paper), then S from them.
// J = Σ_i (||Z_i||² - 2 tr(Sᵀ Z_i W_i) + ||S||²) is recorded after the initialisation and after
// every iteration; the fit stops after max_iterations or when J's relative decrease falls
// below `tolerance`. The probabilistic SRM (EM with a shared-response covariance and per-subject
// noise) is not implemented.
//
// A subject's map is W_i (z ↦ z W_i, the projection the paper uses for test data); the common
// response is S. A new subject: map_new_subject (common_space.h), W = Procrustes onto S.
// Needs k <= n and k <= p_i for every subject (thrown as input errors: the caller chose k).
#pragma once

#include <cstdint>
#include <vector>

#include "pipeline/models/align/common_space.h"

namespace v2c::align {

struct SrmSettings {
  int64_t features = 50;    // k, dimensions of the shared space
  int max_iterations = 10;  // alternating updates of (W_1..W_m, S)
  double tolerance = 1e-6;  // stop when (J_prev - J) / J_prev < tolerance
  bool standardize = true;  // z-score voxels (else centre only)
  uint64_t seed = 0;        // random orthonormal initial W_i
};

template <class S>
struct SrmFit {
  CommonSpace<S> space;           // maps W_i, common = S [n x k]
  std::vector<double> objective;  // J after the initialisation, then after each iteration
  int iterations = 0;
  bool converged = false;  // stopped by the tolerance
};

// X[i] [n x p_i]: subject i's training responses to the shared stimuli (same rows for all).
template <class S>
SrmFit<S> fit_srm(const std::vector<Mat<S>>& X, const SrmSettings& settings = {});

}  // namespace v2c::align
