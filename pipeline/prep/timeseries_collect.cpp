#include "pipeline/prep/timeseries_collect.h"

#include <filesystem>
#include <map>

#include "pipeline/core/error.h"
#include "pipeline/prep/signal.h"

namespace v2c::prep {

std::string bids_task_of(const std::string& path) {
  const std::string name = std::filesystem::path(path).filename().string();
  const std::string key = "task-";
  size_t at = name.rfind("_" + key);
  if (at != std::string::npos)
    at += 1;
  else if (name.compare(0, key.size(), key) == 0)
    at = 0;
  else
    return "";
  const size_t begin = at + key.size();
  size_t end = begin;
  while (end < name.size() && name[end] != '_' && name[end] != '.') ++end;
  return name.substr(begin, end - begin);
}

void TimeSeriesCollector::add_run(const MatrixF& cleaned, const nifti::Mask& mask) {
  V2C_ASSERT(cleaned.cols() == int64_t(mask.flat.size()), "run has ", cleaned.cols(), " columns, mask ",
             mask.flat.size());
  if (runs_.empty()) mask_ijk_ = mask.ijk;
  V2C_ASSERT(mask.ijk == mask_ijk_, "the mask changed between runs");
  runs_.push_back(cleaned);
}

TimeSeries TimeSeriesCollector::finish(const Samples& s, double shift_s) const {
  if (int64_t(s.run_source.size()) != n_runs())
    throw input_error("time series of '", s.subject, "': ", n_runs(), " cleaned runs but the samples have ",
                      s.run_source.size(), " runs");
  // The kept voxels' columns in the cleaned runs (both in mask order).
  std::map<std::array<int32_t, 3>, int64_t> column_of;
  for (size_t j = 0; j < mask_ijk_.size(); ++j) column_of[mask_ijk_[j]] = int64_t(j);
  std::vector<int64_t> columns;
  for (int64_t v = 0; v < s.n_voxels(); ++v) {
    const auto it = column_of.find({s.ijk(v, 0), s.ijk(v, 1), s.ijk(v, 2)});
    if (it == column_of.end())
      throw input_error("time series of '", s.subject, "': voxel (", s.ijk(v, 0), ",", s.ijk(v, 1), ",", s.ijk(v, 2),
                        ") of the samples is not in the mask the runs were cleaned with");
    columns.push_back(it->second);
  }

  TimeSeries ts;
  ts.subject = s.subject;
  ts.ijk = s.ijk;
  ts.xyz = s.xyz;
  ts.grid_dims = s.grid_dims;
  ts.affine = s.affine;
  ts.mask_voxels = s.mask_voxels;
  ts.dropped_voxels = s.dropped_voxels;
  for (int64_t r = 0; r < n_runs(); ++r) {
    const MatrixF& y = runs_[size_t(r)];
    if (y.rows() != s.run_volumes[size_t(r)])
      throw input_error("time series of '", s.subject, "': run ", r, " has ", y.rows(),
                        " cleaned volumes but the "
                        "samples' run table says ",
                        s.run_volumes[size_t(r)]);
    TimeSeriesRun run;
    run.source = s.run_source[size_t(r)];
    run.events = s.run_events[size_t(r)];
    run.task = bids_task_of(run.source);
    run.tr_s = s.run_tr_s[size_t(r)];
    run.samples_run = int32_t(r);
    run.n_volumes = y.rows();
    run.sample_row.assign(size_t(y.rows()), -1);
    MatrixF kept(y.rows(), int64_t(columns.size()));
    for (size_t c = 0; c < columns.size(); ++c) kept.col(int64_t(c)) = y.col(columns[c]);
    ts.runs.push_back(std::move(run));
    ts.data.push_back(std::move(kept));
  }
  // Rows ascend, so the first row to claim a volume is the lowest.
  for (int64_t i = 0; i < s.n_samples(); ++i) {
    TimeSeriesRun& run = ts.runs[size_t(s.run[size_t(i)])];
    const VolumeWindow w =
        event_window(s.onset_s[size_t(i)], s.duration_s[size_t(i)], shift_s, run.tr_s, run.n_volumes);
    for (int64_t t = w.first; t < w.first + w.count; ++t)
      if (run.sample_row[size_t(t)] < 0) run.sample_row[size_t(t)] = int32_t(i);
  }
  return ts;
}

}  // namespace v2c::prep
