#!/usr/bin/env python3
"""Oracle for v2c::align::orthogonal_procrustes.

argv: A.txt B.txt R.txt (whitespace-separated text matrices, numpy.loadtxt / savetxt).
Square case (A and B of one shape): scipy.linalg.orthogonal_procrustes(A, B).
Rectangular case (B has another number of columns): U Vᵀ from numpy's thin SVD of AᵀB.
"""
import sys

import numpy as np
from scipy.linalg import orthogonal_procrustes

A, B = np.loadtxt(sys.argv[1], ndmin=2), np.loadtxt(sys.argv[2], ndmin=2)
if A.shape == B.shape:
    R, _ = orthogonal_procrustes(A, B)
else:
    U, _, Vt = np.linalg.svd(A.T @ B, full_matrices=False)
    R = U @ Vt
np.savetxt(sys.argv[3], R, fmt="%.17g")
