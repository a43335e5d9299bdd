// The negative control "shuffled pooled labels" (study.control: shuffled_pooled_labels; the stages'
// --shuffle-pooled-labels): every subject a model pools besides the held-out one has its stimulus
// labels permuted, so that its brain responses and the stimulus features no longer belong together,
// while everything else stays: the same samples, the same set of stimuli and feature vectors (the
// targets' distribution), the same repeats. A pooled model that still gains over the subject alone
// under this control gains from something other than the brain <-> feature pairing of the other
// subjects (a leak, or a bug). The held-out subject's own training and test rows are never touched.
//
// The permutation is of stimulus ids, not of rows: every sample that showed stimulus s is relabelled
// pi(s) (its stimulus id and its feature vector), so a stimulus's repeats keep one (wrong) label.
// pi is a uniformly drawn cyclic permutation (Sattolo 1986) of the distinct stimuli of the samples
// in use, so no stimulus keeps its own label (with two or more of them); samples not in use (left
// out: those showing a stimulus the held-out subject is tested on) keep theirs, and no sample in
// use ever takes the label of a stimulus that only unused samples show. pi is a function of the
// run's seed, the subject id and its stimuli in use, nothing else (not the order of the subjects).
// Kernels: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/io/samples.h"

namespace v2c::study {

// The help text of the stages' --shuffle-pooled-labels option (v2c-pretrain, v2c-finetune, v2c-align).
inline constexpr const char* kShufflePooledLabelsHelp =
    "negative control: permute the stimulus labels of every pooled (non-held-out) subject among the stimuli "
    "it is used on (a seeded cyclic permutation of stimulus ids from --seed and the subject id; repeats keep "
    "one wrong label); the held-out subject's own rows keep theirs";

// The seed of `subject`'s permutation, derived from the run's seed.
uint64_t shuffled_labels_seed(uint64_t run_seed, const std::string& subject);

// label_from [n]: for each sample i (stimulus [n], used [n]), the index of a sample whose label i
// takes: a used sample showing pi(stimulus[i]); i itself where used[i] is false. input_error when
// the lengths differ.
std::vector<int64_t> shuffled_label_rows(const std::vector<std::string>& stimulus, const std::vector<bool>& used,
                                         uint64_t seed);

// The same applied to a subject's samples in place (stimulus and feature_row), seeded by
// shuffled_labels_seed(run_seed, s.subject); the voxel data stay.
void shuffle_labels(Samples& s, const std::vector<bool>& used, uint64_t run_seed);

// Every pooled subject's samples relabelled in place (v2c-finetune's --reference), in use those
// showing none of the stimuli that `heldout`'s outer folds test (fold_of_sample [n_heldout] >= 0;
// by id or identical vector, test_stimuli.h), as pretraining leaves them out. input_error when
// fold_of_sample does not match `heldout` or a subject carries no features.
void shuffle_pooled_labels(std::vector<Samples>& pooled, const Samples& heldout,
                           const std::vector<int32_t>& fold_of_sample, uint64_t run_seed);

}  // namespace v2c::study
