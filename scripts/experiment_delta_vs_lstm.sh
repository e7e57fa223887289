#!/usr/bin/env bash
# The experiment of docs/results.md ("δ-models against the LSTM", sessions 8-9): every run of
# the search, the 3-seed temporal test and the 5-fold HUC-02 cross-validation, as they were run.
#   bash scripts/experiment_delta_vs_lstm.sh [search|temporal|cv|best|variants|snow|all]
# (from the repository root). search/temporal/cv: session 8 (the δ-model then was
# examples/dhbv_caravan200_nse.yaml); best: the 3 seeds and cv of examples/dhbv_caravan200.yaml
# (session 9); variants: 3 seeds of each ablation variant, temporal and cv; snow: the
# snowfall correction factor on top of the best δ-model.
# Outputs under runs/exp22/<name> (train + `test --extremes`) and runs/exp22/cv_<name>.
# TERRAGRAD=path/to/terragrad (default build/terragrad). Runs one job at a time on one thread;
# start two copies with different stages to use two cores. OpenBLAS runs its own kernels for
# the CPU (the OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE overrides of the environment are removed):
# about 1.8x faster here than the Haswell kernels, and different in the last bits.
set -euo pipefail
TG=${TERRAGRAD:-build/terragrad}
R=runs/exp22
mkdir -p "$R"
run() { # run NAME CONFIG [--set k=v]...: train, then test with the extremes
    local name=$1 cfg=$2; shift 2
    [ -f "$R/$name/metrics_test.csv" ] && return 0
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 "$TG" train "$cfg" --overwrite --out "$R/$name" "$@" > "$R/$name.train.out" 2>&1
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 "$TG" test "$R/$name" --extremes > "$R/$name.test.out" 2>&1
    echo "$name: $(grep -m1 '^NSE' "$R/$name.test.out")"
}
cv() { # cv NAME CONFIG [--set k=v]...: 5 folds stratified by HUC-02 region
    local name=$1 cfg=$2; shift 2
    [ -f "$R/cv_$name/cv_metrics.csv" ] && return 0
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 "$TG" cv "$cfg" --folds 5 --by huc_02 --overwrite --out "$R/cv_$name" "$@" > "$R/cv_$name.out" 2>&1
    echo "cv_$name: $(grep -m1 '^NSE' "$R/cv_$name/cv.log")"
}
D10=examples/dhbv10_caravan200.yaml     # δHBV 1.0: LSTM head for all parameters, rmse_comb, hidden 48, 10 epochs
NSEV=examples/dhbv_caravan200_nse.yaml  # the session-8 δ-model (= D10 + the keys of dB_e30_h96 below)
BEST=examples/dhbv_caravan200.yaml      # the best δ-model found (= NSEV + the keys of dK_a5_pr2_e40 below)
LSTM=examples/lstm_caravan200.yaml
MLP="--set model.static_head=mlp"; PC="--set model.precip_correction=true"; NK="--set loss.type=nse_kge"
E30="--set training.epochs=30 --set optim.table_epochs=[0,18,26]"
stage=${1:-all}
if [ "$stage" = search ] || [ "$stage" = all ]; then
    run d10_base $D10
    run d11p $D10 --set hbv.capillary=true
    run d20 $D10 $MLP
    run d10_pc $D10 $PC
    run d20_pc $D10 $MLP $PC
    run d20_pc_nk $D10 $MLP $PC $NK
    run d10_nse $D10 --set loss.type=nse
    run d10_dyn3 $D10 --set hbv.dynamic=[BETA,BETAET,K0]
    run d10_c16 $D10 --set hbv.components=16
    run d10_h96 $D10 --set model.hidden=96
    run d30 $D10 $E30
    run dB_a5 $D10 $MLP $PC $NK --set loss.weights.alpha=0.5 --set loss.weights.beta=0.5
    run dB_11p $D10 $MLP $PC $NK --set hbv.capillary=true
    run dB_dyn3 $D10 $MLP $PC $NK --set hbv.dynamic=[BETA,BETAET,K0]
    run dB_e20 $D10 $MLP $PC $NK --set training.epochs=20 --set optim.table_epochs=[0,12,17]
    run dB_e30 $D10 $MLP $PC $NK $E30
    run dB_e30_dyn3 $D10 $MLP $PC $NK $E30 --set hbv.dynamic=[BETA,BETAET,K0]
    run dB_e30_h96 $D10 $MLP $PC $NK $E30 --set model.hidden=96
    run dB_e30_h96_a3 $D10 $MLP $PC $NK $E30 --set model.hidden=96 --set loss.weights.alpha=0.3 --set loss.weights.beta=0.3
    run dB_e30_h96_a5 $D10 $MLP $PC $NK $E30 --set model.hidden=96 --set loss.weights.alpha=0.5 --set loss.weights.beta=0.5
    run dB_e40_h96 $D10 $MLP $PC $NK --set model.hidden=96 --set training.epochs=40 --set optim.table_epochs=[0,24,34]
    run dX_nopc $D10 $NK $E30 --set model.hidden=96 $MLP
    run dX_nomlp $D10 $NK $E30 --set model.hidden=96 $PC
    run dK_a5_pr2 $NSEV --set loss.weights.alpha=0.5 --set loss.weights.beta=0.5 --set model.precip_range=[0.5,2.0]
    run dK_a5_pr2_e40 $NSEV --set loss.weights.alpha=0.5 --set loss.weights.beta=0.5 --set model.precip_range=[0.5,2.0] --set training.epochs=40 --set optim.table_epochs=[0,24,34]
    run dK_a7_pr2 $NSEV --set loss.weights.alpha=0.7 --set loss.weights.beta=0.7 --set model.precip_range=[0.5,2.0]
    run lstm_nk $LSTM $NK
fi
if [ "$stage" = temporal ] || [ "$stage" = all ]; then
    for s in 1 2 3; do run lstm_s$s $LSTM --set seed=$s; done
    run dB_e30_h96 $NSEV   # seed 1: the same run as in the search (identical config)
    for s in 2 3; do run dB_e30_h96_s$s $NSEV --set seed=$s; done
    TERRAGRAD=$TG bash scripts/ensemble.sh $R/ens_lstm $R/lstm_s1 $R/lstm_s2 $R/lstm_s3
    TERRAGRAD=$TG bash scripts/ensemble.sh $R/ens_dB $R/dB_e30_h96 $R/dB_e30_h96_s2 $R/dB_e30_h96_s3
fi
if [ "$stage" = cv ] || [ "$stage" = all ]; then
    for s in 1 2 3; do cv lstm_s$s $LSTM --set seed=$s; done
    for s in 1 2 3; do cv dB_e30_h96_s$s $NSEV --set seed=$s; done
fi
E40="--set training.epochs=40 --set optim.table_epochs=[0,24,34]"
if [ "$stage" = best ] || [ "$stage" = all ]; then
    # seed 1 is dK_a5_pr2_e40 of the search (the same keys as $BEST)
    for s in 2 3; do run dK_a5_pr2_e40_s$s $BEST --set seed=$s; done
    for s in 1 2 3; do cv dK_s$s $BEST --set seed=$s; done
    TERRAGRAD=$TG bash scripts/ensemble.sh $R/ens_dK $R/dK_a5_pr2_e40 $R/dK_a5_pr2_e40_s2 $R/dK_a5_pr2_e40_s3
    # two in-between variants, one seed
    run dM_a5_e40 $NSEV $E40 --set loss.weights.alpha=0.5 --set loss.weights.beta=0.5
    run dM_a3_pr2_e40 $NSEV $E40 --set loss.weights.alpha=0.3 --set loss.weights.beta=0.3 --set model.precip_range=[0.5,2.0]
fi
variants() { # variants run|cv SEED: δHBV 1.0, 1.1p, 2.0 style, each with and without P correction
    local f=$1 s=$2
    $f d10_base_s$s $D10 --set seed=$s
    $f d11p_s$s $D10 --set hbv.capillary=true --set seed=$s
    $f d20_s$s $D10 $MLP --set seed=$s
    $f d10_pc_s$s $D10 $PC --set seed=$s
    $f d20_pc_s$s $D10 $MLP $PC --set seed=$s
}
if [ "$stage" = variants ] || [ "$stage" = all ]; then
    for s in 2 3; do variants run $s; done # seed 1: the search above
    for s in 1 2 3; do variants cv $s; done
fi
if [ "$stage" = snow ] || [ "$stage" = all ]; then
    # run with a build that has model.snow_correction (session 9, after 699f672); n_dK_s1 is
    # the best δ-model again with that build, the reference for its last-bit differences
    run n_dK_s1 $BEST --set seed=1
    for s in 1 2 3; do run n_dKsf_s$s $BEST --set model.snow_correction=true --set seed=$s; done
fi
