// Per-trial response estimates of one run by least squares, for every voxel at once
// (kernels: no I/O; BLAS through math/linalg).
//
// Inputs: y [n_volumes x n_voxels] float32 (the run, in any scaling); trials [n_volumes x k], one
// regressor per trial (hrf.h event_regressors); nuisance [n_volumes x p], the run's drift terms
// and confounds (its span should hold the constant). Output rows are trials, in the order of the
// columns of `trials`: [k x n_voxels] float32, the layout of samples. All arithmetic in double.
//
// LSA, least squares - all (Mumford et al. 2012, NeuroImage 59:2636): one model
//   y = trials * B + nuisance * C + e,   row i of the result = B's row i.
// Computed as B = pinv(M X) y, M = I - N pinv(N) (Frisch-Waugh-Lovell: the same B as the full
// model), pinv(M X) from a column-pivoted QR, the product by BLAS over blocks of voxels.
//
// LSS, least squares - separate (Mumford et al. 2012): one model per trial i,
//   y = a_i x_i + b_i (S_g - x_i) + sum_{h != g} c_h S_h + nuisance * C + e,   g = group of i,
// S_h = the sum of the regressors of the trials of group h. Groups are the conditions (each trial
// against the other trials of its condition, the other conditions modelled too), or one group for
// all trials (Mumford's original model: the trial against all other trials). Row i = a_i.
// The k models differ in two columns only. With B = [S_1 .. S_G, nuisance] and M_g the residual
// maker of B without S_g, M_g = M_B + v_g v_gᵀ where v_g is the unit vector of span(B) orthogonal
// to every column but S_g (v_g ∝ B (BᵀB)⁻¹ e_g). FWL reduces model i to a 2-column fit of y on
// u_i = M_g x_i and w_i = M_g S_g - u_i, so all k models need one product [u_1..u_k, M_1 S_1 ..
// M_G S_G]ᵀ y ((k + G) x n_voxels, BLAS) and a 2x2 solve per trial and voxel, instead of k full
// least-squares fits. A trial alone in its group has w_i = 0: its model is [x_i, other groups].
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/core/types.h"

namespace v2c::prep {

struct TrialEstimates {
  MatrixF beta;                    // [k x n_voxels]; rows of trials that cannot be estimated are 0
  std::vector<uint8_t> estimable;  // [k] 1 = estimated
  std::vector<std::string> why;    // [k] for a trial not estimated: the reason, for the log
};

// Least squares - all. A trial whose regressor is (numerically) a combination of the nuisance
// columns and the other trials' regressors is not estimated (and left out of the model).
TrialEstimates estimate_lsa(const MatrixF& y, const MatrixD& trials, const MatrixD& nuisance);

// Least squares - separate. group_of_trial [k]: values 0 .. G-1 (every value used). A trial whose
// two columns cannot be told apart from each other or from the rest of its model is not estimated.
TrialEstimates estimate_lss(const MatrixF& y, const MatrixD& trials, const std::vector<int32_t>& group_of_trial,
                            const MatrixD& nuisance);

}  // namespace v2c::prep
