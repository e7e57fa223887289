# cli_surrogate.sh — `terragrad surrogate fit|eval|learn|calibrate` on a tiny design with the
# legacy Fortran bucket model: files written, training sets reused, library and executable
# kinds give the same training set, the learned parameters are scored with the real model,
# config errors name the key and line, a failing model gives a clear error.
# usage: bash cli_surrogate.sh TERRAGRAD_BIN SHARED_DATA WORKDIR
set -u
BIN=$1
DATA=$2
W=$3
rm -rf "$W"
mkdir -p "$W"
fail=0
check() { # check NAME CONDITION-EXIT-STATUS
    if [ "$2" -eq 0 ]; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi
}
lines() { wc -l < "$1" | tr -d ' '; }

# config KIND DIR [extra yaml lines...]
config() {
    cat <<EOF
seed: 3
output:
  dir: $2
blackbox:
  kind: $1
  path: auto
  params: [TT, DDF, FC, BETA, CET, K1, K2]
  lower: [-2, 1, 50, 1, 0.05, 0.05, 0.01]
  upper: [2, 6, 500, 6, 0.8, 0.5, 0.15]
  outputs: 4
  workers: 2
data:
  path: $DATA/caravan_camels_us
  basins: ['01022500', '01031500', '03604000', '06885500', '12054000']
  attributes: $DATA/camels_us/camels_attributes_v2.0
  attribute_names: [p_mean, pet_mean, aridity, frac_snow, elev_mean]
periods:
  train_start: 1990-01-01
  train_end: 1993-12-31
  test_start: 1994-01-01
  test_end: 1995-12-31
  warmup: 180
design:
  n_train: 48
  n_valid: 16
  window: 90
  valid_basins: 0.4
surrogate:
  hidden: 8
  epochs: 2
  batch: 16
learn:
  mode: mlp
  hidden: 8
  epochs: 1
  iterations: 3
  batch: 8
  warmup: 30
calibrate:
  max_evals: 60
EOF
}

config library "$W/lib" > "$W/lib.yaml"
"$BIN" surrogate fit "$W/lib.yaml" > "$W/fit.out" 2>&1
check "fit exits 0" $?
for f in train.nc valid.nc surrogate.tgck surrogate.tgck.meta valid_nse.csv basins_split.csv fit.log; do
    test -s "$W/lib/$f"
    check "fit wrote $f" $?
done
grep -q "held-out (unseen parameters, unseen basins): median NSE" "$W/fit.out"
check "fit reports the held-out NSE" $?
test "$(lines "$W/lib/valid_nse.csv")" -eq 17
check "valid_nse.csv has 16 samples" $?
test "$(grep -c ',valid$' "$W/lib/basins_split.csv")" -eq 2
check "2 of 5 basins held out" $?

"$BIN" surrogate fit "$W/lib.yaml" > "$W/fit2.out" 2>&1
grep -q "train.nc: reused" "$W/fit2.out"
check "second fit reuses train.nc" $?

"$BIN" surrogate eval "$W/lib.yaml" > "$W/eval.out" 2>&1
check "eval exits 0" $?
test "$(lines "$W/lib/eval_nse.csv")" -eq 17
check "eval_nse.csv has 16 samples" $?
# The saved, reloaded surrogate scores exactly as the one fit evaluated in memory.
a=$(grep -o "median NSE [-0-9.]*" "$W/fit2.out" | tail -1)
b=$(grep -o "median NSE [-0-9.]*" "$W/eval.out" | tail -1)
test -n "$a" && test "$a" = "$b"
check "eval of the saved surrogate matches fit ($a / $b)" $?

# The executable kind produces the same training set as the library (same seed):
# the same surrogate scores both sets identically.
config exec "$W/exe" > "$W/exe.yaml"
mkdir -p "$W/exe"
cp "$W/lib/surrogate.tgck" "$W/lib/surrogate.tgck.meta" "$W/exe/"
"$BIN" surrogate fit "$W/exe.yaml" > "$W/fit_exe.out" 2>&1
check "fit with the executable kind exits 0" $?
"$BIN" surrogate eval "$W/lib.yaml" --data "$W/exe/valid.nc" > "$W/eval_exe.out" 2>&1
c=$(grep -o "median NSE [-0-9.]*" "$W/eval_exe.out" | tail -1)
test -n "$c" && test "$c" = "$b"
check "library and executable training sets agree ($b / $c)" $?

"$BIN" surrogate learn "$W/lib.yaml" > "$W/learn.out" 2>&1
check "learn exits 0" $?
test "$(lines "$W/lib/learn_mlp_metrics.csv")" -eq 6 && test "$(lines "$W/lib/learn_mlp_params.csv")" -eq 6
check "learn wrote metrics and parameters of 5 basins" $?
grep -q "learn_mlp with the REAL model on 5 basins: train median NSE" "$W/learn.out"
check "learned parameters scored with the real model" $?
grep -q "surrogate vs real model at the learned parameters (80 windows of 90 days" "$W/learn.out"
check "surrogate fidelity at the learned parameters reported (5 basins x 16 windows)" $?
# Every learned parameter lies inside its range (sigmoid -> range).
awk -F, 'NR == 1 { next } { if ($2 < -2 || $2 > 2 || $4 < 50 || $4 > 500 || $8 < 0.01 || $8 > 0.15) bad = 1 }
         END { exit bad }' "$W/lib/learn_mlp_params.csv"
check "learned parameters within their ranges" $?

"$BIN" surrogate learn "$W/lib.yaml" --mode per_basin > "$W/learn_pb.out" 2>&1
check "learn --mode per_basin exits 0" $?
test "$(lines "$W/lib/learn_per_basin_metrics.csv")" -eq 6
check "per-basin learning scored on 5 basins" $?

"$BIN" surrogate calibrate "$W/lib.yaml" > "$W/cal.out" 2>&1
if grep -q "built without terragrad/calibrate.h" "$W/cal.out"; then
    check "SCE-UA is part of every build (calibrate.h missing)" 1
else
    test "$(lines "$W/lib/sceua_metrics.csv")" -eq 6
    check "calibrate wrote metrics of 5 basins" $?
    # Even 60 runs of SCE-UA find parameters with skill on every basin (0.33..0.61 here).
    awk -F, 'NR > 1 && $2 != "nan" { n++; if ($2 > 0.2) good++ } END { exit !(n == 5 && good == 5) }' \
        "$W/lib/sceua_metrics.csv"
    check "SCE-UA train NSE > 0.2 on all 5 basins" $?
fi

# Config errors: unknown key with its line, inconsistent ranges.
config library "$W/bad" | sed 's/^  hidden: 8$/  hiden: 8/' > "$W/bad.yaml"
"$BIN" surrogate fit "$W/bad.yaml" > "$W/bad.out" 2>&1
st=$?
grep -q "bad.yaml:[0-9]*:.*hiden" "$W/bad.out"
check "unknown key named with its line (exit $st)" $(( $? || (st == 0) ))
config library "$W/bad2" | sed 's/^  lower: .*/  lower: [-2, 1, 50]/' > "$W/bad2.yaml"
"$BIN" surrogate fit "$W/bad2.yaml" > "$W/bad2.out" 2>&1
st=$?
grep -q "blackbox.lower has 3 values" "$W/bad2.out"
check "range length mismatch reported (exit $st)" $(( $? || (st == 0) ))

# A model that always fails: the run stops with a clear message naming the model and reason.
printf '#!/bin/sh\necho "licence server unreachable" >&2\nexit 7\n' > "$W/broken.sh"
chmod +x "$W/broken.sh"
config exec "$W/broken" | sed "s#^  path: auto#  path: $W/broken.sh#" > "$W/broken.yaml"
"$BIN" surrogate fit "$W/broken.yaml" > "$W/broken.out" 2>&1
st=$?
grep -q "every sample failed" "$W/broken.out" && grep -q "exit status 7" "$W/broken.out" &&
    grep -q "licence server unreachable" "$W/broken.out"
check "failing model: clear error (exit $st)" $(( $? || (st == 0) ))

exit $fail
