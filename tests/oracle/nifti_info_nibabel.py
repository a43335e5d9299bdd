#!/usr/bin/python3
"""Oracle for v2c::nifti: what nibabel reads from NIfTI / ANALYZE files.

Usage: /usr/bin/python3 tests/oracle/nifti_info_nibabel.py FILE...

Prints one JSON object per file (one line each), with the keys of v2c::nifti::header_json:
path, version, dims, cifti, datatype, affine (4 rows), affine_source, scl_slope, scl_inter, tr,
min, max, mean (over finite values, after scaling, in float64), n_nonfinite.
When nibabel can read the header but not the data: the header keys plus "error".
When it cannot read the file at all: {"path": ..., "error": "..."}.
Non-finite numbers are written as null. Nothing else goes to stdout.
"""
import json
import math
import sys
import warnings

import numpy as np

warnings.simplefilter("ignore")
import nibabel as nib  # noqa: E402


def num(v):
    v = float(v)
    return v if math.isfinite(v) else None


def load(path):
    """The image as a NIfTI array (a CIFTI-2 file's NIfTI-2 array), and whether it is CIFTI-2."""
    img = nib.load(path)
    if isinstance(img, nib.Cifti2Image):
        return nib.Nifti2Image.from_filename(path), True
    return img, False


def raw_header(img):
    """The header as stored: a loaded image's header has its scale factors reset to NaN."""
    with nib.openers.ImageOpener(img.file_map["header" if "header" in img.file_map else "image"].filename) as f:
        return type(img.header).from_fileobj(f, check=False)


def header_info(path, img):
    hdr = img.header
    out = {"path": path}
    if isinstance(hdr, nib.Nifti2Header):
        out["version"] = 2
    elif isinstance(hdr, nib.Nifti1Header):
        out["version"] = 1
    else:
        out["version"] = 0
    out["dims"] = [int(d) for d in img.shape]
    out["datatype"] = int(hdr["datatype"])
    out["affine"] = [[num(v) for v in row] for row in np.asarray(img.affine, dtype=np.float64)]
    if out["version"] > 0:
        if int(hdr["sform_code"]) != 0:
            out["affine_source"] = "sform"
        elif int(hdr["qform_code"]) != 0:
            out["affine_source"] = "qform"
        else:
            out["affine_source"] = "pixdim"
        raw = raw_header(img)
        out["scl_slope"] = num(raw["scl_slope"])
        out["scl_inter"] = num(raw["scl_inter"])
        units = hdr.get_xyzt_units()[1]
    else:
        origin = np.asarray(hdr["origin"][:3]) if "origin" in hdr else np.zeros(3)
        dims = np.asarray(hdr["dim"][1:4])
        used = bool(np.any(origin) and np.all(origin > -dims) and np.all(origin < dims * 2))
        out["affine_source"] = "origin" if used else "pixdim"
        slope, inter = raw_header(img).get_slope_inter()
        out["scl_slope"] = num(slope) if slope is not None else 0.0
        out["scl_inter"] = num(inter) if inter is not None else 0.0
        units = "unknown"
    tr = 0.0
    pixdim = hdr["pixdim"]
    if len(img.shape) >= 4 and math.isfinite(float(pixdim[4])) and float(pixdim[4]) > 0:
        factor = {"sec": 1.0, "unknown": 1.0, "msec": 1e-3, "usec": 1e-6}.get(units, 0.0)
        tr = float(pixdim[4]) * factor
    out["tr"] = tr
    return out


def main(paths):
    for path in paths:
        try:
            img, cifti = load(path)
            out = header_info(path, img)
            out["cifti"] = cifti
        except Exception as e:  # noqa: BLE001 - every failure is reported as data
            print(json.dumps({"path": path, "error": f"{type(e).__name__}: {e}"}))
            continue
        try:
            data = np.asarray(img.get_fdata(dtype=np.float64))
            finite = np.isfinite(data)
            n_finite = int(finite.sum())
            out["n_nonfinite"] = int(data.size - n_finite)
            if n_finite:
                vals = data[finite]
                out["min"] = num(vals.min())
                out["max"] = num(vals.max())
                out["mean"] = num(vals.mean())
            else:
                out["min"] = out["max"] = out["mean"] = None
        except Exception as e:  # noqa: BLE001
            out["error"] = f"{type(e).__name__}: {e}"
        print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
