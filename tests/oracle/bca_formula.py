#!/usr/bin/env python3
"""Oracle (argv: CASES OUTPUT) for v2c::stats::bootstrap_units' intervals, given its replicates.

Input lines: "values v_1 ... v_n", "units u_1 ... u_n", "replicates t_1 ... t_B", "level L".
Recomputes, with numpy and the textbook formulas (Efron & Tibshirani 1993, ch. 13-14), the
statistic (the mean over queries), the leave-one-unit-out jackknife, the bias correction z0, the
acceleration a and the percentile and BCa intervals (numpy.percentile, linear interpolation).
Output: one line "value ci_low ci_high z0 a bca_low bca_high".
"""
import sys

import numpy as np
from scipy.stats import norm

fields = {}
with open(sys.argv[1]) as f:
    for line in f:
        parts = line.split()
        if parts:
            fields[parts[0]] = np.array([float(x) for x in parts[1:]])
v, u, t, level = fields["values"], fields["units"].astype(np.int64), fields["replicates"], fields["level"][0]
theta = v.mean()
ids = np.unique(u)
jack = np.array([v[u != j].mean() for j in ids])
dev = jack.mean() - jack
a = (dev ** 3).sum() / (6 * ((dev ** 2).sum()) ** 1.5)
tol = 1e-12 * max(1.0, abs(theta))
share = (np.sum(t < theta - tol) + 0.5 * np.sum(np.abs(t - theta) <= tol)) / len(t)
z0 = norm.ppf(share)
lo, hi = (1 - level) / 2, (1 + level) / 2
def adjusted(q):
    z = z0 + norm.ppf(q)
    return norm.cdf(z0 + z / (1 - a * z))
out = [theta, np.percentile(t, 100 * lo), np.percentile(t, 100 * hi), z0, a,
       np.percentile(t, 100 * adjusted(lo)), np.percentile(t, 100 * adjusted(hi))]
with open(sys.argv[2], "w") as f:
    print(" ".join(repr(float(x)) for x in out), file=f)
