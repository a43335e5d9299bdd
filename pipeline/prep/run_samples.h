// The samples of one cleaned run (kernels: no I/O): one row per event (window mean or GLM trial
// estimate) or per labelled volume, and every event that yields no sample with the reason.
//
// y [n_volumes x n_voxels] is the run after clean_run (drift and confounds regressed out, scaled);
// events are in seconds from the run's first volume (acquired at t = 0; volume t at t * TR).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/core/types.h"
#include "pipeline/io/events.h"

namespace v2c::prep {

struct RunSample {
  std::string stimulus;
  double onset_s = 0, duration_s = 0;
  int32_t volumes = 0;              // volumes averaged (0 for a GLM estimate)
  std::vector<std::string> fields;  // the event's extra columns (events::Event::fields)
  int32_t group = -1;               // the event's CV group (events::Event::group)
};

struct DroppedEvent {
  std::string stimulus;
  double onset_s = 0;
  int line = 0;        // events file line (0: not from a file)
  std::string reason;  // the true reason, for the log and the artifact
};

struct RunSamples {
  MatrixF rows;  // [table.size() x n_voxels]
  std::vector<RunSample> table;
  std::vector<DroppedEvent> dropped;
};

// Event mode: the mean of the volumes in [onset + shift, onset + shift + max(duration, TR))
// (signal.h event_window). An event whose window starts after the last volume is dropped.
RunSamples window_samples(const MatrixF& y, const std::vector<events::Event>& events, double tr_s, double shift_s);

// Volume mode: one sample per volume t whose time t*TR - shift lies inside an event (the first
// such event in onset order); duration = TR, volumes = 1.
RunSamples volume_samples(const MatrixF& y, const std::vector<events::Event>& events, double tr_s, double shift_s);

// GLM mode: every event in `modelled` has a regressor (hrf.h, `oversampling` fine steps per TR);
// trial estimates by LSA or LSS (glm.h) with `nuisance` as nuisance regressors; samples for the
// events with output[i] set. LSS groups the other trials by the extra field `lss_group_field`
// (-1: one group, Mumford's original model). Trials that cannot be estimated are dropped.
struct GlmOptions {
  std::string method = "lss";  // "lsa" | "lss"
  int oversampling = 16;
  int lss_group_field = -1;
};
RunSamples glm_samples(const MatrixF& y, const std::vector<events::Event>& modelled, const std::vector<uint8_t>& output,
                       const MatrixD& nuisance, double tr_s, const GlmOptions& options);

// Averages the samples that share the value of extra field `field` into one (in order of first
// appearance): rows averaged, onset = the earliest, duration up to the latest end, volumes summed.
// Every sample of a group must have the same stimulus: input_error naming the group, both stimuli
// and `what` (the config field, for the message) otherwise. CV groups joined by an average are
// merged into one (the smallest id), so no CV split can cut through an averaged sample.
RunSamples average_by_field(const RunSamples& in, int field, const std::string& what);

}  // namespace v2c::prep
