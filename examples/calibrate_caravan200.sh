#!/bin/sh
# Per-basin HBV calibration baselines on the 200 Caravan-CAMELS basins (docs/calibration.md,
# results in docs/results_calibration.md). Training 1981-01-01..1995-12-31 (the record starts
# in 1981, so 1981 is the warm-up and 1982-1995 is scored), test 1996-01-01..2014-12-31 (warm-up
# on 1995). Run from the repository root after building (build/terragrad).
# usage: sh examples/calibrate_caravan200.sh [BIN] [DATA] [OUT]
BIN=${1:-build/terragrad}
DATA=${2:-../shared/data/caravan_camels_us}
OUT=${3:-runs}
COMMON="--model hbv --data $DATA --layout caravan --basins $DATA/basins.csv
        --train-start 1981-01-01 --train-end 1995-12-31 --test-start 1996-01-01 --test-end 2014-12-31
        --routing --warmup 365 --seed 1 --threads 2"
# SCE-UA, 4 complexes, 5000 objective evaluations per basin
$BIN calibrate $COMMON --method sceua --max-evals 5000 --out "$OUT/calib_sceua_200" || exit 1
# Adam, 8 restarts side by side, 2000 gradient evaluations per basin (250 iterations)
$BIN calibrate $COMMON --method adam --max-evals 2000 --out "$OUT/calib_adam_200"
