#!/usr/bin/python3
"""Peer for the LSS benchmark: the numpy oracle (tests/oracle/glm_numpy.py, one numpy.linalg.lstsq
per trial) on the same Y, trial regressors, groups and nuisance (.npy), then its agreement with our
estimates. Usage: lss_numpy.py DIR -> prints "seconds peak_mib max_relative_difference"."""
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "oracle"))
import glm_numpy  # noqa: E402

d = sys.argv[1]
y = np.load(f"{d}/Y.npy")
x = np.load(f"{d}/X.npy")
nuisance = np.load(f"{d}/N.npy")
groups = np.loadtxt(f"{d}/groups.txt", dtype=int)
t0 = time.perf_counter()
beta = glm_numpy.lss(y, x, groups, nuisance)
seconds = time.perf_counter() - t0
peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
ours = np.load(f"{d}/beta_ours.npy")
rel = (np.linalg.norm(ours - beta, axis=1) / np.linalg.norm(beta, axis=1)).max()
print(f"{seconds:.4f} {peak_mib:.0f} {rel:.3g}")
