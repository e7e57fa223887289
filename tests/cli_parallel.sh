#!/usr/bin/env bash
# Data-parallel determinism: the same small training (a) with 1 and 2 OpenMP threads gives
# bit-identical checkpoints, (b) with 1 and 2 MPI ranks (loopback) gives the same losses
# and predictions to within float round-off.
set -euo pipefail
BIN=$1; DATA=$2; WORK=$3
rm -rf "$WORK"; mkdir -p "$WORK"
cat > "$WORK/run.yaml" <<YAML
seed: 5
data:
  source: caravan
  path: $DATA/caravan_camels_us
  basins: ['01022500', '01031500', '01047000', '01057000']
  attributes: $DATA/camels_us/camels_attributes_v2.0
  attribute_names: [p_mean, aridity, frac_snow, elev_mean]
periods:
  train_start: 1981-01-01
  train_end: 1988-12-31
  test_start: 1989-01-01
  test_end: 1991-12-31
model:
  type: lstm
  hidden: 16
  dropout: 0.0
optim:
  lr: 0.01
training:
  epochs: 3
  iterations: 10
  batch: 8
  warmup: 60
  horizon: 120
YAML
# (a) threads
OMP_NUM_THREADS=1 "$BIN" train "$WORK/run.yaml" --out "$WORK/t1" > "$WORK/t1.out" 2>&1 || { cat "$WORK/t1.out"; exit 1; }
OMP_NUM_THREADS=2 "$BIN" train "$WORK/run.yaml" --out "$WORK/t2" > "$WORK/t2.out" 2>&1 || { cat "$WORK/t2.out"; exit 1; }
cmp "$WORK/t1/last.ckpt" "$WORK/t2/last.ckpt" || { echo "checkpoints differ between 1 and 2 threads"; exit 1; }
echo "threads: 1 vs 2 bit-identical"
# (b) ranks
if ! "$BIN" --help | head -1 | grep -q "MPI)"; then echo "this build has no MPI"; exit 1; fi
MPIRUN="mpirun --allow-run-as-root --oversubscribe"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export ASAN_OPTIONS=detect_leaks=0   # OpenMPI's own allocations are not ours to judge
OMP_NUM_THREADS=1 $MPIRUN -np 1 "$BIN" train "$WORK/run.yaml" --out "$WORK/r1" > "$WORK/r1.out" 2>&1 || { cat "$WORK/r1.out"; exit 1; }
OMP_NUM_THREADS=1 $MPIRUN -np 2 "$BIN" train "$WORK/run.yaml" --out "$WORK/r2" > "$WORK/r2.out" 2>&1 || { cat "$WORK/r2.out"; exit 1; }
grep -q "2 ranks, MPI" "$WORK/r2/train.log" || { echo "2-rank run did not use MPI"; cat "$WORK/r2/train.log"; exit 1; }
paste -d, "$WORK/r1/loss.csv" "$WORK/r2/loss.csv" | awk -F, 'NR>1 { d = $2 - $6; if (d < 0) d = -d;
  if (d > 1e-4 * ($2 > 0 ? $2 : -$2)) { print "epoch " $1 ": loss " $2 " (1 rank) vs " $6 " (2 ranks)"; bad = 1 } }
  END { exit bad }'
for r in r1 r2; do
  OMP_NUM_THREADS=1 $MPIRUN -np ${r#r} "$BIN" test "$WORK/$r" > "$WORK/$r.test" 2>&1 || { cat "$WORK/$r.test"; exit 1; }
done
paste -d, "$WORK/r1/predictions_test/01031500.csv" "$WORK/r2/predictions_test/01031500.csv" | awk -F, 'NR>1 {
  d = $3 - $6; if (d < 0) d = -d; if (d > 1e-3 * ($3 > 1 ? $3 : 1)) { print "day " $1 ": " $3 " vs " $6; bad = 1 } }
  END { exit bad }'
cmp <(cut -d, -f1 "$WORK/r1/metrics_test.csv") <(cut -d, -f1 "$WORK/r2/metrics_test.csv") || { echo "metrics rows differ"; exit 1; }
echo "ranks: 1 vs 2 agree to round-off"
echo "2 passed, 0 failed"
