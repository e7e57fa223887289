#!/usr/bin/env bash
# Configs that travel: `cd examples && terragrad train lstm_small.yaml` with the repository's
# own example (relative paths resolve against the config's folder, ${TG_SHARED_DATA:-...}),
# the same config from another directory, --set overrides (recorded, and bad ones refused
# before anything is written), and `terragrad test` of the run from yet another directory.
# The example is copied into WORK/repo/examples with WORK/shared/data -> the real data, the
# layout of a checkout next to ../shared/data, so the test never writes into the source tree.
set -uo pipefail
BIN=$1; DATA=$2; WORK=$3
HERE=$(cd "$(dirname "$0")" && pwd)
rm -rf "$WORK"; mkdir -p "$WORK/repo/examples" "$WORK/shared" "$WORK/elsewhere"
ln -s "$DATA" "$WORK/shared/data"
cp "$HERE/../examples/lstm_small.yaml" "$WORK/repo/examples/"
fail=0
check() { if [ "$2" -eq 0 ]; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }
QUICK=(--set training.epochs=1 --set training.iterations=2 --set output.plots=false)

# 1. from the config's folder, TG_SHARED_DATA unset: the default ../../shared/data is found
(cd "$WORK/repo/examples" && env -u TG_SHARED_DATA "$BIN" train lstm_small.yaml "${QUICK[@]}") > "$WORK/t1.out" 2>&1
check "cd examples && train lstm_small.yaml (exit $?)" $?
RUN="$WORK/repo/examples/runs/lstm_small"
[ -f "$RUN/last.ckpt" ]
check "run written under the config's folder (output.dir runs/lstm_small)" $?
grep -qx "  path: $WORK/shared/data/caravan_camels_us" "$RUN/config.yaml"
check "run config.yaml: data.path absolute, ../ folded" $?
grep -qx "  epochs: 1" "$RUN/config.yaml" && grep -qx "# --set training.epochs=1" "$RUN/config.yaml"
check "run config.yaml records the --set overrides" $?

# 2. the same config from another directory: same run folder, nothing in the cwd
(cd "$WORK/elsewhere" && env -u TG_SHARED_DATA "$BIN" train ../repo/examples/lstm_small.yaml --overwrite "${QUICK[@]}") \
    > "$WORK/t2.out" 2>&1
check "train from another directory (exit $?)" $?
[ -z "$(ls -A "$WORK/elsewhere")" ] && [ -f "$RUN/last.ckpt" ]
check "nothing written in the current directory" $?

# 3. TG_SHARED_DATA wins over the default
ln -s "$DATA" "$WORK/alt"
(cd "$WORK/elsewhere" && TG_SHARED_DATA="$WORK/alt" "$BIN" train ../repo/examples/lstm_small.yaml --overwrite \
    "${QUICK[@]}") > "$WORK/t3.out" 2>&1
check "train with TG_SHARED_DATA set (exit $?)" $?
grep -qx "  path: $WORK/alt/caravan_camels_us" "$RUN/config.yaml"
check "TG_SHARED_DATA expanded into data.path" $?

# 4. test the run from a third directory: the run's config.yaml needs no cwd
(cd / && "$BIN" test "$RUN") > "$WORK/t4.out" 2>&1
check "terragrad test RUN from / (exit $?)" $?
[ -f "$RUN/metrics_test.csv" ] && [ "$(wc -l < "$RUN/metrics_test.csv")" -eq 6 ]
check "metrics for the 5 basins" $?

# 5. bad overrides: refused naming the override, nothing written
"$BIN" train "$WORK/repo/examples/lstm_small.yaml" --out "$WORK/bad1" --set trainig.epochs=1 > "$WORK/b1.out" 2>&1
st=$?
grep -qF -- "--set trainig.epochs=1: unknown key 'trainig.epochs' (did you mean 'training.epochs'?)" "$WORK/b1.out" \
    && [ $st -ne 0 ] && [ ! -e "$WORK/bad1" ]
check "unknown --set key: error names it, exit $st, no run folder" $?
"$BIN" train "$WORK/repo/examples/lstm_small.yaml" --out "$WORK/bad2" --set training.epochs=many > "$WORK/b2.out" 2>&1
st=$?
grep -qF -- "--set training.epochs=many: key 'training.epochs': expected an integer" "$WORK/b2.out" \
    && [ $st -ne 0 ] && [ ! -e "$WORK/bad2" ]
check "bad --set value: error names it, exit $st, no run folder" $?
sed 's#\${TG_SHARED_DATA:-../../shared/data}#${TG_NO_SUCH_VAR}#' "$WORK/repo/examples/lstm_small.yaml" > "$WORK/novar.yaml"
"$BIN" train "$WORK/novar.yaml" --out "$WORK/bad3" > "$WORK/b3.out" 2>&1
st=$?
grep -qF "novar.yaml:7: key 'data.path': environment variable TG_NO_SUCH_VAR is not set" "$WORK/b3.out" \
    && [ $st -ne 0 ] && [ ! -e "$WORK/bad3" ]
check "unset \${VAR}: file, line, key and variable named, exit $st" $?
[ $fail -eq 0 ] || { for f in "$WORK"/*.out; do echo "== $f"; tail -5 "$f"; done; }
exit $fail
