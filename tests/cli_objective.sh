#!/usr/bin/env bash
# cli_objective.sh — the objective features end to end on a tiny LSTM (3 Caravan basins):
#   1. loss.type nse_kge trains (finite losses that fall) and resumes bit-identically, its
#      keys are refused with another loss.type and unknown loss.weights keys are errors;
#   2. a seed ensemble (seeds: [1, 2]) trains seed_1/ and seed_2/, `terragrad test` scores
#      the mean prediction, and that equals scripts/ensemble.sh on the same members;
#   3. `terragrad test --extremes` writes extremes_test.csv whose flood rows are peaks above
#      the training maximum (checked against the data) and logs the medians.
# usage: bash cli_objective.sh TERRAGRAD_BIN SHARED_DATA WORKDIR
set -u
BIN=$1; DATA=$2; W=$3
source "$(dirname "$0")/small_config.sh"
SCRIPTS=$(cd "$(dirname "$0")/../scripts" && pwd)
rm -rf "$W"; mkdir -p "$W"
fail=0
check() { if [ "$2" -eq 0 ]; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }
# training 1981-1983 only: the 1984-1990 test period has floods above its maximum
small_config seed= plots=false train="1981-01-01 1983-12-31" test="1984-01-01 1990-12-31" > "$W/base.yaml"
cat >> "$W/base.yaml" <<YAML
model:
  type: lstm
  hidden: 8
  dropout: 0.1
optim:
  lr: 0.01
training:
  epochs: 3
  iterations: 10
  batch: 8
  warmup: 60
  horizon: 120
YAML
{ echo "seed: 3"; cat "$W/base.yaml"; printf 'loss:\n  type: nse_kge\n  weights: {nse: 1, beta: 0.5, alpha: 0.5, logrmse: 0.2}\n'; } > "$W/nk.yaml"
"$BIN" train "$W/nk.yaml" --out "$W/nk" > "$W/nk.out" 2>&1
check "nse_kge: trains (exit 0)" $?
grep -q "loss nse_kge" "$W/nk/train.log"
check "nse_kge: train.log names the loss" $?
awk -F, 'NR == 2 { a = $2 } END { b = $2; ok = (a == a + 0 && b < a); exit !ok }' "$W/nk/loss.csv"
check "nse_kge: loss falls over 3 epochs ($(awk -F, 'NR>1{printf "%s ", $2}' "$W/nk/loss.csv"))" $?
# --resume continues bit-identically: the basins' running estimates are in last.ckpt
"$BIN" train "$W/nk.yaml" --out "$W/nk2" --set training.epochs=1 > /dev/null 2>&1 &&
  "$BIN" train "$W/nk.yaml" --out "$W/nk2" --resume > /dev/null 2>&1
check "nse_kge: 1 epoch + --resume to 3: exit 0" $?
cmp -s "$W/nk/last.ckpt" "$W/nk2/last.ckpt"
check "nse_kge: resumed checkpoint byte-identical to the uninterrupted run's" $?
"$BIN" train "$W/nk.yaml" --out "$W/bad1" --set loss.type=nse > /dev/null 2> "$W/bad1.err"
[ $? -ne 0 ] && grep -q "nk.yaml:.*loss.weights.nse.*only used by loss.type nse_kge" "$W/bad1.err"
check "nse_kge keys with loss.type nse: error naming file and key" $?
"$BIN" train "$W/nk.yaml" --out "$W/bad2" --set loss.weights.gamma=1 > /dev/null 2> "$W/bad2.err"
[ $? -ne 0 ] && grep -q "unknown key 'loss.weights.gamma'" "$W/bad2.err"
check "unknown loss.weights key: error" $?

# 2. seed ensemble
{ echo "seeds: [1, 2]"; cat "$W/base.yaml"; } > "$W/ens.yaml"
"$BIN" train "$W/ens.yaml" --out "$W/ens" > "$W/ens.out" 2>&1
check "ensemble: trains (exit 0)" $?
[ -s "$W/ens/seed_1/last.ckpt" ] && [ -s "$W/ens/seed_2/last.ckpt" ] && grep -q '^seed: 2' "$W/ens/seed_2/config.yaml"
check "ensemble: members seed_1/, seed_2/ are runs with their seed" $?
cmp -s "$W/ens/seed_1/loss.csv" "$W/ens/seed_2/loss.csv"
[ $? -ne 0 ]
check "ensemble: the members differ" $?
"$BIN" test "$W/ens" --extremes > "$W/ens_test.out" 2>&1
check "ensemble: test exit 0" $?
[ -s "$W/ens/seed_1/metrics_test.csv" ] && [ -s "$W/ens/seed_2/metrics_test.csv" ] && [ -s "$W/ens/metrics_test.csv" ]
check "ensemble: each member's metrics and the ensemble's" $?
TERRAGRAD=$BIN bash "$SCRIPTS/ensemble.sh" "$W/script" "$W/ens/seed_1" "$W/ens/seed_2" > /dev/null 2>&1
check "ensemble.sh on the members: exit 0" $?
# the script prints the mean with %.6g, so its metrics differ by ~1e-6 relative: atol 1e-5
for col in NSE KGE; do
  awk -F, -v col=$col 'FNR == 1 { for (i = 1; i <= NF; i++) if ($i == col) k[FILENAME] = i; next }
       NR == FNR { v[$1] = $k[FILENAME]; next }
       { n++; d = v[$1] - $k[FILENAME]; if (d < 0) d = -d; if (!($1 in v) || d > 1e-5) bad = 1 }
       END { exit (bad || n != 3) }' "$W/ens/metrics_test.csv" "$W/script/metrics.csv"
  check "ensemble: $col of the mean prediction = scripts/ensemble.sh's (3 basins, atol 1e-5)" $?
done
awk -F, 'FNR == 1 { next } { if (FILENAME ~ /seed_1/) a[$1] = $2; else b[$1] = $2 } END { for (k in a) if (a[k] != b[k]) d = 1; exit !d }' \
    "$W/ens/seed_1/metrics_test.csv" "$W/ens/metrics_test.csv"
check "ensemble: the mean's NSE is not a member's" $?

# 3. extremes of the ensemble's test period
f="$W/ens/extremes_test.csv"
head -1 "$f" | grep -q '^basin,event,date,record,obs,sim,peak_error,timing_days,volume_error,low_flow_error$'
check "extremes: header" $?
nf=$(grep -c ',flood,' "$f"); nd=$(grep -c ',dry_year,' "$f")
[ "$nf" -ge 1 ] && [ "$nd" -ge 3 ]
check "extremes: floods ($nf) and a dry year per basin ($nd)" $?
# every flood's obs exceeds the basin's training maximum (from the data file itself)
ok=0
while IFS=, read -r b ev date rec obs rest; do
  [ "$ev" = flood ] || continue
  # the headerless P,T,PET,Q file: rows 1..1095 are 1981-01-01..1983-12-31
  max=$(awk -F, 'NR <= 1095 && $4 != "" && $4 + 0 > m { m = $4 + 0 } END { print m }' \
        "$DATA/caravan_camels_us/timeseries/$b.csv")
  awk -v o="$obs" -v m="$max" 'BEGIN { exit !(m > 0 && o > m) }' || { echo "flood $b $date: obs $obs <= training max $max"; ok=1; }
done < "$f"
check "extremes: every flood peak is above the basin's training maximum" $ok
grep -q "floods above the training maximum" "$W/ens/test.log" && grep -Eq '^peak_error +-?[0-9]' "$W/ens/test.log"
check "extremes: summary with the median peak error in test.log" $?
exit $fail
