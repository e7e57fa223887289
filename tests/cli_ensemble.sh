# cli_ensemble.sh — scripts/ensemble.sh (mean of several runs' predictions, scored by
# `terragrad metrics`) and scripts/paired_compare.sh (basin-by-basin comparison of two
# models), on tiny hand-made files with hand-computed answers, plus their error exits.
# usage: bash cli_ensemble.sh TERRAGRAD_BIN SHARED_DATA WORKDIR
set -u
BIN=$1
W=$3
SCRIPTS=$(cd "$(dirname "$0")/../scripts" && pwd)
rm -rf "$W"
mkdir -p "$W/r1/predictions_test" "$W/r2/predictions_test"
fail=0
check() { # check NAME CONDITION-EXIT-STATUS
    if [ "$2" -eq 0 ]; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi
}
value() { # value FILE BASIN COLUMN
    awk -F, -v b="$2" -v c="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next }
                                 $1 == b { print $k }' "$1"
}
close_to() { awk -v x="$1" -v y="$2" 'BEGIN { d = x - y; if (x == "" || d > 1e-6 || d < -1e-6) exit 1 }'; }

# Basin A: observed 1..5; the runs miss the last day by +2 and -2, so their mean is exact
# (NSE 1, while each run alone has NSE 1 - 4/10 = 0.6).
# Basin B: both runs simulate 2,2,4,4,6 -> the mean too: SSE 3, Sum (o - 3)^2 = 10, NSE 0.7.
printf 'date,Q_obs,Q,ET\n2000-01-01,1,1,0\n2000-01-02,2,2,0\n2000-01-03,3,3,0\n2000-01-04,4,4,0\n2000-01-05,5,7,0\n' > "$W/r1/predictions_test/A.csv"
printf 'date,Q_obs,Q\n2000-01-01,1,1\n2000-01-02,2,2\n2000-01-03,3,3\n2000-01-04,4,4\n2000-01-05,5,3\n' > "$W/r2/predictions_test/A.csv"
printf 'date,Q_obs,Q\n2000-01-01,1,2\n2000-01-02,2,2\n2000-01-03,3,4\n2000-01-04,4,4\n2000-01-05,5,6\n' > "$W/r1/predictions_test/B.csv"
cp "$W/r1/predictions_test/B.csv" "$W/r2/predictions_test/B.csv"

TERRAGRAD=$BIN bash "$SCRIPTS/ensemble.sh" "$W/ens" "$W/r1" "$W/r2" > "$W/ens.txt" 2>&1
check "ensemble: exit status 0" $?
cat "$W/ens.txt"
[ "$(sed -n 6p "$W/ens/sim/A.csv")" = "2000-01-05,5" ]
check "ensemble: basin A last day is the mean (7 + 3) / 2" $?
close_to "$(value "$W/ens/metrics.csv" A NSE)" 1
check "ensemble: basin A NSE = 1" $?
close_to "$(value "$W/ens/metrics.csv" B NSE)" 0.7
check "ensemble: basin B NSE = 0.7" $?
grep -Eq '^NSE +0\.85' "$W/ens.txt"
check "ensemble: median NSE = (1 + 0.7) / 2" $?

# A run whose dates do not line up, and a run without the basin: errors naming the file.
sed -i '3s/2000-01-02/2000-01-09/' "$W/r2/predictions_test/B.csv"
TERRAGRAD=$BIN bash "$SCRIPTS/ensemble.sh" "$W/ens2" "$W/r1" "$W/r2" > /dev/null 2> "$W/ens2.err"
st=$?
cat "$W/ens2.err"
[ $st -ne 0 ] && grep -q "r2/predictions_test/B.csv: line 3" "$W/ens2.err"
check "ensemble: misaligned dates -> non-zero exit naming file and line" $?
rm "$W/r2/predictions_test/B.csv"
TERRAGRAD=$BIN bash "$SCRIPTS/ensemble.sh" "$W/ens3" "$W/r1" "$W/r2" > /dev/null 2> "$W/ens3.err"
st=$?
[ $st -ne 0 ] && grep -q "r2/predictions_test/B.csv: missing" "$W/ens3.err"
check "ensemble: missing basin file -> non-zero exit naming it" $?

# paired_compare: pairs b1, b2, b4, b7 (b3 is NA in A, b5 and b6 are in one file only).
# A: .5 .2 .9 .3 (median .4); B: .4 .3 .8 .3 (median .35); differences .1 -.1 .1 0
# (median .05); 2 wins, 1 loss, 1 tie -> sign test z = (2 - 1.5) / sqrt(3 / 4) = 0.577.
printf 'basin,NSE\nb1,0.5\nb2,0.2\nb3,NA\nb4,0.9\nb5,0.1\nb7,0.3\n' > "$W/a.csv"
# B has CR LF line ends (as the benchmark file does), and its column is the last one.
printf 'gauge_id,calibrate_nse,test_nse\r\nb1,0,0.4\r\nb2,0,0.3\r\nb3,0,0.1\r\nb4,0,0.8\r\nb6,0,0\r\nb7,0,0.3\r\n' > "$W/b.csv"
out=$(bash "$SCRIPTS/paired_compare.sh" "$W/a.csv" NSE "$W/b.csv" test_nse)
check "paired_compare: exit status 0" $?
echo "$out"
[ "$out" = "pairs 4  median A 0.400  median B 0.350  A better in 2, worse in 1  median(A-B) +0.050  sign test z +0.58" ]
check "paired_compare: hand-computed pairs, medians, wins and z" $?
bash "$SCRIPTS/paired_compare.sh" "$W/a.csv" KGE "$W/b.csv" test_nse > /dev/null 2> "$W/pc.err"
st=$?
[ $st -ne 0 ] && grep -q "a.csv: line 1: no column KGE" "$W/pc.err"
check "paired_compare: unknown column -> non-zero exit naming file and column" $?
bash "$SCRIPTS/paired_compare.sh" "$W/a.csv" NSE "$W/nofile.csv" test_nse > /dev/null 2>&1
[ $? -ne 0 ]
check "paired_compare: missing file -> non-zero exit" $?
exit $fail
