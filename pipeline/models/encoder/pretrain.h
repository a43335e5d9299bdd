// v2c-pretrain's work: the shared encoder (model.h) trained on many subjects' samples.
//
// Batches of one subject at a time (its adapter + the shared backbone), subjects' batches
// interleaved in a seeded order (a shuffle buffer over chunks read from the samples files,
// stream_order.h, when they do not all fit in pretrain.buffer_mib); the last `val_runs` training runs of every subject are the
// validation split (by run); early stopping on the validation top-1 retrieval among the validation
// stimuli; checkpoints every `checkpoint_every` steps and on SIGINT/SIGTERM, resumable bitwise
// (one thread) because the batch order is a function of (seed, epoch) and the trainer's state
// (weights, AdamW moments, RNG, step) is in the checkpoint.
//
// Data-parallel over a communicator of N ranks (pipeline/dist; `mpirun -np N v2c-pretrain`): every
// rank walks the same batch order and reads only its rows of each batch, which the ranks then
// exchange (sample_stream.h); each batch is split across the ranks as trainer.h describes. Rank 0 alone validates (its top-1 is broadcast, so every rank takes the
// same early-stopping decision) and writes the checkpoints, the state file and the output; every
// rank resumes from rank 0's checkpoint (OUT must be on a file system all ranks see). Interrupts
// are agreed on collectively; a rank that dies ends the job (the launcher stops the others), and
// --resume continues from the last checkpoint. At start and at every checkpoint the ranks check
// that they hold the same weights, step and RNG state.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "pipeline/core/provenance.h"
#include "pipeline/io/samples.h"
#include "pipeline/models/encoder/model.h"
#include "pipeline/models/encoder/sample_source.h"
#include "pipeline/models/encoder/settings.h"
#include "pipeline/models/encoder/ssl/snapshot.h"
#include "pipeline/models/encoder/trainer.h"

namespace v2c::dist {
class Communicator;
}

namespace v2c::encoder {

// Trains on every subject's samples but those left out (SampleSource::leave_out: held-out test
// stimuli, study/test_stimuli.h); writes the best (validation) model to out_path as an encoder
// checkpoint that records the stimulus ids it trained and validated on (checkpoint.h,
// StimulusRecord). resume: continue from out_path + ".ckpt" when it exists. comm: the ranks of
// a data-parallel job (every rank calls pretrain with the same arguments); null = one process.
// The samples stream through a shuffle buffer of pretrain.buffer_mib (stream_order.h): from their
// files (FileSource) memory holds the buffer, the sample tables and the model, not the samples.
// ssl: what the self-supervised side adds (ssl/): a subject's starting adapter (the self-supervised
// stage's, ssl/pretrain_ssl.h; the others start at random), a step that replaces
// Trainer::train_step (pretrain.ssl_joint, ssl/joint.h: one process, no --resume), and the temporal
// model the output records (checkpoint.h), asked for when the output is written.
struct SslHooks {
  std::map<std::string, AdapterInit<float>> adapter_init;
  std::function<LossParts(Trainer<float>&, const std::string& subject, const Mat<float>& X, const Mat<float>& T)> step;
  std::function<ssl::TemporalSnapshot()> temporal;
};
void pretrain(SampleSource& source, const PretrainConfig& cfg, uint64_t seed, const std::string& out_path,
              const Provenance& prov, bool force, bool resume, dist::Communicator* comm = nullptr,
              const SslHooks& ssl = {});
// The same on samples in memory (MemorySource): the same batches, so bitwise the same weights.
void pretrain(const std::vector<Samples>& subjects, const PretrainConfig& cfg, uint64_t seed,
              const std::string& out_path, const Provenance& prov, bool force, bool resume,
              dist::Communicator* comm = nullptr);

}  // namespace v2c::encoder
