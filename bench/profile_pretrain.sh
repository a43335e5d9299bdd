#!/usr/bin/env bash
# Where one-thread pretraining's CPU goes, against the matrix-product bound: `perf record` (DWARF
# call graphs) of the bench's one-thread run (16 of the simulated subjects, one epoch; run
# `bench/run.sh pretrain` once first for the data), samples of the epoch only (first to last
# train_step), each put in one class by its call chain, printed as a table: share of the epoch's
# CPU samples and microseconds per training sample at the run's samples per CPU second, next to
# the bound's per-sample SGEMM time (bench-sgemm_bound, one thread, same run).
#   bench/profile_pretrain.sh        needs perf (Debian linux-perf) and python3
#   PRETRAIN=path/to/v2c-pretrain bench/profile_pretrain.sh   profiles another build of the stage
#   PRETRAIN_LATENT=1024 PROFILE_SUBJECTS=4 bench/profile_pretrain.sh   another latent width, fewer subjects
#   PROFILE_DATA=dir PRETRAIN_VOXELS=20000 bench/profile_pretrain.sh   another study (bench-pretrain_study dir N n 20000 512)
set -euo pipefail
BUILD=${BUILD:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/$BUILD/bin"
d=${PROFILE_DATA:-$root/$BUILD/bench/data/pretrain}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
L=${PRETRAIN_LATENT:-128}
subjects=("$d"/sub-0[1-9].h5 "$d"/sub-1[0-6].h5)
subjects=("${subjects[@]:0:${PROFILE_SUBJECTS:-16}}")
[[ -s "${subjects[0]}" ]] || { echo "profile_pretrain: no bench data in $d; run bench/run.sh pretrain first" >&2; exit 2; }
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
read -r _ _ _ bound <<<"$("$bin/bench-sgemm_bound" 128 "${PRETRAIN_VOXELS:-4000}" "$L" 512 2 2>/dev/null)"  # per CPU second
perf record -q -F 999 --call-graph dwarf,32768 -o "$tmp/perf.data" -- "${PRETRAIN:-$bin/v2c-pretrain}" --samples "${subjects[@]}" \
  --set pretrain.latent="$L" --set pretrain.epochs=1 --set pretrain.val_runs=0 --set pretrain.batch_size=128 \
  --set pretrain.buffer_mib=64 --set pretrain.checkpoint_every=100000000 --threads 1 --out "$tmp/out.h5" \
  > "$tmp/log" 2>&1
cpu=$(sed -n 's/.*epoch 1\/1: .* samples\/s (\([0-9]*\) per CPU second).*/\1/p' "$tmp/log")
perf script -i "$tmp/perf.data" -F time,ip,sym 2>/dev/null > "$tmp/stacks"
/usr/bin/python3 - "$tmp/stacks" "$cpu" "$bound" <<'PY'
import collections, re, sys
stacks, cpu, bound = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
has = lambda frames, *names: any(n in f for f in frames for n in names)
gemm = lambda f: has(f, "sgemm", "cblas_")
classes = [  # first match wins
    ("page faults (kernel)", lambda f: has(f, "exc_page_fault")),
    ("GEMM: adapter weight gradient Xt.G (blocks)", lambda f: gemm(f) and has(f, "gemm_block")),
    ("GEMM: loss P.Tt, dS.T", lambda f: gemm(f) and has(f, "loss_and_grad")),
    ("GEMM: forward X.W, blocks, head", lambda f: gemm(f) and has(f, "Encoder<float>::forward")),
    ("GEMM: backward blocks, head", lambda f: gemm(f) and has(f, "Encoder<float>::backward")),
    ("GEMM: other", gemm),
    ("stream: HDF5 reads of chunks", lambda f: has(f, "read_voxels")),
    ("stream: copies into/out of the buffer, targets", lambda f: has(f, "SampleStream")),
    ("AdamW", lambda f: has(f, "AdamW")),
    ("gradient norm (sum of squares)", lambda f: has(f, "sum_squares") and not has(f, "loss_and_grad")),
    ("loss without GEMM", lambda f: has(f, "loss_and_grad")),
    ("forward without GEMM (LayerNorm, GELU, dropout)", lambda f: has(f, "Encoder<float>::forward")),
    ("backward without GEMM", lambda f: has(f, "Encoder<float>::backward")),
    ("trainer, other", lambda f: has(f, "Trainer<float>")),
    ("OpenBLAS idle worker (sched_yield)", lambda f: has(f, "sched_yield")),
]
samples, t, frames = [], None, []
for line in open(stacks):
    m = re.match(r"^\s*(\d+\.\d+):", line)
    if m:
        if t is not None: samples.append((t, frames))
        t, frames = float(m.group(1)), []
    elif line.strip():
        parts = line.split(None, 1)
        if len(parts) == 2: frames.append(parts[1].strip())
if t is not None: samples.append((t, frames))
steps = [t for t, f in samples if has(f, "train_step")]
epoch = [f for t, f in samples if steps and steps[0] <= t <= steps[-1]]
count = collections.Counter()
for f in epoch:
    count[next((name for name, test in classes if test(f)), "other")] += 1
us = 1e6 / cpu
print(f"one thread: {cpu:.0f} samples per CPU second = {us:.1f} us per sample; bound {bound:.0f} samples/s = "
      f"{1e6 / bound:.1f} us of SGEMM per sample; ratio {100 * cpu / bound:.0f}%; {len(epoch)} samples of the epoch")
print(f"{'where':<50} {'share':>6} {'us/sample':>9}")
for name, n in sorted(count.items(), key=lambda kv: -kv[1]):
    print(f"{name:<50} {100 * n / len(epoch):5.1f}% {us * n / len(epoch):9.2f}")
PY
