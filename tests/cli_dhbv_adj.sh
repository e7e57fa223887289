#!/usr/bin/env bash
# terragrad train -> test with model.type dhbv_adj (implicit HBV, docs/hbv_implicit.md) on 3
# Caravan basins: the training loss must fall and the test median NSE must clear 0.4 (the
# untrained pipeline scores about -0.2 on these basins and periods; a model whose gradients
# were wrong would not learn in 40 iterations). Also: the hbv_adj.* keys are in the schema,
# a bad scheme is an error naming key and line, and Newton failure names basin and day.
set -euo pipefail
BIN=$1; DATA=$2; WORK=$3
source "$(dirname "$0")/small_config.sh"
rm -rf "$WORK"; mkdir -p "$WORK"
"$BIN" train --print-schema > "$WORK/schema.md"
grep -q '^| `hbv_adj.scheme` | a string: euler/cn' "$WORK/schema.md" || {
  echo "model kind dhbv_adj not linked into $BIN (see src/train/model_dhbv_adj.c)"; exit 1; }
small_config dir="$WORK/run" > "$WORK/run.yaml"
cat >> "$WORK/run.yaml" <<YAML
model:
  type: dhbv_adj
  hidden: 16
loss:
  type: rmse_comb
optim:
  lr: 0.01
training:
  epochs: 4
  iterations: 10
  batch: 8
  warmup: 180
  horizon: 180
hbv:
  components: 4
  dynamic: [BETA, BETAET]
  routing: true
hbv_adj:
  scheme: euler
  max_iter: 30
YAML
"$BIN" train "$WORK/run.yaml" > "$WORK/train.out" 2>&1 || { cat "$WORK/train.out"; exit 1; }
first=$(awk -F, 'NR==2{print $2}' "$WORK/run/loss.csv"); last=$(awk -F, 'END{print $2}' "$WORK/run/loss.csv")
awk -v a="$first" -v b="$last" 'BEGIN{ if (!(b < 0.8 * a)) { print "loss did not fall: " a " -> " b; exit 1 } }'
"$BIN" test "$WORK/run" > "$WORK/test.out" 2>&1 || { cat "$WORK/test.out"; exit 1; }
[ "$(wc -l < "$WORK/run/metrics_test.csv")" -eq 4 ] || { echo "expected 3 basins in metrics"; exit 1; }
nse=$(awk '$1=="NSE"{print $2}' "$WORK/test.out")
awk -v n="$nse" 'BEGIN{ if (!(n > 0.4)) { print "test median NSE too low: " n; exit 1 } }'
# a scheme that does not exist: error naming the key and line
sed 's/scheme: euler/scheme: rk4/' "$WORK/run.yaml" > "$WORK/bad.yaml"
if "$BIN" train "$WORK/bad.yaml" > "$WORK/bad.out" 2>&1; then echo "bad scheme accepted"; exit 1; fi
grep -q "bad.yaml:[0-9]*: key 'hbv_adj.scheme'" "$WORK/bad.out" || { cat "$WORK/bad.out"; exit 1; }
# sub-steps beyond the limit: error naming the key and line
sed -e 's/max_iter: 30/max_iter: 30\n  substeps: 100/' -e "s#dir: $WORK/run#dir: $WORK/run2#" "$WORK/run.yaml" > "$WORK/bad2.yaml"
if "$BIN" train "$WORK/bad2.yaml" > "$WORK/bad2.out" 2>&1; then echo "substeps 100 accepted"; exit 1; fi
grep -q "bad2.yaml:[0-9]*: hbv_adj.substeps = 100, need 1..64" "$WORK/bad2.out" || { cat "$WORK/bad2.out"; exit 1; }
# Newton capped at one iteration cannot converge (not in sub-steps either): a clear error naming basin and day
sed -e 's/max_iter: 30/max_iter: 1/' -e "s#dir: $WORK/run#dir: $WORK/run1#" "$WORK/run.yaml" > "$WORK/cap.yaml"
if "$BIN" train "$WORK/cap.yaml" > "$WORK/cap.out" 2>&1; then echo "Newton with max_iter 1 converged?"; exit 1; fi
grep -q "did not converge for basin [0-9]* .*component [0-9]*, day [0-9]*" "$WORK/cap.out" || { cat "$WORK/cap.out"; exit 1; }
echo "cli_dhbv_adj: NSE $nse, loss $first -> $last"
echo "1 passed, 0 failed"
