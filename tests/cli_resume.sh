#!/usr/bin/env bash
# train --resume is exact: for the LSTM and for δHBV, a run stopped after epoch 3 (cleanly:
# a 3-epoch config resumed with the 6-epoch one), a run that dies inside a checkpoint write
# (the TG_FAULT_INJECT test hook of src/optim/checkpoint.c: _exit(137) between writing the
# temp file and the rename, or half-way through the temp file), and a run killed with
# SIGKILL at random moments and resumed until done, all end with a last.ckpt byte-identical
# (cmp) to the uninterrupted 6-epoch run's, and the same loss.csv (epoch, loss, lr columns;
# the last column is wall time). Resuming with a changed basin list, model or loss is
# refused naming the key, changed training data naming the basin (the same data in another
# folder are accepted); a format-1 checkpoint is refused with a version message.
set -euo pipefail
BIN=$1; DATA=$2; WORK=$3
rm -rf "$WORK"; mkdir -p "$WORK"
fail() { echo "FAIL: $*"; exit 1; }
mkcfg() {  # mkcfg FILE MODEL EPOCHS
  local extra=""
  [ "$2" = dhbv ] && extra=$'hbv:\n  components: 2\n  dynamic: [BETA]\n  routing: true'
  local dropout="  dropout: 0.2"  # model.dropout: only the lstm reads it (a key of another kind is an error)
  [ "$2" = lstm ] || dropout=""
  cat > "$1" <<YAML
seed: 4
data:
  source: caravan
  path: $DATA/caravan_camels_us
  basins: ['01022500', '01031500', '01047000']
  attributes: $DATA/camels_us/camels_attributes_v2.0
  attribute_names: [p_mean, aridity]
periods:
  train_start: 1981-01-01
  train_end: 1984-12-31
  test_start: 1985-01-01
  test_end: 1985-12-31
inputs:
  dynamic: [P, T, PET]
model:
  type: $2
  hidden: 8
$dropout
loss:
  type: nse
optim:
  lr: 0.01
training:
  epochs: $3
  iterations: 30
  batch: 8
  warmup: 30
  horizon: 60
  threads: 1
$extra
YAML
}
same_as_full() {  # same_as_full RUN WHAT
  cmp "$WORK/$M.full/last.ckpt" "$1/last.ckpt" || fail "$M $2: last.ckpt differs from the uninterrupted run's"
  diff <(cut -d, -f1-3 "$WORK/$M.full/loss.csv") <(cut -d, -f1-3 "$1/loss.csv") > /dev/null \
    || fail "$M $2: loss.csv differs from the uninterrupted run's"
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
kills_total=0
for M in lstm dhbv; do
  mkcfg "$WORK/$M.yaml" $M 6
  mkcfg "$WORK/$M.3.yaml" $M 3
  t0=$(now_ms)
  "$BIN" train "$WORK/$M.yaml" --out "$WORK/$M.full" > "$WORK/$M.full.out" 2>&1 || { cat "$WORK/$M.full.out"; fail "$M train"; }
  t_full=$(( $(now_ms) - t0 ))
  [ "$(wc -l < "$WORK/$M.full/loss.csv")" -eq 7 ] || fail "$M: expected 6 epochs in loss.csv"

  # (a) stopped cleanly after epoch 3, resumed with more epochs
  R="$WORK/$M.clean"
  "$BIN" train "$WORK/$M.3.yaml" --out "$R" > "$R.out" 2>&1 || { cat "$R.out"; fail "$M 3 epochs"; }
  "$BIN" train "$WORK/$M.yaml" --out "$R" --resume >> "$R.out" 2>&1 || { cat "$R.out"; fail "$M resume"; }
  grep -q "resumed from .* after epoch 3" "$R/train.log" || fail "$M: resume not logged"
  grep -q "epochs: 6" "$R/config.yaml" || fail "$M: the run's config.yaml does not describe the resumed run"
  same_as_full "$R" "stopped after epoch 3 and resumed"

  # (b) dies between writing the epoch-3 checkpoint and renaming it, or half-way through it
  for point in ckpt_before_rename:3 ckpt_partial_write:4; do
    R="$WORK/$M.${point%%:*}"
    set +e
    TG_FAULT_INJECT=$point "$BIN" train "$WORK/$M.yaml" --out "$R" > "$R.out" 2>&1
    st=$?
    set -e
    [ $st -eq 137 ] || { cat "$R.out"; fail "$M $point: exit status $st, expected the injected 137"; }
    [ -s "$R/last.ckpt.tmp" ] || fail "$M $point: no temp file left by the interrupted write"
    k=$(( ${point#*:} - 1 ))
    [ "$(tail -1 "$R/loss.csv" | cut -d, -f1)" = "${point#*:}" ] || fail "$M $point: loss.csv should have logged epoch ${point#*:}"
    "$BIN" train "$WORK/$M.yaml" --out "$R" --resume >> "$R.out" 2>&1 || { cat "$R.out"; fail "$M $point: resume"; }
    grep -q "resumed from .* after epoch $k\$" "$R/train.log" || { cat "$R/train.log"; fail "$M $point: not resumed from the last complete checkpoint (epoch $k)"; }
    same_as_full "$R" "interrupted by $point"
  done

  # (c) SIGKILL at random moments (within the uninterrupted run's duration), resumed until done
  R="$WORK/$M.killed"
  RANDOM=$(( 17 + ${#M} ))
  kills=0 attempt=0 fresh=1
  # kill, resume, kill ... until a process ends by itself; a run that ended without any kill
  # landing between two checkpoints (so no resume from epoch 1-5) is started again
  while :; do
    attempt=$(( attempt + 1 ))
    [ $attempt -le 60 ] || fail "$M: 60 attempts without a SIGKILL landing between two checkpoints"
    if [ $fresh = 1 ] || [ ! -s "$R/last.ckpt" ]; then mode=--overwrite; else mode=--resume; fi
    fresh=0
    "$BIN" train "$WORK/$M.yaml" --out "$R" $mode >> "$R.out" 2>&1 &
    pid=$!
    sleep "$(awk -v r=$RANDOM -v t="$t_full" 'BEGIN { printf "%.3f", (r / 32768) * t / 1000 }')"
    kill -9 $pid 2> /dev/null || true
    st=0; wait $pid 2> /dev/null || st=$?
    if [ $st = 137 ]; then kills=$(( kills + 1 )); continue; fi
    [ $st = 0 ] || { tail "$R.out"; fail "$M: train ended with status $st"; }
    [ "$(grep -c "^resumed from .* after epoch [1-5]\$" "$R/train.log")" -ge 1 ] && break
    fresh=1
  done
  same_as_full "$R" "killed $kills times"
  kills_total=$(( kills_total + kills ))
  echo "$M: clean stop, 2 injected checkpoint faults and $kills SIGKILLs ($(grep -c '^resumed from' "$R/train.log") resumes) end bit-identical"
done
[ $kills_total -ge 1 ] || fail "no SIGKILL landed while a run was going"

# refusals: a changed basin list, model or loss names the key; format-1 checkpoints
R="$WORK/lstm.clean"
sed "s/'01047000'\]/'01047000', '01054200']/" "$WORK/lstm.yaml" > "$WORK/basins.yaml"
if "$BIN" train "$WORK/basins.yaml" --out "$R" --resume > "$WORK/basins.out" 2>&1; then fail "resume with another basin list accepted"; fi
grep -q "data.basins was '01022500, 01031500, 01047000', now '01022500, 01031500, 01047000, 01054200'" "$WORK/basins.out" \
  || { cat "$WORK/basins.out"; fail "basin list change not named"; }
sed "s/hidden: 8/hidden: 12/; s/type: nse/type: mse/" "$WORK/lstm.yaml" > "$WORK/model.yaml"
if "$BIN" train "$WORK/model.yaml" --out "$R" --resume > "$WORK/model.out" 2>&1; then fail "resume with another model accepted"; fi
grep -q "model.hidden was '8', now '12'" "$WORK/model.out" && grep -q "loss.type was 'nse', now 'mse'" "$WORK/model.out" \
  || { cat "$WORK/model.out"; fail "model / loss change not named"; }
cmp -s "$R/last.ckpt" "$WORK/lstm.full/last.ckpt" || fail "a refused resume changed last.ckpt"
# the same data elsewhere is the same data set; a changed training-period value is not
mkdir -p "$WORK/data/timeseries"
cp "$DATA/caravan_camels_us/basins.csv" "$WORK/data/"
for b in 01022500 01031500 01047000; do cp "$DATA/caravan_camels_us/timeseries/$b.csv" "$WORK/data/timeseries/"; done
sed "s#path: $DATA/caravan_camels_us#path: $WORK/data#" "$WORK/lstm.3.yaml" > "$WORK/copy.3.yaml"
sed "s#path: $DATA/caravan_camels_us#path: $WORK/data#" "$WORK/lstm.yaml" > "$WORK/copy.yaml"
"$BIN" train "$WORK/lstm.3.yaml" --out "$WORK/copy" > /dev/null 2>&1 || fail "train for the data change"
awk -F, -v OFS=, 'NR == 500 { $1 = $1 + 1 } { print }' "$DATA/caravan_camels_us/timeseries/01031500.csv" > "$WORK/data/timeseries/01031500.csv"
if "$BIN" train "$WORK/copy.yaml" --out "$WORK/copy" --resume > "$WORK/data.out" 2>&1; then fail "resume with changed training data accepted"; fi
grep -q "the training-period data of basin '01031500' changed since the run started" "$WORK/data.out" \
  || { cat "$WORK/data.out"; fail "changed data not named"; }
cp "$DATA/caravan_camels_us/timeseries/01031500.csv" "$WORK/data/timeseries/"
"$BIN" train "$WORK/copy.yaml" --out "$WORK/copy" --resume > "$WORK/data2.out" 2>&1 || { cat "$WORK/data2.out"; fail "resume from a copy of the same data"; }
cmp "$WORK/copy/last.ckpt" "$WORK/lstm.full/last.ckpt" || fail "resume from a copy of the same data is not exact"
# more epochs and a new learning rate are allowed
sed "s/epochs: 6/epochs: 7/; s/lr: 0.01/lr: 0.005/" "$WORK/lstm.yaml" > "$WORK/more.yaml"
"$BIN" train "$WORK/more.yaml" --out "$R" --resume > "$WORK/more.out" 2>&1 || { cat "$WORK/more.out"; fail "resume with more epochs and a new lr"; }
[ "$(tail -1 "$R/loss.csv" | cut -d, -f1,3)" = "7,0.005" ] || fail "epoch 7 at lr 0.005 missing: $(tail -1 "$R/loss.csv")"
# a format-1 checkpoint (header version 1, no run state): refused with a version message
/usr/bin/python3 - "$WORK/lstm.full/last.ckpt" "$WORK/v1.ckpt" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
payload = struct.unpack_from('<Q', b, 16)[0]
flags = struct.unpack_from('<I', b, 32)[0]
body = b[48:]
# drop the run state section (u64 length + bytes) at the end of the payload
# its length is found by scanning back: try each candidate offset
for off in range(len(body) - 8, -1, -1):
    n = struct.unpack_from('<Q', body, off)[0]
    if off + 8 + n == len(body) and body[off + 8:off + 8 + 21] == b'terragrad-run-state 1':
        body = body[:off]
        break
else:
    sys.exit('no run state section found')
h = 0xcbf29ce484222325
for c in body:
    h = ((h ^ c) * 0x100000001b3) & 0xffffffffffffffff
struct.pack_into('<I', b, 8, 1)
struct.pack_into('<Q', b, 16, len(body))
struct.pack_into('<Q', b, 24, h)
struct.pack_into('<I', b, 32, flags & ~4)
open(sys.argv[2], 'wb').write(bytes(b[:48]) + bytes(body))
PY
mkdir -p "$WORK/v1run" && cp "$WORK/lstm.full/"{config.yaml,normalisation.txt,loss.csv} "$WORK/v1run/" && cp "$WORK/v1.ckpt" "$WORK/v1run/last.ckpt"
if "$BIN" train "$WORK/lstm.yaml" --out "$WORK/v1run" --resume > "$WORK/v1.out" 2>&1; then fail "format-1 checkpoint resumed"; fi
grep -q "older terragrad (checkpoint format 1)" "$WORK/v1.out" || { cat "$WORK/v1.out"; fail "no version message"; }
# ... but its weights are still read: test runs on it
"$BIN" test "$WORK/v1run" > "$WORK/v1test.out" 2>&1 || { cat "$WORK/v1test.out"; fail "test on a format-1 checkpoint"; }
echo "1 passed, 0 failed"
