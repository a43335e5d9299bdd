// One subject's samples and decode-mode predictions for the retrieval tests: stimulus j of n_stim
// shown once per run, every run its own outer fold, and
//   decoded[i] = signal * features[j] + noise * e[i] + shift      (e ~ N(0, 1), seed + 1)
// with features ~ N(0, 1) (seed). Retrieval statistics and similarity tests share it.
#pragma once

#include <cstdint>
#include <string>

#include "pipeline/io/predictions.h"
#include "pipeline/io/samples.h"
#include "tests/test_util.h"

namespace v2c::test {

struct DecodeStudy {
  Samples s;
  Predictions p;
  DecodeStudy(int64_t n_stim, int64_t n_runs, int64_t d, float signal, float noise, float shift, uint64_t seed) {
    s.subject = p.subject = "sub-01";
    s.features = gaussian_matrix(n_stim, d, seed);
    for (int64_t j = 0; j < n_stim; ++j) s.feature_ids.push_back("stim-" + std::to_string(j));
    const MatrixF e = gaussian_matrix(n_stim * n_runs, d, seed + 1);
    p.model = "ridge";
    p.mode = "decode";
    p.predictions.resize(n_stim * n_runs, d);
    p.truth.resize(n_stim * n_runs, d);
    for (int64_t i = 0; i < n_stim * n_runs; ++i) {
      const int64_t j = i % n_stim;
      p.stimulus.push_back(s.feature_ids[size_t(j)]);
      p.run.push_back(int32_t(i / n_stim));
      p.feature_row.push_back(int32_t(j));
      p.truth.row(i) = s.features.row(j);
      p.predictions.row(i) = signal * s.features.row(j) + noise * e.row(i);
      p.predictions.row(i).array() += shift;
    }
    p.fold = p.run;
  }
};

}  // namespace v2c::test
