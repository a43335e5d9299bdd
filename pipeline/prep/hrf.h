// The canonical haemodynamic response function of SPM and the event regressors built from it
// (kernels: no I/O).
//
// HRF (Friston et al. 1998; SPM12 spm_hrf with its defaults): a difference of two gamma densities,
//   h(t) = g(t; 6) - g(t; 16) / 6,   g(t; a) = t^(a-1) e^(-t) / Gamma(a),   t in [0, 32) s
// (response delay 6 s, undershoot delay 16 s, both dispersions 1 s, ratio 6, kernel 32 s; the
// peak is at 5 s, the undershoot near 15 s).
//
// Fine time grid: step dt = TR / oversampling, so volume k (acquired at t_k = k * TR, the time BIDS
// onsets count from) is fine sample k * oversampling. The kernel is h sampled at the bin midpoints,
// h_m = h((m + 1/2) dt), m = 0 .. ceil(32 / dt) - 1, scaled so that dt * sum_m h_m = 1: a sustained
// input of 1 gives a plateau of 1, so a trial estimate is in the data's units per unit of input.
//
// Event regressor of [onset, onset + duration): the boxcar on the fine grid, b_j = fraction of the
// bin [j dt, (j+1) dt) that the event covers (a zero-duration event is a unit-area impulse:
// b_j = 1 / dt in the bin holding the onset), convolved with the kernel and read at the volumes:
//   x_k = dt * sum_j b_j h_{k * oversampling - 1 - j}     (the response to bin j, seen from t_k).
// tests/oracle/glm_numpy.py builds the same columns with numpy.convolve.
#pragma once

#include <cstdint>
#include <vector>

#include "pipeline/core/types.h"

namespace v2c::prep {

constexpr double kHrfLengthS = 32.0;  // SPM's kernel length

// The canonical HRF at time t (s), unnormalised: g(t; 6) - g(t; 16) / 6; 0 for t <= 0.
double spm_hrf_value(double t_s);

// The normalised kernel on the fine grid: h_m for m = 0 .. ceil(32 / dt) - 1 (see above).
// dt must be positive.
std::vector<double> spm_hrf_kernel(double dt_s);

struct EventTiming {
  double onset_s = 0;     // from the first volume's acquisition (BIDS)
  double duration_s = 0;  // >= 0
};

// One column per event: [n_volumes x events.size()], column e = the regressor of events[e] (see
// above). tr_s > 0, oversampling >= 1. Columns of events after the run's last volume are zero.
MatrixD event_regressors(const std::vector<EventTiming>& events, double tr_s, int64_t n_volumes, int oversampling = 16);

}  // namespace v2c::prep
