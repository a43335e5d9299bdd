#!/usr/bin/env python3
"""Oracle (argv: CASES OUTPUT) for v2c::stats::wilcoxon_signed_rank: scipy.stats.wilcoxon on cases from a file.

Each input line: ZERO_METHOD CORRECTION METHOD d_1 ... d_n
  ZERO_METHOD wilcox | pratt | zsplit; CORRECTION 0 | 1; METHOD exact | approx.
Each output line: the statistic and the two-sided p-value (repr, full precision).
"""
import sys
import warnings

import numpy as np
from scipy import stats

warnings.simplefilter("ignore")  # "sample size too small for normal approximation"
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as out:
    for line in f:
        parts = line.split()
        if not parts:
            continue
        zero_method, correction, method = parts[0], parts[1] == "1", parts[2]
        d = np.array([float(x) for x in parts[3:]])
        r = stats.wilcoxon(d, zero_method=zero_method, correction=correction, alternative="two-sided", method=method)
        print(repr(float(r.statistic)), repr(float(r.pvalue)), file=out)
