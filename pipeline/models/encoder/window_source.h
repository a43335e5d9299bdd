// Where the windows of the self-supervised stage come from (window_stream.h): every subject's
// timeseries.h5 run table (io/timeseries.h), and volumes of one run read on demand, from memory or
// from the file (a hyperslab of the run's dataset). The windows' counterpart of sample_source.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/io/timeseries.h"
#include "pipeline/models/encoder/training_data.h"

namespace v2c::encoder {

// Where the volumes come from: every subject's run table, and volumes read on demand.
class WindowSource {
 public:
  virtual ~WindowSource() = default;
  int64_t n_subjects() const { return int64_t(tables_.size()); }
  // Subject s's run table and voxel table (TimeSeries without data).
  const TimeSeries& table(size_t s) const { return tables_[s]; }
  // Volumes [t0, t0 + count) of run r of subject s into V [count x p_s] (storage reused when the
  // shape matches). Requires 0 <= t0, count >= 1, t0 + count <= that run's n_volumes.
  virtual void read_volumes(size_t s, int64_t r, int64_t t0, int64_t count, MF& V) = 0;

 protected:
  std::vector<TimeSeries> tables_;
};

// The time series in memory (they must outlive the source).
class TimeSeriesMemorySource final : public WindowSource {
 public:
  explicit TimeSeriesMemorySource(const std::vector<TimeSeries>& series);
  void read_volumes(size_t s, int64_t r, int64_t t0, int64_t count, MF& V) override;

 private:
  const std::vector<TimeSeries>& series_;
};

// timeseries.h5 files, one per subject (TimeSeriesReader: layout checked at open, volumes checked
// finite as read; input_error naming the file otherwise).
class TimeSeriesFileSource final : public WindowSource {
 public:
  explicit TimeSeriesFileSource(const std::vector<std::string>& paths);
  ~TimeSeriesFileSource() override;
  void read_volumes(size_t s, int64_t r, int64_t t0, int64_t count, MF& V) override;

 private:
  std::vector<std::unique_ptr<TimeSeriesReader>> readers_;
};

}  // namespace v2c::encoder
