#!/usr/bin/env bash
# Ensemble mean of several trained runs, scored like any model:
#   bash scripts/ensemble.sh OUT_DIR RUN_DIR1 RUN_DIR2 [...]
# Each run must have been evaluated (`terragrad test RUN`, writing predictions_test/<basin>.csv
# with columns date,Q_obs,Q,...). Writes OUT_DIR/sim/<basin>.csv (date,Q = mean of the runs'
# Q) and OUT_DIR/obs/<basin>.csv (date,Q = observed), then runs
# `terragrad metrics --sim OUT_DIR/sim --obs OUT_DIR/obs --out OUT_DIR/metrics.csv`.
# TERRAGRAD=path/to/terragrad overrides the binary (default: build/terragrad).
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: bash scripts/ensemble.sh OUT_DIR RUN_DIR1 RUN_DIR2 [...]" >&2; exit 2; }
OUT=$1; shift
TG=${TERRAGRAD:-build/terragrad}
mkdir -p "$OUT/sim" "$OUT/obs"
first=$1
for f in "$first"/predictions_test/*.csv; do
    b=$(basename "$f")
    files=()
    for r in "$@"; do
        [ -f "$r/predictions_test/$b" ] || { echo "ensemble: $r/predictions_test/$b: missing (run terragrad test $r)" >&2; exit 1; }
        files+=("$r/predictions_test/$b")
    done
    # join on the date column of every file; every run must cover the same days
    awk -F, -v n=${#files[@]} -v sim="$OUT/sim/$b.tmp" -v obs="$OUT/obs/$b.tmp" '
        FNR == 1 { k++; if ($1 != "date" || $2 != "Q_obs" || $3 != "Q") { print FILENAME ": line 1: expected date,Q_obs,Q,..." > "/dev/stderr"; bad = 1; exit 1 } next }
        k == 1 { d[FNR] = $1; o[FNR] = $2; s[FNR] = $3; rows = FNR; next }
        { if (d[FNR] != $1) { print FILENAME ": line " FNR ": date " $1 " where the first run has " d[FNR] > "/dev/stderr"; bad = 1; exit 1 }
          s[FNR] += $3 }
        END { if (bad) exit 1
              print "date,Q" > sim; print "date,Q" > obs
              for (i = 2; i <= rows; i++) { printf "%s,%.6g\n", d[i], s[i] / n > sim; print d[i] "," o[i] > obs } }' "${files[@]}"
    mv "$OUT/sim/$b.tmp" "$OUT/sim/$b"
    mv "$OUT/obs/$b.tmp" "$OUT/obs/$b"
done
"$TG" metrics --sim "$OUT/sim" --obs "$OUT/obs" --out "$OUT/metrics.csv"
