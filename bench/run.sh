#!/usr/bin/env bash
# vox2clip benchmarks: each entry times our code and a peer in the same run, under the same
# environment, and records ratio = ours_s / peer_s. Writes build/bench/results.json (a list of
# {name, ours_s, peer_s, ratio, note}) and prints it as a table.
#   bench/run.sh [NAME...]   only the named entries
set -euo pipefail
BUILD=${BUILD:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
entries=(prepare ridge encoder retrieval lss pretrain pretrain_wide)
for name in "$@"; do
  if [[ " ${entries[*]} " != *" $name "* ]]; then
    echo "bench/run.sh: no benchmark named '$name'; the benchmarks are: ${entries[*]}" >&2
    exit 2
  fi
done
out="$BUILD/bench"
data="$out/data"
mkdir -p "$data"
lines="$out/results.jsonl"
: > "$lines"
bin="$root/$BUILD/bin"
coretype=${OPENBLAS_CORETYPE:-unset}
repeats=${BENCH_REPEATS:-3}

peers="$root/bench/peers"
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

bench_prepare() {
  # One 96x96x60x300 int16 .nii.gz run: v2c-prepare (inflate, mask, detrend, z-score, event
  # samples, HDF5 output) against `gzip -dc` of the same file. Goal: ratio <= 0.8.
  local d="$data/prepare"
  if [[ ! -s "$d/run_bold.nii.gz" ]]; then
    mkdir -p "$d"
    echo "bench: writing the 96x96x60x300 int16 test run (once)" >&2
    "$bin/bench-make_run" "$d" 96 96 60 300
  fi
  local ours peer mem
  ours=$(best_of "$repeats" "$bin/v2c-prepare" --bold "$d/run_bold.nii.gz" --events "$d/run_events.tsv" \
           --mask "$d/mask.nii.gz" --out "$d/samples.h5" --force --quiet)
  peer=$(best_of "$repeats" bash -c "gzip -dc '$d/run_bold.nii.gz' > /dev/null")
  mem=$("$bin/v2c-prepare" --bold "$d/run_bold.nii.gz" --events "$d/run_events.tsv" --mask "$d/mask.nii.gz" \
          --out "$d/samples.h5" --force 2>&1 | sed -n 's/.*done in .*peak memory \([0-9]*\) MiB.*/\1/p')
  local raw_mib=$(( 96 * 96 * 60 * 300 * 2 / 1048576 ))
  record "prepare 96x96x60x300 int16 .nii.gz vs gzip -dc" "$ours" "$peer" \
    "peer: gzip -dc; best of $repeats; our peak memory ${mem} MiB (uncompressed run ${raw_mib} MiB); goal ratio <= 0.8"
}

bench_ridge() {
  # n=2000 samples, 20000 voxels, 512 targets, 20 α, 5 folds, float32 and float64:
  #  - ours (α per target by 5-fold CV) against the bound: one X·Xᵀ plus one eigendecomposition
  #    per fold, same BLAS, same run. Goal: ratio <= 1.3.
  #  - ours + refit on all samples against scikit-learn RidgeCV(alphas, cv=5).fit (same work).
  local d="$data/ridge" n=${RIDGE_N:-2000} p=${RIDGE_P:-20000} t=${RIDGE_T:-512}
  mkdir -p "$d"
  for precision in float32 float64; do
    local line ours_cv ours_fit bound mem peer
    line=$("$bin/bench-ridge" "$n" "$p" "$t" 20 5 "$precision" "$d")
    read -r ours_cv ours_fit bound mem <<<"$line"
    record "ridge CV n=$n p=$p t=$t 20 alphas 5 folds $precision vs bound" "$ours_cv" "$bound" \
      "bound: one X·Xᵀ + one eigendecomposition per fold (same BLAS); our peak memory ${mem} MiB; goal ratio <= 1.3"
    if [[ "${BENCH_SKIP_SKLEARN:-0}" != 1 ]]; then
      echo "bench: scikit-learn RidgeCV $precision (about 2 minutes)" >&2
      peer=$(peer ridge_sklearn.py "$d" 20 5)
      record "ridge CV+refit n=$n p=$p t=$t 20 alphas 5 folds $precision vs scikit-learn RidgeCV" "$ours_fit" "$peer" \
        "peer: sklearn RidgeCV(alphas, cv=5).fit (one shared alpha); ours chooses alpha per target; our peak memory ${mem} MiB"
    fi
  done
  rm -f "$d/X.npy" "$d/Y.npy"
}

bench_encoder() {
  # Training throughput: 20000 voxels -> latent 1024, 2 residual blocks, CLIP 512, batch 128, CLIP +
  # MSE loss, AdamW, against the same model, losses and optimiser in PyTorch (2 threads).
  # Recorded as seconds per 1000 samples, so ratio = torch samples/s / ours (goal <= 1/3).
  # Ours and the peer alternate, the peer on both sides of each of our ENCODER_PAIRS runs (P O P O
  # P O P); each of our runs is set against the mean of the two peer runs beside it and the entry
  # is the median. This machine's speed moves within minutes (2026-12-03: the SGEMM bound at this
  # shape read 1600 and then 600 samples/s 3 minutes apart), so one run of each, a minute apart,
  # measured the drift as much as the code.
  local pairs=${ENCODER_PAIRS:-3} k line ours ours_mem mem_max=0 before after torch_mem torch_sps
  local results=() median all
  line=$(peer encoder_torch.py 20000 1024 2 512 128 3 30)
  read -r before torch_mem <<<"$line"
  for ((k = 0; k < pairs; k++)); do
    read -r ours ours_mem <<<"$("$bin/bench-encoder" 20000 1024 2 512 128 3 30)"
    line=$(peer encoder_torch.py 20000 1024 2 512 128 3 30)
    read -r after torch_mem <<<"$line"
    torch_sps=$(echo "($before + $after) / 2" | bc -l)
    results+=("$(echo "$torch_sps / $ours" | bc -l) $ours $(printf %.1f "$torch_sps")")
    if (( $(echo "$ours_mem > $mem_max" | bc -l) )); then mem_max=$ours_mem; fi
    before=$after
  done
  median=$(median_line "${results[@]}")
  read -r _ ours torch_sps <<<"$median"
  all=$(printf '%s\n' "${results[@]}" | awk '{printf "%s%.2f (%s vs %s)", (NR > 1 ? ", " : ""), $1, $2, $3}')
  record "encoder training, s per 1000 samples (20000 vox, L1024, 2 blocks, batch 128) vs PyTorch" \
    "$(printf "%.4f" "$(echo "1000 / $ours" | bc -l)")" "$(printf "%.4f" "$(echo "1000 / $torch_sps" | bc -l)")" \
    "median of $pairs runs, each against the mean of the PyTorch runs before and after it: ours ${ours} samples/s, PyTorch ${torch_sps}; every run: ${all}; peak memory ours ${mem_max} MiB, PyTorch ${torch_mem} MiB; goal ratio <= 0.33 at no more memory"
}

bench_retrieval() {
  # Exact top-5 of 10,000 queries among 1,000,000 candidates x 512 (float32) vs FAISS IndexFlatIP.
  local d="$data/retrieval" nq=${RETRIEVAL_Q:-10000} nc=${RETRIEVAL_N:-1000000}
  mkdir -p "$d"
  local ours mem peer
  read -r ours mem <<<"$("$bin/bench-retrieval" "$d" "$nq" "$nc" 512 5)"
  peer=$(peer retrieval_faiss.py "$d" 5)
  record "retrieval top-5, $nq queries x $nc candidates x 512 float32 vs FAISS IndexFlatIP" "$ours" "$peer" \
    "exact top-5 checked against a double-precision search; our peak ${mem} MiB; goal ratio <= 0.67 (1.5x FAISS)"
}

bench_lss() {
  # Least squares - separate for one run: 300 volumes, 300 trials, 50,000 voxels (float32), 4
  # conditions, 17 nuisance columns: our shared-work solver against the numpy oracle doing one
  # numpy.linalg.lstsq per trial, same data, same run. Goal: ratio <= 0.2 (5x) at no more peak memory.
  local d="$data/lss" nv=${LSS_VOLUMES:-300} nt=${LSS_TRIALS:-300} nx=${LSS_VOXELS:-50000}
  mkdir -p "$d"
  local ours mem line peer peer_mem rel
  read -r ours mem <<<"$("$bin/bench-lss" "$nv" "$nt" "$nx" "$d")"
  echo "bench: numpy LSS loop ($nt lstsq solves of $nv x $nx)" >&2
  line=$(peer lss_numpy.py "$d")
  read -r peer peer_mem rel <<<"$line"
  record "LSS $nt trials, $nv volumes, $nx voxels vs numpy lstsq per trial" "$ours" "$peer" \
    "peer: tests/oracle/glm_numpy.py lss (one numpy.linalg.lstsq per trial); estimates agree to ${rel} (max relative, per trial); peak memory ours ${mem} MiB, numpy ${peer_mem} MiB; goal ratio <= 0.2 at no more memory"
  rm -f "$d"/*.npy
}

# simulated_study DIR SUBJECTS SAMPLES VOXELS: writes the simulated pretraining study into DIR
# once (bench-pretrain_study, CLIP 512) and prints its data size in MiB.
simulated_study() {
  local d=$1 ns=$2 n=$3 p=$4
  local stamp="$d/study-$ns-$n-$p.txt"
  if [[ ! -s "$stamp" ]]; then
    rm -rf "$d" && mkdir -p "$d"
    echo "bench: writing the simulated $ns-subject study ($n samples x $p voxels each, once)" >&2
    "$bin/bench-pretrain_study" "$d" "$ns" "$n" "$p" 512 > "$stamp"
  fi
  echo $(( $(cat "$stamp") / 1048576 ))
}

bench_pretrain() {
  # Streamed pretraining on a simulated study of 64 subjects (PRETRAIN_SAMPLES samples x
  # PRETRAIN_VOXELS voxels each, float32) whose data total at least 4x the stage's peak memory: one
  # epoch, latent PRETRAIN_LATENT, 2 blocks, CLIP 512, batch 128, CLIP + MSE loss, a 64 MiB shuffle
  # buffer, no validation split, no checkpoint during the epoch. Two entries, as s per 1000 samples:
  #  - ours (one process, every core) against the matrix-product bound at this machine's SGEMM
  #    rate, measured in the same run at each product's shape (bench-sgemm_bound). Goal: ratio <= 1.25
  #    (>= 80% of the bound).
  #  - peak memory of that run against PyTorch training the same model (bench/peers/pretrain_torch.py).
  #  - mpirun -np 2 (cores/2 threads each) against one process (every core), both on the first 16
  #    subjects (one epoch of all 64 under two processes would take as long again).
  # PRETRAIN_SAMPLES=200 bench/run.sh pretrain is the quick version (its data do not reach 4x).
  local d="$data/pretrain" ns=${PRETRAIN_SUBJECTS:-64} n=${PRETRAIN_SAMPLES:-4000} p=${PRETRAIN_VOXELS:-4000}
  local L=${PRETRAIN_LATENT:-128} cores
  cores=$(nproc)
  local data_mib
  data_mib=$(simulated_study "$d" "$ns" "$n" "$p")
  local common=(--set pretrain.latent="$L" --set pretrain.epochs=1 --set pretrain.val_runs=0
                --set pretrain.batch_size=128 --set pretrain.buffer_mib=64 --set pretrain.checkpoint_every=100000000
                --force)
  # throughput LOG: samples/s of the epoch; peak_mib LOG: the stage's peak memory.
  throughput() { sed -n 's/.*epoch 1\/1: .*, \([0-9]*\) samples\/s.*/\1/p' "$1"; }
  peak_mib() { sed -n 's/.*done in .*peak memory \([0-9]*\) MiB.*/\1/p' "$1"; }
  cpu_throughput() { sed -n 's/.*epoch 1\/1: .* samples\/s (\([0-9]*\) per CPU second).*/\1/p' "$1"; }
  # sgemm_bound FIELD: the bound's FIELD (1: samples/s, 4: per CPU second), the highest of 3
  # processes (it moved by 15% between processes here); the every-core bound is measured before
  # and after the run, and the higher counts. Every bound runs with OMP_WAIT_POLICY=active, its
  # faster setting: with the make default (passive) each product wakes the OpenMP workers anew,
  # and the two-thread bound read 12% lower at this shape, 1.5% at 20000 x 1024 (3 rounds).
  sgemm_bound() {
    local field=$1 best=0 v
    for _ in 1 2 3; do
      v=$(OMP_WAIT_POLICY=active "$bin/bench-sgemm_bound" 128 "$p" "$L" 512 2 2>/dev/null | cut -d' ' -f"$field")
      if (( $(echo "$v > $best" | bc -l) )); then best=$v; fi
    done
    echo "$best"
  }
  local bound_sps flops
  bound_sps=$(sgemm_bound 1)
  read -r _ flops _ <<<"$("$bin/bench-sgemm_bound" 128 "$p" "$L" 512 2 1 2>/dev/null)"
  echo "bench: pretraining on $ns subjects (${data_mib} MiB)" >&2
  "$bin/v2c-pretrain" --samples "$d"/sub-*.h5 "${common[@]}" --threads "$cores" --out "$d/all.h5" > "$d/all.log" 2>&1
  local sps mem
  sps=$(throughput "$d/all.log")
  local bound_after
  bound_after=$(sgemm_bound 1)
  if (( $(echo "$bound_after > $bound_sps" | bc -l) )); then bound_sps=$bound_after; fi
  mem=$(peak_mib "$d/all.log")
  local ours bound pct
  ours=$(printf "%.4f" "$(echo "1000 / $sps" | bc -l)")
  bound=$(printf "%.4f" "$(echo "1000 / $bound_sps" | bc -l)")
  pct=$(printf "%.0f" "$(echo "100 * $sps / $bound_sps" | bc -l)")
  record "pretrain $ns subjects streamed, s per 1000 samples ($p vox, L$L, 2 blocks, batch 128) vs SGEMM bound" \
    "$ours" "$bound" "ours ${sps} samples/s = ${pct}% of the bound ${bound_sps} samples/s ($(printf %.2f "$(echo "$flops / 1000000" | bc -l)") MFLOP/sample in matrix products at this run's SGEMM rates); data ${data_mib} MiB = $(printf %.1f "$(echo "$data_mib / $mem" | bc -l)")x the peak memory ${mem} MiB; $cores threads, load average $(cut -d' ' -f1 /proc/loadavg); goal ratio <= 1.25"
  # Memory against PyTorch for the same model ($ns adapters of $p x $L, the same blocks, head, loss
  # and AdamW), in this run: our stage's peak (with its shuffle buffer and sample tables) vs the peer's
  # (random batches generated per step, no data held), both after every adapter has AdamW state.
  local line torch_mem torch_state
  echo "bench: PyTorch peer of the pretraining model ($ns subjects)" >&2
  line=$(peer pretrain_torch.py "$ns" "$p" "$L" 2 512 128 1)
  read -r torch_mem torch_state <<<"$line"
  record "pretrain $ns subjects, peak memory in MiB (not s): ours vs PyTorch, same model" "$mem" "$torch_mem" \
    "peer: bench/peers/pretrain_torch.py (1 thread, every adapter trained once); weights + AdamW moments ${torch_state} MiB; ours includes the 64 MiB shuffle buffer; goal ratio <= 1"
  local sixteen=("$d"/sub-0[1-9].h5 "$d"/sub-1[0-6].h5) mpi=(mpirun)
  "$bin/v2c-pretrain" --samples "${sixteen[@]}" "${common[@]}" --threads "$cores" --out "$d/one.h5" > "$d/one.log" 2>&1
  [[ $(id -u) == 0 ]] && mpi+=(--allow-run-as-root)
  "${mpi[@]}" --oversubscribe --bind-to none --mca mpi_yield_when_idle 1 -np 2 "$bin/v2c-pretrain" \
    --samples "${sixteen[@]}" "${common[@]}" --threads $(( (cores + 1) / 2 )) --out "$d/two.h5" > "$d/two.log" 2>&1
  local sps1 sps2
  sps1=$(throughput "$d/one.log")
  sps2=$(throughput "$d/two.log")
  record "pretrain 16 of the subjects, s per 1000 samples: mpirun -np 2 vs one process" \
    "$(printf "%.4f" "$(echo "1000 / $sps2" | bc -l)")" "$(printf "%.4f" "$(echo "1000 / $sps1" | bc -l)")" \
    "2 processes x $(( (cores + 1) / 2 )) threads ${sps2} samples/s (rank 0 peak $(peak_mib "$d/two.log") MiB) vs 1 process x $cores threads ${sps1} samples/s (peak $(peak_mib "$d/one.log") MiB); the same global batch and seed; load average $(cut -d' ' -f1 /proc/loadavg)"
  # The same per core and CPU second, which a busy machine does not distort: one training thread,
  # samples per CPU second of the epoch (every thread's CPU: the read-ahead thread's too) against the
  # one-thread SGEMM bound. Both run with one OpenMP and one OpenBLAS thread: an idle OpenBLAS
  # worker spin-yields and its CPU would count against ours. The bound is in CPU seconds too (each
  # product's best CPU time), so load on the machine stretches neither side. Beside it, the
  # adapter's AdamW memory floor (bench-optimizer_traffic: W, m and v read and written
  # once per step, cold, at this run's memory rate): products + that floor is the best any
  # implementation that updates the adapter densely every step can do here.
  local bound1 cpu1 floor_us
  bound1=$(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 sgemm_bound 4)
  read -r floor_us _ <<<"$("$bin/bench-optimizer_traffic" 128 "$p" "$L" 2>/dev/null)"
  local ceiling
  ceiling=$(printf "%.0f" "$(echo "100 * (1000000 / $bound1) / (1000000 / $bound1 + $floor_us)" | bc -l)")
  OPENBLAS_NUM_THREADS=1 "$bin/v2c-pretrain" --samples "${sixteen[@]}" "${common[@]}" --threads 1 --out "$d/one.h5" \
    > "$d/one-thread.log" 2>&1
  cpu1=$(cpu_throughput "$d/one-thread.log")
  record "pretrain 16 of the subjects, one thread, CPU s per 1000 samples vs one-thread SGEMM bound" \
    "$(printf "%.4f" "$(echo "1000 / $cpu1" | bc -l)")" "$(printf "%.4f" "$(echo "1000 / $bound1" | bc -l)")" \
    "ours ${cpu1} samples per CPU second = $(printf "%.0f" "$(echo "100 * $cpu1 / $bound1" | bc -l)")% of the one-thread bound ${bound1} samples per CPU second (wall: $(throughput "$d/one-thread.log") samples/s, reads on the read-ahead thread); adapter AdamW memory floor ${floor_us} us per sample, so at most ${ceiling}% is within reach; load average $(cut -d' ' -f1 /proc/loadavg); goal ratio <= 1.25"
  rm -f "$d"/all.h5 "$d"/one.h5 "$d"/two.h5
}

bench_pretrain_wide() {
  # Pretraining in the issue's own regime, where the adapter's products dominate: 20000 voxels x
  # latent 1024 (82 MFLOP per sample in the adapter alone), 2 blocks, CLIP 512, batch 128, CLIP +
  # MSE loss, one epoch streamed from 4 simulated subjects' files (2048 samples each, 625 MiB; 64
  # such adapters with their AdamW state would not fit this machine, hence 4). Against the same
  # bound as bench_pretrain at this shape, two entries, each the median of PAIRS runs, each run
  # against the mean of the bounds measured just before and just after it (PAIRS + 1 bounds, run
  # and bound alternating): this machine's speed moves by 10-15% from one minute to the next, and
  # a bound on one side only of a half-minute run misses half of that drift. The bound runs with
  # OMP_WAIT_POLICY=active, its faster setting (bench_pretrain). Goal: ratio <= 1.25 (>= 80% of
  # the bound).
  #  - every core: the stage's samples/s against the every-core bound (wall);
  #  - one thread: samples per CPU second (every thread's CPU, the read-ahead's too) against the
  #    one-thread bound in CPU seconds.
  # Each run trains 2 epochs; the ratio is the second's, in steady state as the bound is (it times
  # each product after a warm-up call). The first epoch also pays the first touch of every
  # adapter's AdamW moments (8 x 82 MB of page faults, 1/16 of each subject's steps here, 1/40 of
  # a default 40-epoch run's); its ratio is in the note beside.
  # Beside them: the peak memory of the every-core run against PyTorch training the same model.
  local d="$data/pretrain-wide" ns=4 n=2048 p=20000 L=1024 pairs=${PRETRAIN_PAIRS:-3} cores
  cores=$(nproc)
  local data_mib
  data_mib=$(simulated_study "$d" "$ns" "$n" "$p")
  local common=(--samples "$d"/sub-*.h5 --set pretrain.latent="$L" --set pretrain.epochs=2 --set pretrain.val_runs=0
                --set pretrain.batch_size=128 --set pretrain.buffer_mib=64 --set pretrain.checkpoint_every=100000000
                --force --out "$d/out.h5")
  # measure_bound MODE: the bound (MODE every: wall samples/s at every core; one: samples per
  # CPU second, one thread). run_once MODE: "ours first_epoch", the second and the first epoch's
  # throughput in the same unit.
  measure_bound() {
    if [[ $1 == every ]]; then
      OMP_WAIT_POLICY=active "$bin/bench-sgemm_bound" 128 "$p" "$L" 512 2 2>/dev/null | cut -d' ' -f1
    else
      OMP_WAIT_POLICY=active OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$bin/bench-sgemm_bound" 128 "$p" "$L" 512 2 2>/dev/null |
        cut -d' ' -f4
    fi
  }
  run_once() {
    local log="$d/$1.log"
    if [[ $1 == every ]]; then
      "$bin/v2c-pretrain" "${common[@]}" --threads "$cores" > "$log" 2>&1
      echo "$(sed -n 's/.*epoch 2\/2: .*, \([0-9]*\) samples\/s.*/\1/p' "$log")" \
           "$(sed -n 's/.*epoch 1\/2: .*, \([0-9]*\) samples\/s.*/\1/p' "$log")"
    else
      OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$bin/v2c-pretrain" "${common[@]}" --threads 1 > "$log" 2>&1
      echo "$(sed -n 's/.*epoch 2\/2: .* samples\/s (\([0-9]*\) per CPU second).*/\1/p' "$log")" \
           "$(sed -n 's/.*epoch 1\/2: .* samples\/s (\([0-9]*\) per CPU second).*/\1/p' "$log")"
    fi
  }
  local mode results median ours bound first mem all_pcts first_pcts
  for mode in every one; do
    echo "bench: pretraining at $p voxels x latent $L, $mode, $pairs pairs" >&2
    # results: one "ratio ours bound first_epoch" line a run, bound = the mean of the two beside it.
    results=()
    local before after run_first
    before=$(measure_bound "$mode")
    for ((k = 0; k < pairs; k++)); do
      run_first=$(run_once "$mode")
      after=$(measure_bound "$mode")
      read -r ours first <<<"$run_first"
      bound=$(echo "($before + $after) / 2" | bc -l)
      results+=("$(echo "$ours / $bound" | bc -l) $ours $(printf %.1f "$bound") $first")
      before=$after
    done
    [[ $mode == every ]] && mem=$(sed -n 's/.*done in .*peak memory \([0-9]*\) MiB.*/\1/p' "$d/every.log")
    median=$(median_line "${results[@]}")
    read -r _ ours bound _ <<<"$median"
    all_pcts=$(printf '%s\n' "${results[@]}" | awk '{printf "%s%.0f%% (%s of %s)", (NR > 1 ? ", " : ""), 100 * $1, $2, $3}')
    first_pcts=$(printf '%s\n' "${results[@]}" | awk '{printf "%s%.0f%%", (NR > 1 ? ", " : ""), 100 * $4 / $3}')
    if [[ $mode == every ]]; then
      record "pretrain $ns subjects streamed, $p vox x L$L (the issue's regime), every core, second epoch, s per 1000 samples vs SGEMM bound" \
        "$(printf "%.4f" "$(echo "1000 / $ours" | bc -l)")" "$(printf "%.4f" "$(echo "1000 / $bound" | bc -l)")" \
        "second epoch, median of $pairs runs, each against the mean of the bounds just before and after it: ours ${ours} samples/s, bound ${bound}; every run: ${all_pcts}; first epoch (first touch of the moments): ${first_pcts}; $cores threads; data ${data_mib} MiB, peak memory ${mem} MiB; load average $(cut -d' ' -f1 /proc/loadavg); goal ratio <= 1.25"
    else
      record "pretrain $ns subjects streamed, $p vox x L$L, one thread, second epoch, CPU s per 1000 samples vs one-thread SGEMM bound" \
        "$(printf "%.4f" "$(echo "1000 / $ours" | bc -l)")" "$(printf "%.4f" "$(echo "1000 / $bound" | bc -l)")" \
        "second epoch, median of $pairs runs, each against the mean of the bounds just before and after it: ours ${ours} samples per CPU second, bound ${bound}; every run: ${all_pcts}; first epoch (first touch of the moments): ${first_pcts}; load average $(cut -d' ' -f1 /proc/loadavg); goal ratio <= 1.25"
    fi
  done
  local line torch_mem torch_state
  echo "bench: PyTorch peer of the pretraining model ($ns subjects, $p x $L)" >&2
  line=$(peer pretrain_torch.py "$ns" "$p" "$L" 2 512 128 1)
  read -r torch_mem torch_state <<<"$line"
  record "pretrain $ns subjects, $p vox x L$L, peak memory in MiB (not s): ours vs PyTorch, same model" "$mem" "$torch_mem" \
    "peer: bench/peers/pretrain_torch.py (1 thread, every adapter trained once); weights + AdamW moments ${torch_state} MiB; ours includes the 64 MiB shuffle buffer; goal ratio <= 1"
  rm -f "$d/out.h5"
}

selected=("${@:-${entries[@]}}")
for name in "${selected[@]}"; do
  echo "bench: $name" >&2
  "bench_$name"
done

/usr/bin/python3 - "$lines" "$out/results.json" <<'PY'
import json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
with open(sys.argv[2] + ".tmp", "w") as f:  # a temporary name, then the rename: never half-written
    json.dump(rows, f, indent=2)
os.replace(sys.argv[2] + ".tmp", sys.argv[2])
w = max([len(r["name"]) for r in rows] + [4])
print(f"{'name':<{w}}  {'ours_s':>9}  {'peer_s':>9}  {'ratio':>7}  note")
for r in rows:
    print(f"{r['name']:<{w}}  {r['ours_s']:>9.3f}  {r['peer_s']:>9.3f}  {r['ratio']:>7.3f}  {r['note']}")
print(f"\nwritten: {sys.argv[2]}")
PY
