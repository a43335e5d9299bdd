#include "pipeline/sim/study.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <limits>
#include <numeric>
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

using rng::derive_seed;

namespace {

// Seed streams: one per model component, so changing one part leaves the others' draws alone.
enum Stream : uint64_t { kStimuli = 1, kLatent = 2, kSubject = 3, kRuns = 4 };

constexpr double kPi = 3.14159265358979323846;
constexpr double kMaxTranslationMm = 5.0;

std::string two_digits(int n) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d", n);
  return buf;
}

}  // namespace

// ---- parameters --------------------------------------------------------------------------

void validate(const StudyParams& p) {
  auto fail = [](const std::string& field, const std::string& value, const std::string& rule) {
    return usage_error("config field 'simulate.", field, "' = ", value, ": must be ", rule);
  };
  if (p.grid_dims.size() != 3) throw fail("grid_dims", cat(p.grid_dims.size(), " values"), "3 values (nx, ny, nz)");
  for (int d : p.grid_dims)
    if (d - p.grid_jitter < 4 || d + p.grid_jitter > 256)
      throw fail("grid_dims", std::to_string(d),
                 cat("such that every axis stays in [4, 256] after +-grid_jitter (", p.grid_jitter, ")"));
  if (p.baseline_range.size() != 2 || !(p.baseline_range[0] > 0) || p.baseline_range[0] > p.baseline_range[1])
    throw fail("baseline_range", cat(p.baseline_range.size(), " values"), "[low, high] with 0 < low <= high");
  if (p.mask_fill_min > p.mask_fill_max)
    throw fail("mask_fill_min", shortest_decimal(p.mask_fill_min), cat("<= mask_fill_max (", p.mask_fill_max, ")"));
  const int pool = p.n_categories * p.train_per_category;
  if (p.train_per_subject > pool)
    throw fail("train_per_subject", std::to_string(p.train_per_subject),
               cat("<= the training pool, n_categories * train_per_category (", pool, ")"));
  const int n_train = p.train_per_subject > 0 ? p.train_per_subject : pool;
  if (p.train_runs > n_train)
    throw fail("train_runs", std::to_string(p.train_runs),
               cat("<= the number of training stimuli, n_categories * train_per_category (", n_train, ")"));
  const int n_test = p.n_categories * p.test_per_category;
  if (p.test_runs > n_test * p.test_repeats)
    throw fail("test_runs", std::to_string(p.test_runs),
               cat("<= the number of test presentations, n_categories * test_per_category * test_repeats (",
                   n_test * p.test_repeats, ")"));
}

// ---- stimuli -----------------------------------------------------------------------------

std::vector<int> Stimuli::train_indices() const {
  std::vector<int> out;
  for (size_t i = 0; i < split.size(); ++i)
    if (split[i] == "train") out.push_back(int(i));
  return out;
}

std::vector<int> Stimuli::test_indices() const {
  std::vector<int> out;
  for (size_t i = 0; i < split.size(); ++i)
    if (split[i] == "test") out.push_back(int(i));
  return out;
}

Stimuli make_stimuli(const StudyParams& p, uint64_t seed) {
  Rng rng(derive_seed(seed, kStimuli));
  const int d = p.feature_dim;
  auto random_unit = [&](const VectorD& around, double spread) {
    VectorD v(d);
    for (int i = 0; i < d; ++i) v[i] = around[i] + spread * rng.normal();
    return VectorD(v / v.norm());
  };
  Stimuli s;
  s.centres.resize(p.n_categories, d);
  const VectorD origin = VectorD::Zero(d);
  std::vector<VectorD> centres;
  for (int c = 0; c < p.n_categories; ++c) {
    centres.push_back(random_unit(origin, 1.0));
    s.centres.row(c) = centres.back().cast<float>().transpose();
  }
  const int n = p.n_categories * (p.train_per_category + p.test_per_category);
  s.features.resize(n, d);
  const double spread = p.category_spread / std::sqrt(double(d));
  for (const char* split : {"train", "test"}) {
    const int per = std::string(split) == "train" ? p.train_per_category : p.test_per_category;
    for (int c = 0; c < p.n_categories; ++c) {
      for (int i = 0; i < per; ++i) {
        char id[48];
        std::snprintf(id, sizeof id, "%s-c%02d-%04d", split, c, i);
        s.features.row(int(s.ids.size())) = random_unit(centres[c], spread).cast<float>().transpose();
        s.ids.push_back(id);
        s.category.push_back(c);
        s.split.push_back(split);
      }
    }
  }
  return s;
}

// ---- the shared latent model -------------------------------------------------------------

double gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

namespace {
MatrixD raw_latent(const LatentModel& g, const MatrixF& features) {
  const MatrixD f = features.cast<double>();
  if (g.linear) return f * g.W.transpose();
  MatrixD h = (g.gain * (f * g.W1.transpose())).rowwise() + g.b1.transpose();
  h = h.unaryExpr([](double x) { return gelu(x); });
  return h * g.W2.transpose();
}
}  // namespace

MatrixD LatentModel::apply(const MatrixF& features) const {
  MatrixD z = raw_latent(*this, features);
  z.rowwise() -= mean.transpose();
  return z.array().rowwise() / scale.transpose().array();
}

LatentModel make_latent_model(const StudyParams& p, uint64_t seed, const MatrixF& features) {
  Rng rng(derive_seed(seed, kLatent));
  auto gaussian = [&](int rows, int cols, double sd) {
    MatrixD m(rows, cols);
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) m(r, c) = sd * rng.normal();
    return m;
  };
  LatentModel g;
  g.linear = p.linear;
  g.gain = p.nonlinearity_gain;
  if (p.linear) {
    g.W = gaussian(p.latent_dim, p.feature_dim, 1.0);
  } else {
    // Unit-norm features give W1 f ~ N(0, 1) per hidden unit: gain sets how far into the
    // curved part of gelu the pre-activations reach.
    g.W1 = gaussian(p.hidden_dim, p.feature_dim, 1.0);
    g.b1 = gaussian(p.hidden_dim, 1, 1.0).col(0);
    g.W2 = gaussian(p.latent_dim, p.hidden_dim, 1.0 / std::sqrt(double(p.hidden_dim)));
  }
  const MatrixD z = raw_latent(g, features);
  const double n = double(z.rows());
  g.mean = z.colwise().mean().transpose();
  g.scale.resize(z.cols());
  for (int j = 0; j < z.cols(); ++j) {
    const double sd = std::sqrt((z.col(j).array() - g.mean[j]).square().sum() / n);
    g.scale[j] = sd > 0 ? sd : 1.0;
  }
  return g;
}

// ---- haemodynamics -----------------------------------------------------------------------

namespace {
constexpr double kUndershootRatio = 1.0 / 6.0;
constexpr double kHrfMass = 1.0 - kUndershootRatio;  // integral of the unscaled double gamma

// Gamma(shape k, scale 1) density.
double gamma_pdf(double t, int k) { return std::exp((k - 1) * std::log(t) - t - std::lgamma(double(k))); }

// Regularised lower incomplete gamma P(k, t) for integer k: 1 - e^-t sum_{i<k} t^i / i!.
double gamma_cdf(double t, int k) {
  double term = 1.0, sum = 1.0;
  for (int i = 1; i < k; ++i) sum += (term *= t / i);
  return 1.0 - std::exp(-t) * sum;
}
}  // namespace

double hrf(double t) {
  if (t <= 0) return 0.0;
  return (gamma_pdf(t, 6) - kUndershootRatio * gamma_pdf(t, 16)) / kHrfMass;
}

double hrf_integral(double t) {
  if (t <= 0) return 0.0;
  return (gamma_cdf(t, 6) - kUndershootRatio * gamma_cdf(t, 16)) / kHrfMass;
}

std::vector<double> sample_hrf(double dt, double length_s) {
  V2C_ASSERT(dt > 0 && length_s > 0, "sample_hrf(", dt, ", ", length_s, ")");
  std::vector<double> out;
  for (int i = 0; i * dt < length_s; ++i) out.push_back(hrf(i * dt));
  return out;
}

double boxcar_response(double t, double onset, double duration) {
  return hrf_integral(t - onset) - hrf_integral(t - onset - duration);
}

// ---- experimental design -----------------------------------------------------------------

namespace {
// Splits `items` into `parts` consecutive chunks whose sizes differ by at most one.
std::vector<std::vector<int>> split_even(const std::vector<int>& items, int parts) {
  std::vector<std::vector<int>> out(parts);
  size_t pos = 0;
  for (int r = 0; r < parts; ++r) {
    const size_t size = items.size() / parts + (size_t(r) < items.size() % parts ? 1 : 0);
    out[r].assign(items.begin() + pos, items.begin() + pos + size);
    pos += size;
  }
  return out;
}
}  // namespace

std::vector<Run> make_schedule(const StudyParams& p, const Stimuli& stimuli, Rng& rng) {
  std::vector<int> train = stimuli.train_indices();
  rng.shuffle(train);
  // Each subject sees its own random subset of the training pool (as in NSD), when asked.
  if (p.train_per_subject > 0 && p.train_per_subject < int(train.size())) train.resize(size_t(p.train_per_subject));
  std::vector<int> test_presentations;
  const std::vector<int> test = stimuli.test_indices();
  for (int rep = 0; rep < p.test_repeats; ++rep) {
    std::vector<int> order = test;
    rng.shuffle(order);  // each repeat a new order; with test_runs == test_repeats one repeat per run
    test_presentations.insert(test_presentations.end(), order.begin(), order.end());
  }
  const double on = p.design == "block" ? p.block_s : p.stimulus_s;
  std::vector<Run> runs;
  auto add = [&](const std::vector<int>& shown, const std::string& split) {
    Run run{int(runs.size()) + 1, split, {}, 0};
    double t = p.rest_start_s;
    for (int stim : shown) {
      run.events.push_back({t, on, stim});
      t += on + p.isi_s;
    }
    const double end = shown.empty() ? p.rest_start_s + p.rest_end_s : t - p.isi_s + p.rest_end_s;
    run.n_volumes = std::max(1, int(std::ceil(end / p.tr_s - 1e-9)));
    runs.push_back(std::move(run));
  };
  for (const auto& chunk : split_even(train, p.train_runs)) add(chunk, "train");
  if (p.test_runs > 0)
    for (const auto& chunk : split_even(test_presentations, p.test_runs)) add(chunk, "test");
  return runs;
}

MatrixD design_matrix(const Run& run, double tr_s) {
  MatrixD x(run.n_volumes, int(run.events.size()));
  for (int k = 0; k < run.n_volumes; ++k)
    for (size_t e = 0; e < run.events.size(); ++e)
      x(k, int(e)) = boxcar_response(k * tr_s, run.events[e].onset_s, run.events[e].duration_s);
  return x;
}

// ---- subjects ----------------------------------------------------------------------------

namespace {
// In-place separable Gaussian smoothing of a volume (x fastest), truncated at 3 sigma, zero outside.
void smooth_volume(std::vector<double>& v, const std::array<int64_t, 3>& dims, double sigma) {
  if (sigma <= 0) return;
  const int radius = int(std::ceil(3 * sigma));
  std::vector<double> kernel(2 * radius + 1);
  for (int i = -radius; i <= radius; ++i) kernel[i + radius] = std::exp(-0.5 * i * i / (sigma * sigma));
  const int64_t stride[3] = {1, dims[0], dims[0] * dims[1]};
  std::vector<double> out(v.size());
  for (int axis = 0; axis < 3; ++axis) {
    for (int64_t k = 0; k < dims[2]; ++k)
      for (int64_t j = 0; j < dims[1]; ++j)
        for (int64_t i = 0; i < dims[0]; ++i) {
          const int64_t pos[3] = {i, j, k};
          const int64_t flat = i + dims[0] * (j + dims[1] * k);
          double acc = 0;
          for (int o = -radius; o <= radius; ++o) {
            const int64_t q = pos[axis] + o;
            if (q >= 0 && q < dims[axis]) acc += kernel[o + radius] * v[flat + o * stride[axis]];
          }
          out[flat] = acc;
        }
    v.swap(out);
  }
}
}  // namespace

Subject make_subject(const StudyParams& p, int index, uint64_t seed, const Stimuli& stimuli) {
  Rng rng(derive_seed(seed, kSubject, uint64_t(index)));
  Subject s;
  s.id = "sub-" + two_digits(index + 1);
  s.run_seed = derive_seed(seed, kRuns, uint64_t(index));
  for (int a = 0; a < 3; ++a) s.dims[a] = p.grid_dims[a] + rng.below(2 * p.grid_jitter + 1) - p.grid_jitter;
  for (int a = 0; a < 3; ++a) {
    s.affine(a, a) = p.voxel_mm;
    s.affine(a, 3) = -0.5 * double(s.dims[a] - 1) * p.voxel_mm + rng.uniform(-kMaxTranslationMm, kMaxTranslationMm);
  }

  // Ellipsoid mask.
  double centre[3], radius[3];
  for (int a = 0; a < 3; ++a) centre[a] = 0.5 * double(s.dims[a] - 1) + rng.uniform(-0.5, 0.5);
  for (int a = 0; a < 3; ++a) radius[a] = rng.uniform(p.mask_fill_min, p.mask_fill_max) * 0.5 * double(s.dims[a]);
  for (int64_t k = 0; k < s.dims[2]; ++k)
    for (int64_t j = 0; j < s.dims[1]; ++j)
      for (int64_t i = 0; i < s.dims[0]; ++i) {
        const double d[3] = {(i - centre[0]) / radius[0], (j - centre[1]) / radius[1], (k - centre[2]) / radius[2]};
        if (d[0] * d[0] + d[1] * d[1] + d[2] * d[2] <= 1.0) {
          s.flat.push_back(i + s.dims[0] * (j + s.dims[1] * k));
          s.ijk.push_back({int32_t(i), int32_t(j), int32_t(k)});
        }
      }
  if (s.flat.empty()) {  // tiny radii: keep the voxel nearest the centre
    int64_t c[3];
    for (int a = 0; a < 3; ++a) c[a] = std::clamp<int64_t>(std::llround(centre[a]), 0, s.dims[a] - 1);
    s.flat.push_back(c[0] + s.dims[0] * (c[1] + s.dims[1] * c[2]));
    s.ijk.push_back({int32_t(c[0]), int32_t(c[1]), int32_t(c[2])});
  }
  const int64_t n = s.n_voxels();

  s.baseline.resize(n);
  for (int64_t v = 0; v < n; ++v) s.baseline[v] = rng.uniform(p.baseline_range[0], p.baseline_range[1]);

  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  rng.shuffle(order);
  s.responsive.assign(n, 0);
  const int64_t n_responsive = std::llround(p.responsive_fraction * double(n));
  for (int64_t r = 0; r < n_responsive; ++r) s.responsive[order[r]] = 1;

  // Read-out: each latent unit a smooth random field over the grid, sampled at the mask voxels.
  s.readout.resize(n, p.latent_dim);
  std::vector<double> field(size_t(s.dims[0] * s.dims[1] * s.dims[2]));
  for (int l = 0; l < p.latent_dim; ++l) {
    for (auto& x : field) x = rng.normal();
    smooth_volume(field, s.dims, p.readout_smoothness_vox);
    for (int64_t v = 0; v < n; ++v) s.readout(v, l) = field[s.flat[v]];
  }
  for (int64_t v = 0; v < n; ++v) {
    const double gain = rng.uniform(0.5, 1.5);
    const double norm = s.readout.row(v).norm();
    if (s.responsive[v] && norm > 0) s.readout.row(v) *= gain / norm;
    else s.readout.row(v).setZero();
  }

  s.runs = make_schedule(p, stimuli, rng);
  return s;
}

MatrixD amplitudes(const StudyParams& p, const Subject& s, const MatrixD& latent) {
  MatrixD amp = latent * s.readout.transpose();
  amp.array().rowwise() *= (s.baseline * (p.signal_pct / 100.0)).transpose().array();
  return amp;
}

MatrixD stimulus_signal(const Run& run, const MatrixD& amplitudes, double tr_s) {
  MatrixD shown(int(run.events.size()), amplitudes.cols());
  for (size_t e = 0; e < run.events.size(); ++e) shown.row(int(e)) = amplitudes.row(run.events[e].stimulus);
  return design_matrix(run, tr_s) * shown;
}

namespace {
// Sum over responsive voxels of the squared deviations of `signal` from each column's mean.
double signal_sum_sq(const MatrixD& signal, const std::vector<uint8_t>& responsive) {
  double acc = 0;
  for (int v = 0; v < signal.cols(); ++v)
    if (responsive[v]) acc += (signal.col(v).array() - signal.col(v).mean()).square().sum();
  return acc;
}
double noise_sum_sq(const MatrixD& noise, const std::vector<uint8_t>& responsive) {
  double acc = 0;
  for (int v = 0; v < noise.cols(); ++v)
    if (responsive[v]) acc += noise.col(v).squaredNorm();
  return acc;
}
}  // namespace

double snr_of(const std::vector<MatrixD>& signal, const std::vector<MatrixD>& noise,
              const std::vector<uint8_t>& responsive) {
  V2C_ASSERT(signal.size() == noise.size(), "snr_of: ", signal.size(), " signal vs ", noise.size(), " noise runs");
  double s = 0, n = 0;
  for (size_t r = 0; r < signal.size(); ++r) {
    s += signal_sum_sq(signal[r], responsive);
    n += noise_sum_sq(noise[r], responsive);
  }
  if (std::find(responsive.begin(), responsive.end(), 1) == responsive.end() || n <= 0)
    return std::numeric_limits<double>::quiet_NaN();
  return std::sqrt(s / n);
}

void calibrate_noise(const StudyParams& p, Subject& s, const MatrixD& amplitudes) {
  double signal = 0, base = 0;
  for (const Run& run : s.runs) {
    signal += signal_sum_sq(stimulus_signal(run, amplitudes, p.tr_s), s.responsive);
    for (int64_t v = 0; v < s.n_voxels(); ++v)
      if (s.responsive[v]) base += run.n_volumes * s.baseline[v] * s.baseline[v];
  }
  s.noise_scale = signal > 0 && base > 0 ? std::sqrt(signal / base) / p.snr : p.signal_pct / 100.0 / p.snr;
  s.noise_std = s.noise_scale * s.baseline;
}

MatrixD ar1_noise(int n_volumes, const VectorD& std_dev, double ar1, Rng& rng) {
  const int64_t n = std_dev.size();
  MatrixD out(n_volumes, n);
  const double innovation = std::sqrt(1.0 - ar1 * ar1);
  for (int t = 0; t < n_volumes; ++t)
    for (int64_t v = 0; v < n; ++v) {
      const double e = rng.normal() * std_dev[v];
      out(t, v) = t == 0 ? e : ar1 * out(t - 1, v) + innovation * e;
    }
  return out;
}

MatrixD slow_drift(int n_volumes, const VectorD& baseline, double drift_pct, Rng& rng) {
  constexpr int kTerms = 3;
  const int64_t n = baseline.size();
  MatrixD basis(n_volumes, kTerms);
  for (int t = 0; t < n_volumes; ++t)
    for (int k = 1; k <= kTerms; ++k) basis(t, k - 1) = std::cos(kPi * k * (t + 0.5) / n_volumes);
  MatrixD weights(kTerms, n);
  for (int64_t v = 0; v < n; ++v)
    for (int k = 1; k <= kTerms; ++k) weights(k - 1, v) = rng.normal() / k;  // slower = larger
  MatrixD out = basis * weights;
  for (int64_t v = 0; v < n; ++v) {
    auto col = out.col(v);
    const double sd = std::sqrt((col.array() - col.mean()).square().mean());
    if (sd > 0 && drift_pct > 0) col *= drift_pct / 100.0 * baseline[v] / sd;
    else col.setZero();
  }
  return out;
}

MatrixD RunSeries::bold(const VectorD& baseline) const {
  MatrixD out = signal + drift + noise;
  out.rowwise() += baseline.transpose();
  return out;
}

RunSeries simulate_run(const StudyParams& p, const Subject& s, int run_index, const MatrixD& amplitudes) {
  V2C_ASSERT(run_index >= 0 && size_t(run_index) < s.runs.size(), "run ", run_index, " of ", s.runs.size());
  V2C_ASSERT(s.noise_std.size() == s.n_voxels(), "simulate_run before calibrate_noise");
  const Run& run = s.runs[size_t(run_index)];
  Rng rng(derive_seed(s.run_seed, uint64_t(run_index)));
  RunSeries r;
  r.signal = stimulus_signal(run, amplitudes, p.tr_s);
  r.drift = slow_drift(run.n_volumes, s.baseline, p.drift, rng);
  r.noise = ar1_noise(run.n_volumes, s.noise_std, p.ar1, rng);
  return r;
}

// ---- the whole study ---------------------------------------------------------------------

Study make_study(const StudyParams& p, uint64_t seed) {
  validate(p);
  Study st;
  st.params = p;
  st.seed = seed;
  st.stimuli = make_stimuli(p, seed);
  st.g = make_latent_model(p, seed, st.stimuli.features);
  st.latent = st.g.apply(st.stimuli.features);
  return st;
}

namespace {

std::string run_stem(const Subject& s, const Run& run) {
  return s.id + "_task-sim_run-" + two_digits(run.number);
}

std::string events_tsv(const Run& run, const Stimuli& stimuli) {
  std::ostringstream os;
  os << "onset\tduration\ttrial_type\n";
  for (const Event& e : run.events)
    os << shortest_decimal(e.onset_s) << '\t' << shortest_decimal(e.duration_s) << '\t' << stimuli.ids[e.stimulus] << '\n';
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
      signal_ss[r] = signal_sum_sq(series.signal, s.responsive);
      noise_ss[r] = noise_sum_sq(series.noise, s.responsive);
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

  json::Value description = {{"Name", cat("vox2clip simulated study (seed ", seed, ")")},
                              {"BIDSVersion", "1.8.0"},
                              {"DatasetType", "raw"}};
  description["GeneratedBy"] = json::Value::array({{{"Name", "vox2clip v2c-simulate"}, {"Version", prov.version}}});
  write_text(dir + "/dataset_description.json", json::dump(description, 2) + "\n");
  write_text(dir + "/task-sim_bold.json",
             json::dump(json::Value{{"TaskName", "sim"}, {"RepetitionTime", p.tr_s}}, 2) + "\n");

  std::ostringstream table;
  table << "stimulus_id\tcategory\tsplit\n";
  for (size_t i = 0; i < stim.ids.size(); ++i) table << stim.ids[i] << '\t' << stim.category[i] << '\t' << stim.split[i] << '\n';
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
  log::Progress progress("simulating subjects", p.n_subjects);
  for (int i = 0; i < p.n_subjects; ++i) {
    Subject s = make_subject(p, i, seed, stim);
    const MatrixD amp = amplitudes(p, s, st.latent);
    calibrate_noise(p, s, amp);
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
  w.attr("/g", "formula", std::string(st.g.linear ? "g(f) = (W f - mean) / scale"
                                                  : "g(f) = (W2 gelu(gain * W1 f + b1) - mean) / scale"));
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
