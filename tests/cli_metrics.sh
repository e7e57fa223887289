# cli_metrics.sh — `terragrad metrics` on two tiny folders: header, hand-computed values,
# join on date, --start/--end, and a malformed file (non-zero exit naming file and line).
# usage: bash cli_metrics.sh TERRAGRAD_BIN SHARED_DATA WORKDIR
set -u
BIN=$1
W=$3
rm -rf "$W"
mkdir -p "$W/obs" "$W/sim" "$W/bad"
fail=0
check() { # check NAME CONDITION-EXIT-STATUS
    if [ "$2" -eq 0 ]; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi
}
# value FILE BASIN COLUMN: the field of that basin's row under that header name
value() {
    awk -F, -v b="$2" -v c="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next }
                                 $1 == b { print $k }' "$1"
}
close_to() { awk -v x="$1" -v y="$2" 'BEGIN { d = x - y; if (x == "" || d > 1e-6 || d < -1e-6) exit 1 }'; }

# Basin 01: obs 1..5 (+ a missing day), sim 2,2,4,4,6 on the same dates; sim starts two days
# earlier and has an extra column, so rows only line up when joined on date.
# By hand: SSE = 3, Sum (o - 3)^2 = 10 -> NSE = 0.7; pbias = 100 * 0.6 / 3 = 20; n = 5.
cat > "$W/obs/01.csv" <<'EOF'
date,Q
2000-01-01,1
2000-01-02,2
2000-01-03,3
2000-01-04,4
2000-01-05,5
2000-01-06,NA
EOF
cat > "$W/sim/01.csv" <<'EOF'
date,P,Q
1999-12-30,0,7
1999-12-31,0,9
2000-01-01,0,2
2000-01-02,0,2
2000-01-03,0,4
2000-01-04,0,4
2000-01-05,0,6
2000-01-06,0,100
EOF
# Basin 02: perfect simulation -> NSE = KGE = 1.
printf 'date,Q\n2000-01-01,3\n2000-01-02,1\n2000-01-03,4\n2000-01-04,1\n2000-01-05,5\n' > "$W/obs/02.csv"
cp "$W/obs/02.csv" "$W/sim/02.csv"
# Basin 03: only observed -> skipped with a note.
cp "$W/obs/02.csv" "$W/obs/03.csv"

"$BIN" metrics --sim "$W/sim" --obs "$W/obs" --out "$W/m.csv" > "$W/out.txt" 2> "$W/err.txt"
check "exit status 0" $?
cat "$W/out.txt" "$W/err.txt"
head -1 "$W/m.csv" | grep -qx 'basin,NSE,KGE,KGE_prime,r,alpha,beta_ratio,gamma,RMSE,bias,pbias,FHV,FLV_pbias,FLV_log,RMSE_low,RMSE_high,peak_timing,beta_nse,FMS,n,n_peaks'
check "CSV header" $?
[ "$(wc -l < "$W/m.csv")" -eq 3 ]
check "two basins scored" $?
close_to "$(value "$W/m.csv" 01 NSE)" 0.7
check "basin 01 NSE = 0.7" $?
close_to "$(value "$W/m.csv" 01 KGE)" 0.7845151306
check "basin 01 KGE = 0.7845151306" $?
# full precision: the text must give back the double (10 digits would be ~5e-11 off)
awk -v x="$(value "$W/m.csv" 01 KGE)" 'BEGIN { d = x - 0.7845151305559153; exit !(d < 1e-15 && d > -1e-15) }'
check "basin 01 KGE written to 1e-15" $?
close_to "$(value "$W/m.csv" 01 beta_ratio)" 1.2
check "basin 01 beta_ratio = 3.6 / 3" $?
close_to "$(value "$W/m.csv" 01 beta_nse)" 0.4242640687
check "basin 01 beta_nse = 0.6 / sqrt(2)" $?
close_to "$(value "$W/m.csv" 01 FMS)" -50
check "basin 01 FMS = 100 (log 2 - log 4) / log 4" $?
close_to "$(value "$W/m.csv" 01 pbias)" 20
check "basin 01 pbias = 20" $?
[ "$(value "$W/m.csv" 01 n)" = 5 ]
check "basin 01 joined on date: n = 5" $?
[ "$(value "$W/m.csv" 01 FHV)" = NA ]
check "basin 01 FHV undefined for 5 days -> NA" $?
close_to "$(value "$W/m.csv" 02 KGE)" 1
check "basin 02 perfect KGE = 1" $?
grep -q "03.*no simulation" "$W/err.txt"
check "basin 03 without simulation reported" $?
grep -Eq '^NSE +0\.85' "$W/out.txt"
check "summary: median NSE = (0.7 + 1) / 2" $?

# Period: 2000-01-02..05 -> obs 2..5, sim 2,4,4,6: SSE 2, Sum (o - 3.5)^2 = 5 -> NSE 0.6.
"$BIN" metrics --sim "$W/sim" --obs "$W/obs" --out "$W/p.csv" --start 2000-01-02 --end 2000-01-05 > /dev/null 2>&1
check "period: exit status 0" $?
close_to "$(value "$W/p.csv" 01 NSE)" 0.6
check "period: basin 01 NSE = 0.6" $?

# A malformed value on line 4 of an observation file.
mkdir -p "$W/bad/obs"
cp "$W/obs/01.csv" "$W/bad/obs/01.csv"
sed -i '4s/.*/2000-01-03,abc/' "$W/bad/obs/01.csv"
"$BIN" metrics --sim "$W/sim" --obs "$W/bad/obs" > /dev/null 2> "$W/bad/err.txt"
st=$?
cat "$W/bad/err.txt"
[ $st -ne 0 ]
check "malformed file: non-zero exit" $?
grep -q "01.csv" "$W/bad/err.txt" && grep -q "line 4" "$W/bad/err.txt"
check "malformed file: error names file and line" $?

"$BIN" metrics --sim "$W/sim" > /dev/null 2>&1
[ $? -ne 0 ]
check "missing --obs: non-zero exit" $?
exit $fail
