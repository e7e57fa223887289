#!/usr/bin/env bash
# terragrad train -> test -> plot end to end on a small LSTM config (3 Caravan basins):
# the training loss must fall and the test median NSE must beat what a model that has
# not learned the rainfall-runoff relation reaches (the mean-flow NSE is ~0).
set -euo pipefail
BIN=$1; DATA=$2; WORK=$3
source "$(dirname "$0")/small_config.sh"
rm -rf "$WORK"; mkdir -p "$WORK"
# docs/config.md must document every key the schema has (it is generated from it)
DOC="$(dirname "$0")/../docs/config.md"
"$BIN" train --print-schema | grep -o '^| `[a-z_.]*`' | while read -r row; do
    grep -qF -- "$row" "$DOC" || { echo "docs/config.md lacks ${row#| }: regenerate it with terragrad train --print-schema"; exit 1; }
done
small_config dir="$WORK/run" > "$WORK/run.yaml"
cat >> "$WORK/run.yaml" <<YAML
model:
  type: lstm
  hidden: 16
  dropout: 0.1
optim:
  lr: 0.01
training:
  epochs: 6
  iterations: 20
  batch: 8
  warmup: 90
  horizon: 180
YAML
"$BIN" train "$WORK/run.yaml" > "$WORK/train.out" 2>&1 || { cat "$WORK/train.out"; exit 1; }
for f in config.yaml normalisation.txt train.log loss.csv last.ckpt; do
  [ -s "$WORK/run/$f" ] || { echo "missing $f"; exit 1; }
done
# without inputs.log, the LSTM reads raw P (it generalised better so, docs/results.md)
awk '$1 == "P" && $2 == 0 { ok = 1 } END { exit !ok }' "$WORK/run/normalisation.txt" || { echo "default inputs.log for lstm: P log-transformed"; exit 1; }
first=$(awk -F, 'NR==2{print $2}' "$WORK/run/loss.csv"); last=$(awk -F, 'END{print $2}' "$WORK/run/loss.csv")
awk -v a="$first" -v b="$last" 'BEGIN{ if (!(b < a)) { print "loss did not fall: " a " -> " b; exit 1 } }'
"$BIN" test "$WORK/run" > "$WORK/test.out" 2>&1 || { cat "$WORK/test.out"; exit 1; }
head -1 "$WORK/run/metrics_test.csv" | grep -q '^basin,NSE,KGE,' || { echo "bad metrics header"; exit 1; }
[ "$(wc -l < "$WORK/run/metrics_test.csv")" -eq 4 ] || { echo "expected 3 basins in metrics"; exit 1; }
nse=$(awk '$1=="NSE"{print $2}' "$WORK/test.out")
awk -v n="$nse" 'BEGIN{ if (!(n > 0.3)) { print "test median NSE too low: " n; exit 1 } }'
[ -s "$WORK/run/predictions_test/01022500.csv" ] && [ -s "$WORK/run/predictions_test.nc" ] || { echo "no predictions"; exit 1; }
# scoring another period writes its own files and log, and leaves the test results alone
cp "$WORK/run/test.log" "$WORK/test.log.before"
"$BIN" test "$WORK/run" --period train > "$WORK/test_train.out" 2>&1 || { cat "$WORK/test_train.out"; exit 1; }
cmp -s "$WORK/run/test.log" "$WORK/test.log.before" || { echo "test --period train changed test.log"; exit 1; }
[ -s "$WORK/run/eval_train.log" ] && [ -s "$WORK/run/metrics_train.csv" ] || { echo "no eval_train.log / metrics_train.csv"; exit 1; }
# a period the config does not define: an error naming the file and both keys
if "$BIN" test "$WORK/run" --period valid > "$WORK/test_valid.out" 2>&1; then echo "undefined valid period accepted"; exit 1; fi
grep -q "config.yaml: no valid valid period (periods.valid_start, periods.valid_end)" "$WORK/test_valid.out" || { cat "$WORK/test_valid.out"; exit 1; }
# figures: gnuplot is required; it must report nothing (its stderr reaches plot.out)
source "$(dirname "$0")/png_check.sh"
require_gnuplot
"$BIN" plot "$WORK/run" > "$WORK/plot.out" 2>&1 || { cat "$WORK/plot.out"; echo "plot failed"; exit 1; }
if grep -qi "warning\|error" "$WORK/plot.out"; then cat "$WORK/plot.out"; echo "gnuplot reported a problem"; exit 1; fi
for f in loss.png nse_cdf.png hydrograph_01022500.png; do png_check "$WORK/run/plots/$f" 1000 500 || exit 1; done
# resume continues from the checkpoint without redoing epochs
sed -i 's/epochs: 6/epochs: 7/' "$WORK/run/config.yaml"
"$BIN" train "$WORK/run/config.yaml" --resume --out "$WORK/run" > "$WORK/resume.out" 2>&1 || { cat "$WORK/resume.out"; exit 1; }
grep -q "resumed from .* after epoch 6" "$WORK/run/train.log" || { echo "resume not logged"; exit 1; }
[ "$(grep -c '^7,' "$WORK/run/loss.csv")" -eq 1 ] || { echo "resume: epoch 7 missing"; exit 1; }
# bad config keys are errors with the line
printf 'data:\n  source: caravan\n  path: x\n  bogus: 1\n' > "$WORK/bad.yaml"
if "$BIN" train "$WORK/bad.yaml" > "$WORK/bad.out" 2>&1; then echo "bad config accepted"; exit 1; fi
grep -q "bad.yaml:4: unknown key 'data.bogus'" "$WORK/bad.out" || { cat "$WORK/bad.out"; exit 1; }
echo "cli_train: NSE $nse, loss $first -> $last"
echo "1 passed, 0 failed"
