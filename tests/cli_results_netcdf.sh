#!/usr/bin/env bash
# predictions_<period>.nc against the CSV files of the same `terragrad test` (an LSTM run
# and a δHBV 1.1p run: 17 outputs, parameter C, routing): /usr/bin/python3 + xarray opens
# the file and tests/results_netcdf_check.py compares every series, metric and parameter
# with the CSV's printed digits, basin_id as str, units and long_name on every variable, the
# daily values of the dynamic parameters (BETA, C) and the provenance attributes.
set -uo pipefail
BIN=$1; DATA=$2; WORK=$3
PY=${TG_PYTHON:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)
rm -rf "$WORK"; mkdir -p "$WORK"
"$PY" -c "import xarray, netCDF4" || { echo "FAIL: $PY lacks xarray or netCDF4 (scripts/deps.sh)"; exit 1; }
fail=0
mkcfg() {  # mkcfg FILE RUN_DIR TYPE
  cat > "$1" <<YAML
seed: 3
output:
  dir: $2
  plots: false
data:
  source: caravan
  path: $DATA/caravan_camels_us
  basins: ['01022500', '01031500', '01047000']
  attributes: $DATA/camels_us/camels_attributes_v2.0
  attribute_names: [p_mean, aridity, elev_mean]
periods:
  train_start: 1990-01-01
  train_end: 1992-12-31
  test_start: 1993-01-01
  test_end: 1993-12-31
model:
  type: $3
  hidden: 8
training:
  epochs: 1
  iterations: 2
  batch: 3
  warmup: 90
  horizon: 90
YAML
  if [ "$3" = dhbv ]; then printf 'hbv:\n  components: 2\n  capillary: true\n  dynamic: [BETA, C]\n' >> "$1"; fi
}
for kind in lstm dhbv; do
  mkcfg "$WORK/$kind.yaml" "$WORK/$kind" $kind
  if ! "$BIN" train "$WORK/$kind.yaml" > "$WORK/$kind.train.out" 2>&1 || \
     ! "$BIN" test "$WORK/$kind" > "$WORK/$kind.test.out" 2>&1; then
    echo "FAIL $kind: train/test"; tail -5 "$WORK/$kind".*.out; fail=1; continue
  fi
  dyn=""; [ $kind = dhbv ] && dyn=BETA,C
  "$PY" "$HERE/results_netcdf_check.py" "$WORK/$kind" test $kind "$dyn" > "$WORK/$kind.check.out" 2>&1
  st=$?
  grep -c "^ok" "$WORK/$kind.check.out" | sed "s/^/$kind: checks passed: /"
  if [ $st -ne 0 ]; then echo "FAIL $kind: NetCDF vs CSV"; grep -v "^ok" "$WORK/$kind.check.out" | head -20; fail=1
  else echo "ok   $kind: predictions_test.nc = CSV outputs"; fi
done
exit $fail
