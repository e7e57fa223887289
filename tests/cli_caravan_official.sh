#!/usr/bin/env bash
# `data.source: caravan` on Caravan as published (the real 5-basin sample, 3 sources, files
# with different column sets): train and test an LSTM, ids keep their source prefix, the
# data.variables map chooses columns by name (P from E-OBS instead of ERA5-Land changes the
# inputs, so the normalisation statistics), static attributes from Caravan's three attribute
# files joined on gauge_id, and a column the files lack is a clear error.
set -uo pipefail
BIN=$1; DATA=$2; WORK=$3
rm -rf "$WORK"; mkdir -p "$WORK"
fail=0
check() { if [ "$2" -eq 0 ]; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }
cat > "$WORK/off.yaml" <<'YAML'
seed: 1
output:
  dir: run
  plots: false
data:
  source: caravan
  path: ${TG_SHARED_DATA}/caravan_official_sample
  attributes: ${TG_SHARED_DATA}/caravan_official_sample
  attribute_names: [p_mean, aridity, ele_mt_sav, area]
periods:
  train_start: 2001-01-01
  train_end: 2010-12-31
  test_start: 2011-01-01
  test_end: 2019-12-31
inputs:
  dynamic: [P, T, PET]
model:
  type: lstm
  hidden: 8
training:
  epochs: 1
  iterations: 3
  batch: 4
  warmup: 90
  horizon: 90
YAML
export TG_SHARED_DATA=$DATA
"$BIN" train "$WORK/off.yaml" > "$WORK/train.out" 2>&1
check "train on the published layout (exit $?)" $?
"$BIN" test "$WORK/run" > "$WORK/test.out" 2>&1
check "test (exit $?)" $?
[ "$(cut -d, -f1 "$WORK/run/metrics_test.csv" | tail -n +2 | tr '\n' ' ')" = \
  "camelsch_4001 camelsch_4003 camelses_1414 camelslx_054 camelslx_055 " ]
check "metrics for the 5 basins, ids with their source prefix" $?
grep -q "^  source: caravan" "$WORK/run/config.yaml"
check "run config records the source" $?
grep -q "static attributes: 4 columns" "$WORK/run/train.log"
check "attributes joined from Caravan's three files (caravan, hydroatlas, other)" $?

"$BIN" train "$WORK/off.yaml" --out "$WORK/run_eobs" --set data.variables.P=eobs > "$WORK/eobs.out" 2>&1
check "train with data.variables.P=eobs (exit $?)" $?
p1=$(grep -m1 "^P " "$WORK/run/normalisation.txt"); p2=$(grep -m1 "^P " "$WORK/run_eobs/normalisation.txt")
[ -n "$p1" ] && [ -n "$p2" ] && [ "$p1" != "$p2" ]
check "P read from another column: other normalisation ($p1 | $p2)" $?

"$BIN" train "$WORK/off.yaml" --out "$WORK/bad" --set data.variables.P=no_such_column > "$WORK/bad.out" 2>&1
st=$?
grep -Eq "caravan_official_sample/timeseries/csv/[a-z]+/[a-z]+_[0-9]+\.csv: line 1, field 'no_such_column': no such column \(wanted for variable P\)" "$WORK/bad.out" \
    && [ $st -ne 0 ]
check "a column the files lack: file, line, column and variable named (exit $st)" $?
[ $fail -eq 0 ] || { for f in "$WORK"/*.out; do echo "== $f"; tail -5 "$f"; done; head -5 "$WORK/run/normalisation.txt"; }
exit $fail
