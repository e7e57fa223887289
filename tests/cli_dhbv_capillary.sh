#!/usr/bin/env bash
# δHBV 1.1p from the CLI (hbv.capillary: true, C dynamic): a small run trains (the loss
# falls by 10 %), `test` writes the capillary flux as a `cap` column of the predictions
# (non-negative, moving water in some basin) and C as a column of params_test.csv (in
# [0, 1]), and the water balance of every basin still closes (water_balance_rel, float
# precision). A dynamic C without hbv.capillary is refused, naming the file, line and key.
set -euo pipefail
BIN=$1; DATA=$2; WORK=$3
source "$(dirname "$0")/small_config.sh"
rm -rf "$WORK"; mkdir -p "$WORK"
fail() { echo "FAIL: $*"; exit 1; }
small_config seed=7 dir="$WORK/run" plots=false basins="'01022500', '01031500', '02046000'" \
  attributes="p_mean, pet_mean, aridity, frac_snow" train="1981-01-01 1988-12-31" \
  test="1991-01-01 1993-12-31" > "$WORK/run.yaml"
cat >> "$WORK/run.yaml" <<YAML
model:
  type: dhbv
  hidden: 16
loss:
  type: rmse_comb
optim:
  type: adam
  lr: 0.02
training:
  epochs: 5
  iterations: 12
  batch: 8
  warmup: 180
  horizon: 180
hbv:
  components: 4
  dynamic: [BETA, BETAET, C]
  capillary: true
  routing: true
YAML
"$BIN" train "$WORK/run.yaml" > "$WORK/train.out" 2>&1 || { cat "$WORK/train.out"; fail "train"; }
first=$(awk -F, 'NR==2{print $2}' "$WORK/run/loss.csv"); last=$(awk -F, 'END{print $2}' "$WORK/run/loss.csv")
awk -v a="$first" -v b="$last" 'BEGIN{ if (!(b < 0.9 * a)) { print "loss did not fall by 10%: " a " -> " b; exit 1 } }' || fail "loss"
"$BIN" test "$WORK/run" > "$WORK/test.out" 2>&1 || { cat "$WORK/test.out"; fail "test"; }
# the capillary flux in every prediction file, last column, never negative; some basin moves water
capsum=0
for b in 01022500 01031500 02046000; do
  P="$WORK/run/predictions_test/$b.csv"
  [ "$(head -1 "$P" | awk -F, '{print $NF}')" = cap ] || fail "predictions $b: last column is not cap: $(head -1 "$P")"
  s=$(awk -F, 'NR > 1 { if ($NF < 0) { print "neg"; exit } s += $NF } END { printf "%.6g", s }' "$P")
  [ "$s" != neg ] || fail "negative capillary flux in $b"
  capsum=$(awk -v a="$capsum" -v b="$s" 'BEGIN { print a + b }')
done
awk -v s="$capsum" 'BEGIN { if (!(s > 1)) { print "total capillary rise " s " mm over 3 basins and 3 years"; exit 1 } }' || fail "cap"
PT="$WORK/run/params_test.csv"
[ "$(head -1 "$PT")" = basin,BETA,FC,K0,K1,K2,LP,PERC,UZL,TT,CFMAX,CFR,CWH,BETAET,C,route_a,route_theta ] \
  || fail "params_test.csv header: $(head -1 "$PT")"
awk -F, 'NR > 1 { if (!($15 >= 0 && $15 <= 1)) { print "C out of [0, 1]: " $15; exit 1 } }' "$PT" || fail "C range"
# the balance of every basin closes (cap moves water between two stores)
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
  { w = $(c["water_balance_rel"]); if (!(w < 1e-4 && w > -1e-4)) { print "water balance " w " in " $1; exit 1 } }' \
  "$WORK/run/metrics_test.csv" || fail "water balance"
# C dynamic without capillary rise: refused, naming file, line and key
sed -e '/capillary: true/d' -e "s#$WORK/run\$#$WORK/run_bad#" "$WORK/run.yaml" > "$WORK/bad.yaml"
if "$BIN" train "$WORK/bad.yaml" > "$WORK/bad.out" 2>&1; then fail "dynamic C without hbv.capillary accepted"; fi
grep -q "bad.yaml:[0-9]*: hbv.dynamic: 'C'.*hbv.capillary" "$WORK/bad.out" || { cat "$WORK/bad.out"; fail "error message"; }
echo "cli_dhbv_capillary: loss $first -> $last, capillary rise $capsum mm (3 basins, test period)"
echo "1 passed, 0 failed"
