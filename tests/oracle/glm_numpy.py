"""Numpy oracle of pipeline/prep/hrf.h, drift.h and glm.h, written from their definitions with
numpy only (no code shared with the C++): SPM's canonical HRF on a fine grid, event regressors by
numpy.convolve, Legendre and cosine drift bases, LSA as one numpy.linalg.lstsq on [trials, nuisance]
and LSS as one numpy.linalg.lstsq per trial (Mumford et al. 2012).

Used by tests/test_glm.cpp (as a module: `import glm_numpy`) and by the LSS benchmark peer.
"""
import math

import numpy as np

HRF_LENGTH_S = 32.0


def spm_hrf(t):
    """g(t; 6) - g(t; 16) / 6 with g the unit-scale gamma density; 0 for t <= 0."""
    t = np.asarray(t, dtype=np.float64)
    out = np.zeros_like(t)
    pos = t > 0
    tp = t[pos]
    g6 = np.exp(5.0 * np.log(tp) - tp - math.lgamma(6.0))
    g16 = np.exp(15.0 * np.log(tp) - tp - math.lgamma(16.0))
    out[pos] = g6 - g16 / 6.0
    return out


def hrf_kernel(dt):
    """h at the bin midpoints (m + 1/2) dt over 32 s, scaled so that dt * sum = 1."""
    m = np.arange(int(math.ceil(HRF_LENGTH_S / dt - 1e-9)))
    h = spm_hrf((m + 0.5) * dt)
    return h / (h.sum() * dt)


def event_regressors(onsets, durations, tr, n_volumes, oversampling=16):
    """[n_volumes x n_events]: each event's fine-grid boxcar convolved with the kernel, read at
    the volumes (fine index k * oversampling, looking at the response to bins up to k*os - 1)."""
    dt = tr / oversampling
    h = hrf_kernel(dt)
    n_fine = n_volumes * oversampling
    x = np.zeros((n_volumes, len(onsets)))
    for e, (onset, duration) in enumerate(zip(onsets, durations)):
        start = onset * oversampling / tr
        end = (onset + duration) * oversampling / tr
        length = max(n_fine, int(math.ceil(end)) + 2)
        b = np.zeros(length)
        if duration > 0:
            j = np.arange(length, dtype=np.float64)
            b = np.clip(np.minimum(end, j + 1) - np.maximum(start, j), 0.0, None)
        else:
            b[int(math.floor(start))] = 1.0 / dt
        c = np.convolve(b, h)
        for k in range(1, n_volumes):
            x[k, e] = dt * c[k * oversampling - 1]
    return x


def polynomial_basis(n, order):
    """Legendre P_0..P_order on [-1, 1] (numpy.polynomial.legendre.legvander)."""
    if order < 0:
        return np.zeros((n, 0))
    t = np.linspace(-1.0, 1.0, n) if n > 1 else np.zeros(1)
    return np.polynomial.legendre.legvander(t, order)


def cosine_basis(n, tr, cutoff_s):
    """sqrt(2/n) cos(pi k (t + 1/2) / n), k = 1 .. min(n - 1, floor(2 n tr / cutoff))."""
    if cutoff_s <= 0 or n < 2:
        return np.zeros((n, 0))
    k_max = min(n - 1, int(math.floor(2.0 * n * tr / cutoff_s)))
    t = np.arange(n)[:, None] + 0.5
    k = np.arange(1, k_max + 1)[None, :]
    return math.sqrt(2.0 / n) * np.cos(np.pi * k * t / n)


def lsa(y, trials, nuisance):
    """Least squares - all: one lstsq on [trials, nuisance]; the trials' rows."""
    design = np.hstack([trials, nuisance])
    beta = np.linalg.lstsq(design, y.astype(np.float64), rcond=None)[0]
    return beta[: trials.shape[1]]


def lss(y, trials, groups, nuisance):
    """Least squares - separate: per trial i of group g, lstsq on
    [x_i, S_g - x_i (when g has other trials), S_h for every other group h, nuisance]; row i = the
    coefficient of x_i."""
    y = y.astype(np.float64)
    groups = np.asarray(groups)
    n_groups = groups.max() + 1
    sums = np.stack([trials[:, groups == g].sum(axis=1) for g in range(n_groups)], axis=1)
    out = np.zeros((trials.shape[1], y.shape[1]))
    for i in range(trials.shape[1]):
        g = groups[i]
        cols = [trials[:, i : i + 1]]
        if (groups == g).sum() > 1:
            cols.append((sums[:, g] - trials[:, i])[:, None])
        cols.append(np.delete(sums, g, axis=1))
        cols.append(nuisance)
        out[i] = np.linalg.lstsq(np.hstack(cols), y, rcond=None)[0][0]
    return out
