#include "pipeline/prep/prepare.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "pipeline/core/error.h"
#include "pipeline/core/log.h"
#include "pipeline/io/events.h"
#include "pipeline/io/features.h"
#include "pipeline/io/nifti.h"
#include "pipeline/prep/drift.h"
#include "pipeline/prep/signal.h"

namespace fs = std::filesystem;

namespace v2c::prep {
namespace {

// One run: a block of consecutive volumes of one file, with its events.
struct RunPlan {
  size_t file = 0;
  int64_t first_volume = 0, n_volumes = 0;
  std::vector<events::Event> events;
  std::string events_source;  // file (and run label) the events came from, for messages
};

std::string basename_of(const std::string& p) { return fs::path(p).filename().string(); }

bool same_grid(const nifti::Header& a, const nifti::Header& b, double tol) {
  for (int k = 0; k < 3; ++k) {
    const int64_t da = k < int(a.dims.size()) ? a.dims[k] : 1, db = k < int(b.dims.size()) ? b.dims[k] : 1;
    if (da != db) return false;
  }
  return (a.affine - b.affine).cwiseAbs().maxCoeff() <= tol;
}

std::string dims_text(const nifti::Header& h) {
  std::string s;
  for (size_t k = 0; k < h.dims.size(); ++k) s += (k ? "x" : "") + std::to_string(h.dims[k]);
  return s;
}

std::vector<RunPlan> plan_runs(const PrepareInputs& in, const PrepareConfig& cfg,
                               const std::vector<nifti::Header>& headers) {
  std::vector<RunPlan> plans;
  if (in.labels.empty()) {
    for (size_t f = 0; f < in.bold.size(); ++f) {
      RunPlan p;
      p.file = f;
      p.n_volumes = headers[f].n_volumes();
      p.events = events::read_events_tsv(in.events[f], cfg.stimulus_column);
      p.events_source = in.events[f];
      plans.push_back(std::move(p));
    }
    return plans;
  }
  // A per-volume label file covering the concatenation of all bold files.
  const auto labels = events::read_volume_labels(in.labels);
  int64_t total = 0;
  for (const auto& h : headers) total += h.n_volumes();
  if (int64_t(labels.size()) != total)
    throw input_error("label file '", in.labels, "' has ", labels.size(), " lines but the bold file(s) have ", total,
                      " volumes; expected one line per volume");
  std::set<int> seen_runs;
  size_t file = 0;
  int64_t file_start = 0;
  for (size_t i = 0; i < labels.size();) {
    size_t j = i;
    while (j < labels.size() && labels[j].run == labels[i].run) ++j;
    if (!seen_runs.insert(labels[i].run).second)
      throw input_error("label file '", in.labels, "': run ", labels[i].run, " appears again at line ", i + 1,
                        "; the volumes of a run must be consecutive");
    while (int64_t(i) >= file_start + headers[file].n_volumes()) file_start += headers[file++].n_volumes();
    if (int64_t(j) > file_start + headers[file].n_volumes())
      throw input_error("label file '", in.labels, "': run ", labels[i].run, " (lines ", i + 1, "-", j,
                        ") spans two bold files; a run must lie within one file");
    RunPlan p;
    p.file = file;
    p.first_volume = int64_t(i) - file_start;
    p.n_volumes = int64_t(j - i);
    p.events_source = in.labels + " (run " + std::to_string(labels[i].run) + ")";
    const std::set<std::string> rest(cfg.rest_labels.begin(), cfg.rest_labels.end());
    // Onsets relative to the run's first volume; the TR is applied once it is known.
    p.events = events::events_from_volume_labels(
        std::vector<events::VolumeLabel>(labels.begin() + i, labels.begin() + j), 1.0, rest);
    plans.push_back(std::move(p));
    i = j;
  }
  return plans;
}

}  // namespace

void discover_bids(const std::string& root, const std::string& subject, const std::string& task,
                   PrepareInputs& inputs) {
  const std::string sub = subject.rfind("sub-", 0) == 0 ? subject : "sub-" + subject;
  const fs::path func = fs::path(root) / sub / "func";
  if (!fs::is_directory(func)) throw io_error("BIDS: no directory '", func.string(), "'");
  const std::string prefix = sub + "_task-" + task + "_";
  std::vector<std::string> runs;
  for (const auto& e : fs::directory_iterator(func)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0 &&
        (name.size() > 12 && (name.ends_with("_bold.nii.gz") || name.ends_with("_bold.nii"))))
      runs.push_back(e.path().string());
  }
  std::sort(runs.begin(), runs.end());
  if (runs.empty())
    throw io_error("BIDS: no runs '", prefix, "*_bold.nii[.gz]' in '", func.string(), "'");
  for (const auto& r : runs) {
    const std::string stem = r.substr(0, r.rfind("_bold.nii"));
    inputs.bold.push_back(r);
    inputs.events.push_back(stem + "_events.tsv");
  }
  if (inputs.mask.empty()) {
    for (const char* ext : {".nii.gz", ".nii"}) {
      const fs::path m = fs::path(root) / sub / "anat" / (sub + "_desc-brain_mask" + ext);
      if (fs::exists(m)) inputs.mask = m.string();
    }
    if (inputs.mask.empty())
      throw io_error("BIDS: no mask '", sub, "/anat/", sub, "_desc-brain_mask.nii[.gz]' in '", root,
                     "'; give one with --mask");
  }
  if (inputs.subject.empty()) inputs.subject = sub;
}

void attach_features(Samples& out, const FeatureJoin& join) {
  const int64_t n_samples = out.n_samples();
    features::FeatureOptions opts;
    opts.names_path = join.feature_names;
    opts.l2_normalize = join.l2_normalize;
    const features::FeatureTable table = features::read_features(join.features, opts);
    if (!table.merged_duplicates.empty()) {
      std::string ids;
      for (const auto& id : table.merged_duplicates) ids += (ids.empty() ? "'" : ", '") + id + "'";
      log::warn("'", join.features, "' lists ", ids, " more than once with identical vectors; the first row is used");
    }
    std::map<std::string, std::string> aliases;
    if (!join.feature_aliases.empty())
      aliases = features::read_aliases(join.feature_aliases, join.alias_from_column, join.alias_to_column);
    std::map<std::string, int32_t> row_of;  // feature id -> row of out.features
    std::vector<std::string> wanted;
    std::vector<int64_t> keep_samples;
    std::set<std::string> missing;
    for (int64_t i = 0; i < n_samples; ++i) {
      auto it = aliases.find(out.stimulus[size_t(i)]);
      const std::string id = it == aliases.end() ? out.stimulus[size_t(i)] : it->second;
      if (table.find(id) < 0) {
        if (join.missing == "error")
          throw input_error("stimulus '", out.stimulus[size_t(i)], "'",
                            it == aliases.end() ? std::string() : " (feature id '" + id + "')",
                            " has no feature vector in '", join.features,
                            "'; add it, alias it (--feature-aliases), exclude it (prepare.exclude_stimuli) or set "
                            "prepare.missing_features: drop");
        missing.insert(out.stimulus[size_t(i)]);
        continue;
      }
      if (!row_of.count(id)) row_of[id] = int32_t(wanted.size()), wanted.push_back(id);
      keep_samples.push_back(i);
      out.feature_row.push_back(row_of[id]);
    }
    if (!missing.empty()) {
      std::string names;
      for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
      log::warn("dropped ", n_samples - int64_t(keep_samples.size()), " samples whose stimulus has no feature vector: ",
                names);
      if (keep_samples.empty()) throw input_error("no sample has a feature vector in '", join.features, "'");
      Samples kept_out = out;
      kept_out.data.resize(int64_t(keep_samples.size()), out.data.cols());
      kept_out.stimulus.clear(), kept_out.run.clear(), kept_out.onset_s.clear(), kept_out.duration_s.clear(),
          kept_out.volumes.clear();
      for (size_t k = 0; k < keep_samples.size(); ++k) {
        const size_t i = size_t(keep_samples[k]);
        kept_out.data.row(int64_t(k)) = out.data.row(int64_t(i));
        kept_out.stimulus.push_back(out.stimulus[i]);
        kept_out.run.push_back(out.run[i]);
        kept_out.onset_s.push_back(out.onset_s[i]);
        kept_out.duration_s.push_back(out.duration_s[i]);
        kept_out.volumes.push_back(out.volumes[i]);
      }
      out = std::move(kept_out);
    }
    out.feature_ids = wanted;
    out.features = features::lookup(table, wanted, "stimulus features");
    out.feature_source = join.features;
  }

Samples prepare_subject(const PrepareInputs& in, const PrepareConfig& cfg) {
  if (in.bold.empty()) throw usage_error("no bold runs given");
  if (in.labels.empty() && in.events.size() != in.bold.size())
    throw usage_error("got ", in.bold.size(), " bold file(s) but ", in.events.size(),
                      " events file(s); give one events.tsv per run, or a --labels file");
  if (!in.labels.empty() && !in.events.empty()) throw usage_error("give either --events or --labels, not both");
  const Scaling scaling = parse_scaling(cfg.scaling);

  std::vector<nifti::Header> headers;
  for (const auto& f : in.bold) headers.push_back(nifti::read_header(f));
  for (size_t f = 0; f < headers.size(); ++f) {
    if (headers[f].dims.size() < 3 || headers[f].dims.size() > 4)
      throw input_error("'", in.bold[f], "': expected a 3D or 4D image, found dims ", dims_text(headers[f]));
    if (!same_grid(headers[f], headers[0], cfg.grid_tolerance))
      throw input_error("runs '", in.bold[0], "' (", dims_text(headers[0]), ") and '", in.bold[f], "' (",
                        dims_text(headers[f]), ") are not on the same grid (dims or affine differ by more than ",
                        cfg.grid_tolerance, ")");
  }
  const nifti::Mask mask = nifti::load_mask(in.mask, headers[0], cfg.grid_tolerance);
  const int64_t n_mask = int64_t(mask.flat.size());
  if (n_mask == 0) throw input_error("mask '", in.mask, "' selects no voxels");
  log::info(in.subject, ": ", in.bold.size(), " file(s), mask ", basename_of(in.mask), " with ", n_mask, " voxels");

  const std::vector<RunPlan> plans = plan_runs(in, cfg, headers);
  const std::set<std::string> rest(cfg.rest_labels.begin(), cfg.rest_labels.end());
  const std::set<std::string> excluded(cfg.exclude_stimuli.begin(), cfg.exclude_stimuli.end());

  Samples out;
  out.subject = in.subject;
  out.mask_voxels = n_mask;
  std::vector<float> rows;  // appended samples, n_mask floats each
  std::vector<uint8_t> drop(n_mask, 0);
  int64_t n_all_nan = 0, n_partial_nan = 0, n_constant = 0, skipped_events = 0;

  log::Progress progress("preparing runs", int64_t(plans.size()));
  size_t loaded_file = SIZE_MAX;
  MatrixF file_data;  // [volumes of the loaded file x n_mask]
  for (size_t r = 0; r < plans.size(); ++r) {
    const RunPlan& plan = plans[r];
    const std::string& bold = in.bold[plan.file];
    with_context(cat("preparing run ", r + 1, " of ", in.subject, " (", basename_of(bold), ")"), [&] {
      if (loaded_file != plan.file) {
        file_data.resize(0, 0);  // release the previous file before loading the next
        file_data = nifti::Image::load(bold).gather(mask.flat);
        loaded_file = plan.file;
      }
      const double tr = cfg.tr_s > 0 ? cfg.tr_s : headers[plan.file].tr_seconds;
      if (!(tr > 0))
        throw input_error("'", bold, "' has no TR in its header (pixdim[4] = 0); set prepare.tr_s");
      MatrixF y;
      if (plan.first_volume == 0 && plan.n_volumes == file_data.rows()) {
        y = std::move(file_data);  // the run is the whole file: no copy
        loaded_file = SIZE_MAX;
      } else {
        y = file_data.middleRows(plan.first_volume, plan.n_volumes);
      }

      const double run_length = double(plan.n_volumes) * tr;
      std::vector<events::Event> evs = plan.events;
      if (!in.labels.empty())
        for (auto& e : evs) e.onset_s *= tr, e.duration_s *= tr;  // label blocks came in volumes
      for (const auto& e : evs) {
        if (e.onset_s + e.duration_s > run_length + 1e-6)
          throw input_error("'", plan.events_source, "': event '", e.stimulus, "' at onset ", e.onset_s,
                            " s (duration ", e.duration_s, " s) ends past the end of its run (", plan.n_volumes,
                            " volumes x TR ", tr, " s = ", run_length, " s)");
      }

      const VoxelHealth health = clean_run(y, polynomial_basis(plan.n_volumes, cfg.detrend_order), scaling);
      for (int64_t j = 0; j < n_mask; ++j) {
        if (health.some_nonfinite[j] && cfg.nonfinite == "error") {
          const auto& v = mask.ijk[j];
          throw input_error("'", bold, "' has non-finite values: voxel (", v[0], ",", v[1], ",", v[2], ") at volume ",
                            plan.first_volume + health.first_bad_volume,
                            " and maybe others; fix the data or set prepare.nonfinite: drop to drop such voxels");
        }
      }
      for (int64_t j = 0; j < n_mask; ++j) {
        if (drop[j]) continue;
        if (health.all_nonfinite[j]) drop[j] = 1, ++n_all_nan;
        else if (health.some_nonfinite[j]) drop[j] = 1, ++n_partial_nan;
        else if (health.constant[j]) drop[j] = 1, ++n_constant;
      }

      auto keep = [&](const std::string& stim) { return !rest.count(stim) && !excluded.count(stim); };
      auto add_sample = [&](const Eigen::RowVectorXf& row, const std::string& stim, double onset, double dur,
                            int64_t volumes) {
        rows.insert(rows.end(), row.data(), row.data() + row.size());
        out.stimulus.push_back(stim);
        out.run.push_back(int32_t(r));
        out.onset_s.push_back(onset);
        out.duration_s.push_back(dur);
        out.volumes.push_back(int32_t(volumes));
      };
      if (cfg.sample_mode == "event") {
        for (const auto& e : evs) {
          if (!keep(e.stimulus)) continue;
          const VolumeWindow w = event_window(e.onset_s, e.duration_s, cfg.shift_s, tr, plan.n_volumes);
          if (w.count == 0) {
            ++skipped_events;
            log::warn("'", plan.events_source, "': event '", e.stimulus, "' at ", e.onset_s, " s has no volume after the ",
                      cfg.shift_s, " s shift (run ends at ", run_length, " s); skipped");
            continue;
          }
          add_sample(window_mean(y, w), e.stimulus, e.onset_s, e.duration_s, w.count);
        }
      } else {  // one sample per volume inside a (shifted) event
        for (int64_t t = 0; t < plan.n_volumes; ++t) {
          const double at = double(t) * tr - cfg.shift_s;
          for (const auto& e : evs) {
            if (at + 1e-6 >= e.onset_s && at < e.onset_s + e.duration_s - 1e-6 && keep(e.stimulus)) {
              add_sample(y.row(t), e.stimulus, e.onset_s, tr, 1);
              break;
            }
          }
        }
      }
      out.run_source.push_back(bold);
      out.run_events.push_back(plan.events_source);
      out.run_volumes.push_back(int32_t(plan.n_volumes));
      out.run_tr_s.push_back(tr);
    });
    progress.tick();
  }
  progress.done();

  const int64_t n_samples = int64_t(out.stimulus.size());
  if (n_samples == 0) throw input_error("no samples: every event was rest, excluded or outside its run");
  std::vector<int64_t> kept;
  for (int64_t j = 0; j < n_mask; ++j)
    if (!drop[j]) kept.push_back(j);
  if (kept.empty()) throw input_error("every voxel of mask '", in.mask, "' was dropped (constant or non-finite)");
  const int64_t dropped = n_mask - int64_t(kept.size());
  if (dropped > 0)
    log::warn("dropped ", dropped, " of ", n_mask, " voxels: ", n_constant, " constant, ", n_all_nan,
              " all non-finite, ", n_partial_nan, " partly non-finite");
  out.dropped_voxels = dropped;

  out.data.resize(n_samples, int64_t(kept.size()));
  out.ijk.resize(int64_t(kept.size()), 3);
  out.xyz.resize(int64_t(kept.size()), 3);
  for (int64_t i = 0; i < n_samples; ++i)
    for (size_t c = 0; c < kept.size(); ++c) out.data(i, int64_t(c)) = rows[size_t(i) * size_t(n_mask) + size_t(kept[c])];
  rows.clear();
  rows.shrink_to_fit();
  for (size_t c = 0; c < kept.size(); ++c) {
    const auto& v = mask.ijk[size_t(kept[c])];
    out.ijk.row(int64_t(c)) << v[0], v[1], v[2];
    const Eigen::Vector4d w = headers[0].affine * Eigen::Vector4d(v[0], v[1], v[2], 1.0);
    out.xyz.row(int64_t(c)) = w.head<3>().transpose();
  }
  for (int k = 0; k < 3; ++k) out.grid_dims[k] = k < int(headers[0].dims.size()) ? headers[0].dims[k] : 1;
  out.affine = headers[0].affine;

  if (!in.features.empty()) {
    FeatureJoin join{in.features, in.feature_names, in.feature_aliases, cfg.l2_normalize_features,
                     cfg.missing_features, cfg.alias_from_column, cfg.alias_to_column};
    attach_features(out, join);
  }
  return out;
}

}  // namespace v2c::prep
