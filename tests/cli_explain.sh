#!/usr/bin/env bash
# terragrad train (model.type hybrid, physics penalties) -> test -> explain on 3 Caravan
# basins: the penalty is logged separately, the water balance of the hybrid closes, the
# learned ET limitation g written by explain stays in [0, 1] and is (nearly) non-decreasing
# in SM/FC under the monotonicity penalty, the HBV formula fitted to it is in HBV's
# parameter ranges, and bad input fails with a clear message.
set -euo pipefail
BIN=$1; DATA=$2; WORK=$3
source "$(dirname "$0")/small_config.sh"
rm -rf "$WORK"; mkdir -p "$WORK"
small_config seed=5 dir="$WORK/run" test="1991-01-01 1993-12-31" > "$WORK/run.yaml"
cat >> "$WORK/run.yaml" <<YAML
model:
  type: hybrid
  hidden: 16
optim:
  lr: 0.01
training:
  epochs: 3
  iterations: 8
  batch: 6
  warmup: 180
  horizon: 180
hbv:
  components: 4
  dynamic: [BETA]
hybrid:
  hidden: 8
physics:
  monotone: 2
  range: 0.1
  water_balance: 1
YAML
"$BIN" train "$WORK/run.yaml" > "$WORK/train.out" 2>&1 || { cat "$WORK/train.out"; exit 1; }
grep -q "(penalty [0-9.e-]*)" "$WORK/run/train.log" || { echo "penalty not logged"; cat "$WORK/run/train.log"; exit 1; }
"$BIN" test "$WORK/run" > "$WORK/test.out" 2>&1 || { cat "$WORK/test.out"; exit 1; }
wb=$(grep "water balance" "$WORK/test.out" | sed 's/.*max \([0-9.e+-]*\).*/\1/')
awk -v w="$wb" 'BEGIN{ if (!(w < 1e-5)) { print "hybrid water balance does not close: " w; exit 1 } }'
"$BIN" explain "$WORK/run" --no-plot > "$WORK/explain.out" 2>&1 || { cat "$WORK/explain.out"; exit 1; }
csv="$WORK/run/explain/g_et.csv"
for f in g_et.csv g_et_T.csv visited.csv summary.txt; do [ -s "$WORK/run/explain/$f" ] || { echo "missing explain/$f"; exit 1; }; done
head -1 "$csv" | grep -q '^SM_FC,g_T-5,g_T0,.*,hbv_fit$' || { echo "bad header: $(head -1 "$csv")"; exit 1; }
[ "$(wc -l < "$csv")" -eq 122 ] || { echo "expected 121 grid rows"; exit 1; }
# g in [0, 1]; largest decrease along SM/FC per temperature column (monotonicity penalty on)
awk -F, 'NR > 1 { for (i = 2; i < NF; i++) { if ($i < 0 || $i > 1) { print "g out of [0,1]: " $i; bad = 1 }
                                         if (NR > 2 && prev[i] - $i > drop) drop = prev[i] - $i; prev[i] = $i } }
         END { print "largest decrease of g along SM/FC: " drop + 0; if (bad || drop > 0.01) exit 1 }' "$csv"
# the fitted formula lies in HBV's ranges (LP [0.2, 1], BETAET [0.3, 5])
grep -q "HBV formula fitted to g: LP" "$WORK/run/explain/summary.txt" || { echo "no fit in summary"; exit 1; }
awk '/HBV formula fitted/ { lp = $7; be = $9; if (lp < 0.2 || lp > 1 || be < 0.3 || be > 5) { print "fit out of range"; exit 1 } }' \
  "$WORK/run/explain/summary.txt"
source "$(dirname "$0")/png_check.sh"
require_gnuplot
"$BIN" explain "$WORK/run" > "$WORK/explain_plot.out" 2>&1 || { cat "$WORK/explain_plot.out"; echo "explain with plots failed"; exit 1; }
if grep -qi "warning\|error" "$WORK/explain_plot.out"; then cat "$WORK/explain_plot.out"; echo "gnuplot reported a problem"; exit 1; fi
for f in g_et.png g_et_T.png; do png_check "$WORK/run/explain/$f" 900 600 || exit 1; done
# errors: not a run directory; not a hybrid run; a negative penalty weight
if "$BIN" explain "$WORK/nothing" > "$WORK/e1.out" 2>&1; then echo "explain accepted a missing run"; exit 1; fi
grep -q "config.yaml" "$WORK/e1.out" || { cat "$WORK/e1.out"; exit 1; }
mkdir -p "$WORK/lstm"; sed -e 's/type: hybrid/type: lstm/' "$WORK/run/config.yaml" > "$WORK/lstm/config.yaml"
if "$BIN" explain "$WORK/lstm" > "$WORK/e2.out" 2>&1; then echo "explain accepted an lstm run"; exit 1; fi
grep -q "model.type is 'lstm'" "$WORK/e2.out" || { cat "$WORK/e2.out"; exit 1; }
sed -e 's/monotone: 2/monotone: -1/' -e "s#$WORK/run#$WORK/bad#" "$WORK/run.yaml" > "$WORK/bad.yaml"
if "$BIN" train "$WORK/bad.yaml" > "$WORK/e3.out" 2>&1; then echo "negative weight accepted"; exit 1; fi
grep -q "bad.yaml:.*physics.monotone must be >= 0" "$WORK/e3.out" || { cat "$WORK/e3.out"; exit 1; }
# explain writes into the run folder: it refuses while another process holds the run lock
flock -n "$WORK/run/.lock" sleep 5 &
holder=$!
sleep 0.5
if "$BIN" explain "$WORK/run" --no-plot > "$WORK/e4.out" 2>&1; then kill $holder; echo "explain ran in a locked run folder"; exit 1; fi
wait $holder || true
grep -q "is in use by another terragrad process" "$WORK/e4.out" || { cat "$WORK/e4.out"; exit 1; }
echo "cli_explain: ok"
