#include "pipeline/prep/run_samples.h"

#include <algorithm>
#include <functional>
#include <map>
#include <sstream>

#include "pipeline/core/error.h"
#include "pipeline/prep/glm.h"
#include "pipeline/prep/hrf.h"
#include "pipeline/prep/signal.h"

namespace v2c::prep {

namespace {

std::string seconds(double s) {
  std::ostringstream os;
  os << s;
  return os.str();
}

// Appends rows to a growing matrix one at a time without quadratic copying: rows are gathered in a
// flat buffer and shaped at the end.
struct RowBuffer {
  int64_t cols = 0;
  std::vector<float> values;
  void add(const float* row) { values.insert(values.end(), row, row + cols); }
  MatrixF take() {
    const int64_t n = cols ? int64_t(values.size()) / cols : 0;
    MatrixF m = Eigen::Map<MatrixF>(values.data(), n, cols);
    values.clear();
    return m;
  }
};

RunSample sample_of(const events::Event& e, double duration_s, int32_t volumes) {
  return {e.stimulus, e.onset_s, duration_s, volumes, e.fields, e.group};
}

}  // namespace

RunSamples window_samples(const MatrixF& y, const std::vector<events::Event>& events, double tr_s, double shift_s) {
  RunSamples out;
  RowBuffer rows{y.cols(), {}};
  const int64_t n = y.rows();
  for (const auto& e : events) {
    const VolumeWindow w = event_window(e.onset_s, e.duration_s, shift_s, tr_s, n);
    if (w.count == 0) {
      const double start = e.onset_s + shift_s;
      out.dropped.push_back({e.stimulus, e.onset_s, e.line,
                             "its window starts at " + seconds(start) + " s (onset + prepare.shift_s " +
                                 seconds(shift_s) + " s), after the run's last volume at " +
                                 seconds(double(n - 1) * tr_s) + " s"});
      continue;
    }
    const Eigen::RowVectorXf mean = window_mean(y, w);
    rows.add(mean.data());
    out.table.push_back(sample_of(e, e.duration_s, int32_t(w.count)));
  }
  out.rows = rows.take();
  return out;
}

RunSamples volume_samples(const MatrixF& y, const std::vector<events::Event>& events, double tr_s, double shift_s) {
  RunSamples out;
  RowBuffer rows{y.cols(), {}};
  for (int64_t t = 0; t < y.rows(); ++t) {
    const double at = double(t) * tr_s - shift_s;
    for (const auto& e : events) {
      if (at + 1e-6 >= e.onset_s && at < e.onset_s + e.duration_s - 1e-6) {
        rows.add(y.row(t).data());
        out.table.push_back(sample_of(e, tr_s, 1));
        break;
      }
    }
  }
  out.rows = rows.take();
  return out;
}

RunSamples glm_samples(const MatrixF& y, const std::vector<events::Event>& modelled, const std::vector<uint8_t>& output,
                       const MatrixD& nuisance, double tr_s, const GlmOptions& options) {
  V2C_ASSERT(output.size() == modelled.size());
  RunSamples out;
  if (modelled.empty()) {
    out.rows.resize(0, y.cols());
    return out;
  }
  std::vector<EventTiming> timing;
  for (const auto& e : modelled) timing.push_back({e.onset_s, e.duration_s});
  const MatrixD trials = event_regressors(timing, tr_s, y.rows(), options.oversampling);
  TrialEstimates est;
  if (options.method == "lsa") {
    est = estimate_lsa(y, trials, nuisance);
  } else {
    std::vector<int32_t> group(modelled.size(), 0);
    if (options.lss_group_field >= 0) {
      std::map<std::string, int32_t> id;
      for (size_t i = 0; i < modelled.size(); ++i) {
        const std::string& value = modelled[i].fields[size_t(options.lss_group_field)];
        group[i] = id.emplace(value, int32_t(id.size())).first->second;
      }
    }
    est = estimate_lss(y, trials, group, nuisance);
  }
  RowBuffer rows{y.cols(), {}};
  for (size_t i = 0; i < modelled.size(); ++i) {
    if (!output[i]) continue;
    if (!est.estimable[i]) {
      out.dropped.push_back({modelled[i].stimulus, modelled[i].onset_s, modelled[i].line,
                             "no " + options.method + " estimate: " + est.why[i]});
      continue;
    }
    rows.add(est.beta.row(int64_t(i)).data());
    out.table.push_back(sample_of(modelled[i], modelled[i].duration_s, 0));
  }
  out.rows = rows.take();
  return out;
}

RunSamples average_by_field(const RunSamples& in, int field, const std::string& what) {
  RunSamples out;
  out.dropped = in.dropped;
  std::map<std::string, size_t> group_of;
  std::vector<std::vector<int64_t>> members;
  for (size_t i = 0; i < in.table.size(); ++i) {
    const std::string& value = in.table[i].fields[size_t(field)];
    auto [it, fresh] = group_of.emplace(value, members.size());
    if (fresh) members.emplace_back();
    members[it->second].push_back(int64_t(i));
  }
  out.rows.resize(int64_t(members.size()), in.rows.cols());
  for (size_t g = 0; g < members.size(); ++g) {
    const RunSample& first = in.table[size_t(members[g][0])];
    RunSample s = first;
    double end = first.onset_s + first.duration_s;
    Eigen::RowVectorXd acc = Eigen::RowVectorXd::Zero(in.rows.cols());
    s.volumes = 0;
    for (int64_t i : members[g]) {
      const RunSample& m = in.table[size_t(i)];
      if (m.stimulus != first.stimulus)
        throw input_error(what, " '", first.fields[size_t(field)], "' holds events of stimulus '", first.stimulus,
                          "' (onset ", first.onset_s, " s) and '", m.stimulus, "' (onset ", m.onset_s,
                          " s); a group must show one stimulus (set prepare.stimulus_column to the column that "
                          "names what the group shows, e.g. the category)");
      acc += in.rows.row(i).cast<double>();
      s.onset_s = std::min(s.onset_s, m.onset_s);
      end = std::max(end, m.onset_s + m.duration_s);
      s.volumes += m.volumes;
    }
    s.duration_s = end - s.onset_s;
    out.rows.row(int64_t(g)) = (acc / double(members[g].size())).cast<float>();
    out.table.push_back(std::move(s));
  }
  // CV groups joined by an average become one: union-find over the run's group ids.
  std::map<int32_t, int32_t> parent;
  const std::function<int32_t(int32_t)> root = [&](int32_t g) {
    auto it = parent.find(g);
    if (it == parent.end() || it->second == g) return g;
    return it->second = root(it->second);
  };
  for (const auto& m : members)
    for (int64_t i : m) {
      const int32_t a = root(in.table[size_t(m[0])].group), b = root(in.table[size_t(i)].group);
      if (a != b) parent[std::max(a, b)] = std::min(a, b);
    }
  for (auto& s : out.table) s.group = root(s.group);
  return out;
}

}  // namespace v2c::prep
