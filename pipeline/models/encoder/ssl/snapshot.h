// The shared part of a trained self-supervised model (ssl/model.h): the temporal model and the mask
// token with the objectives they were trained by. It travels in the encoder checkpoint (group /ssl,
// docs/formats.md; checkpoint.h writes and reads it), so that a NEW subject's adapter and read-out
// can later be fitted against it, self-supervised, on that subject's unlabelled volumes
// (ssl/new_subject.h). Subjects' adapters and read-outs are not part of it: the adapters go into
// the encoder itself, the read-outs serve only the subjects they were trained for.
// Kernel: no I/O.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pipeline/models/encoder/settings.h"
#include "pipeline/models/encoder/ssl/model.h"
#include "pipeline/models/encoder/ssl/select.h"

namespace v2c::encoder::ssl {

struct TemporalSnapshot {
  bool present = false;            // false: no self-supervised stage made this checkpoint
  int64_t latent = 0;              // L, the latent width the temporal model runs at
  SslTrainConfig objectives;       // as trained: model (temporal architecture), window, next, mask, w_*
  std::vector<std::string> names;  // "temporal/...", "ssl/mask_token", in the model's order
  std::vector<Mat<float>> values;  // [names.size()], each the parameter's shape
  // How objectives.optimizer.lr and objectives.ar1_start were chosen (ssl/select.h), in the order
  // tried; empty when nothing was chosen (pretrain.ssl_joint) and in a snapshot read back.
  std::vector<SslCandidate> candidates;
};

// The shared parameters of `model` (every parameter but adapter/* and readout/*), trained with `cfg`.
TemporalSnapshot snapshot_shared(const SslModel<float>& model, const SslTrainConfig& cfg);

// A model of the snapshot's architecture (latent, objectives.model) holding its shared parameters
// and no subject. input_error when the snapshot is absent or a parameter is missing or shaped
// otherwise (a checkpoint of another architecture).
std::unique_ptr<SslModel<float>> restore_shared(const TemporalSnapshot& s);

}  // namespace v2c::encoder::ssl
