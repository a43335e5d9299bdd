#include "pipeline/models/encoder/window_source.h"

#include "pipeline/core/error.h"

namespace v2c::encoder {

TimeSeriesMemorySource::TimeSeriesMemorySource(const std::vector<TimeSeries>& series) : series_(series) {
  for (const TimeSeries& ts : series) {
    if (int64_t(ts.data.size()) != ts.n_runs())
      throw input_error("time series of '", ts.subject, "': ", ts.data.size(), " runs of volumes for ", ts.n_runs(),
                        " runs in its table");
    TimeSeries table = ts;
    table.data.clear();
    tables_.push_back(std::move(table));
  }
}

void TimeSeriesMemorySource::read_volumes(size_t s, int64_t r, int64_t t0, int64_t count, MF& V) {
  const MatrixF& run = series_[s].data[size_t(r)];
  V2C_ASSERT(t0 >= 0 && count >= 1 && t0 + count <= run.rows(), "volumes [", t0, ", ", t0 + count, ") of run ", r,
             " with ", run.rows(), " volumes");
  V = run.middleRows(t0, count);
}

TimeSeriesFileSource::TimeSeriesFileSource(const std::vector<std::string>& paths) {
  for (const std::string& path : paths) {
    readers_.push_back(std::make_unique<TimeSeriesReader>(path));
    tables_.push_back(readers_.back()->info());
  }
}

TimeSeriesFileSource::~TimeSeriesFileSource() = default;

void TimeSeriesFileSource::read_volumes(size_t s, int64_t r, int64_t t0, int64_t count, MF& V) {
  V = readers_[s]->window(r, t0, count);
}

}  // namespace v2c::encoder
