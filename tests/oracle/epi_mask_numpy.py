"""Plain numpy oracle of pipeline/prep/epi_mask.h: the steps of nilearn's
masking.compute_epi_mask (mean image, FWHM-1-voxel Gaussian smoothing with mirrored edges, the
middle of the widest gap of the sorted values between the cut-offs, erosion, largest 6-connected
component, dilation and erosion), written with numpy only. `scipy_variant` does the same with
scipy.ndimage (gaussian_filter1d, binary_erosion/dilation, label), as nilearn does, to check that
the plain version reads scipy's conventions right.

Usage: epi_mask_numpy.py OUT.npy RUN.nii[.gz]...  -> OUT.npy: uint8 mask [i, j, k] of the runs'
mean image; prints the threshold.
"""
import math
import sys

import numpy as np

CROSS = [(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)]


def mean_of_runs(paths):
    import nibabel

    total, count = None, 0
    for p in paths:
        data = np.asarray(nibabel.load(p).get_fdata(), dtype=np.float64)
        if data.ndim == 3:
            data = data[..., None]
        s = data.sum(axis=3)
        total = s if total is None else total + s
        count += data.shape[3]
    return total / count


def gaussian_weights():
    sigma = 1.0 / math.sqrt(8.0 * math.log(2.0))
    radius = int(4.0 * sigma + 0.5)
    x = np.arange(-radius, radius + 1)
    w = np.exp(-0.5 * x**2 / sigma**2)
    return w / w.sum(), radius


def smooth(a):
    w, radius = gaussian_weights()
    for axis in range(3):
        pad = [(0, 0)] * 3
        pad[axis] = (radius, radius)
        p = np.pad(a, pad, mode="symmetric")
        out = np.zeros_like(a)
        n = a.shape[axis]
        for d in range(2 * radius + 1):
            idx = [slice(None)] * 3
            idx[axis] = slice(d, d + n)
            out += w[d] * p[tuple(idx)]
        a = out
    return a


def shifted(m, offset):
    """m moved by offset, voxels coming from outside the grid = False."""
    out = np.zeros_like(m)
    src = [slice(None)] * 3
    dst = [slice(None)] * 3
    for axis, o in enumerate(offset):
        n = m.shape[axis]
        if o > 0:
            src[axis], dst[axis] = slice(0, n - o), slice(o, n)
        elif o < 0:
            src[axis], dst[axis] = slice(-o, n), slice(0, n + o)
    out[tuple(dst)] = m[tuple(src)]
    return out


def erode(m):
    out = m.copy()
    for o in CROSS:
        out &= shifted(m, o)
    return out


def dilate(m):
    out = m.copy()
    for o in CROSS:
        out |= shifted(m, o)
    return out


def largest_component(m):
    labels = np.zeros(m.shape, dtype=np.int64)
    sizes = [0]
    for start in zip(*np.nonzero(m)):  # C order: the first voxel of each component comes first
        if labels[start]:
            continue
        lab = len(sizes)
        labels[start] = lab
        todo, size = [start], 0
        while todo:
            v = todo.pop()
            size += 1
            for o in CROSS:
                q = (v[0] + o[0], v[1] + o[1], v[2] + o[2])
                if all(0 <= q[a] < m.shape[a] for a in range(3)) and m[q] and not labels[q]:
                    labels[q] = lab
                    todo.append(q)
        sizes.append(size)
    return labels == int(np.argmax(sizes)) if len(sizes) > 1 else m


def compute_epi_mask(mean, lower_cutoff=0.2, upper_cutoff=0.85, opening=2, connected=True, exclude_zeros=False):
    mean = np.array(mean, dtype=np.float64)
    bad = ~np.isfinite(mean)
    mean[bad] = 0
    if opening:
        mean = smooth(mean)
        mean[bad] = 0
    values = np.sort(mean.ravel())
    if exclude_zeros:
        values = values[values != 0]
    lo = int(math.floor(lower_cutoff * len(values)))
    hi = min(int(math.floor(upper_cutoff * len(values))), len(values) - 1)
    gaps = values[lo + 1 : hi + 1] - values[lo:hi]
    at = int(np.argmax(gaps))
    threshold = 0.5 * (values[lo + at] + values[lo + at + 1])
    m = mean >= threshold
    for _ in range(opening):
        m = erode(m)
    if connected and m.any():
        m = largest_component(m)
    for _ in range(2 * opening):
        m = dilate(m)
    for _ in range(opening):
        m = erode(m)
    return m, threshold


def scipy_variant(mean, lower_cutoff=0.2, upper_cutoff=0.85, opening=2):
    """The same steps with scipy.ndimage, as nilearn calls it."""
    from scipy import ndimage

    mean = np.array(mean, dtype=np.float64)
    bad = ~np.isfinite(mean)
    mean[bad] = 0
    if opening:
        sigma = 1.0 / math.sqrt(8.0 * math.log(2.0))
        for axis in range(3):
            ndimage.gaussian_filter1d(mean, sigma, output=mean, axis=axis)
        mean[bad] = 0
    values = np.sort(mean.ravel())
    lo = int(math.floor(lower_cutoff * len(values)))
    hi = min(int(math.floor(upper_cutoff * len(values))), len(values) - 1)
    at = (values[lo + 1 : hi + 1] - values[lo:hi]).argmax()
    m = mean >= 0.5 * (values[at + lo] + values[at + lo + 1])
    if opening:  # scipy reads iterations=0 as "until nothing changes"
        m = ndimage.binary_erosion(m, iterations=opening)
    if m.any():
        labels, n = ndimage.label(m)
        if n > 1:
            count = np.bincount(labels.ravel())
            count[0] = 0
            m = labels == count.argmax()
    if opening:
        m = ndimage.binary_dilation(m, iterations=2 * opening)
        m = ndimage.binary_erosion(m, iterations=opening)
    return m


if __name__ == "__main__":
    mask, thr = compute_epi_mask(mean_of_runs(sys.argv[2:]))
    np.save(sys.argv[1], mask.astype(np.uint8))
    print(repr(thr))
