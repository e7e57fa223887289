#!/usr/bin/env bash
# terragrad train -> test -> plot end to end on a small δHBV config (LSTM -> HBV parameters
# -> HBV -> routing; 3 Caravan basins, a few dozen iterations): the training loss must fall,
# the test median NSE must clear a fixed bar (0.4) and beat the untrained network (initial
# weights, measured below on the same basins) by 0.1, the prediction files carry the internal fluxes with water balance (P = ET + Q_unrouted + dS to
# file precision is tested in cli_simulate.sh; here ET, SWE and SM must be present and
# physical), the learned parameters (params_test.csv) lie in the HBV ranges, and the flux and
# parameter-vs-attribute plots exist (with a correlation recomputed here).
set -euo pipefail
BIN=$1; DATA=$2; WORK=$3
source "$(dirname "$0")/small_config.sh"
rm -rf "$WORK"; mkdir -p "$WORK"
fail() { echo "FAIL: $*"; exit 1; }
mkcfg() {  # mkcfg FILE RUN_DIR EPOCHS LR
  small_config seed=5 dir="$2" \
    attributes="p_mean, pet_mean, aridity, frac_snow, elev_mean, soil_depth_pelletier" > "$1"
  cat >> "$1" <<YAML
inputs:
  dynamic: [P, T, PET]
model:
  type: dhbv
  hidden: 16
loss:
  type: rmse_comb
optim:
  type: adam
  lr: $4
training:
  epochs: $3
  iterations: 15
  batch: 8
  warmup: 180
  horizon: 180
hbv:
  components: 4
  dynamic: [BETA, BETAET]
  routing: true
YAML
}
mkcfg "$WORK/run.yaml" "$WORK/run" 6 0.02
t0=$(date +%s)
"$BIN" train "$WORK/run.yaml" > "$WORK/train.out" 2>&1 || { cat "$WORK/train.out"; fail "train"; }
for f in config.yaml normalisation.txt train.log loss.csv last.ckpt; do
  [ -s "$WORK/run/$f" ] || fail "missing $f"
done
# without inputs.log, a process model's network reads log(P + 0.1) (the δHBV convention)
awk '$1 == "P" && $2 == 1 { ok = 1 } END { exit !ok }' "$WORK/run/normalisation.txt" || fail "default inputs.log for dhbv: P not log-transformed"
first=$(awk -F, 'NR==2{print $2}' "$WORK/run/loss.csv"); last=$(awk -F, 'END{print $2}' "$WORK/run/loss.csv")
awk -v a="$first" -v b="$last" 'BEGIN{ if (!(b < 0.9 * a)) { print "loss did not fall by 10%: " a " -> " b; exit 1 } }' || fail "loss"
"$BIN" test "$WORK/run" > "$WORK/test.out" 2>&1 || { cat "$WORK/test.out"; fail "test"; }
[ "$(wc -l < "$WORK/run/metrics_test.csv")" -eq 4 ] || fail "expected 3 basins in metrics_test.csv"
nse=$(awk '$1=="NSE"{print $2}' "$WORK/test.out")
[ -n "$nse" ] || { cat "$WORK/test.out"; fail "no NSE line in the test output"; }

# the untrained network on the same basins: one epoch at a negligible learning rate
mkcfg "$WORK/run0.yaml" "$WORK/run0" 1 1e-12
sed -i 's/iterations: 15/iterations: 1/' "$WORK/run0.yaml"
"$BIN" train "$WORK/run0.yaml" > "$WORK/train0.out" 2>&1 || { cat "$WORK/train0.out"; fail "train (untrained)"; }
"$BIN" test "$WORK/run0" > "$WORK/test0.out" 2>&1 || { cat "$WORK/test0.out"; fail "test (untrained)"; }
nse0=$(awk '$1=="NSE"{print $2}' "$WORK/test0.out")

# physics-guided penalties in a dhbv config: the logged loss is the data loss of the same
# (seeded) minibatch plus the separately logged penalty
sed "s#$WORK/run0\$#$WORK/runp#" "$WORK/run0.yaml" > "$WORK/runp.yaml"
printf 'physics:\n  range: 1\n  range_margin: 0.49\n  water_balance: 1\n' >> "$WORK/runp.yaml"
"$BIN" train "$WORK/runp.yaml" > "$WORK/trainp.out" 2>&1 || { cat "$WORK/trainp.out"; fail "train (physics)"; }
lp=$(sed -n 's/^epoch 1\/1  loss \([0-9.e+-]*\) (penalty \([0-9.e+-]*\)).*/\1 \2/p' "$WORK/runp/train.log")
[ -n "$lp" ] || { cat "$WORK/runp/train.log"; fail "no separately logged penalty"; }
l0=$(awk -F, 'NR==2{print $2}' "$WORK/run0/loss.csv")
awk -v lp="$lp" -v l0="$l0" 'BEGIN { split(lp, a, " "); if (!(a[2] > 0) || (a[1] - a[2] - l0)^2 > 1e-8) {
  print "loss " a[1] " != data loss " l0 " + penalty " a[2]; exit 1 } }' || fail "penalty"
awk -v n="$nse" -v n0="$nse0" 'BEGIN{ if (!(n > 0.4) || !(n > n0 + 0.1)) {
    print "test median NSE " n " too low (bar 0.4; untrained network " n0 ")"; exit 1 } }' || fail "test NSE"

# predictions with internal fluxes: ET, SWE, SM present, stores non-negative, ET <= PET-ish bound
P="$WORK/run/predictions_test/01031500.csv"
[ -s "$P" ] || fail "no predictions for 01031500"
hdr=$(head -1 "$P")
for c in ET SWE SM; do echo ",$hdr," | grep -q ",$c," || fail "predictions lack column $c: $hdr"; done
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
  { if ($(col["SWE"]) < 0 || $(col["SM"]) < 0) { print "negative store on " $1; exit 1 }
    swe += $(col["SWE"]); et += $(col["ET"]); n++ }
  END { if (!(swe > 0) || !(et / n > 0.3 && et / n < 5)) { print "implausible fluxes: mean ET " et / n ", SWE sum " swe; exit 1 } }' "$P" \
  || fail "fluxes"
# learned static parameters per basin (physical units, within the HBV ranges)
PT="$WORK/run/params_test.csv"
[ "$(head -1 "$PT")" = basin,BETA,FC,K0,K1,K2,LP,PERC,UZL,TT,CFMAX,CFR,CWH,BETAET,route_a,route_theta ] \
  || fail "params_test.csv header: $(head -1 "$PT")"
[ "$(wc -l < "$PT")" -eq 4 ] || fail "params_test.csv: expected 3 basins"
awk -F, 'BEGIN { split("1 50 0.05 0.01 0.001 0.2 0 0 -2.5 0.5 0 0 0.3 0.1 0.5", lo, " ")
                 split("6 1000 0.9 0.5 0.2 1 10 100 2.5 10 0.1 0.2 5 3 7", hi, " ") }
  NR > 1 { for (k = 2; k <= 16; k++) if (!($k >= lo[k - 1] - 1e-6 && $k <= hi[k - 1] + 1e-6)) {
      print "parameter column " k " out of range on line " NR ": " $k; exit 1 } }' "$PT" || fail "parameter ranges"
source "$(dirname "$0")/png_check.sh"
require_gnuplot
if true; then
  "$BIN" plot "$WORK/run" > "$WORK/plot.out" 2>&1 || { cat "$WORK/plot.out"; fail "plot"; }
  if grep -qi "warning\|error" "$WORK/plot.out"; then cat "$WORK/plot.out"; fail "gnuplot reported a problem"; fi
  for f in loss.png nse_cdf.png hydrograph_01022500.png; do
    png_check "$WORK/run/plots/$f" 1000 500 || fail "plot $f"
  done
  for f in fluxes_01022500.png fluxes_01031500.png; do png_check "$WORK/run/plots/$f" 1000 700 || fail "plot $f"; done
  for f in params_attributes.png params_map.png; do png_check "$WORK/run/plots/$f" any || fail "plot $f"; done
  # every figure labels both axes: in plots.gp each figure starts with `reset` and must set
  # an xlabel and a ylabel before its first plot command
  awk '/^reset/ { if (fig && !(x && y)) { print "figure without axis labels: " fig; bad = 1 } fig = ""; x = y = 0 }
       /^set output/ { fig = $3 } /^set xlabel/ { x = 1 } /^set ylabel/ { y = 1 }
       END { if (fig && !(x && y)) { print "figure without axis labels: " fig; bad = 1 } exit bad }' \
    "$WORK/run/plots/plots.gp" || fail "axis labels"
  # the colour maps are viridis, not a rainbow, and the map's colour bar is labelled
  grep -q "#440154" "$WORK/run/plots/plots.gp" && grep -q "^set cblabel 'FC (mm)'" "$WORK/run/plots/plots.gp" \
    || fail "params_map: viridis palette with a labelled colour bar"
  # vector formats
  for fmt in pdf svg; do
    "$BIN" plot "$WORK/run" --format $fmt > "$WORK/plot_$fmt.out" 2>&1 || { cat "$WORK/plot_$fmt.out"; fail "plot --format $fmt"; }
    if grep -qi "warning\|error" "$WORK/plot_$fmt.out"; then cat "$WORK/plot_$fmt.out"; fail "gnuplot ($fmt) reported a problem"; fi
  done
  head -c 4 "$WORK/run/plots/hydrograph_01022500.pdf" | grep -q "%PDF" || fail "hydrograph PDF"
  grep -q "<svg" "$WORK/run/plots/params_map.svg" || fail "params_map SVG"
  if "$BIN" plot "$WORK/run" --format jpg > /dev/null 2>&1; then fail "plot --format jpg accepted"; fi
  # the correlation table agrees with a Pearson r recomputed from the joined data
  r=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    { x[NR] = $(c["aridity"]); y[NR] = $(c["BETA"]); n++; sx += x[NR]; sy += y[NR] }
    END { mx = sx / n; my = sy / n; for (i = 2; i <= n + 1; i++) { a += (x[i] - mx) * (y[i] - my); b += (x[i] - mx)^2; d += (y[i] - my)^2 }
      printf "%.4f", a / sqrt(b * d) }' "$WORK/run/plots/params_attributes.dat")
  rc=$(grep '^BETA,aridity,' "$WORK/run/plots/params_attributes_corr.csv" | cut -d, -f4)
  awk -v a="$r" -v b="$rc" 'BEGIN { if ((a - b)^2 > 1e-6) { print "BETA~aridity r " b " != recomputed " a; exit 1 } }' || fail "correlation"
fi
echo "cli_train_dhbv: test median NSE $nse (untrained $nse0), loss $first -> $last, $(( $(date +%s) - t0 )) s"
echo "1 passed, 0 failed"
