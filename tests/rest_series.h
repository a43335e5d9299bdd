// A subject's time series of rest runs only, for the window and self-supervised stream tests
// (test_dist_windows.cpp, test_ssl_stream.cpp): `n_voxels` voxels on a line (ijk = xyz = (v, 0, 0)),
// one run per entry of `lengths` (TR 2 s, task "rest", no volume in a sample), each run's volumes
// (lengths[r] x n_voxels) filled by fill(r, m).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/core/error.h"
#include "pipeline/io/timeseries.h"
#include "tests/test_util.h"

namespace v2c::test {

template <class Fill>
TimeSeries rest_series(const std::string& id, int64_t n_voxels, const std::vector<int64_t>& lengths, Fill&& fill) {
  TimeSeries ts;
  ts.subject = id;
  ts.ijk.resize(n_voxels, 3);
  ts.xyz.resize(n_voxels, 3);
  for (int64_t v = 0; v < n_voxels; ++v) {
    ts.ijk.row(v) << int32_t(v), 0, 0;
    ts.xyz.row(v) << double(v), 0, 0;
  }
  ts.grid_dims = {n_voxels, 1, 1};
  ts.mask_voxels = n_voxels;
  for (size_t r = 0; r < lengths.size(); ++r) {
    TimeSeriesRun run;
    run.source = cat(id, "_run-", r + 1, "_bold.nii.gz");
    run.task = "rest";
    run.tr_s = 2.0;
    run.n_volumes = lengths[r];
    run.sample_row.assign(size_t(lengths[r]), -1);
    MatrixF m(lengths[r], n_voxels);
    fill(r, m);
    ts.runs.push_back(run);
    ts.data.push_back(m);
  }
  return ts;
}

// Each subject's time series written to dir/<subject>_timeseries.h5 (chunks of 4 volumes); the paths,
// in the order of `series`.
inline std::vector<std::string> write_series_files(const TempDir& dir, const std::vector<TimeSeries>& series) {
  std::vector<std::string> paths;
  Provenance prov;
  prov.stage = "test";
  for (const auto& s : series) {
    paths.push_back(dir.file(s.subject + "_timeseries.h5"));
    write_timeseries(paths.back(), s, prov, false, 4);
  }
  return paths;
}

}  // namespace v2c::test
