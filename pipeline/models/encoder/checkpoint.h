// The encoder checkpoint: the only reader and writer of the HDF5 artifact "encoder_checkpoint",
// version 1 (docs/formats.md): every parameter, AdamW moments and step counts, the trainer's step
// and Rng state, the architecture and schedule as root attributes, and (group /ssl) the
// self-supervised temporal model when one was trained.
#pragma once

#include <string>
#include <vector>

#include "pipeline/core/provenance.h"
#include "pipeline/models/encoder/model.h"
#include "pipeline/models/encoder/settings.h"
#include "pipeline/models/encoder/ssl/snapshot.h"
#include "pipeline/models/encoder/trainer.h"

namespace v2c::encoder {

// The stimuli a model was trained and validated on: stimulus ids (as in the events), sorted
// (/stimuli/train, /stimuli/validation). A checkpoint written without them has neither dataset.
struct StimulusRecord {
  std::vector<std::string> train, validation;
  bool recorded = false;
};

// Pretraining's early-stopping state at the checkpoint's step (/trainer/early_stopping: best
// validation top-1, its epoch, epochs since). Kept inside the checkpoint, so that the model and
// the state a resumed run continues with are renamed into place as one file (issue 13, F16).
struct EarlyStopping {
  double best = -1;
  int64_t best_epoch = -1, bad_epochs = 0;
  bool recorded = false;
};

// Writes every parameter (value, trainable flag, AdamW m/v/steps), the trainer's step and Rng
// state, the configs, the stimulus record and the early-stopping state when they are `recorded`,
// and the self-supervised temporal model when it is `present` (temp + rename; refuses to
// overwrite unless force).
template <class S>
void save_checkpoint(const std::string& path, const Trainer<S>& tr, const Provenance& prov, bool force,
                     const StimulusRecord& stimuli = {}, const ssl::TemporalSnapshot& temporal = {},
                     const EarlyStopping& stopping = {});

// The self-supervised temporal model of a checkpoint (present = false when it has none).
ssl::TemporalSnapshot read_temporal_model(const std::string& path);

// The early-stopping state of a checkpoint (recorded = false when it has none).
EarlyStopping read_early_stopping(const std::string& path);

// The stimulus record of a checkpoint (recorded = false when it has none).
StimulusRecord read_stimulus_record(const std::string& path);

// Restores a checkpoint into a trainer whose encoder has the same architecture and subjects (as
// after the same constructor and add_subject calls). input_error when the kind, version,
// architecture, a parameter or a shape does not match.
template <class S>
void load_checkpoint(const std::string& path, Trainer<S>& tr);

// The architecture a checkpoint was trained with: latent, n_blocks, dropout and clip_dim (the
// other fields keep their defaults).
EncoderConfig read_architecture(const std::string& path);

// Copies the backbone, head and loss parameters (everything but the adapters) of a float32
// checkpoint into `enc`; input_error naming a parameter that is absent or shaped otherwise.
void load_backbone(Encoder<float>& enc, const std::string& path);

// One subject's adapter, W [voxels x latent] and b [1 x latent]; false when the checkpoint has
// none for that subject.
bool read_adapter(const std::string& path, const std::string& subject, Mat<float>& W, Mat<float>& b);

}  // namespace v2c::encoder
