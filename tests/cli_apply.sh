#!/usr/bin/env bash
# A trained run applied anywhere: `terragrad test RUN --data/--basins/--out` scores other
# basins with the run's own normalisation, `terragrad predict` writes series for basins
# without streamflow. Properties checked (each comparison fails without the property):
#  - applying the run to a SUBSET of its own basins (--basins, --data) reproduces the
#    run's own test predictions and NSE (to round-off: a forward pass over 1 basin instead
#    of 3 may take another GEMM kernel path; byte-identical in the float Release build): the
#    normalisation is the run's (refitted on one basin, every input's mean/std would change
#    and so would Q, by far more than the tolerance);
#  - scoring other basins writes their metrics into RUN/apply_<data>/, leaves the run's own
#    outputs and normalisation.txt untouched, and lists attributes outside the training range
#    (checked against min..max recomputed here from the CAMELS attribute file);
#  - predict on a folder whose Q column is all missing, and on a csv folder with no Q
#    column, gives exactly the Q of the run's own test over the same days (no observation
#    leaks in; the warm-up comes from the data), and a δHBV run writes every flux and state;
#  - test on basins without observed streamflow names each (stderr and the log) and points
#    to predict, scores the others as the run's own test; with none observed it fails;
#  - bad input: a missing folder, a basin that is not there, dates the forcing does not
#    cover (warm-up included), a bad --set: non-zero exit and a message naming file/field,
#    and no output folder left behind.
set -uo pipefail
BIN=$1; DATA=$2; WORK=$3
source "$(dirname "$0")/small_config.sh"
rm -rf "$WORK"; mkdir -p "$WORK"
fail=0
check() { if [ "$2" -eq 0 ]; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }
die() { echo "FAIL: $*"; exit 1; }
mkcfg() {  # mkcfg FILE RUN_DIR TYPE
  small_config dir="$2" train="1985-01-01 1988-12-31" test="1991-01-01 1992-12-31" > "$1"
  cat >> "$1" <<YAML
inputs:
  dynamic: [P, T, PET]
model:
  type: $3
  hidden: 8
optim:
  lr: 0.01
training:
  epochs: 1
  iterations: 4
  batch: 8
  warmup: 90
  horizon: 180
YAML
}
RUN=$WORK/run
mkcfg "$WORK/run.yaml" "$RUN" lstm
"$BIN" train "$WORK/run.yaml" > "$WORK/train.out" 2>&1 || { cat "$WORK/train.out"; die "train"; }
"$BIN" test "$RUN" > "$WORK/test.out" 2>&1 || { cat "$WORK/test.out"; die "test"; }
cp "$RUN/normalisation.txt" "$WORK/norm.before"
cp "$RUN/metrics_test.csv" "$WORK/metrics.before"

# 1. one of the run's own basins, through --data and --basins: the run's own numbers
echo 01031500 > "$WORK/one.txt"
"$BIN" test "$RUN" --data "$DATA/caravan_camels_us" --basins "$WORK/one.txt" --out "$WORK/one" > "$WORK/one.out" 2>&1
check "test --data --basins (exit $?)" $?
# |a - b| <= rtol * max(|a|, |b|) + atol per day; rtol 1e-5 is ~100 float epsilons (the
# round-off of another summation order carried through 2 years of LSTM steps), atol 1e-7
# mm/day for days of near-zero flow; a refitted normalisation moves Q by > 1e-3 relative
close() {  # close A.csv B.csv COLUMN RTOL ATOL
  /usr/bin/python3 - "$@" <<'PY'
import csv, sys
a, b, col, rtol, atol = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
get = (lambda r: 1 - float(r[col[2:]])) if col.startswith("1-") else (lambda r: r[col])
x = [get(r) for r in csv.DictReader(open(a))]
y = [get(r) for r in csv.DictReader(open(b))]
assert len(x) == len(y) > 0, (len(x), len(y))
worst = 0.0
for u, v in zip(x, y):
    u, v = float(u), float(v)
    worst = max(worst, abs(u - v) / (rtol * max(abs(u), abs(v)) + atol))
print(f"{col}: worst |a-b| / (rtol*max+atol) = {worst:.3g}")
sys.exit(0 if worst <= 1 else 1)
PY
}
close "$RUN/predictions_test/01031500.csv" "$WORK/one/predictions_test/01031500.csv" Q 1e-5 1e-7 > "$WORK/close.out"
rc=$?; check "own basin via --data: predictions = terragrad test's ($(cat "$WORK/close.out"))" $rc
grep '^basin\|^01031500,' "$RUN/metrics_test.csv" > "$WORK/m_run.csv"
# NSE: the same tolerance on 1 - NSE = SSE/SST (it moves with the Q round-off above)
close "$WORK/m_run.csv" "$WORK/one/metrics_test.csv" 1-NSE 1e-5 1e-7 > "$WORK/close.out"
rc=$?; check "own basin via --data: NSE = terragrad test's ($(cat "$WORK/close.out"))" $rc
[ "$(wc -l < "$WORK/one/metrics_test.csv")" -eq 2 ]
check "only the listed basin scored" $?

# 2. other basins of the folder: default output folder RUN/apply_<data name>
mkdir -p "$WORK/other/timeseries"
for b in 01134500 01139000 01169000; do cp "$DATA/caravan_camels_us/timeseries/$b.csv" "$WORK/other/timeseries/"; done
"$BIN" test "$RUN" --data "$WORK/other" > "$WORK/other.out" 2>&1
check "test --data other basins (exit $?)" $?
OUT=$RUN/apply_other
[ "$(wc -l < "$OUT/metrics_test.csv")" -eq 4 ] && head -1 "$OUT/metrics_test.csv" | grep -q '^basin,NSE,KGE,'
check "metrics of the 3 other basins in RUN/apply_other/metrics_test.csv" $?
awk -F, 'NR > 1 && !($2 == $2 + 0 && $2 <= 1) { bad = 1 } END { exit bad }' "$OUT/metrics_test.csv"
check "their NSE values are numbers <= 1" $?
cmp -s "$RUN/metrics_test.csv" "$WORK/metrics.before" && cmp -s "$RUN/normalisation.txt" "$WORK/norm.before"
check "the run's own metrics_test.csv and normalisation.txt unchanged" $?
# attributes outside the training range, recomputed from the CAMELS files
/usr/bin/python3 - "$DATA/camels_us/camels_attributes_v2.0" "$OUT/attributes_range_test.csv" > "$WORK/range.out" 2>&1 <<'PY'
import csv, glob, sys
vals = {}
for f in glob.glob(sys.argv[1] + "/camels_*.txt"):
    for row in csv.DictReader(open(f), delimiter=";"):
        for k in ("p_mean", "aridity", "frac_snow", "elev_mean"):
            if k in row:
                vals.setdefault(row["gauge_id"].strip(), {})[k] = float(row[k])
train = ["01022500", "01031500", "01047000"]
want = {}
for b in ["01134500", "01139000", "01169000"]:
    want[b] = sorted(k for k in vals[b] if not min(vals[t][k] for t in train) <= vals[b][k] <= max(vals[t][k] for t in train))
got = {}
for r in csv.DictReader(open(sys.argv[2])):  # name=value[min..max] ...
    items = [x.split("=") for x in r["outside"].split()]
    got[r["basin"]] = sorted(k for k, _ in items)
    for k, v in items:  # the value and the range written are the file's
        x, lohi = v.rstrip("]").split("[")
        lo, hi = map(float, lohi.split(".."))
        t = [vals[b][k] for b in train]
        assert abs(float(x) - vals[r["basin"]][k]) <= 1e-5 * abs(vals[r["basin"]][k]), (k, x)
        assert abs(lo - min(t)) <= 1e-5 * abs(min(t)) and abs(hi - max(t)) <= 1e-5 * abs(max(t)), (k, lohi)
        assert int(r["n_outside"]) == len(items)
print("expected", want, "written", got)
sys.exit(0 if got == want and any(want.values()) else 1)
PY
rc=$?; check "attributes_range_test.csv: the attributes outside the training min..max ($(tail -1 "$WORK/range.out"))" $rc
grep -q "static attribute.* outside the training basins' range" "$OUT/test.log"
check "attributes outside the range listed in the log" $?

# 3. predict where Q is not observed: an all-missing Q column, and a csv folder with none
mkdir -p "$WORK/noq/timeseries" "$WORK/csvq"
for b in 01022500 01031500 01047000; do  # the run's basins: the same forward passes as its test
  awk -F, '{print $1","$2","$3",NA"}' "$DATA/caravan_camels_us/timeseries/$b.csv" > "$WORK/noq/timeseries/$b.csv"
done
/usr/bin/python3 - "$DATA/caravan_camels_us/timeseries" "$WORK/csvq" <<'PY'
import datetime, sys
for b in ["01022500", "01031500", "01047000"]:  # the derived layout's rows are days from 1981-01-01
    rows = open(f"{sys.argv[1]}/{b}.csv").read().split()
    with open(f"{sys.argv[2]}/{b}.csv", "w") as f:
        f.write("date,P,T,PET\n")
        for i, r in enumerate(rows):
            f.write(f"{datetime.date(1981, 1, 1) + datetime.timedelta(i)},{','.join(r.split(',')[:3])}\n")
PY
"$BIN" predict "$RUN" --data "$WORK/noq" --start 1991-01-01 --end 1992-12-31 --out "$WORK/pred" > "$WORK/pred.out" 2>&1
check "predict with Q all missing (exit $?)" $?
cmp -s <(cut -d, -f1,3 "$RUN/predictions_test/01022500.csv") <(cut -d, -f1,3 "$WORK/pred/predictions_predict/01022500.csv")
check "predicted Q = the run's own test Q over the same days" $?
[ ! -e "$WORK/pred/metrics_predict.csv" ] && awk -F, 'NR > 1 && $2 != "NA" { bad = 1 } END { exit bad }' "$WORK/pred/predictions_predict/01031500.csv"
check "no metrics, Q_obs NA throughout" $?
"$BIN" predict "$RUN" --data "$WORK/csvq" --set data.source=csv --start 1991-01-01 --end 1992-12-31 --out "$WORK/predcsv" > "$WORK/predcsv.out" 2>&1
check "predict on csv files without a Q column (exit $?)" $?
cmp -s <(cut -d, -f1,3 "$RUN/predictions_test/01031500.csv") <(cut -d, -f1,3 "$WORK/predcsv/predictions_predict/01031500.csv")
check "csv without Q: the same Q" $?

# 3b. scoring where Q is not observed: each such basin named (its file, the period and
# `terragrad predict`) on stderr and in the log, its metrics NaN, the other basins' metrics
# those of the run's own test; no basin with Q (all missing, or no Q column): non-zero exit
# with that message and no output folder
mkdir -p "$WORK/mixq/timeseries"
cp "$WORK/noq/timeseries/01022500.csv" "$WORK/mixq/timeseries/"
for b in 01031500 01047000; do cp "$DATA/caravan_camels_us/timeseries/$b.csv" "$WORK/mixq/timeseries/"; done
"$BIN" test "$RUN" --data "$WORK/mixq" --out "$WORK/mixq_out" > "$WORK/mixq.out" 2> "$WORK/mixq.err"
check "test --data with one basin without Q (exit $?)" $?
msg="mixq/timeseries/01022500.csv: basin 01022500 has no observed streamflow (Q) in the test period 1991-01-01..1992-12-31: its metrics are NaN; .terragrad predict. is the command"
grep -q "$msg" "$WORK/mixq.err" && grep -q "$msg" "$WORK/mixq_out/test.log" &&
  [ "$(grep -c 'no observed streamflow' "$WORK/mixq.err")" -eq 1 ] && ! grep -q 'no observed streamflow' "$WORK/mixq.out"
check "the basin without Q named on stderr and in test.log (it alone; not in stdout's report)" $?
awk -F, '$1 == "01022500" { found = 1; for (i = 2; i < NF; i++) if ($i != "nan") bad = 1 } END { exit !found || bad }' \
  "$WORK/mixq_out/metrics_test.csv"
check "its metrics row is NaN" $?
grep '^basin\|^01031500,\|^01047000,' "$WORK/metrics.before" > "$WORK/m_run2.csv"
grep '^basin\|^01031500,\|^01047000,' "$WORK/mixq_out/metrics_test.csv" > "$WORK/m_mix.csv"
close "$WORK/m_run2.csv" "$WORK/m_mix.csv" 1-NSE 1e-5 1e-7 > "$WORK/close.out"
rc=$?; check "the other basins' NSE = the run's own test ($(cat "$WORK/close.out"))" $rc
"$BIN" test "$RUN" --data "$WORK/noq" --out "$WORK/noq_out" > "$WORK/noq_test.out" 2>&1
rc=$?
[ $rc -ne 0 ] && [ ! -e "$WORK/noq_out" ] && grep -q "noq: none of the 3 basins has observed streamflow (Q) in the test period 1991-01-01..1992-12-31: nothing to score; .terragrad predict RUN" "$WORK/noq_test.out"
check "test --data where no basin has Q: exit $rc, the message, no output folder" $?
"$BIN" test "$RUN" --data "$WORK/csvq" --set data.source=csv --out "$WORK/csvq_out" > "$WORK/csvq_test.out" 2>&1
rc=$?
[ $rc -ne 0 ] && [ ! -e "$WORK/csvq_out" ] && grep -q "csvq: none of the 3 basins has observed streamflow (Q) in the test period .*terragrad predict RUN" "$WORK/csvq_test.out"
check "test --data on files without a Q column: exit $rc, the same message" $?

# 4. a δHBV run: predict writes every flux and state it has
mkcfg "$WORK/dhbv.yaml" "$WORK/dhbv" dhbv
"$BIN" train "$WORK/dhbv.yaml" > "$WORK/dhbv.out" 2>&1 || { cat "$WORK/dhbv.out"; die "train dhbv"; }
"$BIN" predict "$WORK/dhbv" --data "$WORK/noq" --start 1992-01-01 --end 1992-06-30 --out "$WORK/pred_dhbv" > "$WORK/pd.out" 2>&1
check "predict with a δHBV run (exit $?)" $?
hdr=$(head -1 "$WORK/pred_dhbv/predictions_predict/01022500.csv")
for col in Q PET ET SWE SM SUZ SLZ; do echo ",$hdr," | grep -q ",$col," || { echo "missing column $col in: $hdr"; false; }; done
check "δHBV predictions carry fluxes and states ($hdr)" $?
[ "$(wc -l < "$WORK/pred_dhbv/predictions_predict/01022500.csv")" -eq 183 ] && [ -s "$WORK/pred_dhbv/params_predict.csv" ]
check "182 days and learned parameters" $?

# 5. bad input: non-zero exit, a message naming the file/field, no folder left behind
expect_error() {  # expect_error NAME PATTERN OUTDIR ARGS...
  local name=$1 pat=$2 out=$3; shift 3
  if "$BIN" "$@" > "$WORK/err.out" 2>&1; then echo "FAIL $name: accepted"; fail=1; return; fi
  grep -q -- "$pat" "$WORK/err.out" || { echo "FAIL $name: message"; cat "$WORK/err.out"; fail=1; return; }
  [ -z "$out" ] || [ ! -e "$out" ] || { echo "FAIL $name: left $out"; fail=1; return; }
  echo "ok   $name: $(tail -1 "$WORK/err.out")"
}
expect_error "missing data folder" "$WORK/nowhere: no such data folder" "$WORK/e1" \
  predict "$RUN" --data "$WORK/nowhere" --start 1991-01-01 --end 1991-12-31 --out "$WORK/e1"
echo 99999999 > "$WORK/bad.txt"
expect_error "basin not in the folder" "noq/timeseries/99999999.csv: cannot open" "$WORK/e2" \
  test "$RUN" --data "$WORK/noq" --basins "$WORK/bad.txt" --out "$WORK/e2"
expect_error "warm-up before the data" "noq/timeseries/01022500.csv: the forcing covers 1981-01-01..2014-12-31, but .* needs 1980-11-03..1981-12-31" "$WORK/e3" \
  predict "$RUN" --data "$WORK/noq" --start 1981-02-01 --end 1981-12-31 --out "$WORK/e3"
expect_error "end after the data" "needs 2014-03-03..2015-01-31" "$WORK/e4" \
  predict "$RUN" --data "$WORK/noq" --start 2014-06-01 --end 2015-01-31 --out "$WORK/e4"
awk -F, 'NR == 400 { $1 = "NA" } { print }' OFS=, "$WORK/noq/timeseries/01031500.csv" > "$WORK/p.csv" && mv "$WORK/p.csv" "$WORK/noq/timeseries/01031500.csv"
expect_error "missing forcing inside the warm-up" "01031500.csv: field 'P': missing on 1982-02-04" "$WORK/e5" \
  predict "$RUN" --data "$WORK/noq" --start 1982-03-01 --end 1982-12-31 --out "$WORK/e5"
expect_error "bad date" "start date '1991-13-01'" "" \
  predict "$RUN" --data "$WORK/noq" --start 1991-13-01 --end 1991-12-31 --out "$WORK/e6"
expect_error "bad --set" "unknown key 'training.bogus'" "" test "$RUN" --data "$WORK/other" --set training.bogus=1
expect_error "predict without --out" "--out is required" "" predict "$RUN" --data "$WORK/noq" --start 1991-01-01 --end 1991-12-31
[ $fail -eq 0 ] && echo "cli_apply: all checks passed"
exit $fail
