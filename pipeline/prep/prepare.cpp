#include "pipeline/prep/prepare.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "pipeline/core/error.h"
#include "pipeline/core/log.h"
#include "pipeline/io/confounds.h"
#include "pipeline/io/events.h"
#include "pipeline/io/nifti.h"
#include "pipeline/io/sidecar.h"
#include "pipeline/prep/auto_mask.h"
#include "pipeline/prep/cv_groups.h"
#include "pipeline/prep/drift.h"
#include "pipeline/prep/run_samples.h"
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

// The TR of one file and where it came from, for messages.
struct FileTr {
  double tr = 0;
  double header = 0;              // pixdim[4] (0: none)
  std::optional<double> sidecar;  // RepetitionTime of the BIDS sidecar
  std::string sidecar_path;
  std::string source;  // "prepare.tr_s", "BIDS sidecar", "NIfTI header"
};

std::string basename_of(const std::string& p) { return fs::path(p).filename().string(); }

std::string text(double x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

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

// The extra events columns the config asks for, each once; index_of[name] = position in Event::fields.
struct ExtraColumns {
  std::vector<std::string> names;
  int index(const std::string& name) const {
    if (name.empty()) return -1;
    return int(std::find(names.begin(), names.end(), name) - names.begin());
  }
};
ExtraColumns extra_columns(const PrepareConfig& cfg) {
  ExtraColumns x;
  for (const std::string& c : {cfg.average_by, cfg.lss_group_column, cfg.group_column})
    if (!c.empty() && std::find(x.names.begin(), x.names.end(), c) == x.names.end()) x.names.push_back(c);
  return x;
}

std::vector<RunPlan> plan_runs(const PrepareInputs& in, const PrepareConfig& cfg, const ExtraColumns& extra,
                               const std::vector<nifti::Header>& headers) {
  std::vector<RunPlan> plans;
  if (in.labels.empty()) {
    for (size_t f = 0; f < in.bold.size(); ++f) {
      RunPlan p;
      p.file = f;
      p.n_volumes = headers[f].n_volumes();
      if (in.events[f] != kNoEvents) p.events = events::read_events_tsv(in.events[f], cfg.stimulus_column, extra.names);
      p.events_source = in.events[f] == kNoEvents ? "" : in.events[f];
      plans.push_back(std::move(p));
    }
    return plans;
  }
  if (!extra.names.empty())
    throw usage_error("prepare.average_by / lss_group_column / group_column name events.tsv columns ('", extra.names[0],
                      "'); a --labels file has none: give BIDS events (--events) instead");
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

// prepare.tr_s, else the BIDS sidecar's RepetitionTime, else the header's pixdim[4]; a disagreement
// between sidecar and header is logged.
FileTr resolve_tr(const std::string& bold, const nifti::Header& header, const std::string& sidecar_path,
                  const PrepareConfig& cfg) {
  FileTr t;
  t.header = header.tr_seconds;
  t.sidecar_path = sidecar_path;
  if (!sidecar_path.empty()) t.sidecar = sidecar::repetition_time(sidecar_path);
  if (cfg.tr_s > 0)
    t.tr = cfg.tr_s, t.source = "prepare.tr_s";
  else if (t.sidecar)
    t.tr = *t.sidecar, t.source = "BIDS sidecar";
  else
    t.tr = t.header, t.source = "NIfTI header";
  if (t.sidecar && t.header > 0 && std::abs(*t.sidecar - t.header) > 1e-3 * std::max(*t.sidecar, t.header))
    log::warn("'", basename_of(bold), "': the NIfTI header says TR ", t.header, " s, its BIDS sidecar '",
              basename_of(sidecar_path), "' says ", *t.sidecar, " s; using ", t.tr, " s (", t.source, ")");
  if (!(t.tr > 0))
    throw input_error("'", bold, "' has no TR: its header has none (pixdim[4] = 0)",
                      sidecar_path.empty() ? std::string(" and no BIDS sidecar was found")
                                           : " and its sidecar '" + sidecar_path + "' has no RepetitionTime",
                      "; set prepare.tr_s");
  return t;
}

std::string tr_story(const FileTr& t) {
  std::string s = "TR " + text(t.tr) + " s from the " + t.source + "; the NIfTI header says " +
                  (t.header > 0 ? text(t.header) + " s" : std::string("nothing"));
  s += t.sidecar ? ", the BIDS sidecar " + text(*t.sidecar) + " s" : std::string(", no BIDS sidecar RepetitionTime");
  return s + " (if the TR is wrong, set prepare.tr_s)";
}

// The run's nuisance regressors: Legendre drift, cosine high-pass, confounds (with a constant when
// the drift has none).
MatrixD nuisance_of(int64_t n, double tr, const PrepareConfig& cfg, const MatrixD& confound_values) {
  const MatrixD poly = polynomial_basis(n, cfg.detrend_order);
  const MatrixD cosines = cosine_basis(n, tr, cfg.high_pass_s);
  const bool constant = cfg.detrend_order < 0 && (cosines.cols() > 0 || confound_values.cols() > 0);
  MatrixD out(n, poly.cols() + cosines.cols() + confound_values.cols() + (constant ? 1 : 0));
  int64_t c = 0;
  if (constant) out.col(c++).setOnes();
  out.middleCols(c, poly.cols()) = poly, c += poly.cols();
  out.middleCols(c, cosines.cols()) = cosines, c += cosines.cols();
  out.middleCols(c, confound_values.cols()) = confound_values;
  return out;
}

}  // namespace

Samples prepare_subject(const PrepareInputs& in, const PrepareConfig& cfg, AutoMaskResult* auto_mask) {
  if (in.bold.empty()) throw usage_error("no bold runs given");
  if (in.labels.empty() && in.events.size() != in.bold.size())
    throw usage_error("got ", in.bold.size(), " bold file(s) but ", in.events.size(),
                      " events file(s); give one events.tsv per run, or a --labels file");
  if (!in.labels.empty() && !in.events.empty()) throw usage_error("give either --events or --labels, not both");
  if (!in.confounds.empty() && in.confounds.size() != in.bold.size())
    throw usage_error("got ", in.bold.size(), " bold file(s) but ", in.confounds.size(),
                      " confounds file(s); give one --confounds file per run, or none to find them beside the runs");
  if (!in.confounds.empty() && cfg.confounds.empty())
    throw usage_error(
        "--confounds files given but prepare.confounds names no column; set e.g. "
        "--set 'prepare.confounds=[trans_*, rot_*, csf, white_matter]'");
  if (!in.sidecars.empty() && in.sidecars.size() != in.bold.size())
    throw usage_error("got ", in.bold.size(), " bold file(s) but ", in.sidecars.size(), " sidecars");
  if (cfg.sample_mode == "glm" && !in.labels.empty())
    throw usage_error(
        "prepare.sample_mode glm models each event with its own regressor; it needs BIDS events "
        "(--events), not a --labels file");
  const Scaling scaling = parse_scaling(cfg.scaling);
  const ExtraColumns extra = extra_columns(cfg);

  std::vector<nifti::Header> headers;
  for (const auto& f : in.bold) headers.push_back(nifti::read_header(f));
  for (size_t f = 0; f < headers.size(); ++f) {
    if (const std::string why = nifti::not_a_volume(headers[f]); !why.empty())
      throw input_error("'", in.bold[f], "' is not a volume: ", why);
    if (headers[f].dims.size() < 3 || headers[f].dims.size() > 4)
      throw input_error("'", in.bold[f], "': expected a 3D or 4D image, found dims ", dims_text(headers[f]));
    if (!same_grid(headers[f], headers[0], cfg.grid_tolerance))
      throw input_error("runs '", in.bold[0], "' (", dims_text(headers[0]), ") and '", in.bold[f], "' (",
                        dims_text(headers[f]), ") are not on the same grid (dims or affine differ by more than ",
                        cfg.grid_tolerance, ")");
  }
  std::vector<FileTr> trs;
  for (size_t f = 0; f < in.bold.size(); ++f)
    trs.push_back(
        resolve_tr(in.bold[f], headers[f], in.sidecars.empty() ? sidecar::beside(in.bold[f]) : in.sidecars[f], cfg));

  Samples out;
  out.subject = in.subject;
  nifti::Mask mask;
  if (in.mask == kAutoMask) {
    EpiMaskParams params;
    params.lower_cutoff = cfg.auto_mask_lower_cutoff;
    params.upper_cutoff = cfg.auto_mask_upper_cutoff;
    params.opening = cfg.auto_mask_opening;
    if (!(params.upper_cutoff > params.lower_cutoff))
      throw usage_error("prepare.auto_mask_upper_cutoff (", params.upper_cutoff,
                        ") must be above prepare.auto_mask_lower_cutoff (", params.lower_cutoff, ")");
    log::info(in.subject, ": computing the automatic mask from the mean of ", in.bold.size(), " run file(s)");
    std::array<int64_t, 3> dims{};
    for (size_t k = 0; k < 3; ++k) dims[k] = k < headers[0].dims.size() ? headers[0].dims[k] : 1;
    const EpiMask epi = compute_epi_mask(mean_image(in.bold, headers[0]), dims, params);
    if (epi.n_inside == 0)
      throw input_error("--mask auto found no brain in the mean image of the runs (threshold ", epi.threshold,
                        "): ", params.opening, " erosions left nothing",
                        params.opening > 0 ? " (coarse voxels? try prepare.auto_mask_opening: 0)" : "");
    mask = mask_of(epi.inside, headers[0]);
    out.mask_method =
        cat("auto (nilearn compute_epi_mask: lower_cutoff ", params.lower_cutoff, ", upper_cutoff ",
            params.upper_cutoff, ", opening ", params.opening, ", largest component; threshold ", epi.threshold, ")");
    if (auto_mask) auto_mask->inside = epi.inside, auto_mask->threshold = epi.threshold;
  } else {
    mask = nifti::load_mask(in.mask, headers[0], cfg.grid_tolerance);
    out.mask_source = in.mask;
    out.mask_method = "file";
  }
  const int64_t n_mask = int64_t(mask.flat.size());
  if (n_mask == 0) throw input_error("mask '", in.mask, "' selects no voxels");
  log::info(in.subject, ": ", in.bold.size(), " file(s), mask ",
            in.mask == kAutoMask ? std::string("auto") : basename_of(in.mask), " with ", n_mask, " voxels");

  const std::vector<RunPlan> plans = plan_runs(in, cfg, extra, headers);
  const std::set<std::string> rest(cfg.rest_labels.begin(), cfg.rest_labels.end());
  const std::set<std::string> excluded(cfg.exclude_stimuli.begin(), cfg.exclude_stimuli.end());
  out.mask_voxels = n_mask;
  out.sample_mode = cfg.sample_mode == "glm" ? "glm-" + cfg.glm_method : cfg.sample_mode;
  std::vector<float> rows;  // appended samples, n_mask floats each
  std::vector<uint8_t> drop(n_mask, 0);
  int64_t n_all_nan = 0, n_partial_nan = 0, n_constant = 0, n_rest = 0, n_excluded = 0;
  int32_t n_groups = 0;  // CV groups of the runs so far (ids unique across runs)

  log::Progress progress("preparing runs", int64_t(plans.size()));
  size_t loaded_file = SIZE_MAX;
  MatrixF file_data;  // [volumes of the loaded file x n_mask]
  for (size_t r = 0; r < plans.size(); ++r) {
    const RunPlan& plan = plans[r];
    const std::string& bold = in.bold[plan.file];
    with_context(cat("preparing run ", r + 1, " of ", in.subject, " (", basename_of(bold), ")"), [&] {
      const FileTr& tr_info = trs[plan.file];
      const double tr = tr_info.tr;
      const double run_length = double(plan.n_volumes) * tr;
      std::vector<events::Event> evs = plan.events;
      if (!in.labels.empty())
        for (auto& e : evs) e.onset_s *= tr, e.duration_s *= tr;  // label blocks came in volumes
      for (const auto& e : evs) {
        if (e.onset_s + e.duration_s > run_length + 1e-6)
          throw input_error("'", plan.events_source, "'", e.line ? cat(" line ", e.line) : std::string(), ": event '",
                            e.stimulus, "' at onset ", e.onset_s, " s (duration ", e.duration_s,
                            " s) ends past the end of its run (", plan.n_volumes, " volumes x TR ", tr,
                            " s = ", run_length, " s); ", tr_story(tr_info));
      }
      n_groups += assign_cv_groups(evs, extra.index(cfg.group_column), n_groups);
      MatrixD confound_values(plan.n_volumes, 0);
      if (!cfg.confounds.empty()) {
        const std::string path = in.confounds.empty() ? confounds::find_beside(bold) : in.confounds[plan.file];
        if (path.empty())
          throw input_error(
              "prepare.confounds is set but run '", bold, "' has no confounds file: looked for ",
              "<run>_desc-confounds_timeseries.tsv (fMRIPrep) beside it; give one per run with --confounds");
        const confounds::Confounds c = confounds::read_confounds(path, cfg.confounds, headers[plan.file].n_volumes());
        confound_values = c.values.middleRows(plan.first_volume, plan.n_volumes);
        if (r == 0) {
          std::string names;
          for (const auto& n : c.columns) names += (names.empty() ? "" : ", ") + n;
          log::info(in.subject, ": confounds ", names);
        }
      }

      if (loaded_file != plan.file) {
        file_data.resize(0, 0);  // release the previous file before loading the next
        file_data = nifti::Image::load(bold).gather(mask.flat);
        loaded_file = plan.file;
      }
      MatrixF y;
      if (plan.first_volume == 0 && plan.n_volumes == file_data.rows()) {
        y = std::move(file_data);  // the run is the whole file: no copy
        loaded_file = SIZE_MAX;
      } else {
        y = file_data.middleRows(plan.first_volume, plan.n_volumes);
      }

      const MatrixD nuisance = nuisance_of(plan.n_volumes, tr, cfg, confound_values);
      const VoxelHealth health = clean_run(y, nuisance, scaling);
      if (in.on_cleaned_run) in.on_cleaned_run(y, mask);
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
        if (health.all_nonfinite[j])
          drop[j] = 1, ++n_all_nan;
        else if (health.some_nonfinite[j])
          drop[j] = 1, ++n_partial_nan;
        else if (health.constant[j])
          drop[j] = 1, ++n_constant;
      }

      std::vector<events::Event> kept, modelled;
      std::vector<uint8_t> output;
      for (const auto& e : evs) {
        if (rest.count(e.stimulus)) {
          ++n_rest;
          continue;
        }
        modelled.push_back(e);
        output.push_back(!excluded.count(e.stimulus));
        if (excluded.count(e.stimulus))
          ++n_excluded;
        else
          kept.push_back(e);
      }
      RunSamples rs;
      if (cfg.sample_mode == "event") {
        rs = window_samples(y, kept, tr, cfg.shift_s);
      } else if (cfg.sample_mode == "volume") {
        rs = volume_samples(y, kept, tr, cfg.shift_s);
      } else {
        GlmOptions opt;
        opt.method = cfg.glm_method;
        opt.oversampling = cfg.glm_oversampling;
        opt.lss_group_field = extra.index(cfg.lss_group_column);
        rs = glm_samples(y, modelled, output, nuisance, tr, opt);
      }
      if (!cfg.average_by.empty()) rs = average_by_field(rs, extra.index(cfg.average_by), "prepare.average_by group");
      for (const auto& d : rs.dropped) {
        log::warn("'", plan.events_source, "'", d.line ? cat(" line ", d.line) : std::string(), ": event '", d.stimulus,
                  "' at ", d.onset_s, " s gives no sample: ", d.reason);
        out.dropped_stimulus.push_back(d.stimulus);
        out.dropped_run.push_back(int32_t(r));
        out.dropped_onset_s.push_back(d.onset_s);
        out.dropped_reason.push_back(d.reason);
      }
      rows.insert(rows.end(), rs.rows.data(), rs.rows.data() + rs.rows.size());
      for (const auto& s : rs.table) {
        out.stimulus.push_back(s.stimulus);
        out.run.push_back(int32_t(r));
        out.onset_s.push_back(s.onset_s);
        out.duration_s.push_back(s.duration_s);
        out.volumes.push_back(s.volumes);
        out.group.push_back(s.group);
      }
      out.run_source.push_back(bold);
      out.run_events.push_back(plan.events_source);
      out.run_volumes.push_back(int32_t(plan.n_volumes));
      out.run_tr_s.push_back(tr);
    });
    progress.tick();
  }
  progress.done();
  if (n_rest + n_excluded > 0)
    log::info(in.subject, ": ", n_rest, " rest event(s) (prepare.rest_labels) and ", n_excluded,
              " excluded event(s) (prepare.exclude_stimuli) give no sample, by configuration");
  if (!out.dropped_stimulus.empty())
    log::warn(in.subject, ": ", out.dropped_stimulus.size(),
              " event(s) gave no sample (listed above and in the "
              "samples file's /dropped_events)");

  renumber_groups(out.group);
  const int64_t n_samples = int64_t(out.stimulus.size());
  if (n_samples == 0 && !in.on_cleaned_run)
    throw input_error("no samples: every event was rest, excluded or gave no sample");
  std::vector<int64_t> kept_voxels;
  for (int64_t j = 0; j < n_mask; ++j)
    if (!drop[j]) kept_voxels.push_back(j);
  if (kept_voxels.empty())
    throw input_error("every voxel of mask '", in.mask, "' was dropped (constant or non-finite)");
  const int64_t dropped = n_mask - int64_t(kept_voxels.size());
  if (dropped > 0)
    log::warn("dropped ", dropped, " of ", n_mask, " voxels: ", n_constant, " constant, ", n_all_nan,
              " all non-finite, ", n_partial_nan, " partly non-finite");
  out.dropped_voxels = dropped;

  out.data.resize(n_samples, int64_t(kept_voxels.size()));
  out.ijk.resize(int64_t(kept_voxels.size()), 3);
  out.xyz.resize(int64_t(kept_voxels.size()), 3);
  for (int64_t i = 0; i < n_samples; ++i)
    for (size_t c = 0; c < kept_voxels.size(); ++c)
      out.data(i, int64_t(c)) = rows[size_t(i) * size_t(n_mask) + size_t(kept_voxels[c])];
  rows.clear();
  rows.shrink_to_fit();
  for (size_t c = 0; c < kept_voxels.size(); ++c) {
    const auto& v = mask.ijk[size_t(kept_voxels[c])];
    out.ijk.row(int64_t(c)) << v[0], v[1], v[2];
    const Eigen::Vector4d w = headers[0].affine * Eigen::Vector4d(v[0], v[1], v[2], 1.0);
    out.xyz.row(int64_t(c)) = w.head<3>().transpose();
  }
  for (int k = 0; k < 3; ++k) out.grid_dims[k] = k < int(headers[0].dims.size()) ? headers[0].dims[k] : 1;
  out.affine = headers[0].affine;

  if (!in.features.empty()) {
    FeatureJoin join{in.features,          in.feature_names,      in.feature_aliases, cfg.l2_normalize_features,
                     cfg.missing_features, cfg.alias_from_column, cfg.alias_to_column};
    attach_features(out, join);
  }
  return out;
}

}  // namespace v2c::prep
