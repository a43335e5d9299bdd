// Slow-drift bases of one run, as columns over its volumes (kernels: no I/O). Regressed out of the
// voxel time series together with the confounds (signal.h regress_out), and carried as nuisance
// regressors by the trial GLM (glm.h).
#pragma once

#include <cstdint>

#include "pipeline/core/types.h"

namespace v2c::prep {

// Legendre polynomials P_0 .. P_order of time mapped onto [-1, 1] (volume 0 -> -1, last -> +1):
// [n_volumes x (order + 1)]; order -1 gives no column. Needs n_volumes > order.
MatrixD polynomial_basis(int64_t n_volumes, int order);

// Discrete cosine high-pass basis with a cutoff period in seconds, the convention of SPM
// (spm_filter / spm_dctmtx, default cutoff 128 s) and nilearn (high_pass = 1 / cutoff Hz):
//   column k (k = 1 .. K) at volume t: sqrt(2 / n) cos(pi k (t + 1/2) / n),
//   K = min(n - 1, floor(2 n TR / cutoff_s)),
// i.e. every cosine of period longer than the cutoff. The constant is not included (the
// polynomial basis or the caller adds it). [n_volumes x K]; K may be 0. cutoff_s <= 0: no column.
MatrixD cosine_basis(int64_t n_volumes, double tr_s, double cutoff_s);

}  // namespace v2c::prep
