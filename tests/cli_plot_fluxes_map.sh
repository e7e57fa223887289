#!/usr/bin/env bash
# `terragrad plot` on a δHBV run draws fluxes_map.png and writes plots/fluxes_map.csv: one
# row per basin of predictions_test/, each period quantity recomputed here from that
# basin's predictions file (ET / P, Q / P, Q2 / (Q0 + Q1 + Q2), snow / P with P = rain +
# snow, mean P, SWE and SM, days used; a day with a missing value left out of every sum),
# the gauge lat/lon those of camels_topo.txt, every value in its physical range, and
# plots.gp has the six map panels with their units. A predictions file with a non-number
# is refused naming file, line and field, and the old fluxes_map.csv survives; `train
# --overwrite` removes it. The run is tiny (one epoch of two iterations: only the
# bookkeeping is tested, not the model's skill).
set -euo pipefail
BIN=$1; DATA=$2; WORK=$3
source "$(dirname "$0")/small_config.sh"
source "$(dirname "$0")/png_check.sh"
rm -rf "$WORK"; mkdir -p "$WORK"
fail() { echo "FAIL: $*"; exit 1; }
require_gnuplot
# every tenth basin of the 200: the CONUS from Maine to the Cascades, some with snow
BASINS="'01022500', '01413500', '01580000', '02051500', '02112360', '02299950', '03010655', '03280700', '04015330',
  '04296000', '05503800', '06406000', '06892000', '07335700', '08150800', '09081600', '10173450', '11274630',
  '12082500', '13331500'"
{ small_config seed=7 dir="$WORK/run" plots=false basins="$BASINS" \
    attributes="p_mean, frac_snow" train="1981-01-01 1982-12-31" test="1991-01-01 1993-12-31"
  cat <<YAML
model:
  type: dhbv
  hidden: 8
training:
  epochs: 1
  iterations: 2
  batch: 4
  warmup: 90
  horizon: 90
hbv:
  components: 2
  routing: true
YAML
} > "$WORK/run.yaml"
"$BIN" train "$WORK/run.yaml" > "$WORK/train.out" 2>&1 || { cat "$WORK/train.out"; fail "train"; }
"$BIN" test "$WORK/run" > "$WORK/test.out" 2>&1 || { cat "$WORK/test.out"; fail "test"; }
# a missing value (as a file edited by hand or another tool may have): that day leaves every
# sum of its basin
B0=01022500
awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "ET") c = i } NR == 10 { $c = "NA" } { print }' \
  "$WORK/run/predictions_test/$B0.csv" > "$WORK/na.csv"
cp "$WORK/na.csv" "$WORK/run/predictions_test/$B0.csv"
# a basin with a glacier's SWE (metres): the SWE colour scale must end at the 95th percentile
B2=04296000
awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "SWE") c = i } NR > 1 { $c = 1000 * $c + 5000 } { print }' \
  "$WORK/run/predictions_test/$B2.csv" > "$WORK/glacier.csv"
cp "$WORK/glacier.csv" "$WORK/run/predictions_test/$B2.csv"
"$BIN" plot "$WORK/run" > "$WORK/plot.out" 2>&1 || { cat "$WORK/plot.out"; fail "plot"; }
M="$WORK/run/plots/fluxes_map.csv"
[ -s "$M" ] || fail "no $M"
[ "$(head -1 "$M")" = basin,lat,lon,days,P_hbv,ET_P,Q_P,baseflow_index,snow_fraction,SWE,SM ] \
  || fail "fluxes_map.csv header: $(head -1 "$M")"
want=$(cd "$WORK/run/predictions_test" && ls *.csv | sed 's/\.csv$//' | sort | tr '\n' ' ')
have=$(tail -n +2 "$M" | cut -d, -f1 | tr '\n' ' ')
[ "$want" = "$have" ] || fail "fluxes_map.csv basins '$have', predictions_test/ has '$want'"
[ "$(echo $have | wc -w)" -eq 20 ] || fail "expected 20 basins, got '$have'"
tail -n +2 "$M" | while IFS=, read -r b lat lon days rest; do
  pred="$WORK/run/predictions_test/$b.csv"
  # the same 9-digit values summed in double in the same order as the C code: the two
  # differ by fluxes_map.csv's %.9g rounding (<= 5e-9 relative) and summation round-off
  # (~1e-13); rtol 1e-7 leaves room for that and nothing else, atol 0 (a zero, e.g. no snow,
  # is an exact zero in both)
  awk -F, -v b="$b" -v row="$(awk -F, -v b="$b" '$1 == b' "$M")" '
    NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; split("Q Q0 Q1 Q2 ET rain snow SWE SM", use, " "); next }
    { for (k = 1; k <= 9; k++) if ($(c[use[k]]) !~ /^-?[0-9]/) next
      n++; q += $(c["Q"]); q0 += $(c["Q0"]); q1 += $(c["Q1"]); q2 += $(c["Q2"]); et += $(c["ET"])
      rain += $(c["rain"]); snow += $(c["snow"]); swe += $(c["SWE"]); sm += $(c["SM"]) }
    function near(name, a, w) { d = a - w; if (d < 0) d = -d; m = (a < 0 ? -a : a); if ((w < 0 ? -w : w) > m) m = (w < 0 ? -w : w)
      if (!(d <= 1e-7 * m)) { printf "%s: %s %.10g in fluxes_map.csv, recomputed %.10g\n", b, name, a, w; bad = 1 } }
    END { split(row, v, ","); p = rain + snow
      if (v[4] != n) { print b ": days " v[4] ", predictions rows " n; exit 1 }
      near("P_hbv", v[5], p / n); near("ET_P", v[6], et / p); near("Q_P", v[7], q / p)
      near("baseflow_index", v[8], q2 / (q0 + q1 + q2)); near("snow_fraction", v[9], snow / p)
      near("SWE", v[10], swe / n); near("SM", v[11], sm / n); exit bad }' "$pred" \
    || fail "fluxes_map.csv values of $b are not the period means of $pred"
  # gauge coordinates: the attributes are stored as float (~6e-8 relative): 1e-6
  awk -F';' -v b="$b" -v lat="$lat" -v lon="$lon" '$1 == b { f = 1
      if ((lat - $2)^2 > (1e-6 * $2)^2 || (lon - $3)^2 > (1e-6 * $3)^2) { print b ": lat/lon " lat ", " lon ", camels_topo " $2 ", " $3; exit 1 } }
    END { if (!f) { print b " not in camels_topo.txt"; exit 1 } }' "$DATA/camels_us/camels_attributes_v2.0/camels_topo.txt" \
    || fail "gauge coordinates of $b"
done
[ "$(awk -F, -v b=$B0 '$1 == b { print $4 }' "$M")" = 1095 ] || fail "the day with a missing ET counted in $B0"
# physical ranges: fractions of P (ET and Q can exceed P a little through storage change
# over 3 years: up to 1.5), shares in [0, 1], stores non-negative, SM <= FC's upper bound 1000 mm
awk -F, 'NR > 1 { if (!($4 > 300 && $5 > 0 && $6 >= 0 && $6 <= 1.5 && $7 >= 0 && $7 <= 1.5 && $8 >= 0 && $8 <= 1 &&
    $9 >= 0 && $9 <= 1 && $10 >= 0 && $11 >= 0 && $11 <= 1000)) { print "out of range: " $0; exit 1 } }' "$M" \
  || fail "fluxes_map.csv value out of its physical range"
# the figure: its PNG, and one panel per quantity with the unit on its colour bar
G="$WORK/run/plots/plots.gp"
png_check "$WORK/run/plots/fluxes_map.png" 1800 720 || fail "fluxes_map.png"
for lab in "ET / P (-)" "Q / P (-)" "Q2 / (Q0 + Q1 + Q2) (-)" "snow / P (-)" "SWE (mm)" "SM (mm)"; do
  grep -qF "set cblabel '$lab" "$G" || fail "plots.gp: no colour bar '$lab'"
done
cols=$(grep -o "fluxes_map.csv' skip 1 using 3:2:[0-9]*" "$G" | sed 's/.*://' | tr '\n' ' ')
[ "$cols" = "6 7 8 9 10 11 " ] || fail "plots.gp: fluxes_map panels draw columns '$cols' (expected 6 .. 11)"
# the SWE colour bar: from the smallest mean SWE to the 95th percentile of the 20 (the 19th
# smallest, in 3 digits), so the other basins are not all one colour; the bar says so
read -r lo q < <(tail -n +2 "$M" | cut -d, -f10 | sort -g | awk '{ v[NR] = $1 } END { printf "%.9g %.3g\n", v[1], v[int(0.95 * (NR - 1)) + 1] }')
grep -qF "set cblabel 'SWE (mm), top colour ≥ $q'" "$G" || fail "plots.gp: SWE colour bar not clipped at $q"
awk -v lo="$lo" -v q="$q" '/^set cbrange/ { r = $3 } /^set cblabel .SWE/ { gsub(/[][]/, "", r); split(r, a, ":")
    if ((a[1] - lo)^2 > (1e-8 * lo)^2 || (a[2] - q)^2 > (1e-8 * q)^2) { print "SWE cbrange " r ", expected " lo ":" q; bad = 1 } }
  END { exit bad }' "$G" || fail "SWE colour range"
# bad input: refused with file, line and field; the previous fluxes_map.csv is kept
cp "$M" "$WORK/fluxes_map.before"
B1=$(echo $have | cut -d' ' -f2)
col=$(head -1 "$WORK/run/predictions_test/$B1.csv" | awk -F, '{ for (i = 1; i <= NF; i++) if ($i == "SM") print i }')
awk -F, -v OFS=, -v c="$col" 'NR == 5 { $c = "12abc" } { print }' "$WORK/run/predictions_test/$B1.csv" > "$WORK/bad.csv"
cp "$WORK/bad.csv" "$WORK/run/predictions_test/$B1.csv"
if "$BIN" plot "$WORK/run" > "$WORK/bad.out" 2>&1; then fail "plot accepted a predictions file with a non-number"; fi
grep -qF "predictions_test/$B1.csv: line 5, field 'SM': '12abc' is not a number" "$WORK/bad.out" \
  || { cat "$WORK/bad.out"; fail "error message for a non-number"; }
cmp -s "$M" "$WORK/fluxes_map.before" || fail "a refused plot changed fluxes_map.csv"
summary=$(tail -n +2 "$WORK/fluxes_map.before" | cut -d, -f1,6-9 | tr '\n' ' ')
# train --overwrite removes it with the other plot outputs (it describes the old model)
"$BIN" train "$WORK/run.yaml" --overwrite > "$WORK/ow.out" 2>&1 || { cat "$WORK/ow.out"; fail "train --overwrite"; }
[ ! -e "$M" ] || fail "train --overwrite left plots/fluxes_map.csv"
echo "cli_plot_fluxes_map (basin,ET_P,Q_P,baseflow_index,snow_fraction): $summary"
echo "1 passed, 0 failed"
