#!/usr/bin/env bash
# Data-parallel determinism: a whole small training run (3 epochs, dropout on) ends with
# byte-identical checkpoints, losses and test predictions (a) with 1 and 2 OpenMP threads,
# (b) with 1, 2 and 3 MPI ranks (loopback; 3 does not divide the 4 chunks), and (c) with
# 2 ranks x 2 threads: the batch is computed as training.chunks chunks whose gradients
# are summed in chunk order whatever the split. (d) A different chunk count is a different
# computation: its checkpoint must differ (the comparison above can see a difference).
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
  dropout: 0.3
optim:
  lr: 0.01
training:
  epochs: 3
  iterations: 10
  batch: 8
  warmup: 60
  horizon: 120
  chunks: 4
YAML
# (a) threads
OMP_NUM_THREADS=1 "$BIN" train "$WORK/run.yaml" --out "$WORK/t1" > "$WORK/t1.out" 2>&1 || { cat "$WORK/t1.out"; exit 1; }
OMP_NUM_THREADS=2 "$BIN" train "$WORK/run.yaml" --out "$WORK/t2" > "$WORK/t2.out" 2>&1 || { cat "$WORK/t2.out"; exit 1; }
cmp "$WORK/t1/last.ckpt" "$WORK/t2/last.ckpt" || { echo "checkpoints differ between 1 and 2 threads"; exit 1; }
echo "threads: 1 vs 2 byte-identical"
# (b) ranks
if ! "$BIN" --help | head -1 | grep -q "MPI)"; then echo "this build has no MPI"; exit 1; fi
MPIRUN="mpirun --allow-run-as-root --oversubscribe"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export ASAN_OPTIONS=detect_leaks=0   # OpenMPI's own allocations are not ours to judge
OMP_NUM_THREADS=1 $MPIRUN -np 1 "$BIN" train "$WORK/run.yaml" --out "$WORK/r1" > "$WORK/r1.out" 2>&1 || { cat "$WORK/r1.out"; exit 1; }
OMP_NUM_THREADS=1 $MPIRUN -np 2 "$BIN" train "$WORK/run.yaml" --out "$WORK/r2" > "$WORK/r2.out" 2>&1 || { cat "$WORK/r2.out"; exit 1; }
grep -q "2 ranks, MPI" "$WORK/r2/train.log" || { echo "2-rank run did not use MPI"; cat "$WORK/r2/train.log"; exit 1; }
OMP_NUM_THREADS=1 $MPIRUN -np 3 "$BIN" train "$WORK/run.yaml" --out "$WORK/r3" > "$WORK/r3.out" 2>&1 || { cat "$WORK/r3.out"; exit 1; }
OMP_NUM_THREADS=2 $MPIRUN -np 2 "$BIN" train "$WORK/run.yaml" --out "$WORK/r2t2" > "$WORK/r2t2.out" 2>&1 || { cat "$WORK/r2t2.out"; exit 1; }
for r in r1 r2 r3 r2t2; do
  cmp "$WORK/t1/last.ckpt" "$WORK/$r/last.ckpt" || { echo "checkpoint of $r differs from 1 rank x 1 thread"; exit 1; }
  cmp <(cut -d, -f1-3 "$WORK/t1/loss.csv") <(cut -d, -f1-3 "$WORK/$r/loss.csv") || { echo "loss.csv of $r differs"; exit 1; }
done
for r in r1 r2; do
  OMP_NUM_THREADS=1 $MPIRUN -np ${r#r} "$BIN" test "$WORK/$r" > "$WORK/$r.test" 2>&1 || { cat "$WORK/$r.test"; exit 1; }
done
cmp "$WORK/r1/predictions_test/01031500.csv" "$WORK/r2/predictions_test/01031500.csv" || { echo "test predictions differ"; exit 1; }
cmp "$WORK/r1/metrics_test.csv" "$WORK/r2/metrics_test.csv" || { echo "test metrics differ"; exit 1; }
echo "ranks: 1, 2, 3 and 2 x 2 threads byte-identical"
# (d) the comparison can fail: 2 chunks instead of 4 changes the sums' grouping
sed 's/chunks: 4/chunks: 2/' "$WORK/run.yaml" > "$WORK/run2.yaml"
OMP_NUM_THREADS=1 "$BIN" train "$WORK/run2.yaml" --out "$WORK/c2" > "$WORK/c2.out" 2>&1 || { cat "$WORK/c2.out"; exit 1; }
if cmp -s "$WORK/t1/last.ckpt" "$WORK/c2/last.ckpt"; then echo "chunks 2 and 4 gave the same checkpoint"; exit 1; fi
echo "3 passed, 0 failed"
