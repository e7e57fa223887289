#!/usr/bin/env bash
# Basin-by-basin comparison of two models' scores, for "is A better than B?":
#   bash scripts/paired_compare.sh A.csv COLUMN_A B.csv COLUMN_B
# Each CSV has a header line and the basin id in its first column (e.g. a run's
# metrics_test.csv with column NSE, or the benchmark's generative_model_metrics_by_basin.csv
# with column test_nse). Basins in both files with numeric scores are paired. Prints the
# number of pairs, both medians over those pairs, how many basins A wins, the median of the
# differences A - B, and a two-sided sign test (normal approximation): |z| > 2.58 means
# p < 0.01, a difference that per-basin noise does not explain.
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: bash scripts/paired_compare.sh A.csv COLUMN_A B.csv COLUMN_B" >&2; exit 2; }
for f in "$1" "$3"; do [ -r "$f" ] || { echo "paired_compare: $f: cannot read" >&2; exit 1; }; done
awk -F, -v ca="$2" -v cb="$4" -v fa="$1" -v fb="$3" '
    function col(name, file,   i) { for (i = 1; i <= NF; i++) if ($i == name) return i
        print file ": line 1: no column " name > "/dev/stderr"; bad = 1; exit 1 }
    function num(x) { return x ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ }
    function median(v, n,   i, j, t) { # insertion sort; n is a few hundred basins
        for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
        return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
    { sub(/\r$/, "") } # files written on Windows end their lines in CR LF
    FNR == 1 { file++; if (file == 1) ia = col(ca, fa); else ib = col(cb, fb); next }
    file == 1 { if (num($ia)) a[$1] = $ia; next }
    file == 2 && ($1 in a) && num($ib) {
        n++; va[n] = a[$1]; vb[n] = $ib; d[n] = a[$1] - $ib
        if (d[n] > 0) win++; else if (d[n] < 0) loss++ }
    END { if (bad || file < 2) exit 1
        if (!n) { print "paired_compare: no basin is in both files" > "/dev/stderr"; exit 1 }
        m = win + loss; z = m ? (win - m / 2) / sqrt(m / 4) : 0
        printf "pairs %d  median A %.3f  median B %.3f  A better in %d, worse in %d  median(A-B) %+.3f  sign test z %+.2f\n",
               n, median(va, n), median(vb, n), win, loss, median(d, n), z }' "$1" "$3"
