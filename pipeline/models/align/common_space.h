// Functional alignment: a common space shared by several subjects, each subject's map into it,
// and the orthogonal Procrustes solution both alignment methods are built on (kernels: no I/O).
// Fitted by srm.h (shared response model, Chen et al. 2015) or hyperalignment.h (Haxby et al. 2011).
//
// Layout (row-major, rows are stimuli): a subject's responses X [n x p] to the n stimuli that all
// subjects share — the SAME stimuli in the SAME row order for every subject (average repeats
// first), taken from the training rows of the fold at hand only; p voxels, which differ between
// subjects. Common space: k dimensions; the common response C [n x k] to those n stimuli.
//
// A subject's map: z = ((x - mean) ⊙ inv_scale) W, W [p x k] with orthonormal columns when
// p >= k (orthonormal rows when p < k), mean and inv_scale from the rows the map was fitted on:
// centring per voxel, and with `standardize` division by the voxel's SD (population SD, ddof 0,
// as scipy.stats.zscore; a constant voxel keeps scale 1). Both papers z-score each voxel.
#pragma once

#include <cstdint>
#include <vector>

#include "pipeline/math/linalg.h"

namespace v2c::align {

using linalg::Mat;
using linalg::RowVec;

template <class S>
struct SubjectMap {
  RowVec<S> mean;       // [p] voxel means of the fitted rows
  RowVec<S> inv_scale;  // [p] 1 / voxel SD (1 without standardize, or for a constant voxel)
  Mat<S> W;             // [p x k]

  int64_t voxels() const { return W.rows(); }
  int64_t dims() const { return W.cols(); }
  // X [n x p] -> [n x k] in the common space (any rows of this subject: training or test).
  Mat<S> apply(const Mat<S>& X) const;
  // ((X - mean) ⊙ inv_scale) [n x p], before W.
  Mat<S> normalize(const Mat<S>& X) const;
};

template <class S>
struct CommonSpace {
  std::vector<SubjectMap<S>> maps;  // one per subject of the fit, in input order
  Mat<S> common;                    // [n x k] the common response to the shared stimuli
  bool standardize = true;          // how the maps normalise voxels (new subjects do the same)
};

// A SubjectMap with mean and inv_scale from X's rows [n x p] and W empty.
template <class S>
SubjectMap<S> voxel_normalizer(const Mat<S>& X, bool standardize);

// Orthogonal Procrustes (Schönemann 1966): R [p x k] minimising ||A R - B||_F over R with
// orthonormal columns (p >= k) or rows (p < k), for A [n x p], B [n x k]: R = U Vᵀ with
// U Σ Vᵀ the thin SVD of AᵀB (LAPACK divide and conquer; Eigen's BDCSVD inside an OpenMP
// parallel region). For p = k, scipy.linalg.orthogonal_procrustes(A, B). Unique when AᵀB has
// full rank min(p, k); otherwise one of the minimisers, whose part outside the rank is set by
// rounding (it differs between the two SVDs, and with BLAS's thread count).
// determined_only: only the singular pairs above numpy.linalg.matrix_rank's tolerance
// (σ_max · max(p, k) · ε), R = U_r V_rᵀ: the part of every minimiser the data determine (a partial
// isometry; equal to the full R when AᵀB has full rank). Cost O(n p k + p k min(p, k)).
// Returns false when the SVD fails (the caller decides).
template <class S>
bool orthogonal_procrustes(const Mat<S>& A, const Mat<S>& B, Mat<S>& R, bool determined_only = false);

// The map of a subject that took no part in the fit, from its own responses X [n x p] to the
// space's shared stimuli (its TRAINING rows, rows in the order of space.common): normalised
// with its own statistics, then W = orthogonal_procrustes(normalised X, space.common,
// determined_only): the Procrustes step both fits use for their own subjects (SRM's W update,
// hyperalignment's final pass), now with the common response held fixed, and only the part the
// data determine: a new subject often shares fewer stimuli n than the space has dimensions k
// (align-ridge in the default study at 25%: 19-30 against 50), and the rest of W would map its test
// rows through directions set by rounding. Throws
// v2c::Error (input) when n differs from space.common's, (numerical) when the SVD fails.
template <class S>
SubjectMap<S> map_new_subject(const CommonSpace<S>& space, const Mat<S>& X);

}  // namespace v2c::align
