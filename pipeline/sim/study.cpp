#include "pipeline/sim/study.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>

#include "pipeline/core/error.h"
#include "pipeline/core/format.h"

namespace v2c::sim {

using rng::derive_seed;

namespace {

// Seed streams: one per model component, so changing one part leaves the others' draws alone.
enum Stream : uint64_t { kStimuli = 1, kLatent = 2, kSubject = 3, kRuns = 4, kOwnLatent = 5, kNonlinearity = 6 };

constexpr double kPi = 3.14159265358979323846;
constexpr double kMaxTranslationMm = 5.0;

}  // namespace

std::string two_digits(int n) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d", n);
  return buf;
}

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
  if (p.unlabelled_subjects > 0 && p.spontaneous.rest_runs < 1)
    throw fail("unlabelled_subjects", std::to_string(p.unlabelled_subjects),
               "0 when rest_runs is 0 (an unlabelled subject has the rest runs only)");
  if (p.isi_jitter_s > p.isi_s)
    throw fail("isi_jitter_s", shortest_decimal(p.isi_jitter_s), cat("<= isi_s (", p.isi_s, ")"));
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
    double last_isi = p.isi_s;
    for (int stim : shown) {
      run.events.push_back({t, on, stim});
      // Drawn only when jittered, so unjittered studies keep their schedule draw for draw.
      last_isi = p.isi_jitter_s > 0 ? rng.uniform(p.isi_s - p.isi_jitter_s, p.isi_s + p.isi_jitter_s) : p.isi_s;
      t += on + last_isi;
    }
    const double end = shown.empty() ? p.rest_start_s + p.rest_end_s : t - last_isi + p.rest_end_s;
    run.n_volumes = std::max(1, int(std::ceil(end / p.tr_s - 1e-9)));
    runs.push_back(std::move(run));
  };
  for (const auto& chunk : split_even(train, p.train_runs)) add(chunk, "train");
  if (p.test_runs > 0)
    for (const auto& chunk : split_even(test_presentations, p.test_runs)) add(chunk, "test");
  append_rest_runs(p.spontaneous, p.tr_s, runs);
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
    if (s.responsive[v] && norm > 0)
      s.readout.row(v) *= gain / norm;
    else
      s.readout.row(v).setZero();
  }

  s.runs = make_schedule(p, stimuli, rng);
  // Own stream, so that the default study's draws stay as they were.
  Rng nonlin(derive_seed(seed, kNonlinearity, uint64_t(index)));
  s.nonlinearity_centre.resize(n);
  for (int64_t v = 0; v < n; ++v) s.nonlinearity_centre[v] = nonlin.uniform(-1.0, 1.0);
  return s;
}

MatrixD amplitudes(const StudyParams& p, const Subject& s, const MatrixD& latent) {
  MatrixD amp = latent * s.readout.transpose();
  if (p.voxel_nonlinearity > 0) {
    const double k = p.voxel_nonlinearity;
    for (int64_t v = 0; v < amp.cols(); ++v) {
      const double c = s.nonlinearity_centre[v];
      for (int64_t i = 0; i < amp.rows(); ++i) amp(i, v) = (std::tanh(k * (amp(i, v) - c)) + std::tanh(k * c)) / k;
    }
  }
  amp.array().rowwise() *= (s.baseline * (p.signal_pct / 100.0)).transpose().array();
  return amp;
}

MatrixD stimulus_signal(const Run& run, const MatrixD& amplitudes, double tr_s) {
  MatrixD shown(int(run.events.size()), amplitudes.cols());
  for (size_t e = 0; e < run.events.size(); ++e) shown.row(int(e)) = amplitudes.row(run.events[e].stimulus);
  return design_matrix(run, tr_s) * shown;
}

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
    if (run.split == "rest") continue;
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

namespace {
// AR(1) noise whose innovations are white fields over the subject's grid smoothed by a Gaussian
// of sigma voxels, sampled at the mask and scaled to unit standard deviation over the mask.
MatrixD correlated_ar1_noise(int n_volumes, const Subject& s, double sigma, double ar1, Rng& rng) {
  const int64_t n = s.n_voxels(), cells = s.dims[0] * s.dims[1] * s.dims[2];
  MatrixD out(n_volumes, n);
  const double innovation = std::sqrt(1.0 - ar1 * ar1);
  std::vector<double> field(static_cast<size_t>(cells));
  VectorD e(n);
  for (int t = 0; t < n_volumes; ++t) {
    for (auto& x : field) x = rng.normal();
    smooth_volume(field, s.dims, sigma);
    for (int64_t v = 0; v < n; ++v) e[v] = field[size_t(s.flat[size_t(v)])];
    const double sd = std::sqrt((e.array() - e.mean()).square().mean());
    if (sd > 0) e /= sd;
    for (int64_t v = 0; v < n; ++v) {
      const double x = e[v] * s.noise_std[v];
      out(t, v) = t == 0 ? x : ar1 * out(t - 1, v) + innovation * x;
    }
  }
  return out;
}
}  // namespace

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
    if (sd > 0 && drift_pct > 0)
      col *= drift_pct / 100.0 * baseline[v] / sd;
    else
      col.setZero();
  }
  return out;
}

MatrixD RunSeries::bold(const VectorD& baseline) const {
  MatrixD out = signal + drift + noise;
  if (spontaneous.size() > 0) out += spontaneous;
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
  r.noise = p.noise_smoothness_vox > 0 ? correlated_ar1_noise(run.n_volumes, s, p.noise_smoothness_vox, p.ar1, rng)
                                       : ar1_noise(run.n_volumes, s.noise_std, p.ar1, rng);
  r.spontaneous = spontaneous_signal(p.spontaneous, s, run_index);
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

MatrixD subject_latent(const Study& st, int index) {
  if (st.params.shared_latent) return st.latent;
  return make_latent_model(st.params, derive_seed(st.seed, kOwnLatent, uint64_t(index)), st.stimuli.features)
      .apply(st.stimuli.features);
}

}  // namespace v2c::sim
