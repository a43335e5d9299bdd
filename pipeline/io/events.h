// Stimulus timing: BIDS events.tsv files and per-volume label files (PyMVPA attributes.txt).
// Times are in seconds from the first volume of the run.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace v2c::events {

struct Event {
  double onset_s;                   // >= 0
  double duration_s;                // >= 0
  std::string stimulus;             // id looked up in a feature table (possibly via an alias table)
  std::vector<std::string> fields;  // the values of the requested extra columns, in their order
  int line = 0;                     // line in the file (0 when not read from a file), for messages
  int32_t group = -1;               // CV group within the subject (prep/cv_groups.h); -1 = not assigned
};

// A BIDS events.tsv: columns `onset`, `duration` and `stimulus_column` (e.g. trial_type or
// stim_file), and each of `extra_columns` (e.g. a block or group column), whose values land in
// Event::fields; other columns are ignored. Rows whose stimulus is empty or "n/a" are skipped.
// Errors (input_error, naming file and line): a missing column, a non-numeric or negative
// onset/duration, a duration of "n/a" (each event is averaged over its duration).
// Result sorted by onset (stable: equal onsets keep file order).
std::vector<Event> read_events_tsv(const std::string& path, const std::string& stimulus_column = "trial_type",
                                   const std::vector<std::string>& extra_columns = {});

struct VolumeLabel {
  std::string label;  // integer code or name; "0"/"rest" usually mean rest
  int run;            // run (chunk) index as written in the file
};

// A per-volume label file: one line per volume, whitespace-separated `label run`, as
// PyMVPA's attributes.txt. The first line is a header (skipped) when its second field is not an
// integer (e.g. "labels chunks"). Errors: a line without exactly 2 fields, a non-integer run.
std::vector<VolumeLabel> read_volume_labels(const std::string& path);

// The labels grouped by run, volume order kept within each run.
std::map<int, std::vector<VolumeLabel>> labels_by_run(const std::vector<VolumeLabel>& labels);

// Block events of one run: each maximal stretch of identical consecutive labels becomes one event,
// onset = index of its first volume * tr_s, duration = its length * tr_s; stretches whose label is
// in rest_labels are dropped. input_error when tr_s is not positive or the labels span several runs.
std::vector<Event> events_from_volume_labels(const std::vector<VolumeLabel>& labels_of_run, double tr_s,
                                             const std::set<std::string>& rest_labels);

}  // namespace v2c::events
