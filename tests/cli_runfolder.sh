#!/usr/bin/env bash
# Run folders as units of work:
#   1. two trainings into one folder at once: the second refuses naming the first (pid,
#      command from RUN/.lock) and `test` on the folder being trained refuses too;
#   2. training into a used folder is refused (nothing changes); --overwrite removes the
#      old run's outputs (metrics, predictions, plots) but not the user's files, and gives
#      the same checkpoint as a run into a new folder;
#   3. plot refuses test outputs of an older checkpoint, until `test` ran again;
#   4. output folders are made (or refused) before the work: pinn --out a/b with a missing
#      parent creates it; an --out under a regular file fails at once, for pinn, simulate,
#      calibrate and train, without training first or claiming "results in".
set -euo pipefail
BIN=$1; DATA=$2; WORK=$3
rm -rf "$WORK"; mkdir -p "$WORK"
fail() { echo "FAIL: $*"; exit 1; }
mkcfg() {  # mkcfg FILE EPOCHS ITERATIONS
  cat > "$1" <<YAML
seed: 2
data:
  source: caravan
  path: $DATA/caravan_camels_us
  basins: ['01022500', '01031500']
  attributes: $DATA/camels_us/camels_attributes_v2.0
  attribute_names: [p_mean, aridity]
periods:
  train_start: 1981-01-01
  train_end: 1984-12-31
  test_start: 1985-01-01
  test_end: 1985-12-31
model:
  type: lstm
  hidden: 8
optim:
  lr: 0.01
training:
  epochs: $2
  iterations: $3
  batch: 8
  warmup: 30
  horizon: 60
  threads: 1
YAML
}
mkcfg "$WORK/long.yaml" 100000 50
mkcfg "$WORK/run.yaml" 2 5

# 1. concurrent trainings
R="$WORK/busy"
"$BIN" train "$WORK/long.yaml" --out "$R" > "$WORK/first.out" 2>&1 &
first=$!
for i in $(seq 1 300); do [ -s "$R/loss.csv" ] && break; sleep 0.1; done
[ -s "$R/loss.csv" ] || { kill -9 $first; cat "$WORK/first.out"; fail "the first training did not start"; }
set +e
"$BIN" train "$WORK/run.yaml" --out "$R" > "$WORK/second.out" 2>&1; st=$?
"$BIN" test "$R" > "$WORK/test_busy.out" 2>&1; st_test=$?
"$BIN" train "$WORK/run.yaml" --out "$R" --overwrite > "$WORK/third.out" 2>&1; st_ow=$?
set -e
kill -0 $first 2> /dev/null || fail "the first training ended early (the test needs it running)"
kill -9 $first; wait $first 2> /dev/null || true
[ $st -ne 0 ] || fail "a second training into a busy folder was accepted"
grep -q "is in use by another terragrad process (pid $first host .* command terragrad train $WORK/long.yaml" "$WORK/second.out" \
  || { cat "$WORK/second.out"; fail "the refusal does not name the first process"; }
[ $st_test -ne 0 ] && grep -q "in use by another terragrad process (pid $first" "$WORK/test_busy.out" || fail "test on a busy folder not refused"
[ $st_ow -ne 0 ] && [ -s "$R/loss.csv" ] || fail "--overwrite of a busy folder not refused"
# nothing of the second run got in: loss.csv is one run's (epochs 1, 2, 3, ... once each)
awk -F, 'NR > 1 && $1 != NR - 1 { print "loss.csv line " NR ": epoch " $1; bad = 1 } END { exit bad }' "$R/loss.csv" \
  || fail "loss.csv of the busy folder was written by two runs"
grep -q "epochs: 100000" "$R/config.yaml" || fail "the second run replaced config.yaml"
# the lock dies with its holder (SIGKILL above): the folder can be resumed now
"$BIN" train "$WORK/long.yaml" --out "$R" --resume > /dev/null 2>&1 &
p=$!
for i in $(seq 1 300); do grep -q "^resumed from" "$R/train.log" && break; kill -0 $p 2> /dev/null || break; sleep 0.1; done
kill -9 $p 2> /dev/null || true; wait $p 2> /dev/null || true
grep -q "^resumed from" "$R/train.log" || fail "the folder of a killed run could not be resumed"
echo "concurrent: the second training and test refused naming pid $first"

# 2. a used folder; --overwrite
R="$WORK/used"
"$BIN" train "$WORK/run.yaml" --out "$R" > /dev/null 2>&1 || fail "train"
"$BIN" test "$R" > /dev/null 2>&1 || fail "test"
[ -s "$R/metrics_test.csv" ] && [ -d "$R/predictions_test" ] || fail "test outputs missing"
if command -v gnuplot > /dev/null; then "$BIN" plot "$R" > /dev/null 2>&1 || fail "plot"; fi
echo "my notes" > "$R/notes.txt"; mkdir -p "$R/mine"; echo keep > "$R/mine/data.csv"; echo keep > "$R/predictions_test/README"
cp "$R/last.ckpt" "$WORK/used.ckpt"
mkcfg "$WORK/other.yaml" 3 5
sed -i 's/hidden: 8/hidden: 10/' "$WORK/other.yaml"
if "$BIN" train "$WORK/other.yaml" --out "$R" > "$WORK/used.out" 2>&1; then fail "training into a used folder accepted"; fi
grep -q "already holds a training run: continue it with --resume, or replace it with --overwrite" "$WORK/used.out" \
  || { cat "$WORK/used.out"; fail "no clear message for a used folder"; }
cmp -s "$R/last.ckpt" "$WORK/used.ckpt" && grep -q "hidden: 8" "$R/config.yaml" || fail "the refused training changed the run"
"$BIN" train "$WORK/other.yaml" --out "$R" --overwrite > "$WORK/ow.out" 2>&1 || { cat "$WORK/ow.out"; fail "--overwrite"; }
for f in metrics_test.csv predictions_test.nc test.log outputs_test.source predictions_test/01022500.csv plots/loss.png; do
  [ ! -e "$R/$f" ] || fail "--overwrite left the old run's $f"
done
[ "$(cat "$R/notes.txt")" = "my notes" ] && [ -s "$R/mine/data.csv" ] && [ -s "$R/predictions_test/README" ] \
  || fail "--overwrite removed files terragrad did not write"
[ "$(grep -c '^resumed\|^terragrad train' "$R/train.log")" -eq 1 ] || fail "train.log of the overwritten run kept the old run's lines"
"$BIN" train "$WORK/other.yaml" --out "$WORK/fresh" > /dev/null 2>&1 || fail "fresh train"
cmp "$R/last.ckpt" "$WORK/fresh/last.ckpt" || fail "--overwrite run differs from a run into a new folder"
cmp "$R/loss.csv" "$WORK/fresh/loss.csv" > /dev/null 2>&1 || diff <(cut -d, -f1-3 "$R/loss.csv") <(cut -d, -f1-3 "$WORK/fresh/loss.csv") > /dev/null \
  || fail "--overwrite loss.csv differs from a fresh run's"
if "$BIN" train "$WORK/other.yaml" --out "$R" --resume --overwrite > /dev/null 2>&1; then fail "--resume --overwrite accepted"; fi
echo "used folder refused; --overwrite removed only terragrad's files"

# 3. plot refuses outputs of an older checkpoint
R="$WORK/stale"
"$BIN" train "$WORK/run.yaml" --out "$R" > /dev/null 2>&1 || fail "train"
"$BIN" test "$R" > /dev/null 2>&1 || fail "test"
grep -q "^epoch 2$" "$R/outputs_test.source" || fail "outputs_test.source does not name the epoch-2 checkpoint"
mkcfg "$WORK/run3.yaml" 3 5
"$BIN" train "$WORK/run3.yaml" --out "$R" --resume > /dev/null 2>&1 || fail "resume"
if "$BIN" plot "$R" > "$WORK/stale.out" 2>&1; then fail "plot drew test outputs of an older checkpoint"; fi
grep -q "came from another checkpoint (epoch 2, .*) than the run's $R/last.ckpt (epoch 3, .*): they are stale; run \`terragrad test $R\` again" "$WORK/stale.out" \
  || { cat "$WORK/stale.out"; fail "stale outputs not explained"; }
[ ! -e "$R/plots/nse_cdf.png" ] || fail "a refused plot drew something"
"$BIN" test "$R" > /dev/null 2>&1 || fail "test again"
if command -v gnuplot > /dev/null; then
  "$BIN" plot "$R" > "$WORK/plot.out" 2>&1 || { cat "$WORK/plot.out"; fail "plot after test again"; }
  grep -q "^epoch 3$" "$R/plots/plots.source" || fail "plots/plots.source does not name the epoch-3 checkpoint"
fi
echo "plot refuses stale test outputs"

# 4. output folders made or refused before the work
cat > "$WORK/poisson.yaml" <<'YAML'
case: poisson1d
seed: 3
threads: 1
network: {hidden: 1, width: 4}
sampling: {method: sobol, collocation: 16}
train: {adam_iters: 20, adam_lr: 0.01, lbfgs_iters: 0, print_every: 10}
output: {plots: false}
YAML
"$BIN" pinn "$WORK/poisson.yaml" --out "$WORK/new/a/b" > "$WORK/pinn_ab.out" 2>&1 || { cat "$WORK/pinn_ab.out"; fail "pinn --out a/b with a missing parent"; }
[ -s "$WORK/new/a/b/solution.csv" ] || fail "pinn --out a/b: no results in a/b"
echo "a file" > "$WORK/file"
if "$BIN" pinn "$WORK/poisson.yaml" --out "$WORK/file/a/b" > "$WORK/pinn_bad.out" 2>&1; then fail "pinn --out under a file accepted"; fi
grep -q "cannot create folder" "$WORK/pinn_bad.out" || { cat "$WORK/pinn_bad.out"; fail "pinn: no message about the output folder"; }
! grep -q "results in\|adam" "$WORK/pinn_bad.out" || { cat "$WORK/pinn_bad.out"; fail "pinn trained (or claimed results) before finding the output folder unusable"; }
if "$BIN" train "$WORK/run.yaml" --out "$WORK/file/run" > "$WORK/train_bad.out" 2>&1; then fail "train --out under a file accepted"; fi
grep -q "cannot create folder" "$WORK/train_bad.out" && ! grep -q "^epoch" "$WORK/train_bad.out" || { cat "$WORK/train_bad.out"; fail "train: output folder not checked first"; }
if "$BIN" calibrate --model hbv --data "$DATA/caravan_camels_us" --basins 01022500 --train-start 1981-01-01 \
     --train-end 1982-12-31 --out "$WORK/file/cal" > "$WORK/cal_bad.out" 2>&1; then fail "calibrate --out under a file accepted"; fi
grep -q "cannot create folder" "$WORK/cal_bad.out" || { cat "$WORK/cal_bad.out"; fail "calibrate: output folder not checked"; }
echo "output folders checked before the work"
echo "1 passed, 0 failed"
