// The self-supervised fit chosen by inner validation (issue 11): every candidate of an SslSearch
// (each learning rate of lr_grid from each start of ar1_start) is a full run of train_ssl
// (ssl/train.h) on a fresh model made the same way and trained with the same seed; the candidate
// with the lowest best validation next-time-point error (each run's early-stopping evaluation on
// its VALIDATION runs: training data only, never held-out runs) is kept. Ties keep the candidate
// tried first. Order: the random start before the AR(1) start, each over lr_grid in its order.
// A candidate whose loss becomes non-finite (numerical_error) is set aside when another candidate
// remains; when none is left the last such error is thrown. With a single candidate this is one
// train_ssl run, bitwise. Kernel: no I/O (the caller logs through on_candidate).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/models/encoder/settings.h"
#include "pipeline/models/encoder/ssl/model.h"
#include "pipeline/models/encoder/ssl/train.h"

namespace v2c::encoder::ssl {

struct SslCandidate {
  double lr = 0;           // peak learning rate of the run
  bool ar1_start = false;  // its start
  bool diverged = false;   // the loss became non-finite: never kept (fit is empty)
  std::string error;       // diverged: the numerical_error's message
  SslTrainResult fit;      // best_validation, best_step, every evaluation
};

struct SslSelection {
  std::vector<SslCandidate> candidates;    // in the order tried
  size_t chosen = 0;                       // index into candidates
  SslTrainConfig config;                   // the search's config with the chosen lr and start
  std::unique_ptr<SslModel<float>> model;  // the chosen candidate's trained model
  const SslCandidate& best() const { return candidates[chosen]; }
};

// The candidates of cfg.search in the order select_ssl tries them: cfg with optimizer.lr and
// ar1_start set.
std::vector<SslTrainConfig> ssl_candidates(const SslTrainConfig& cfg);

// make_model: a fresh model with every subject added, the same for every call (same seeds).
// train: one train_ssl run of the model with that candidate's config (and the caller's data, seed,
// on_step). on_candidate (optional): each candidate once trained (or diverged), with its index.
// usage_error (cfg.validate()) when cfg is invalid, e.g. several candidates and val_runs 0; a
// candidate's fit without validation evaluations among several is an input_error (nothing to
// choose by).
SslSelection select_ssl(const SslTrainConfig& cfg, const std::function<std::unique_ptr<SslModel<float>>()>& make_model,
                        const std::function<SslTrainResult(SslModel<float>&, const SslTrainConfig&)>& train,
                        const std::function<void(size_t, const SslCandidate&)>& on_candidate = {});

// "random" or "AR(1)": a start's name in logs.
const char* start_name(bool ar1_start);
// "false", "true" or "auto": the config's name of an SslSearch::ar1_start.
const char* ar1_start_name(Ar1Start s);

}  // namespace v2c::encoder::ssl
