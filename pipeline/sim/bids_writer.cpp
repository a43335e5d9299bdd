#include "pipeline/sim/bids_writer.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <filesystem>
#include <limits>
#include <sstream>

#include "pipeline/core/error.h"
#include "pipeline/core/format.h"
#include "pipeline/core/json.h"
#include "pipeline/core/log.h"
#include "pipeline/core/text_file.h"
#include "pipeline/io/h5.h"
#include "pipeline/io/nifti/writer.h"

namespace fs = std::filesystem;

namespace v2c::sim {

namespace {

std::string run_stem(const Subject& s, const Run& run) { return s.id + "_task-sim_run-" + two_digits(run.number); }

std::string events_tsv(const Run& run, const Stimuli& stimuli) {
  std::ostringstream os;
  os << "onset\tduration\ttrial_type\n";
  for (const Event& e : run.events)
    os << shortest_decimal(e.onset_s) << '\t' << shortest_decimal(e.duration_s) << '\t' << stimuli.ids[e.stimulus]
       << '\n';
  return os.str();
}

// Everything of one subject except the truth kept for ground_truth.h5; returns the measured snr.
double write_subject(const std::string& dir, const StudyParams& p, const Study& st, const Subject& s,
                     const MatrixD& amp) {
  const std::string func = dir + "/" + s.id + "/func/";
  const std::string anat = dir + "/" + s.id + "/anat/";
  for (const auto& d : {func, anat}) {
    std::error_code ec;
    fs::create_directories(d, ec);
    if (ec) throw io_error("cannot create directory '", d, "': ", ec.message());
  }
  const int64_t volume = s.dims[0] * s.dims[1] * s.dims[2];
  std::vector<float> mask(size_t(volume), 0.0f);
  for (int64_t f : s.flat) mask[size_t(f)] = 1.0f;
  nifti::write_series(anat + s.id + "_desc-brain_mask.nii.gz", {s.dims[0], s.dims[1], s.dims[2], 1}, s.affine, 0.0,
                      mask, "int16");

  const int n_runs = int(s.runs.size());
  std::vector<double> signal_ss(n_runs, 0.0), noise_ss(n_runs, 0.0);
  std::exception_ptr failure;
#pragma omp parallel for schedule(dynamic)
  for (int r = 0; r < n_runs; ++r) {
    try {
      const Run& run = s.runs[r];
      const RunSeries series = simulate_run(p, s, r, amp);
      if (run.split != "rest") {  // the snr is over the stimulus runs (calibrate_noise)
        signal_ss[r] = signal_sum_sq(series.signal, s.responsive);
        noise_ss[r] = noise_sum_sq(series.noise, s.responsive);
      }
      const MatrixD bold = series.bold(s.baseline);
      std::vector<float> values(size_t(volume * run.n_volumes), 0.0f);
      for (int t = 0; t < run.n_volumes; ++t)
        for (int64_t v = 0; v < s.n_voxels(); ++v) values[size_t(t * volume + s.flat[v])] = float(bold(t, v));
      const std::string stem = func + run_stem(s, run);
      nifti::write_series(stem + "_bold.nii.gz", {s.dims[0], s.dims[1], s.dims[2], run.n_volumes}, s.affine, p.tr_s,
                          values, p.bold_datatype);
      write_text(stem + "_events.tsv", events_tsv(run, st.stimuli));
    } catch (...) {
#pragma omp critical(v2c_sim_failure)
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);

  std::ostringstream runs;
  runs << "run\tsplit\tn_volumes\n";
  for (const Run& run : s.runs) runs << run.number << '\t' << run.split << '\t' << run.n_volumes << '\n';
  write_text(func + s.id + "_task-sim_runs.tsv", runs.str());

  double sig = 0, noi = 0;
  for (int r = 0; r < n_runs; ++r) sig += signal_ss[r], noi += noise_ss[r];
  return noi > 0 ? std::sqrt(sig / noi) : std::numeric_limits<double>::quiet_NaN();
}

void write_truth_subject(h5::ArtifactWriter& w, const Subject& s, double measured_snr) {
  const std::string g = s.id + "/";
  w.write(g + "readout", s.readout);
  MatrixF ijk(s.n_voxels(), 3);
  for (int64_t v = 0; v < s.n_voxels(); ++v)
    for (int a = 0; a < 3; ++a) ijk(v, a) = float(s.ijk[v][a]);
  w.write(g + "voxel_ijk", ijk);
  w.write(g + "voxel_index", s.flat);
  w.write(g + "responsive", std::vector<int32_t>(s.responsive.begin(), s.responsive.end()));
  w.write(g + "baseline", std::vector<double>(s.baseline.data(), s.baseline.data() + s.baseline.size()));
  w.write(g + "noise_std", std::vector<double>(s.noise_std.data(), s.noise_std.data() + s.noise_std.size()));
  w.write(g + "affine", MatrixD(s.affine));
  w.write(g + "dims", std::vector<int64_t>(s.dims.begin(), s.dims.end()));
  std::vector<int32_t> run_numbers, n_volumes;
  std::vector<std::string> split;
  for (const Run& run : s.runs) {
    run_numbers.push_back(run.number);
    split.push_back(run.split);
    n_volumes.push_back(run.n_volumes);
  }
  w.write(g + "run", run_numbers);
  w.write(g + "run_split", split);
  w.write(g + "run_n_volumes", n_volumes);
  w.attr("/" + s.id, "noise_scale", s.noise_scale);
  w.attr("/" + s.id, "snr_measured", measured_snr);
}

}  // namespace

StudySummary write_study(const std::string& dir, const StudyParams& p, uint64_t seed, const Provenance& prov) {
  const Study st = make_study(p, seed);
  const Stimuli& stim = st.stimuli;

  json::Value description = {
      {"Name", cat("vox2clip simulated study (seed ", seed, ")")}, {"BIDSVersion", "1.8.0"}, {"DatasetType", "raw"}};
  description["GeneratedBy"] = json::Value::array({{{"Name", "vox2clip v2c-simulate"}, {"Version", prov.version}}});
  write_text(dir + "/dataset_description.json", json::dump(description, 2) + "\n");
  write_text(dir + "/task-sim_bold.json",
             json::dump(json::Value{{"TaskName", "sim"}, {"RepetitionTime", p.tr_s}}, 2) + "\n");

  std::ostringstream table;
  table << "stimulus_id\tcategory\tsplit\n";
  for (size_t i = 0; i < stim.ids.size(); ++i)
    table << stim.ids[i] << '\t' << stim.category[i] << '\t' << stim.split[i] << '\n';
  write_text(dir + "/stimuli/stimuli.tsv", table.str());
  {
    h5::ArtifactWriter w(dir + "/stimuli/features.h5", "features", 1, prov, false);
    w.write("ids", stim.ids);
    w.write("features", stim.features);
    w.write("split", stim.split);
    w.write("category", stim.category);
    w.commit();
  }

  StudySummary summary;
  std::vector<Subject> subjects;
  std::vector<double> measured;
  const int n_all = p.n_subjects + p.unlabelled_subjects;
  log::Progress progress("simulating subjects", n_all);
  for (int i = 0; i < n_all; ++i) {
    Subject s = make_subject(p, i, seed, stim);
    const MatrixD amp = amplitudes(p, s, subject_latent(st, i));
    calibrate_noise(p, s, amp);  // an unlabelled subject: the noise level its stimulus runs would have had
    if (i >= p.n_subjects)
      s.runs.erase(std::remove_if(s.runs.begin(), s.runs.end(), [](const Run& r) { return r.split != "rest"; }),
                   s.runs.end());
    measured.push_back(with_context("simulating " + s.id, [&] { return write_subject(dir, p, st, s, amp); }));
    subjects.push_back(std::move(s));
    progress.tick();
  }
  progress.done();

  std::ostringstream participants;
  participants << "participant_id\tn_voxels\n";
  for (const Subject& s : subjects) participants << s.id << '\t' << s.n_voxels() << '\n';
  write_text(dir + "/participants.tsv", participants.str());

  h5::ArtifactWriter w(dir + "/ground_truth.h5", "simulation_truth", 1, prov, false);
  w.attr("/", "simulate_config", prov.config_yaml);
  w.attr("/", "seed", int64_t(seed));
  w.write("stimuli/ids", stim.ids);
  w.write("stimuli/split", stim.split);
  w.write("stimuli/category", stim.category);
  w.write("stimuli/latent", st.latent);
  w.write("stimuli/centres", stim.centres);
  if (st.g.linear) {
    w.write("g/W", st.g.W);
  } else {
    w.write("g/W1", st.g.W1);
    w.write("g/b1", std::vector<double>(st.g.b1.data(), st.g.b1.data() + st.g.b1.size()));
    w.write("g/W2", st.g.W2);
  }
  w.write("g/mean", std::vector<double>(st.g.mean.data(), st.g.mean.data() + st.g.mean.size()));
  w.write("g/scale", std::vector<double>(st.g.scale.data(), st.g.scale.data() + st.g.scale.size()));
  w.attr("/g", "kind", std::string(st.g.linear ? "linear" : "mlp"));
  w.attr("/g", "gain", st.g.gain);
  w.attr(
      "/g", "formula",
      std::string(st.g.linear ? "g(f) = (W f - mean) / scale" : "g(f) = (W2 gelu(gain * W1 f + b1) - mean) / scale"));
  for (size_t i = 0; i < subjects.size(); ++i) write_truth_subject(w, subjects[i], measured[i]);
  w.commit();

  summary.n_subjects = int(subjects.size());
  summary.min_voxels = std::numeric_limits<int64_t>::max();
  summary.min_snr = std::numeric_limits<double>::infinity();
  summary.max_snr = -summary.min_snr;
  for (size_t i = 0; i < subjects.size(); ++i) {
    summary.n_runs += int(subjects[i].runs.size());
    summary.min_voxels = std::min(summary.min_voxels, subjects[i].n_voxels());
    summary.max_voxels = std::max(summary.max_voxels, subjects[i].n_voxels());
    summary.min_snr = std::min(summary.min_snr, measured[i]);
    summary.max_snr = std::max(summary.max_snr, measured[i]);
  }
  return summary;
}

}  // namespace v2c::sim
