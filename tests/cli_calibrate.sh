# cli_calibrate.sh — `terragrad calibrate` on two Caravan basins (1981 warm-up, training
# 1982-1985, test 1986-1988, 1500 SCE-UA evaluations): output files and headers, skill
# well above what the mid-range parameter set reaches (measured: training NSE -0.58 for
# 01022500 and -0.23 for 01031500), the same results on 1 and 2 threads, the generic CSV
# layout, agreement with `terragrad simulate` + `terragrad metrics` on the written
# parameters, the Adam method, and clear errors with a non-zero exit.
# usage: bash cli_calibrate.sh TERRAGRAD_BIN SHARED_DATA WORKDIR
set -u
BIN=$1
DATA=$2/caravan_camels_us
W=$3
rm -rf "$W"
mkdir -p "$W"
fail=0
check() { # check NAME STATUS
    if [ "$2" -eq 0 ]; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi
}
value() { # value FILE BASIN COLUMN
    awk -F, -v b="$2" -v c="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next }
                                 $1 == b { print $k }' "$1"
}
above() { awk -v x="$1" -v y="$2" 'BEGIN { exit !(x != "" && x != "NA" && x + 0 > y + 0) }'; }
close_to() { awk -v x="$1" -v y="$2" -v t="$3" 'BEGIN { d = x - y; exit !(x != "" && d <= t && d >= -t) }'; }

COMMON="--model hbv --data $DATA --basins 01022500,01031500 --train-start 1982-01-01 --train-end 1985-12-31
        --routing --max-evals 1500 --seed 3"

# ---------------------------------------------------------------- a tiny run
"$BIN" calibrate $COMMON --test-start 1986-01-01 --test-end 1988-12-31 --threads 2 --out "$W/run" \
    > "$W/out.txt" 2> "$W/err.txt"
check "exit status 0" $?
for f in params.csv route.csv metrics_train.csv metrics_test.csv calibration.csv run.txt; do
    test -s "$W/run/$f"
    check "wrote $f" $?
done
test "$(head -1 "$W/run/params.csv")" = "basin,component,BETA,FC,K0,K1,K2,LP,PERC,UZL,TT,CFMAX,CFR,CWH,BETAET"
check "params.csv header" $?
test "$(head -1 "$W/run/route.csv")" = "basin,a,theta"
check "route.csv header" $?
head -1 "$W/run/metrics_train.csv" | grep -q '^basin,NSE,KGE,KGE_prime,r,alpha,beta_ratio,gamma,RMSE,.*,peak_timing,beta_nse,FMS,'
check "metrics header" $?
test "$(wc -l < "$W/run/params.csv")" -eq 3
check "one parameter row per basin" $?
for b in 01022500 01031500; do
    above "$(value "$W/run/metrics_train.csv" $b NSE)" 0.3
    check "basin $b training NSE > 0.3 (mid-range parameters: < -0.2)" $?
    above "$(value "$W/run/metrics_test.csv" $b NSE)" 0.3
    check "basin $b test NSE > 0.3" $?
    # objective = 1 - training NSE
    close_to "$(value "$W/run/calibration.csv" $b objective)" \
             "$(awk -v x="$(value "$W/run/metrics_train.csv" $b NSE)" 'BEGIN { print 1 - x }')" 1e-6
    check "basin $b objective = 1 - training NSE" $?
    test "$(value "$W/run/metrics_train.csv" $b n)" -eq 1461
    check "basin $b scored on 1461 training days (warm-up 1981 before the period)" $?
    above "$(value "$W/run/route.csv" $b theta)" 0.4999
    check "basin $b routing theta in range" $?
done
grep -q "^train NSE median" "$W/out.txt" && grep -q "^test  NSE median" "$W/out.txt" && grep -q "wall time" "$W/out.txt"
check "summary printed" $?
grep -q "\[ 2/2\]" "$W/err.txt" && grep -q "ETA" "$W/err.txt"
check "progress printed" $?

# ---------------------------------------------------------------- 1 thread: same result
"$BIN" calibrate $COMMON --test-start 1986-01-01 --test-end 1988-12-31 --threads 1 --quiet --out "$W/run1" > /dev/null 2>&1
cmp -s "$W/run/params.csv" "$W/run1/params.csv" && cmp -s "$W/run/metrics_test.csv" "$W/run1/metrics_test.csv"
check "identical results on 1 and 2 threads" $?

# ---------------------------------------------------------------- generic CSV layout + simulate
mkdir -p "$W/csv"
for b in 01022500 01031500; do  # 1981-01-01 .. 1985-12-31 with dates
    awk -F, 'function ymd(n,   y, m, d, ml) { y = 1981; while (1) { ml = (y % 4 == 0) ? 366 : 365; if (n < ml) break; n -= ml; y++ }
                                              split("31 28 31 30 31 30 31 31 30 31 30 31", L, " "); if (y % 4 == 0) L[2] = 29
                                              for (m = 1; n >= L[m]; m++) n -= L[m]
                                              return sprintf("%04d-%02d-%02d", y, m, n + 1) }
             BEGIN { print "date,P,T,PET,Q" } NR <= 1826 { print ymd(NR - 1) "," $1 "," $2 "," $3 "," $4 }' \
        "$DATA/timeseries/$b.csv" > "$W/csv/$b.csv"
done
"$BIN" calibrate $COMMON --data "$W/csv" --layout csv --quiet --out "$W/runcsv" > /dev/null 2>&1
check "csv layout: exit status 0" $?
cmp -s "$W/run/params.csv" "$W/runcsv/params.csv"
check "csv layout: the same parameters as the caravan layout" $?
"$BIN" simulate --model hbv --data "$W/csv" --params "$W/run/params.csv" --routing "$W/run/route.csv" \
    --warmup 365 --out "$W/sim" > /dev/null 2>&1 &&
"$BIN" metrics --sim "$W/sim" --obs "$W/csv" --start 1982-01-01 --end 1985-12-31 --out "$W/sim_metrics.csv" > /dev/null 2>&1
check "simulate + metrics on the written parameters" $?
for b in 01022500 01031500; do
    close_to "$(value "$W/sim_metrics.csv" $b NSE)" "$(value "$W/run/metrics_train.csv" $b NSE)" 1e-5
    check "basin $b: simulate reproduces the training NSE" $?
done

# ---------------------------------------------------------------- adam
"$BIN" calibrate $COMMON --method adam --max-evals 400 --quiet --out "$W/adam" > /dev/null 2>&1
check "adam: exit status 0" $?
for b in 01022500 01031500; do
    above "$(value "$W/adam/metrics_train.csv" $b NSE)" 0.3
    check "adam: basin $b training NSE > 0.3" $?
done

# ---------------------------------------------------------------- errors
expect_error() { # NAME PATTERN ARGS...
    local name=$1 pat=$2
    shift 2
    "$BIN" calibrate "$@" > "$W/e.out" 2> "$W/e.err"
    local st=$?
    test $st -ne 0 && grep -q -- "$pat" "$W/e.err"
    check "error: $name (exit $st)" $?
}
base="--model hbv --basins 01022500 --train-start 1982-01-01 --train-end 1982-12-31 --max-evals 200 --out $W/err"
expect_error "missing data dir" "no such directory" $base --data "$W/nonexistent"
expect_error "unknown basin" "unknown basin '99999999'" --model hbv --data "$DATA" --basins 01022500,99999999 \
    --train-start 1982-01-01 --train-end 1982-12-31 --out "$W/err"
expect_error "bad date" "expected a date" $base --data "$DATA" --test-start 1990-02-30 --test-end 1991-01-01
expect_error "reversed period" "is after" $base --data "$DATA" --test-start 1995-01-01 --test-end 1991-01-01
expect_error "unknown method" "unknown calibration method" $base --data "$DATA" --method simplex
expect_error "unknown model" "only 'hbv'" --model gr4j --data "$DATA" --basins 01022500 \
    --train-start 1982-01-01 --train-end 1982-12-31 --out "$W/err"
expect_error "missing --out" "required" --model hbv --data "$DATA" --basins 01022500 --train-start 1982-01-01 \
    --train-end 1982-12-31
expect_error "duplicate basin" "listed twice" $base --data "$DATA" --basins 01022500,01022500
expect_error "period outside the record" "outside the record" --model hbv --data "$DATA" --basins 01022500 \
    --train-start 2030-01-01 --train-end 2031-12-31 --max-evals 200 --out "$W/err"

exit $fail
