#!/usr/bin/env bash
# cli_validation.sh — bad inputs give one clear error (file, line, basin, field), a non-zero
# exit and no output; odd-but-valid inputs work. Small hand-made files only:
#   physical domains (simulate, sensitivity, train), NaN/Inf never written, period checks,
#   config integer overflow, UTF-8 BOM, ';' delimiter, each error printed once, and black
#   boxes in world-writable places refused (docs/hbv_domain.md, docs/surrogate.md).
# usage: bash cli_validation.sh TERRAGRAD_BIN SHARED_DATA WORKDIR
set -u
BIN=$1
W=$3
SRC="$(cd "$(dirname "$0")/.." && pwd)"
rm -rf "$W"
mkdir -p "$W"
cd "$W" || exit 1
fail=0
check() { # check NAME CONDITION-EXIT-STATUS [file to show on failure]
    if [ "$2" -eq 0 ]; then echo "ok   $1"; else echo "FAIL $1"; [ -n "${3:-}" ] && sed 's/^/     | /' "$3"; fail=1; fi
}
# refused NAME EXIT-STATUS FILE PATTERN: non-zero exit, FILE has PATTERN exactly once and
# nothing else repeats it (each error printed once)
refused() {
    local n
    n=$(grep -cF -- "$4" "$3")
    [ "$2" -ne 0 ] && [ "$n" -eq 1 ]
    check "$1 (exit $2, message x$n)" $? "$3"
}

# ---------------------------------------------------------------- hand-made inputs
# forcing: 40 days of date,P,T,PET,Q for basin b1 (rain every few days, mild, PET 1.5)
days() { for i in $(seq 0 $(($1 - 1))); do echo "2000-01-01 + $i days"; done | date -u -f - +%F; }
mkdir -p data
{
    echo "date,P,T,PET,Q"
    days 40 | awk '{ i = NR - 1; printf "%s,%d,%d,1.5,0.%d\n", $1, (i % 5) * 2, 3 + i % 7, 3 + i % 4 }'
} > data/b1.csv
HDR="basin,component,BETA,FC,K0,K1,K2,LP,PERC,UZL,TT,CFMAX,CFR,CWH,BETAET"
params() { printf '%s\nb1,1,%s\n' "$HDR" "$1" > "$2"; }  # params "BETA,...,BETAET" FILE
GOOD="2,250,0.3,0.1,0.01,0.5,1,10,0,3,0.05,0.1,1"
params "$GOOD" good.csv
sim() { "$BIN" simulate --model hbv --data "${DATA_DIR:-data}" --params "$1" --warmup 5 --out "$2"; }

# the good case works (every test below differs from it in one thing)
sim good.csv out_good > good.out 2> good.err
check "valid parameters: simulate exit 0" $?
[ -s out_good/b1.csv ] && [ ! -s good.err ]
check "valid parameters: output, no warning" $? good.err

# ---------------------------------------------------------------- 3. physical domains
# FC = -250 and K0 = 1.7 (the issue's case: used to write ET = -250 with exit 0)
params "2,-250,1.7,0.1,0.01,0.5,1,10,0,3,0.05,0.1,1" bad_fc.csv
sim bad_fc.csv out_fc > fc.out 2> fc.err
refused "FC=-250: error" $? fc.err "bad_fc.csv: line 2, basin 'b1', field 'FC': -250 is outside the valid domain FC > 0"
[ ! -e out_fc ]
check "FC=-250: no output folder" $?
[ "$(wc -l < fc.err)" -eq 1 ]
check "FC=-250: stderr is one line" $? fc.err
params "2,250,1.7,0.1,0.01,0.5,1,10,0,3,0.05,0.1,1" bad_k0.csv
sim bad_k0.csv out_k0 > k0.out 2> k0.err
refused "K0=1.7: error" $? k0.err "line 2, basin 'b1', field 'K0': 1.7 is outside the valid domain 0 <= K0 <= 1"
[ ! -e out_k0/b1.csv ]
check "K0=1.7: no output file" $?
# inside the domain, outside the usual range: a warning only
params "2,30,0.3,0.1,0.01,0.5,1,10,0,3,0.05,0.1,1" low_fc.csv
sim low_fc.csv out_low > low.out 2> low.err
st=$?
[ $st -eq 0 ] && grep -q "field 'FC': 30 outside the usual range" low.err && [ -s out_low/b1.csv ]
check "FC=30: warning, exit 0, output" $? low.err
# negative precipitation
mkdir -p negp && sed '8s/^\([^,]*\),[^,]*,/\1,-3,/' data/b1.csv > negp/b1.csv
DATA_DIR=negp sim good.csv out_negp > negp.out 2> negp.err
refused "negative P: error" $? negp.err "negp/b1.csv: line 8, basin 'b1', field 'P': -3 is outside the valid domain P >= 0"
[ ! -e out_negp/b1.csv ]
check "negative P: no output file" $?
# sensitivity at LP = 0 (used to write nan gradients with exit 0)
params "2,250,0.3,0.1,0.01,0,1,10,0,3,0.05,0.1,1" lp0.csv
"$BIN" sensitivity --model hbv --data data --params lp0.csv --warmup 5 --loss mse --out sens_lp0 > lp0.out 2> lp0.err
refused "sensitivity LP=0: error" $? lp0.err "field 'LP': 0 is outside the valid domain 0 < LP <= 1"
[ ! -e sens_lp0/sensitivity.csv ]
check "sensitivity LP=0: no output file" $?
# at the domain's closed edges (PERC = UZL = CFR = CWH = 0, K0 = LP = 1: kinks at every step)
# every gradient is a finite number
params "2,250,1,0.1,0.01,1,0,0,0,3,0,0,1" edge.csv
"$BIN" sensitivity --model hbv --data data --params edge.csv --warmup 5 --loss mse --out sens_edge > edge.out 2> edge.err
check "sensitivity at domain edges: exit 0" $? edge.err
awk -F, 'NR > 1 && !($5 + 0 == $5 && $5 !~ /nan|inf/) { bad++ } END { exit !(NR == 14 && !bad) }' sens_edge/sensitivity.csv
check "sensitivity at domain edges: 13 finite gradients" $? sens_edge/sensitivity.csv
# valid but huge rain on two days overflows the stores (inf - inf = NaN): the output guard
# refuses to write it (the largest finite value of the build's reals)
case "$("$BIN" --help | head -1)" in *"(double build"*) BIG=1.7e308 ;; *) BIG=3e38 ;; esac
mkdir -p big && awk -F, -v big=$BIG 'NR == 10 || NR == 11 { $2 = big } 1' OFS=, data/b1.csv > big/b1.csv
DATA_DIR=big sim good.csv out_big > big.out 2> big.err
refused "P=$BIG twice: NaN refused at output" $? big.err "out_big/b1.csv: basin 'b1', variable '"
[ ! -e out_big/b1.csv ]
check "P=$BIG twice: no output file" $?
# the table in the docs is the one in the code
"$BIN" simulate --domains | grep '^|' > domains.md
[ "$(wc -l < domains.md)" -ge 20 ] && ! grep -vxF -f <(grep '^|' "$SRC/docs/hbv_domain.md") domains.md
check "docs/hbv_domain.md holds the table of terragrad simulate --domains" $? domains.md

# ---------------------------------------------------------------- 4. parsers
# UTF-8 byte-order mark (a spreadsheet's CSV), in the forcing and in the parameter table
mkdir -p bom && { printf '\xEF\xBB\xBF'; cat data/b1.csv; } > bom/b1.csv
{ printf '\xEF\xBB\xBF'; cat good.csv; } > bom_params.csv
DATA_DIR=bom sim bom_params.csv out_bom > bom.out 2> bom.err
check "BOM: simulate exit 0" $? bom.err
cmp -s out_bom/b1.csv out_good/b1.csv
check "BOM: same output as without" $?
# ';' as delimiter
mkdir -p semi && tr ',' ';' < data/b1.csv > semi/b1.csv
DATA_DIR=semi sim good.csv out_semi > semi.out 2> semi.err
refused "';' delimiter: error" $? semi.err "semi/b1.csv: line 1: found ';' — files must be comma-separated"
tr ',' ';' < good.csv > semi_params.csv
sim semi_params.csv out_semi2 > semi2.out 2> semi2.err
refused "';' in a parameter table: error" $? semi2.err "semi_params.csv: line 1: found ';' — files must be comma-separated"

# ---------------------------------------------------------------- training configs
mkdir -p tr
for k in 1 2; do
    {
        echo "date,P,T,PET,Q"
        days 400 | awk -v k=$k '{ i = NR - 1; printf "%s,%d,%d,1.5,0.%d\n", $1, (i * 7 + k) % 5, i % 9 - 2, 3 + (i + k) % 4 }'
    } > tr/b$k.csv
done
# cfg NAME DATA HIDDEN TRAIN_END TEST_START TEST_END
cfg() {
    cat > "$1.yaml" <<YAML
output:
  dir: $W/run_$1
data:
  source: csv
  path: $W/$2
  basins: [b1, b2]
periods:
  train_start: 2000-03-01
  train_end: $4
  test_start: $5
  test_end: $6
model:
  type: lstm
  hidden: $3
training:
  epochs: 1
  iterations: 2
  batch: 2
  warmup: 10
  horizon: 20
YAML
}
cfg ok tr 4 2000-10-31 2000-11-01 2001-01-31
"$BIN" train ok.yaml > ok.out 2>&1
check "small training config: exit 0" $? ok.out
# inf in a forcing file: named, not "the loss is not finite"
cp -r tr trinf && sed -i '101s/,1.5,/,inf,/' trinf/b2.csv
cfg inf trinf 4 2000-10-31 2000-11-01 2001-01-31
"$BIN" train inf.yaml > inf.out 2>&1
refused "inf in forcing (train): error" $? inf.out "trinf/b2.csv: line 101, basin 'b2', field 'PET': inf is outside the valid domain"
! grep -q "not finite" inf.out
check "inf in forcing: no 'loss is not finite'" $? inf.out
# periods: end before start; test period after the data
cfg order tr 4 1999-06-30 2000-11-01 2001-01-31
"$BIN" train order.yaml > order.out 2>&1
refused "train_end before train_start" $? order.out "order.yaml:9: train_end 1999-06-30 is before train_start 2000-03-01"
! grep -q "normalisation" order.out
check "period order: no normalisation message" $? order.out
cfg late tr 4 2000-10-31 2016-01-01 2018-12-31
"$BIN" train late.yaml > late.out 2>&1
refused "test period outside the data" $? late.out "late.yaml:10: test period 2016-01-01..2018-12-31 lies outside the data, which end 2001-02-03"
# 2^32 + 16 hidden units: used to train a 16-unit LSTM
cfg big tr 4294967312 2000-10-31 2000-11-01 2001-01-31
"$BIN" train big.yaml > big.out 2>&1
refused "hidden 2^32+16: error" $? big.out "big.yaml:14: key 'model.hidden': 4294967312 is out of range"
[ ! -e run_big/last.ckpt ]
check "hidden 2^32+16: nothing trained" $?
# a key the chosen model kind does not read: an error naming file, line and key (model.dropout
# used to be ignored silently by dhbv: checkpoints with dropout 0.2 and 0 were identical)
sed -e 's/type: lstm/type: dhbv/' -e '14a\  dropout: 0.2' ok.yaml | sed 's/run_ok/run_unused/' > unused.yaml
"$BIN" train unused.yaml > unused.out 2>&1
refused "model.dropout with dhbv: error" $? unused.out "unused.yaml:15: key 'model.dropout' is not used by model.type dhbv"
[ ! -e run_unused/last.ckpt ] && [ ! -e run_unused/config.yaml ]
check "model.dropout with dhbv: nothing written" $?
printf 'hbv:\n  components: 4\n' | cat ok.yaml - | sed 's/run_ok/run_unused2/' > unused2.yaml
"$BIN" train unused2.yaml > unused2.out 2>&1
refused "hbv.components with lstm: error" $? unused2.out "unused2.yaml:22: key 'hbv.components' is not used by model.type lstm"

# ---------------------------------------------------------------- 6. black boxes
mkdir -p bb/safe bb/open
printf '#!/bin/sh\nexit 3\n' > bb/safe/model.sh
cp bb/safe/model.sh bb/open/model.sh
chmod 755 bb/safe bb/safe/model.sh bb/open/model.sh
chmod 777 bb/open            # world-writable, no sticky bit
cp bb/safe/model.sh bb/safe/ww.sh && chmod 757 bb/safe/ww.sh    # world-writable file
# sur NAME PATH
sur() {
    cat > "sur_$1.yaml" <<YAML
output:
  dir: $W/sur_$1
blackbox:
  kind: exec
  path: $2
  name: tiny
  params: [a]
  lower: [0]
  upper: [1]
  outputs: 1
data:
  path: $W/nowhere
  basins: [b1]
periods:
  train_start: 2000-01-01
  train_end: 2000-02-01
  test_start: 2000-02-02
  test_end: 2000-03-01
YAML
    "$BIN" surrogate fit "sur_$1.yaml" > "sur_$1.out" 2>&1
}
sur open "$W/bb/open/model.sh"
refused "black box in a world-writable folder" $? sur_open.out "lives in $W/bb/open, which is world-writable without the sticky bit"
sur ww "$W/bb/safe/ww.sh"
refused "world-writable black box" $? sur_ww.out "$W/bb/safe/ww.sh is world-writable"
chmod 1777 bb/open          # sticky: allowed (like /tmp)
sur sticky "$W/bb/open/model.sh"
! grep -q "world-writable" sur_sticky.out && grep -qF "black box 'tiny': exec $W/bb/open/model.sh (run by" sur_sticky.out
check "sticky folder: accepted, resolved path printed" $? sur_sticky.out
sur safe "$W/bb/safe/model.sh"
! grep -q "world-writable" sur_safe.out && grep -qF "black box 'tiny': exec $W/bb/safe/model.sh (run by" sur_safe.out
check "safe black box: accepted, resolved path printed" $? sur_safe.out
"$BIN" surrogate --help | grep -q "execv" && "$BIN" surrogate --help | grep -q "world-writable"
check "surrogate --help says a config runs programs" $?
chmod 755 bb/open

if [ $fail -eq 0 ]; then echo "cli_validation: all passed"; else echo "cli_validation: FAILED"; fi
exit $fail
