// The small study of the distributed-pretraining tests (test_dist_mpi.cpp, test_dist_stream.cpp).
#pragma once

#include <string>
#include <vector>

#include "tests/test_util.h"

namespace v2c::test {

// Two simulated subjects' samples (2 x ~180 samples, ~300 voxels, 32-d features) in `dir`,
// through v2c-simulate and v2c-prepare.
inline std::vector<std::string> two_simulated_subjects(const TempDir& dir) {
  const std::string bids = dir.file("bids");
  auto ok = [](const StageRun& r) { BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output); };
  ok(run_stage("simulate",
               {"--set", "simulate.n_subjects=2", "--set", "simulate.grid_dims=[8,9,8]", "--set",
                "simulate.feature_dim=32", "--set", "simulate.train_per_category=12", "--quiet", "--out", bids}));
  std::vector<std::string> samples;
  for (const std::string sub : {"sub-01", "sub-02"}) {
    samples.push_back(dir.file(sub + ".h5"));
    ok(run_stage("prepare", {"--bids", bids, "--subject", sub, "--features", bids + "/stimuli/features.h5", "--out",
                             samples.back(), "--quiet"}));
  }
  return samples;
}

}  // namespace v2c::test
