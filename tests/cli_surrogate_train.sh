# cli_surrogate_train.sh — `terragrad train` with model.type: surrogate: LSTM -> parameters of
# the legacy Fortran bucket model -> FROZEN surrogate -> Q, trained against observed flow on
# 4 Caravan basins; then the learned parameters run through the REAL model.
# Checks: the loss falls; the surrogate file is bitwise unchanged and the run refuses a
# different surrogate (weights fingerprint in last.ckpt); `terragrad test` works on the
# 5-year test period (longer than the surrogate's window: tiled windows); the learned
# parameters lie in their ranges and, run through the real model, reach a test median NSE
# far above what the untrained network (parameters near mid-range) gives; config errors.
# usage: bash cli_surrogate_train.sh TERRAGRAD_BIN SHARED_DATA WORKDIR
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
BASINS="['01022500', '01031500', '03604000', '06885500']"

# 1. A small surrogate of the bucket model (window 120 days).
cat > "$W/fit.yaml" <<EOF
seed: 2
output:
  dir: $W/surr
blackbox:
  kind: library
  path: auto
  params: [TT, DDF, FC, BETA, CET, K1, K2]
  lower: [-2, 1, 50, 1, 0.05, 0.05, 0.01]
  upper: [2, 6, 500, 6, 0.8, 0.5, 0.15]
  workers: 2
data:
  path: $DATA/caravan_camels_us
  basins: $BASINS
periods:
  train_start: 1982-01-01
  train_end: 1990-12-31
  test_start: 1991-01-01
  test_end: 1995-12-31
design:
  n_train: 800
  n_valid: 50
  window: 120
  valid_basins: 0.25
surrogate:
  hidden: 16
  output: exp
  epochs: 12
  batch: 16
  lr: 0.01
  valid_every: 12
EOF
"$BIN" surrogate fit "$W/fit.yaml" > "$W/fit.out" 2>&1
check "surrogate fit exits 0" $?
grep "held-out" "$W/fit.out"
cp "$W/surr/surrogate.tgck" "$W/before.tgck"
cp "$W/surr/surrogate.tgck.meta" "$W/before.tgck.meta"

# 2. terragrad train through the frozen surrogate.
# train_config RUN_DIR EPOCHS LR SURROGATE_FILE
train_config() {
    cat <<EOF
seed: 5
output:
  dir: $1
  plots: false
data:
  source: caravan
  path: $DATA/caravan_camels_us
  basins: $BASINS
  attributes: $DATA/camels_us/camels_attributes_v2.0
  attribute_names: [p_mean, pet_mean, aridity, frac_snow, elev_mean]
periods:
  train_start: 1982-01-01
  train_end: 1990-12-31
  test_start: 1991-01-01
  test_end: 1995-12-31
model:
  type: surrogate
  hidden: 16
loss:
  type: nse
optim:
  lr: $3
training:
  epochs: $2
  iterations: 30
  batch: 16
  warmup: 40
  horizon: 80
surrogate:
  file: $4
  blackbox: auto
EOF
}
train_config "$W/run" 6 0.005 "$W/surr/surrogate.tgck" > "$W/run.yaml"
"$BIN" train "$W/run.yaml" > "$W/train.out" 2>&1
check "train (model.type surrogate) exits 0" $?
# The untrained network on exactly the same windows (same seed, no dropout, learning rate
# 0): its parameters stay near the middle of the ranges. A pipeline whose gradient does
# not reach the network stays there.
train_config "$W/run0" 6 0 "$W/surr/surrogate.tgck" > "$W/run0.yaml"
"$BIN" train "$W/run0.yaml" > "$W/train0.out" 2>&1
check "untrained baseline run exits 0" $?
# Epoch losses swing with the windows drawn (floods dominate NSE*), so compare epoch by
# epoch with the untrained network on the same windows, and the end with the start.
paste -d, "$W/run/loss.csv" "$W/run0/loss.csv" > "$W/losses.csv"
cat "$W/losses.csv"
awk -F, 'NR == 1 { next } NR == 2 { first = $2 } NR > 2 && !($2 < 0.9 * $6) { bad = 1 }
         NR > 4 { tail += $2; n++ } END { exit bad || !(tail / n < 0.9 * first) }' "$W/losses.csv"
check "loss falls: every epoch after the first < 0.9 x untrained on the same windows; last 3 < 0.9 x first" $?
cmp -s "$W/before.tgck" "$W/surr/surrogate.tgck" && cmp -s "$W/before.tgck.meta" "$W/surr/surrogate.tgck.meta"
check "surrogate files bitwise unchanged by training" $?

"$BIN" test "$W/run" > "$W/test.out" 2>&1
check "terragrad test on the 5-year test period exits 0 (fingerprint matches)" $?
test "$(lines "$W/run/metrics_test.csv")" -eq 5
check "test metrics of 4 basins" $?

"$BIN" surrogate eval "$W/run" > "$W/eval.out" 2>&1
check "surrogate eval RUN_DIR exits 0" $?
cat "$W/eval.out"
test "$(lines "$W/run/surrogate_params_test.csv")" -eq 5 && test "$(lines "$W/run/surrogate_metrics_test.csv")" -eq 5
check "learned parameters and metrics of 4 basins written" $?
head -1 "$W/run/surrogate_params_test.csv" | grep -q '^basin,TT,DDF,FC,BETA,CET,K1,K2$'
check "parameter CSV header names the model's parameters" $?
awk -F, 'NR == 1 { next } { if ($2 < -2 || $2 > 2 || $3 < 1 || $3 > 6 || $4 < 50 || $4 > 500 || $5 < 1 || $5 > 6 ||
                               $6 < 0.05 || $6 > 0.8 || $7 < 0.05 || $7 > 0.5 || $8 < 0.01 || $8 > 0.15) bad = 1 }
         END { exit bad }' "$W/run/surrogate_params_test.csv"
check "learned parameters inside the surrogate's ranges" $?
# The surrogate's own test NSE agrees with terragrad test (same forward).
a=$(awk '$1 == "NSE" { printf "%.3f", $2 }' "$W/test.out")
b=$(grep -o "what training saw): *median NSE [-0-9.]*" "$W/eval.out" | awk '{ printf "%.3f", $NF }')
test -n "$a" && test "$a" = "$b"
check "surrogate eval and terragrad test agree on the surrogate's median NSE ($a / $b)" $?
nse_real=$(grep -o "REAL model 'bucket' (learned parameters): median NSE [-0-9.]*" "$W/eval.out" | awk '{ print $NF }')
test -n "$nse_real"
check "learned parameters scored with the real model (median NSE $nse_real)" $?

# 3. The learned parameters against the untrained network's, both through the real model.
"$BIN" surrogate eval "$W/run0" > "$W/eval0.out" 2>&1
check "surrogate eval of the untrained run exits 0" $?
nse0=$(grep -o "REAL model 'bucket' (learned parameters): median NSE [-0-9.]*" "$W/eval0.out" | awk '{ print $NF }')
awk -v a="$nse_real" -v b="$nse0" 'BEGIN { exit !(a != "" && b != "" && a > 0.3 && a > b + 0.2) }'
check "real-model test median NSE $nse_real > 0.3 and > untrained $nse0 + 0.2" $?

# 4. Another valid surrogate (same sets, one epoch) is refused by the trained run.
mkdir -p "$W/surr1"
cp "$W/surr/train.nc" "$W/surr/valid.nc" "$W/surr1/"
sed -e "s#dir: $W/surr#dir: $W/surr1#" -e 's/epochs: 12/epochs: 1/' -e 's/valid_every: 12/valid_every: 1/' "$W/fit.yaml" > "$W/fit1.yaml"
"$BIN" surrogate fit "$W/fit1.yaml" > "$W/fit1.out" 2>&1
cp -r "$W/run" "$W/run_swapped"
sed -i "s#file: $W/surr/surrogate.tgck#file: $W/surr1/surrogate.tgck#" "$W/run_swapped/config.yaml"
"$BIN" test "$W/run_swapped" > "$W/swapped.out" 2>&1
st=$?
grep -q "surr1/surrogate.tgck' is not the surrogate this run was trained with" "$W/swapped.out"
check "a different surrogate file is refused (exit $st)" $(( $? || (st == 0) ))

# 5. Config errors name the file, line and key.
train_config "$W/bad" 1 0.01 "$W/missing.tgck" > "$W/bad.yaml"
"$BIN" train "$W/bad.yaml" > "$W/bad.out" 2>&1
st=$?
grep -q "bad.yaml:[0-9]*: surrogate.file '$W/missing.tgck': .*missing.tgck.meta: cannot open" "$W/bad.out"
check "missing surrogate file: file, line and key named (exit $st)" $(( $? || (st == 0) ))
train_config "$W/bad2" 1 0.01 "$W/surr/surrogate.tgck" | sed '/^  file: /d' > "$W/bad2.yaml"
"$BIN" train "$W/bad2.yaml" > "$W/bad2.out" 2>&1
st=$?
grep -q "model.type surrogate needs surrogate.file" "$W/bad2.out"
check "no surrogate.file: clear error (exit $st)" $(( $? || (st == 0) ))
"$BIN" train --print-schema 2>&1 | grep -q "surrogate.file"
check "surrogate keys in train --print-schema" $?

exit $fail
