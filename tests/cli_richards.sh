#!/usr/bin/env bash
# cli_richards.sh — `terragrad richards` on the Celia et al. (1990) example: the CSV's
# shape and header, the t = 360 s profile against the published reference (linear
# interpolation in awk; thresholds as in test_richards_celia.c), and config errors that
# must name the key and the line.
# usage: bash cli_richards.sh TERRAGRAD_BIN SHARED_DATA WORKDIR
set -u
BIN=$1
DATA=$2
WORK=$3
HERE=$(cd "$(dirname "$0")" && pwd)
CFG=$HERE/../examples/richards_celia.yaml
REF=$DATA/pinn/richards_celia1990/celia1990_psi_t360s.csv
rm -rf "$WORK"
mkdir -p "$WORK"
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

# ---- the run
if "$BIN" richards "$CFG" --out "$WORK/celia" > "$WORK/stdout.txt" 2> "$WORK/stderr.txt"; then
    ok "run"
else
    bad "run failed: $(cat "$WORK/stderr.txt")"
    exit 1
fi
CSV=$WORK/celia/profile.csv
[ -f "$CSV" ] && [ ! -e "$CSV.tmp" ] && ok "profile.csv written, no temp file left" || bad "profile.csv"
[ "$(head -1 "$CSV")" = "t_s,z_cm,psi_cm,theta" ] && ok "header" || bad "header: $(head -1 "$CSV")"
rows=$(($(wc -l < "$CSV") - 1))
[ "$rows" -eq 1600 ] && ok "1600 rows (4 times x 400 cells)" || bad "rows: $rows"
grep -q "relative error" "$WORK/stdout.txt" && ok "summary printed" || bad "no summary"

# mass balance reported below 1e-6 (double) / 1e-4 (float)
awk '/^mass balance/ { e = $NF; if (e < 0) e = -e; exit !(e < 1e-4) }' "$WORK/stdout.txt" \
    && ok "mass balance $(grep '^mass balance' "$WORK/stdout.txt" | awk '{print $NF}')" \
    || bad "mass balance: $(grep '^mass balance' "$WORK/stdout.txt")"

# theta within [theta_r, theta_s], z inside the column, times as configured
awk -F, 'NR > 1 { if ($4 < 0.075 || $4 > 0.287 || $2 <= 0 || $2 >= 40) { print "row " NR ": " $0; bad = 1 }
                  t[$1] = 1 }
         END { if (!(60 in t) || !(120 in t) || !(240 in t) || !(360 in t)) bad = 1; exit bad }' "$CSV" \
    && ok "theta range, z range, output times" || bad "value ranges"

# ---- the t = 360 s profile against the reference
cmp=$(awk -F, '
    NR == FNR { if (FNR > 1) { n++; zr[n] = $1; pr[n] = $2 }; next }
    FNR > 1 && $1 == 360 { m++; zc[m] = $2; pc[m] = $3 }
    END {
        if (n != 401 || m != 400) { print "bad input sizes", n, m; exit 1 }
        # boundary faces carry the Dirichlet heads
        zc[0] = 0; pc[0] = -61.5; zc[m + 1] = 40; pc[m + 1] = -20.7
        j = 0; mx = 0; ss = 0
        for (k = 1; k <= n; k++) {
            z = zr[k]
            while (j < m && zc[j + 1] < z) j++
            w = (zc[j + 1] > zc[j]) ? (z - zc[j]) / (zc[j + 1] - zc[j]) : 0
            v = (1 - w) * pc[j] + w * pc[j + 1]
            e = v - pr[k]; if (e < 0) e = -e
            if (e > mx) mx = e
            ss += e * e
        }
        printf "%.4f %.4f\n", mx, sqrt(ss / n)
    }' "$REF" "$CSV")
echo "Celia t = 360 s vs reference: max|err| and RMS (cm): $cmp"
echo "$cmp" | awk '{ exit !($1 < 0.2 && $2 < 0.05) }' && ok "Celia profile within 0.2 cm max, 0.05 cm RMS" \
    || bad "Celia profile error too large: $cmp"

# ---- config errors name the key and the line
expect_error() { # name, yaml text, pattern...
    local name=$1 text=$2
    shift 2
    printf '%s\n' "$text" > "$WORK/$name.yaml"
    if "$BIN" richards "$WORK/$name.yaml" --out "$WORK/$name" > /dev/null 2> "$WORK/$name.err"; then
        bad "$name: accepted a bad config"
        return
    fi
    for pat in "$@"; do
        grep -q -- "$pat" "$WORK/$name.err" || { bad "$name: message lacks '$pat': $(cat "$WORK/$name.err")"; return; }
    done
    ok "$name: $(cat "$WORK/$name.err")"
}
base=$(cat "$CFG")
nlines=$(printf '%s\n' "$base" | wc -l)
cells_line=$(grep -n 'cells:' "$CFG" | cut -d: -f1)
gamma_line=$(grep -n 'gamma:' "$CFG" | cut -d: -f1)
expect_error unknown_key "$(printf '%s\n%s' "$base" 'colour: blue')" "colour" ":$((nlines + 1)):"
expect_error wrong_type "$(echo "$base" | sed 's/cells: 400 /cells: many/')" "column.cells" ":$cells_line:"
expect_error bad_choice "$(echo "$base" | sed 's/type: dirichlet, value: -20.7/type: sponge, value: -20.7/')" "boundary.top.type"
expect_error foreign_param "$(echo "$base" | sed 's/  gamma: 4.74/  gamma: 4.74\n  n: 1.5/')" "soil.n" ":$((gamma_line + 1)):"
expect_error missing_value "$(echo "$base" | sed 's/{type: dirichlet, value: -61.5}/{type: flux}/')" "boundary.bottom.value"
[ -e "$WORK/unknown_key" ] && bad "a failed run created its output directory" || ok "no output on config error"

exit $fail
