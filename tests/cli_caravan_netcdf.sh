#!/usr/bin/env bash
# Caravan as published in NetCDF (data.format: netcdf): NetCDF files made here from the real
# CSV sample with pandas + xarray (tests/make_caravan_netcdf.py, in the work folder); an LSTM
# trained and tested through data.source caravan with a data.variables map gives the same
# metrics and predictions from the NetCDF files as from the CSV files, byte for byte. A
# variable the files lack is an error naming the file and the variable; data.format netcdf
# with another source is an error naming the config line.
set -uo pipefail
BIN=$1; DATA=$2; WORK=$3
PY=${TG_PYTHON:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)
rm -rf "$WORK"; mkdir -p "$WORK"
fail=0
check() { if [ "$2" -eq 0 ]; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }
"$PY" "$HERE/make_caravan_netcdf.py" "$DATA/caravan_official_sample" "$WORK/nc" > "$WORK/make.out" 2>&1
check "NetCDF fixtures from the CSV sample ($(wc -l < "$WORK/make.out") files)" $?
mkcfg() {  # mkcfg FILE RUN PATH FORMAT
  cat > "$1" <<YAML
seed: 2
output:
  dir: $2
  plots: false
data:
  source: caravan
  format: $4
  path: $3
  attributes: $DATA/caravan_official_sample
  attribute_names: [p_mean, aridity, area]
  variables:
    P: total_precipitation_sum
    T: temperature_2m_mean
    PET: potential_evaporation_sum
    Q: streamflow
periods:
  train_start: 2001-01-01
  train_end: 2008-12-31
  test_start: 2011-01-01
  test_end: 2015-12-31
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
}
mkcfg "$WORK/csv.yaml" "$WORK/run_csv" "$DATA/caravan_official_sample" csv
mkcfg "$WORK/nc.yaml" "$WORK/run_nc" "$WORK/nc" netcdf
for f in csv nc; do
  "$BIN" train "$WORK/$f.yaml" > "$WORK/$f.train.out" 2>&1 && "$BIN" test "$WORK/run_$f" > "$WORK/$f.test.out" 2>&1
  check "train + test from $f (exit $?)" $?
done
[ -s "$WORK/run_nc/metrics_test.csv" ] && cmp "$WORK/run_csv/metrics_test.csv" "$WORK/run_nc/metrics_test.csv"
check "metrics_test.csv byte-identical ($(($(wc -l < "$WORK/run_nc/metrics_test.csv") - 1)) basins)" $?
diff -r "$WORK/run_csv/predictions_test" "$WORK/run_nc/predictions_test" > /dev/null
check "predictions_test/*.csv byte-identical" $?
cmp "$WORK/run_csv/normalisation.txt" "$WORK/run_nc/normalisation.txt"
check "normalisation statistics identical" $?
grep -q "published layout, netcdf" "$WORK/run_nc/train.log"
check "the log names the NetCDF layout" $?

"$BIN" train "$WORK/nc.yaml" --out "$WORK/bad" --set data.variables.P=no_such_variable > "$WORK/bad.out" 2>&1
st=$?
grep -Eq "nc/timeseries/netcdf/[a-z]+/[a-z]+_[0-9]+\.nc: variable 'no_such_variable': no such variable \(wanted for variable P\)" "$WORK/bad.out" \
  && [ $st -ne 0 ]
check "a variable the files lack: file and variable named (exit $st)" $?
sed -e 's/source: caravan/source: csv/' "$WORK/nc.yaml" > "$WORK/other.yaml"
"$BIN" train "$WORK/other.yaml" --out "$WORK/other" > "$WORK/other.out" 2>&1
st=$?
grep -q "other.yaml:7: data.format: netcdf is read for data.source caravan" "$WORK/other.out" && [ $st -ne 0 ]
check "data.format netcdf with another source: config line named (exit $st)" $?
[ $fail -eq 0 ] || for f in "$WORK"/*.out; do echo "== $f"; tail -5 "$f"; done
exit $fail
