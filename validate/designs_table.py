"""The table of validate/designs.sh: per design (ITI) and sample mode, over subjects (the
independent units): recovery of the planted per-trial responses and decoding top-1.

Recovery of one trial: Pearson correlation, over the subject's responsive voxels, between its
sample row and the planted response pattern of its stimulus, A_v . g(f) (ground_truth.h5: readout
times stimuli/latent; proportional to the percent signal change the simulator adds). A subject's
value is the mean over its trials (training and test runs alike); the table shows the mean over
subjects and their range. The neighbours' column: the same correlation with the planted patterns
of the previous and the next trial of its run (what a trial estimate carries of its neighbours).
Top-1: v2c-retrieve's top1_all_forward on the novel test stimuli
(rank 1 among the 40 test candidates; chance 1/40), per subject, mean and range.
"""
import sys
from pathlib import Path

import h5py
import numpy as np


def recovery(samples_path, truth, sub):
    """Mean over trials of r(sample, own planted pattern), and of r(sample, the planted patterns of
    the previous and the next trial of the same run): how much of its neighbours a trial carries."""
    with h5py.File(samples_path, "r") as f:
        x = f["data"][:].astype(np.float64)
        stim = f["samples/stimulus"].asstr()[:]
        run = f["samples/run"][:]
        ijk = f["voxels/ijk"][:]
    ids = list(truth["stimuli/ids"].asstr()[:])
    latent = truth["stimuli/latent"][:]
    readout = truth[sub + "/readout"][:]
    truth_ijk = truth[sub + "/voxel_ijk"][:].astype(int)
    responsive = truth[sub + "/responsive"][:].astype(bool)
    where = {tuple(v): i for i, v in enumerate(truth_ijk)}
    cols = np.array([where[tuple(v)] for v in ijk])
    keep = responsive[cols]
    planted = latent[[ids.index(s) for s in stim]] @ readout[cols[keep]].T
    got = x[:, keep]

    def corr(a, b):
        a = a - a.mean(1, keepdims=True)
        b = b - b.mean(1, keepdims=True)
        return (a * b).sum(1) / np.sqrt((a ** 2).sum(1) * (b ** 2).sum(1))

    own = corr(got, planted)
    # Samples are in onset order within each run: neighbours are the rows before and after.
    same_prev = run[1:] == run[:-1]
    neighbour = np.concatenate([corr(got[1:][same_prev], planted[:-1][same_prev]),
                                corr(got[:-1][same_prev], planted[1:][same_prev])])
    return own.mean(), neighbour.mean(), len(stim)


def top1(retrieval_path):
    with h5py.File(retrieval_path, "r") as f:
        names = list(f["metrics/name"].asstr()[:])
        i = names.index("top1_all_forward")
        return f["metrics/value"][i], f["metrics/chance"][i], int(f["metrics/n_queries"][i])


def sign_test(d):
    """Exact two-sided sign test over subjects (ties dropped): p of a split at least this uneven."""
    from math import comb
    pos, neg = int((d > 0).sum()), int((d < 0).sum())
    n = pos + neg
    if n == 0:
        return 1.0
    k = min(pos, neg)
    return min(1.0, 2 * sum(comb(n, i) for i in range(k + 1)) / 2 ** n)


def cell(values, digits=3):
    v = np.asarray(values)
    return f"{v.mean():.{digits}f} [{v.min():.{digits}f}, {v.max():.{digits}f}]"


def main(out):
    out = Path(out)
    print("| ITI | mode | samples per subject | recovery r (mean [min, max] over subjects) "
          "| r with the neighbours' patterns | top-1 novel (mean [min, max]) | chance |")
    print("|---|---|---|---|---|---|---|")
    paired = []
    for design in ("short", "long"):
        truth = h5py.File(out / design / "bids" / "ground_truth.h5", "r")
        subs = sorted(p.name for p in (out / design / "window").iterdir())
        per_mode = {}  # mode -> (recovery per subject, top-1 per subject)
        for mode in ("window", "lsa", "lss"):
            rec, nb, acc, n = [], [], [], []
            chance = None
            for sub in subs:
                d = out / design / mode / sub
                r, rn, k = recovery(d / "samples.h5", truth, sub)
                a, chance, _ = top1(d / "ridge.retrieval.h5")
                rec.append(r), nb.append(rn), acc.append(a), n.append(k)
            per_mode[mode] = (np.array(rec), np.array(acc))
            print(f"| {design} | {mode} | {min(n)}-{max(n)} | {cell(rec)} | {cell(nb)} | {cell(acc)} | {chance:.3f} |")
        for a, b in (("lss", "lsa"), ("lss", "window"), ("lsa", "window")):
            dr = per_mode[a][0] - per_mode[b][0]
            da = per_mode[a][1] - per_mode[b][1]
            paired.append(f"| {design} | {a} - {b} | {cell(dr)} ({(dr > 0).sum()}/{len(dr)} > 0, sign test p "
                          f"{sign_test(dr):.3f}) | {cell(da)} ({(da > 0).sum()}/{len(da)} > 0, {(da == 0).sum()} ties, "
                          f"sign test p {sign_test(da):.3f}) |")
    print(f"\n{len(subs)} subjects per design; each row's subjects and trials are the same data, prepared three ways.\n")
    print("Paired over subjects (the same data prepared two ways): difference of the subject's values.\n")
    print("| ITI | modes | recovery r difference (mean [min, max]) | top-1 difference (mean [min, max]) |")
    print("|---|---|---|---|")
    print("\n".join(paired))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build/validate/designs")
