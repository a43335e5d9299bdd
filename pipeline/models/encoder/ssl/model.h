// The self-supervised brain model (issue 11): per-subject adapters into a shared latent space, a
// temporal model over windows of W volumes, and per-subject read-outs back to voxels.
//
//   adapter    H = X·A_s + a_s          X [N·T x p_s] -> [N·T x L]   (same names, shapes and init as
//                                        the encoder's adapter: "adapter/<s>/W" [p_s x L], ".../b")
//   temporal   Z = Temporal(H)          [N·T x L] -> [N·T x L]       (ssl/temporal.h, prefix "temporal")
//   read-out   X̂ = Z·R_s + r_s          [M x L] -> [M x p_s]          ("readout/<s>/W" [L x p_s], ".../b")
//   skip       "readout/<s>/skip" [1 x p_s], ones at start: the per-voxel weight of the previous
//              volume in residual next-time-point prediction (ssl/next_step.h); unused otherwise
//   mask token "ssl/mask_token" [1 x L]  stands in the latent for a hidden time point (ssl/masked.h)
//
// Windows are batch-major: row n·T + t is time t of window n; one subject per batch (as the
// encoder). The objectives (ssl/masked.h, ssl/next_step.h) drive these layers; this class owns the
// parameters (encoder/params.h: AdamW- and checkpoint-ready Param buffers, gradients accumulated).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/models/encoder/ssl/temporal.h"

namespace v2c::encoder::ssl {

// SslConfig (the temporal model's config, the mask token's init): encoder/settings.h.

// What an objective returns.
struct SslLoss {
  double loss = 0;       // mean squared error over n_values
  int64_t n_values = 0;  // values scored
};

template <class S>
class SslModel {
 public:
  // latent: L, the width of the shared latent space (the encoder's, when adapters are shared).
  // Temporal model and mask token initialised from `seed`.
  SslModel(int64_t latent, const SslConfig& cfg, uint64_t seed);
  SslModel(const SslModel&) = delete;
  SslModel& operator=(const SslModel&) = delete;

  // Adds adapter/<id>/{W,b} (U(±1/√p_s), PyTorch Linear) and readout/<id>/{W,b} (U(±1/√L)).
  void add_subject(const std::string& id, int64_t n_voxels, uint64_t seed);
  bool has_subject(const std::string& id) const { return subjects_.count(id) > 0; }
  std::vector<std::string> subjects() const;
  int64_t n_voxels(const std::string& id) const;  // input_error when the subject is unknown

  Linear<S>& adapter(const std::string& id);
  Linear<S>& readout(const std::string& id);
  Param<S>& skip(const std::string& id);
  TemporalModel<S>& temporal() { return *temporal_; }
  Param<S>& mask_token() { return *mask_token_; }

  ParamSet<S>& params() { return params_; }
  const ParamSet<S>& params() const { return params_; }
  // What one batch of `subject` can reach: temporal model, mask token, that subject's adapter and
  // read-out (an optimiser may also simply update every parameter that has a gradient).
  std::vector<Param<S>*> path_params(const std::string& subject);
  int64_t latent() const { return latent_; }
  const SslConfig& config() const { return cfg_; }

 private:
  struct Subject {
    Linear<S> adapter, readout;
    Param<S>* skip = nullptr;
  };
  int64_t latent_;
  SslConfig cfg_;
  ParamSet<S> params_{"self-supervised model"};
  std::unique_ptr<TemporalModel<S>> temporal_;
  Param<S>* mask_token_;
  std::map<std::string, std::unique_ptr<Subject>> subjects_;
  Subject& subject(const std::string& id);
};

}  // namespace v2c::encoder::ssl
