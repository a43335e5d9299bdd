#!/usr/bin/python3
"""Peer for the ridge benchmark: scikit-learn RidgeCV(alphas, cv=5) on the same X, Y (.npy).
Usage: ridge_sklearn.py DIR N_ALPHAS FOLDS  -> prints the fit time in seconds."""
import sys
import time

import numpy as np
from sklearn.linear_model import RidgeCV

d, n_alphas, folds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
X = np.load(f"{d}/X.npy")
Y = np.load(f"{d}/Y.npy")
alphas = np.logspace(-2, 6, n_alphas)
t0 = time.perf_counter()
RidgeCV(alphas=alphas, cv=folds).fit(X, Y)
print(f"{time.perf_counter() - t0:.4f}")
