#!/usr/bin/env bash
# Builds terragrad three ways and runs the whole test suite on each:
#   float (the default build), double (strict gradient checks), double + ASan/UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
JOBS=${JOBS:-2}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
run() { # name, cmake options...
  local dir=build-test-$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" > /dev/null
  cmake --build "$dir" -j"$JOBS"
  ctest --test-dir "$dir" --output-on-failure -j"$JOBS"
}
echo "=== float build"; run float
echo "=== double build"; run double -DTG_DOUBLE=ON
echo "=== double build with AddressSanitizer + UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run asan -DTG_DOUBLE=ON -DTG_SANITIZE=ON
echo "all test builds passed"
