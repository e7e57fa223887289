/* surrogate_net.h — the surrogate object shared by its construction, training, I/O and
 * parameter-learning files, and by the surrogate model kind of the trainer
 * (src/train/model_surrogate.c). Internal to libterragrad-hydro, not public API. */
#ifndef TG_SURROGATE_NET_H
#define TG_SURROGATE_NET_H

#include "surrogate/surrogate_internal.h"

struct tg_surrogate {
    int np, nf;
    int T;                          /* window length it was trained on */
    int H;                          /* LSTM width */
    int target;                     /* emulated model output */
    int no_params;                  /* ablation: parameters not fed */
    int exp_output;                 /* output = y_scale * exp(head) instead of y_scale * head */
    double lo[TG_BB_MAX_DIM], hi[TG_BB_MAX_DIM];
    char pname[TG_BB_MAX_DIM][TG_NAME_MAX];
    char fname[TG_BB_MAX_DIM][TG_NAME_MAX];
    double f_mean[TG_BB_MAX_DIM], f_std[TG_BB_MAX_DIM];  /* forcing z-score */
    double y_scale;                 /* output / y_scale is what the head predicts */
    char model[128];
    tg_params *ps;
    tg_lstm_layer lstm;
    tg_linear_layer head;
};

int tg__surr_data_alloc(tg_surr_data *d, int N, int T, int nf, int np, int nout);
/* An untrained surrogate of the given architecture (weights zero). */
tg_surrogate *tg__surrogate_alloc(int np, int nf, int H);
/* The network in normalised output units: forcing (T, B, nf) physical, u (B, np) in
 * [0, 1] -> (T, B). */
tg_tensor *tg__surrogate_net(tg_ctx *ctx, const tg_surrogate *s, tg_tensor *forcing, tg_tensor *u);
/* NSE and medians of per-sample scores: tg_nse, tg_median_finite (terragrad/eval.h). */

#endif
