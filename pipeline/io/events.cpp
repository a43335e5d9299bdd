#include "pipeline/io/events.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "pipeline/core/error.h"
#include "pipeline/io/tsv.h"

namespace v2c::events {

std::vector<Event> read_events_tsv(const std::string& path, const std::string& stimulus_column,
                                   const std::vector<std::string>& extra_columns) {
  const Table table = read_table(path, '\t', true);
  const int onset_col = table.column("onset");
  const int duration_col = table.column("duration");
  const int stimulus_col = table.column(stimulus_column);
  std::vector<int> extra_cols;
  for (const auto& name : extra_columns) extra_cols.push_back(table.column(name));

  std::vector<Event> events;
  events.reserve(table.rows.size());
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const std::string& stimulus = table.cell(r, stimulus_col);
    if (stimulus.empty() || stimulus == "n/a") continue;
    const double onset = table.number(r, onset_col);
    if (table.cell(r, duration_col) == "n/a")
      throw input_error(
          table.where(r, duration_col),
          ": duration 'n/a' is not supported: each event is averaged over its duration, give it in seconds");
    const double duration = table.number(r, duration_col);
    if (onset < 0) throw input_error(table.where(r, onset_col), ": onset must be >= 0 s, found ", onset);
    if (duration < 0) throw input_error(table.where(r, duration_col), ": duration must be >= 0 s, found ", duration);
    Event e{onset, duration, stimulus, {}, table.line_of_row[r]};
    for (int c : extra_cols) e.fields.push_back(table.cell(r, c));
    events.push_back(std::move(e));
  }
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.onset_s < b.onset_s; });
  return events;
}

std::vector<VolumeLabel> read_volume_labels(const std::string& path) {
  const std::vector<TextLine> lines = read_lines(path, true);
  std::vector<VolumeLabel> labels;
  labels.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    std::istringstream fields(lines[i].text);
    std::string label, run_text, extra;
    fields >> label >> run_text;
    if (run_text.empty() || (fields >> extra))
      throw input_error(path, " line ", lines[i].number,
                        ": expected 2 whitespace-separated fields `label run`, found '", lines[i].text, "'");
    int run = 0;
    if (!parse_int(run_text, run)) {
      if (i == 0) continue;  // a header such as "labels chunks"
      throw input_error(path, " line ", lines[i].number, ": run must be an integer, found '", run_text, "'");
    }
    labels.push_back({std::move(label), run});
  }
  if (labels.empty()) throw input_error(path, ": no volume labels found");
  return labels;
}

std::map<int, std::vector<VolumeLabel>> labels_by_run(const std::vector<VolumeLabel>& labels) {
  std::map<int, std::vector<VolumeLabel>> by_run;
  for (const VolumeLabel& l : labels) by_run[l.run].push_back(l);
  return by_run;
}

std::vector<Event> events_from_volume_labels(const std::vector<VolumeLabel>& labels_of_run, double tr_s,
                                             const std::set<std::string>& rest_labels) {
  if (!(std::isfinite(tr_s) && tr_s > 0))
    throw input_error("events_from_volume_labels(): TR must be a positive number of seconds, found ", tr_s);
  std::vector<Event> events;
  size_t start = 0;
  while (start < labels_of_run.size()) {
    if (labels_of_run[start].run != labels_of_run.front().run)
      throw input_error("events_from_volume_labels(): expected the labels of one run, found runs ",
                        labels_of_run.front().run, " and ", labels_of_run[start].run);
    size_t end = start + 1;
    while (end < labels_of_run.size() && labels_of_run[end].label == labels_of_run[start].label &&
           labels_of_run[end].run == labels_of_run[start].run)
      ++end;
    if (!rest_labels.count(labels_of_run[start].label))
      events.push_back({static_cast<double>(start) * tr_s,
                        static_cast<double>(end - start) * tr_s,
                        labels_of_run[start].label,
                        {},
                        0});
    start = end;
  }
  return events;
}

}  // namespace v2c::events
