#!/usr/bin/env bash
# bench/run_all.sh — one command for the whole benchmark table (issue 23): builds the float
# Release benchmarks, runs each terragrad benchmark and its PyTorch peer (../shared/peer)
# alternately with the same threads and environment, and writes
# bench/results/<cpu>-<date>.md (+ .jsonl with every run). About 10-15 minutes on a
# 2-core machine at 1 and 2 threads; run it on a quiet machine (the load is recorded).
#   bash bench/run_all.sh [--reps N] [--threads 1,2] [--quick] [--build DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=build-bench
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
if [ ! -x /usr/bin/python3 ] || ! /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null; then
  echo "run_all.sh: Debian's /usr/bin/python3 with python3-torch is needed (bash scripts/deps.sh)" >&2
  exit 2
fi
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target bench_tape bench_hbv bench_lstm bench_pinn bench_dpl_full bench_stream >/dev/null
exec /usr/bin/python3 bench/run_all.py --build "$BUILD" --threads 1,2 "${args[@]}"
