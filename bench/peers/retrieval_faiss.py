#!/usr/bin/python3
"""Peer for the retrieval benchmark: FAISS IndexFlatIP (exact inner product; the vectors are
unit length, so cosine) on DIR/queries.npy and DIR/candidates.npy written by bench-retrieval.
Usage: retrieval_faiss.py DIR K -> prints the search time in seconds ("faiss_s"); on stderr, how
many top-K lists equal DIR/ours_topk.npy when present (FAISS scores in float32, so exact near-ties
may be ordered differently)."""
import os
import sys
import time

import faiss
import numpy as np

d, k = sys.argv[1], int(sys.argv[2])
queries = np.load(f"{d}/queries.npy")
candidates = np.load(f"{d}/candidates.npy")
index = faiss.IndexFlatIP(candidates.shape[1])
index.add(candidates)
del candidates
t0 = time.perf_counter()
_, found = index.search(queries, k)
faiss_s = time.perf_counter() - t0
ours_path = f"{d}/ours_topk.npy"
if os.path.exists(ours_path):
    ours = np.load(ours_path)
    if ours.shape == found.shape:
        same = int((ours == found).all(axis=1).sum())
        sets = int(sum(set(a) == set(b) for a, b in zip(ours.tolist(), found.tolist())))
        print(f"retrieval_faiss: {same}/{len(found)} top-{k} lists identical to ours, {sets} as sets "
              f"(faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads)", file=sys.stderr)
print(f"{faiss_s:.4f}")
