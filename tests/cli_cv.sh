#!/usr/bin/env bash
# terragrad cv: spatial k-fold cross-validation on 6 Caravan basins (3 in HUC-02 region 01,
# 3 in 02), 3 folds stratified by huc_02, 1 tiny epoch per fold. Checked:
#  - every basin is in cv_metrics.csv exactly once, with the fold that held it out: listed in
#    that fold's test list, absent from its training list, and the fold's run trained on the
#    training list only (its config.yaml and train.log);
#  - each merged row is what `terragrad test FOLD_RUN --basins <that basin>` gives (the
#    model that never saw it), and cv_summary.csv's median NSE is the median of the table;
#  - stratified: every fold holds one basin of each region;
#  - deterministic: a second invocation gives the same folds and the same table; a
#    different seed gives other folds (so the comparison can see a difference);
#  - under mpirun -np 2 (MPI builds) the table is byte-identical to the serial one;
#  - errors: more folds than basins, an unknown --by attribute.
set -uo pipefail
BIN=$1; DATA=$2; WORK=$3
rm -rf "$WORK"; mkdir -p "$WORK"
fail=0
check() { if [ "$2" -eq 0 ]; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }
cat > "$WORK/cv.yaml" <<YAML
seed: 5
data:
  source: caravan
  path: $DATA/caravan_camels_us
  basins: ['01022500', '01031500', '01047000', '01333000', '01350000', '01413500']
  attributes: $DATA/camels_us/camels_attributes_v2.0
  attribute_names: [p_mean, aridity, frac_snow, elev_mean]
periods:
  train_start: 1985-01-01
  train_end: 1987-12-31
  test_start: 1991-01-01
  test_end: 1992-12-31
model:
  type: lstm
  hidden: 8
optim:
  lr: 0.01
training:
  epochs: 1
  iterations: 3
  batch: 8
  warmup: 60
  horizon: 120
  chunks: 2
YAML
CV=$WORK/cv1
"$BIN" cv "$WORK/cv.yaml" --folds 3 --by huc_02 --out "$CV" > "$WORK/cv1.out" 2>&1
check "cv --folds 3 --by huc_02 (exit $?)" $?
[ "$(tail -n +2 "$CV/cv_metrics.csv" | cut -d, -f1 | sort | uniq -c | awk '$1 == 1' | wc -l)" -eq 6 ] &&
  [ "$(wc -l < "$CV/cv_metrics.csv")" -eq 7 ] && head -1 "$CV/cv_metrics.csv" | grep -q '^basin,fold,NSE,'
check "cv_metrics.csv: 6 basins, each exactly once, header basin,fold,NSE,..." $?
ok=0
while IFS=, read -r b f rest; do
  grep -qx "$b" "$CV/fold_${f}_test.txt" && ! grep -qx "$b" "$CV/fold_${f}_train.txt" || { echo "  $b: not held out by fold $f"; ok=1; }
  grep -qx "  basin_file: $CV/fold_${f}_train.txt" "$CV/fold_$f/config.yaml" || { echo "  fold $f config.yaml: no basin_file"; ok=1; }
  grep -q "^data: 4 basins" "$CV/fold_$f/train.log" || { echo "  fold $f did not train on 4 basins"; ok=1; }
  # the fold's run scored on its held-out list directly (the same forward pass: byte-identical)
  [ -e "$WORK/direct_$f" ] || "$BIN" test "$CV/fold_$f" --basins "$CV/fold_${f}_test.txt" --out "$WORK/direct_$f" \
    > /dev/null 2>&1 || { echo "  test of fold $f failed"; ok=1; }
  [ "$b,$f,$rest" = "$(grep "^$b," "$WORK/direct_$f/metrics_test.csv" | sed "s/^$b,/$b,$f,/")" ] ||
    { echo "  $b: merged row differs from terragrad test fold_$f --basins fold_${f}_test.txt"; ok=1; }
done < <(tail -n +2 "$CV/cv_metrics.csv")
check "each basin scored by the fold that never trained on it (= terragrad test of that fold's run)" $ok
want=$(tail -n +2 "$CV/cv_metrics.csv" | cut -d, -f3 | sort -g | awk '{ v[NR] = $1 } END { printf "%.6f", (v[3] + v[4]) / 2 }')
got=$(awk -F, '$1 == "NSE" { printf "%.6f", $2 }' "$CV/cv_summary.csv")
[ -n "$want" ] && [ "$want" = "$got" ]
check "cv_summary.csv median NSE $got = median of the table $want" $?
ok=0
for f in 0 1 2; do
  n01=$(grep -c '^01[01]' "$CV/fold_${f}_test.txt"); n02=$(grep -c -E '^01(333|350|413)' "$CV/fold_${f}_test.txt")
  [ "$n01" -eq 1 ] && [ "$n02" -eq 1 ] || { echo "  fold $f: $n01 of region 01, $n02 of region 02"; ok=1; }
done
check "stratified: each fold holds one basin of each HUC-02 region" $ok
ok=0  # 10 seeds: an unstratified random split is balanced with probability 0.4 each time
for s in 1 2 3 4 5 6 7 8 9 10; do
  "$BIN" cv "$WORK/cv.yaml" --folds 3 --by huc_02 --folds-only --set seed=$s --out "$WORK/f$s" > /dev/null 2>&1 || ok=1
  # the region from the data's basins.csv, not from folds.csv: each (fold, region) pair once
  [ "$(awk -F, 'FNR == 1 { next } NR == FNR { huc[$1] = $2; next } { n[$2 "," huc[$1]]++ }
       END { for (k in n) if (n[k] != 1) bad = 1; print length(n) == 6 && !bad }' \
       "$DATA/caravan_camels_us/basins.csv" "$WORK/f$s/folds.csv")" = 1 ] || { echo "  seed $s: unbalanced"; ok=1; }
  [ ! -e "$WORK/f$s/fold_0" ] || { echo "  --folds-only trained"; ok=1; }
done
check "stratified for 10 seeds (folds-only: nothing trained)" $ok
"$BIN" cv "$WORK/cv.yaml" --folds 3 --by huc_02 --out "$WORK/cv2" > "$WORK/cv2.out" 2>&1
cmp -s "$CV/folds.csv" "$WORK/cv2/folds.csv" && cmp -s "$CV/cv_metrics.csv" "$WORK/cv2/cv_metrics.csv"
check "a second invocation: same folds, byte-identical table" $?
"$BIN" cv "$WORK/cv.yaml" --folds 3 --by huc_02 --out "$WORK/cv3" --set seed=11 > "$WORK/cv3.out" 2>&1
! cmp -s "$CV/folds.csv" "$WORK/cv3/folds.csv"
check "another seed: other folds" $?
if "$BIN" --help | head -1 | grep -q "MPI)" && command -v mpirun > /dev/null; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ASAN_OPTIONS=detect_leaks=0
  OMP_NUM_THREADS=1 mpirun --allow-run-as-root --oversubscribe -np 2 "$BIN" cv "$WORK/cv.yaml" --folds 3 --by huc_02 \
    --out "$WORK/cvmpi" > "$WORK/cvmpi.out" 2>&1
  check "cv under mpirun -np 2 (exit $?)" $?
  grep -q "2 ranks, MPI" "$WORK/cvmpi/fold_0/train.log" && cmp -s "$CV/cv_metrics.csv" "$WORK/cvmpi/cv_metrics.csv"
  check "2 ranks: data-parallel folds, table byte-identical to the serial run" $?
else
  echo "skip mpirun -np 2: this build has no MPI"
fi
"$BIN" cv "$WORK/cv.yaml" --folds 7 --out "$WORK/e1" > "$WORK/e1.out" 2>&1
[ $? -ne 0 ] && grep -q "6 basins cannot make 7 folds" "$WORK/e1.out"
check "more folds than basins refused" $?
"$BIN" cv "$WORK/cv.yaml" --folds 2 --by no_such_attr --out "$WORK/e2" > "$WORK/e2.out" 2>&1
[ $? -ne 0 ] && grep -q "no_such_attr" "$WORK/e2.out"
rc=$?; check "unknown --by attribute refused ($(tail -1 "$WORK/e2.out"))" $rc
[ $fail -eq 0 ] && echo "cli_cv: all checks passed"
exit $fail
