#!/usr/bin/env bash
# terragrad simulate / sensitivity with known HBV parameters on a generic-CSV folder made from
# two Caravan basins (1981-1986, 2 components per basin):
#   - output files: header and columns of the issue, dates after the warm-up, P = rain + snow,
#     PET passed through, Q = Q0 + Q1 + Q2;
#   - water balance from the written fluxes: sum(rain + snow) = sum(ET + Q_unrouted) + Δstorage
#     between two snow-free days (no liquid water held in snow then), to file precision;
#   - routing: routed Q equals the gamma-UH convolution (recomputed here in awk) of Q_unrouted,
#     and over the whole period sum(Q_unrouted) - sum(Q) lies within [0, last 14 days' runoff];
#   - sensitivity (--loss nse): d loss / d FC, K1 and theta against central finite differences
#     of simulate runs (the loss recomputed here from the written Q and the observed Q);
#   - bad input: missing parameter row, wrong header, bad number, unknown --loss, missing routing
#     row -> non-zero exit and a message naming the file, line or field.
set -euo pipefail
BIN=$1; DATA=$2; WORK=$3
rm -rf "$WORK"; mkdir -p "$WORK/data"
fail() { echo "FAIL: $*"; exit 1; }
DOUBLE=0; "$BIN" --help | head -1 | grep -q "double build" && DOUBLE=1

# ---- generic CSV folder: date,P,T,PET,Q from Caravan rows (row i = 1981-01-01 + i), 6 years
NDAYS=2191; W=365
for id in 01022500 01031500; do
  awk -F, -v n=$NDAYS 'function civil(z,   era, doe, yoe, y, doy, mp, d, m) {
      z += 719468; era = int(z / 146097); doe = z - era * 146097
      yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)
      y = yoe + era * 400; doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100))
      mp = int((5 * doy + 2) / 153); d = doy - int((153 * mp + 2) / 5) + 1
      m = mp < 10 ? mp + 3 : mp - 9; if (m <= 2) y++
      return sprintf("%04d-%02d-%02d", y, m, d) }
    BEGIN { print "date,P,T,PET,Q" }
    NR <= n { print civil(4017 + NR) "," $1 "," $2 "," $3 "," $4 }' \
    "$DATA/caravan_camels_us/timeseries/$id.csv" > "$WORK/data/$id.csv"
done
[ "$(sed -n 2p "$WORK/data/01022500.csv" | cut -d, -f1)" = 1981-01-01 ] || fail "date conversion"
[ "$(tail -1 "$WORK/data/01022500.csv" | cut -d, -f1)" = 1986-12-31 ] || fail "date conversion (end)"

HDR=basin,component,BETA,FC,K0,K1,K2,LP,PERC,UZL,TT,CFMAX,CFR,CWH,BETAET
mkparams() {  # mkparams FILE FC1 K1_1 : parameter file; FC and K1 of basin 1, component 1 as given
  { echo $HDR
    echo "01022500,1,2.5,$2,0.3,$3,0.02,0.7,2.0,20,0.0,3.5,0.05,0.1,1.5"
    echo "01022500,2,1.8,350,0.2,0.05,0.05,0.5,1.0,40,-0.5,2.5,0.05,0.1,1.0"
    echo "01031500,1,3.0,220,0.4,0.08,0.01,0.8,3.0,10,0.5,4.0,0.05,0.1,2.0"
    echo "01031500,2,2.0,300,0.25,0.12,0.03,0.6,1.5,30,-0.5,3.0,0.05,0.1,1.2"; } > "$1"
}
mkroute() { printf 'basin,a,theta\n01022500,2.5,%s\n01031500,1.5,2.0\n' "$1" > "$2"; }
mkparams "$WORK/params.csv" 250 0.1
mkroute 1.5 "$WORK/route.csv"

"$BIN" simulate --model hbv --data "$WORK/data" --params "$WORK/params.csv" --routing "$WORK/route.csv" \
  --warmup $W --out "$WORK/out" > "$WORK/sim.out" 2>&1 || { cat "$WORK/sim.out"; fail "simulate"; }
"$BIN" simulate --model hbv --data "$WORK/data" --params "$WORK/params.csv" \
  --warmup $W --out "$WORK/out_nr" > "$WORK/sim_nr.out" 2>&1 || { cat "$WORK/sim_nr.out"; fail "simulate (no routing)"; }

COLS=date,Q,Q_unrouted,Q0,Q1,Q2,ET,PET,rain,snow,melt,SWE,SM,SUZ,SLZ,recharge,excess,perc
for id in 01022500 01031500; do
  for d in out out_nr; do
    f="$WORK/$d/$id.csv"
    [ "$(head -1 "$f")" = "$COLS" ] || fail "$f: header '$(head -1 "$f")'"
    [ "$(wc -l < "$f")" -eq $((NDAYS - W + 1)) ] || fail "$f: $(wc -l < "$f") lines"
    [ "$(sed -n 2p "$f" | cut -d, -f1)" = 1982-01-01 ] || fail "$f: first date after the warm-up"
  done
  # P = rain + snow and PET from the input; Q = Q0 + Q1 + Q2 (routed parts); stores >= 0
  awk -F, -v W=$W 'NR == FNR { if (FNR > 1) { P[FNR - 1] = $2; E[FNR - 1] = $4 }; next }
    FNR > 1 { t = W + FNR - 1
      if (($9 + $10 - P[t])^2 > (1e-6 * (P[t] + 1))^2) { print "P != rain + snow on " $1; bad = 1 }
      if (($8 - E[t])^2 > (1e-6 * (E[t]^2 + 1))) { print "PET differs on " $1; bad = 1 }
      if (($2 - $4 - $5 - $6)^2 > (1e-5 * ($2 + 1e-3))^2) { print "Q != Q0+Q1+Q2 on " $1 ": " $2; bad = 1 }
      for (k = 2; k <= 18; k++) if (k != 7 && k != 8 && $k < 0) { print "negative column " k " on " $1; bad = 1 } }
    END { exit bad }' "$WORK/data/$id.csv" "$WORK/out/$id.csv" || fail "$id: fluxes"
  # without routing Q = Q_unrouted, and the unrouted runs agree
  paste -d, "$WORK/out/$id.csv" "$WORK/out_nr/$id.csv" | awk -F, 'NR > 1 {
      if ($20 != $21) { print "no routing: Q != Q_unrouted on " $1; exit 1 }
      if ($3 != $21) { print "Q_unrouted differs with/without routing on " $1; exit 1 } }' || fail "$id: routing off"
  # water balance between the first and the last snow-free day of the output (liquid water in
  # the snow is 0 there, so storage = SWE + SM + SUZ + SLZ)
  awk -F, -v id=$id 'FNR > 1 { n++; p[n] = $9 + $10; e[n] = $7; q[n] = $3; s[n] = $12 + $13 + $14 + $15; swe[n] = $12 }
    END { for (a = 1; a <= n && swe[a] != 0; a++); for (b = n; b >= 1 && swe[b] != 0; b--)
      if (b - a < 1000) { print id ": no snow-free days far enough apart"; exit 1 }
      for (t = a + 1; t <= b; t++) { sp += p[t]; se += e[t]; sq += q[t] }
      r = sp - se - sq - (s[b] - s[a])
      printf "%s: balance over %d days: P %.4f = ET %.4f + Q %.4f + dS %.4f (residual %.3g)\n", id, b - a, sp, se, sq, s[b] - s[a], r
      if (!(r^2 < (2e-6 * sp)^2)) { print "water balance does not close"; exit 1 } }' "$WORK/out_nr/$id.csv" || fail "$id: balance"
done
# routing: routed Q = convolution of Q_unrouted with the gamma UH (a, theta of route.csv)
for spec in "01022500 2.5 1.5" "01031500 1.5 2.0"; do
  set -- $spec
  awk -F, -v a=$2 -v th=$3 -v id=$1 'BEGIN { for (k = 0; k < 15; k++) { t = k + 0.5; w[k] = exp((a - 1) * log(t) - t / th); sw += w[k] }
      for (k = 0; k < 15; k++) w[k] /= sw }
    FNR > 1 { n++; q[n] = $3; y[n] = $2; su += $3; sr += $2 }
    END { for (t = 1; t <= n; t++) { c = 0; for (k = 0; k < 15 && k < t; k++) c += w[k] * q[t - k]
        if ((c - y[t])^2 > (1e-5 * (c + 1e-3))^2) { print id ": routed Q " y[t] " != convolution " c " on day " t; exit 1 }
        if (c != q[t]) moved = 1 }
      for (t = n - 13; t <= n; t++) tail += q[t]
      printf "%s: sum Q_unrouted %.4f, sum Q routed %.4f, last-14-days runoff %.4f\n", id, su, sr, tail
      if (!moved || su - sr < -1e-4 || su - sr > tail + 1e-4) { print "routing does not conserve the volume"; exit 1 } }' \
    "$WORK/out/$1.csv" || fail "routing"
done

# ---- sensitivity against central finite differences of simulate runs (NSE loss, pooled)
nse_loss() {  # nse_loss OUTDIR : SSE / sum (obs - pooled mean)^2 over both basins after warm-up
  for id in 01022500 01031500; do
    paste -d, <(tail -n +$((W + 2)) "$WORK/data/$id.csv" | cut -d, -f5) <(tail -n +2 "$1/$id.csv" | cut -d, -f2)
  done | awk -F, '$1 != "NA" && $1 != "" { n++; o[n] = $1; s[n] = $2; m += $1 }
    END { m /= n; for (i = 1; i <= n; i++) { sse += (s[i] - o[i])^2; ss += (o[i] - m)^2 }; printf "%.12g\n", sse / ss }'
}
for wg in "" --warmup-grad; do
  "$BIN" sensitivity --model hbv --data "$WORK/data" --params "$WORK/params.csv" --routing "$WORK/route.csv" \
    --warmup $W --loss nse $wg --out "$WORK/sens$wg" > "$WORK/sens.out" 2>&1 || { cat "$WORK/sens.out"; fail "sensitivity $wg"; }
done
S="$WORK/sens--warmup-grad/sensitivity.csv"
[ "$(head -1 "$S")" = basin,component,param,value,dloss_dparam ] || fail "sensitivity header"
[ "$(wc -l < "$S")" -eq $((1 + 2 * 2 * 13 + 2 * 2)) ] || fail "sensitivity rows: $(wc -l < "$S")"
L0=$(nse_loss "$WORK/out")
grep -q "loss (nse, pooled over 2 basins) = " "$WORK/sens.out" || fail "no loss line"
Ls=$(sed -n 's/^loss .*= \([^;]*\);.*/\1/p' "$WORK/sens.out")
awk -v a=$L0 -v b=$Ls 'BEGIN { if ((a - b)^2 > (1e-5 * a)^2) { print "loss " b " != recomputed " a; exit 1 } }' || fail "loss value"
TOL=0.02; [ $DOUBLE = 1 ] || TOL=0.05
check_fd() {  # check_fd NAME ROWKEY VALUE H LOSS_PLUS LOSS_MINUS
  local fd g g0
  fd=$(awk -v p=$5 -v m=$6 -v h=$4 'BEGIN { printf "%.10g", (p - m) / (2 * h) }')
  g=$(grep "^$2," "$S" | cut -d, -f5)
  g0=$(grep "^$2," "$WORK/sens/sensitivity.csv" | cut -d, -f5)
  echo "d loss / d $1: finite difference $fd, backward $g (warm-up grad), $g0 (no warm-up grad)"
  awk -v f=$fd -v g=$g -v g0=$g0 -v tol=$TOL 'BEGIN {
      if (f == 0 || (g - f)^2 > (tol * f)^2) { print "warm-up-grad sensitivity off the finite difference"; exit 1 }
      if (g0 * f <= 0 || (g0 - f)^2 > (0.5 * f)^2) { print "sensitivity without warm-up gradient: wrong sign or size"; exit 1 } }' \
    || fail "sensitivity $1"
}
fd_params() {  # fd_params NAME ROWKEY H FC+ K1+ FC- K1- (basin 1, component 1)
  mkparams "$WORK/p_plus.csv" $4 $5; mkparams "$WORK/p_minus.csv" $6 $7
  for s in plus minus; do
    "$BIN" simulate --model hbv --data "$WORK/data" --params "$WORK/p_$s.csv" --routing "$WORK/route.csv" \
      --warmup $W --out "$WORK/o_$s" > /dev/null || fail "simulate $s"
  done
  check_fd $1 $2 0 $3 "$(nse_loss "$WORK/o_plus")" "$(nse_loss "$WORK/o_minus")"
}
fd_params FC "01022500,1,FC" 5 255 0.1 245 0.1
fd_params K1 "01022500,1,K1" 0.002 250 0.102 250 0.098
mkroute 1.55 "$WORK/r_plus.csv"; mkroute 1.45 "$WORK/r_minus.csv"
for s in plus minus; do
  "$BIN" simulate --model hbv --data "$WORK/data" --params "$WORK/params.csv" --routing "$WORK/r_$s.csv" \
    --warmup $W --out "$WORK/o_$s" > /dev/null || fail "simulate route $s"
done
check_fd theta "01022500,route,theta" 0 0.05 "$(nse_loss "$WORK/o_plus")" "$(nse_loss "$WORK/o_minus")"

# ---- bad input: non-zero exit, message naming the file and the line or field
expect_fail() {  # expect_fail PATTERN CMD...
  local pat=$1; shift
  if "$@" > "$WORK/bad.out" 2>&1; then fail "accepted: $*"; fi
  grep -q -- "$pat" "$WORK/bad.out" || { cat "$WORK/bad.out"; fail "message should match '$pat'"; }
}
SIM=("$BIN" simulate --model hbv --data "$WORK/data" --warmup $W --out "$WORK/bad")
head -4 "$WORK/params.csv" > "$WORK/missing_row.csv"          # basin 2 has one component only
expect_fail "missing_row.csv: basin '01031500' has 1 components, basin '01022500' has 2" "${SIM[@]}" --params "$WORK/missing_row.csv"
sed '1s/CFMAX/CFMX/' "$WORK/params.csv" > "$WORK/bad_header.csv"
expect_fail "bad_header.csv: line 1: header has no column 'CFMAX'" "${SIM[@]}" --params "$WORK/bad_header.csv"
sed '3s/,0.2,/,zero,/' "$WORK/params.csv" > "$WORK/bad_number.csv"
expect_fail "bad_number.csv: line 3, field 'K0': 'zero' is not a number" "${SIM[@]}" --params "$WORK/bad_number.csv"
head -2 "$WORK/route.csv" > "$WORK/route_short.csv"
expect_fail "route_short.csv: no routing row for basin '01031500'" "${SIM[@]}" --params "$WORK/params.csv" --routing "$WORK/route_short.csv"
expect_fail "data/01022500.csv" "$BIN" simulate --model hbv --data "$WORK/data" --warmup 5000 --params "$WORK/params.csv" --out "$WORK/bad"
expect_fail "\-\-loss must be rmse, nse or mse" "$BIN" sensitivity --model hbv --data "$WORK/data" --params "$WORK/params.csv" --loss kge --out "$WORK/bad"
echo "1 passed, 0 failed"
