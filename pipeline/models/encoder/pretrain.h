// v2c-pretrain's work: the shared encoder (model.h) trained on many subjects' samples.
//
// Batches of one subject at a time (its adapter + the shared backbone), subjects' batches
// interleaved in a seeded order; the last `val_runs` training runs of every subject are the
// validation split (by run); early stopping on the validation top-1 retrieval among the validation
// stimuli; checkpoints every `checkpoint_every` steps and on SIGINT/SIGTERM, resumable bitwise
// (one thread) because the batch order is a function of (seed, epoch) and the trainer's state
// (weights, AdamW moments, RNG, step) is in the checkpoint.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/core/provenance.h"
#include "pipeline/io/samples.h"
#include "pipeline/models/encoder/settings.h"

namespace v2c::encoder {

// Trains on every subject's samples; writes the best (validation) model to out_path as an
// encoder checkpoint. resume: continue from out_path + ".ckpt" when it exists.
void pretrain(const std::vector<Samples>& subjects, const PretrainConfig& cfg, uint64_t seed,
              const std::string& out_path, const Provenance& prov, bool force, bool resume);

}  // namespace v2c::encoder
