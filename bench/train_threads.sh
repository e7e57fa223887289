#!/usr/bin/env bash
# bench/train_threads.sh — thread scaling of a training step at the example configs
# (issue 23 point 3): trains examples/{dhbv,lstm}_caravan200.yaml for one epoch of ITERS
# iterations with 1 and 2 OpenMP threads, alternately, REPS times, and prints the epoch
# seconds (from train.log) and the speed-up. Also checks that the checkpoints of 1 and 2
# threads are byte-identical. Run on a quiet machine (the load is printed).
#   bash bench/train_threads.sh [BUILD_DIR=build-bench] [ITERS=20] [REPS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-bench}; ITERS=${2:-20}; REPS=${3:-3}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$BUILD" -j"$(nproc)" --target terragrad > /dev/null
# the copied configs live in a temporary folder: their data paths come from TG_SHARED_DATA
export TG_SHARED_DATA=${TG_SHARED_DATA:-$(cd .. && pwd)/shared/data}
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1 /proc/loadavg)"
echo "| config | threads | epoch s (median of $REPS) | all runs | speed-up |"
echo "|---|---|---|---|---|"
for cfg in dhbv10_caravan200 lstm_caravan200; do
  sed -e "s/^  epochs: .*/  epochs: 1/" -e "s/^  iterations: .*/  iterations: $ITERS/" \
      -e "s/^  schedule: table/  schedule: constant/" -e "/table_epochs\|table_lrs/d" \
      "examples/$cfg.yaml" > "$WORK/$cfg.yaml"
  declare -A times=()
  for r in $(seq "$REPS"); do
    for th in 1 2; do
      out="$WORK/$cfg-t$th"
      rm -rf "$out"
      OMP_NUM_THREADS=$th "$BUILD/terragrad" train "$WORK/$cfg.yaml" --out "$out" > /dev/null 2>&1
      s=$(sed -n 's/^epoch 1\/1 .* \([0-9.]*\)s$/\1/p' "$out/train.log" | tail -1)
      times[$th]="${times[$th]:-} $s"
    done
    cmp -s "$WORK/$cfg-t1/last.ckpt" "$WORK/$cfg-t2/last.ckpt" || { echo "$cfg: checkpoints of 1 and 2 threads differ"; exit 1; }
  done
  med() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
  m1=$(echo "${times[1]}" | med); m2=$(echo "${times[2]}" | med)
  echo "| $cfg | 1 | $m1 | ${times[1]# } | |"
  echo "| $cfg | 2 | $m2 | ${times[2]# } | $(awk -v a="$m1" -v b="$m2" 'BEGIN { printf "%.2fx", a / b }') |"
  unset times
done
echo "(1 and 2 threads: byte-identical checkpoints in every repetition; load after: $(cut -d' ' -f1 /proc/loadavg))"
