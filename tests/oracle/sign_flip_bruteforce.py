#!/usr/bin/env python3
"""Oracle (argv: CASES OUTPUT) for v2c::stats::sign_flip_test: the two-sided sign-flip p-value by brute force.

Each input line: n a_1 ... a_n b_1 ... b_n, decimal numbers (model and baseline scores).
The differences d = a - b are taken EXACTLY (fractions of the decimal text, scaled to integers),
every one of the 2^n sign patterns is enumerated, and a pattern counts when |Σ ±d| >= |Σ d|.
Each output line: n_extreme 2^n scipy_p mean sd ci_low ci_high, where scipy_p is
scipy.stats.permutation_test's exact two-sided p for the mean of the float differences (a
second, independent implementation) and the rest describe the float differences: mean, SD
(ddof 1) and the 95% Student-t interval of the mean (scipy.stats.t; nan for n < 2).
"""
import sys
from fractions import Fraction
from math import lcm

import numpy as np
from scipy import stats

with open(sys.argv[1]) as f, open(sys.argv[2], "w") as out:
    for line in f:
        parts = line.split()
        if not parts:
            continue
        n = int(parts[0])
        a = [Fraction(x) for x in parts[1:1 + n]]
        b = [Fraction(x) for x in parts[1 + n:1 + 2 * n]]
        d = [x - y for x, y in zip(a, b)]
        scale = lcm(*[x.denominator for x in d])
        ints = [int(x * scale) for x in d]
        sums = np.zeros(1, dtype=np.int64)
        for v in ints:  # all 2^n signed sums, pattern by pattern
            sums = np.concatenate([sums + v, sums - v])
        observed = abs(sum(ints))
        extreme = int(np.count_nonzero(np.abs(sums) >= observed))
        df = np.array([float(x) for x in parts[1:1 + n]]) - np.array([float(x) for x in parts[1 + n:1 + 2 * n]])
        scipy_p = float("nan")  # scipy's exact enumeration is slow beyond 16 pairs, and needs 2
        if 2 <= n <= 16:
            scipy_p = stats.permutation_test((df,), np.mean, permutation_type="samples", n_resamples=np.inf,
                                             alternative="two-sided").pvalue
        if n >= 2:
            sd = df.std(ddof=1)
            q = stats.t.ppf(0.975, n - 1)
            for _ in range(3):  # scipy 1.10's t.ppf is good to ~1e-10 only: Newton steps on t.cdf
                q -= (stats.t.cdf(q, n - 1) - 0.975) / stats.t.pdf(q, n - 1)
            half = q * sd / np.sqrt(n)
        else:
            sd = half = float("nan")
        summary = [df.mean(), sd, df.mean() - half, df.mean() + half]
        print(extreme, 2 ** n, repr(float(scipy_p)), " ".join(repr(float(x)) for x in summary), file=out)
