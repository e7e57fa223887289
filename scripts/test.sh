#!/usr/bin/env bash
# Builds terragrad three ways and runs the whole test suite on each:
#   float (the default build), double (strict gradient checks), double + ASan/UBSan.
# The double build's numerical tests and `terragrad gradcheck` run again under every
# OpenBLAS kernel this CPU can execute, so a tolerance that holds for one kernel only is
# caught here and not on the next machine. Every build runs even when an earlier one
# fails; one summary line per run, and the exit status is non-zero if any run failed.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh || { echo "test.sh: installing dependencies failed"; exit 1; }
JOBS=${JOBS:-2}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
LOG_DIR=${TG_TEST_LOGS:-test-logs}
mkdir -p "$LOG_DIR"

summary=()   # one line per run
n_pass=0 n_fail=0
record() { # name, status, passed, failed, detail
  local verdict=ok; [ "$2" -ne 0 ] && verdict=FAILED
  summary+=("$(printf '%-44s %-6s %s' "$1" "$verdict" "$5")")
  n_pass=$((n_pass + $3)); n_fail=$((n_fail + $4))
}
# Runs ctest in dir with extra args, under `env "${RUN_ENV[@]}"`; records the counts
# ctest reports.
RUN_ENV=()
run_ctest() { # label, dir, ctest args...
  local label=$1 dir=$2; shift 2
  local log="$LOG_DIR/$(echo "$label" | tr -c 'A-Za-z0-9\n' '_').log"
  env "${RUN_ENV[@]}" ctest --test-dir "$dir" --output-on-failure -j"$JOBS" "$@" > "$log" 2>&1
  local rc=$?
  tail -n 25 "$log" | grep -E "tests passed|Failed|\*\*\*|Not Run" || true
  local line total failed
  line=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$log" | tail -1)
  total=$(echo "$line" | sed -E 's/.* out of ([0-9]+).*/\1/'); failed=$(echo "$line" | sed -E 's/.* ([0-9]+) tests failed.*/\1/')
  if [ -z "$line" ]; then total=0 failed=1; rc=1; fi
  record "$label" "$rc" "$((total - failed))" "$failed" "$((total - failed))/$total tests passed (log: $log)"
}
build() { # name, cmake options... ; returns non-zero when configure or build fails
  local dir=build-test-$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" > "$LOG_DIR/configure-$(basename "$dir").log" 2>&1 &&
    cmake --build "$dir" -j"$JOBS" > "$LOG_DIR/build-$(basename "$dir").log" 2>&1
  local rc=$?
  if [ $rc -ne 0 ]; then
    tail -n 40 "$LOG_DIR/build-$(basename "$dir").log" "$LOG_DIR/configure-$(basename "$dir").log" 2>/dev/null
  fi
  return $rc
}
# OpenBLAS kernels this CPU can run (unset = OpenBLAS's own choice).
cpu_has() { grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | grep -qw "$1"; }
coretypes=("")
if [ "$(uname -m)" = x86_64 ]; then
  if cpu_has avx; then coretypes+=(Sandybridge); else echo "note: no avx, skipping OPENBLAS_CORETYPE=Sandybridge"; fi
  if cpu_has avx2; then coretypes+=(Haswell Zen); else echo "note: no avx2, skipping OPENBLAS_CORETYPE=Haswell and Zen"; fi
  if cpu_has avx512f; then coretypes+=(SkylakeX); else echo "note: no avx512f, skipping OPENBLAS_CORETYPE=SkylakeX"; fi
fi

echo "=== float build"
if build float; then run_ctest "float" build-test-float; else record "float" 1 0 1 "build failed"; fi

echo "=== double build"
if build double -DTG_DOUBLE=ON; then
  run_ctest "double" build-test-double
  # numerical tests (the C unit tests, not the CLI end-to-end ones) and the gradcheck
  # table under each OpenBLAS kernel; the environment's own OPENBLAS_CORETYPE is the
  # first, "as found" entry
  for ct in "${coretypes[@]}"; do
    if [ -z "$ct" ]; then RUN_ENV=(-u OPENBLAS_CORETYPE); else RUN_ENV=("OPENBLAS_CORETYPE=$ct"); fi
    label="double, OPENBLAS_CORETYPE=${ct:-unset}"
    echo "=== $label"
    run_ctest "$label" build-test-double -R '^test_'
    gc_log="$LOG_DIR/gradcheck-${ct:-unset}.log"
    env "${RUN_ENV[@]}" ./build-test-double/terragrad gradcheck > "$gc_log" 2>&1
    rc=$?
    tail -n 1 "$gc_log"
    if [ $rc -eq 0 ]; then record "gradcheck, OPENBLAS_CORETYPE=${ct:-unset}" 0 1 0 "all cases pass"
    else record "gradcheck, OPENBLAS_CORETYPE=${ct:-unset}" 1 0 1 "failures (log: $gc_log)"; fi
  done
  RUN_ENV=()
else
  record "double" 1 0 1 "build failed"
fi

echo "=== double build with AddressSanitizer + UBSan"
if build asan -DTG_DOUBLE=ON -DTG_SANITIZE=ON; then
  RUN_ENV=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)
  run_ctest "double + ASan/UBSan" build-test-asan
  RUN_ENV=()
else
  record "double + ASan/UBSan" 1 0 1 "build failed"
fi

echo
echo "=== summary"
failed_runs=0
for line in "${summary[@]}"; do
  echo "$line"
  case "$line" in *" FAILED "*) failed_runs=$((failed_runs + 1));; esac
done
echo "$n_pass $n_fail" > "$LOG_DIR/counts"
echo "summary: $n_pass passed, $n_fail failed"
[ "$failed_runs" -eq 0 ]
