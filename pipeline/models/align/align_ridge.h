// The align-ridge baseline: functional alignment, then ridge on the subjects pooled in the common
// space (issue 10's "alignment + ridge"; kernel: no I/O). For one held-out subject h and each outer
// fold of its folds (the one fold definition: ridge's training rows, --folds-from):
//   1. the common space is h's own: its training rows averaged per stimulus, each voxel normalised
//      with those rows' statistics (common_space.h), reduced to the first k principal axes
//      (thin SVD, k = min(features, stimuli, voxels)); C [n_h x k] are its responses there and
//      its map is (x - mean) ⊙ inv_scale · V_k;
//   2. every other subject j first loses its samples showing a stimulus the fold tests (same id or
//      identical feature vector, study/test_stimuli.h): never fitted on, never pooled. Then it is
//      mapped into the space by orthogonal Procrustes (common_space.h map_new_subject: Haxby et
//      al. 2011's hyperalignment step, with h as the reference) fitted on its averaged responses to
//      the stimuli it shares with h's training rows (by stimulus id). A subject sharing fewer than
//      min_shared of them is not pooled in that fold;
//   3. ridge (cv.h, v2c-ridge's settings: the α grid, α per target, the inner CV) on the pooled
//      mapped samples — h's training rows and the other subjects' kept samples, inner folds over
//      (subject, run) units — predicts h's test rows from their mapped responses.
// Why h's space rather than a shared response model (srm.h, Chen et al. 2015) over all subjects:
// SRM and multi-subject hyperalignment need stimuli that every subject saw in training, and in
// designs where each subject sees its own subset (NSD; the default simulated study: 232 of 576
// each) the stimuli all subjects share are too few (about 0.4 expected in the default study).
// Pairwise overlap with h is what there is.
// With shuffle_seed (the negative control of study/shuffled_labels.h, the run's seed), every other
// subject's kept samples of step 2 are relabelled by its permutation of their stimuli before steps 2
// and 3: its Procrustes pairs and its pooled targets both follow the wrong labels; h's rows keep theirs.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "pipeline/io/predictions.h"
#include "pipeline/io/samples.h"
#include "pipeline/models/align/align_ridge_config.h"
#include "pipeline/models/ridge_config.h"

namespace v2c::align {

// Out-of-fold predictions [n_h x D] of h's samples (model "align-ridge", decode), on the folds of
// `fold_file` (v2c-ridge's output for h). h and every subject in `others` need stimulus features
// of the same dimension D. fold_alpha holds each fold's α per target; inner_score the mean inner
// score. input_error naming the subject when a fold has no pooled subject and too few rows of h,
// or when shapes differ.
Predictions align_ridge(const Samples& heldout, const Predictions& fold_file, const std::vector<Samples>& others,
                        const AlignRidgeConfig& cfg, const ridge::RidgeConfig& ridge,
                        std::optional<uint64_t> shuffle_seed = std::nullopt);

}  // namespace v2c::align
