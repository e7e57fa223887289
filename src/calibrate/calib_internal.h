/* calib_internal.h — the HBV calibration problem of one basin, shared by the SCE-UA and
 * Adam drivers and the multi-basin loop. */
#ifndef TG_CALIB_INTERNAL_H
#define TG_CALIB_INTERNAL_H

#include "terragrad.h"
#include "terragrad/calibrate.h"

/* Candidate parameter sets evaluated per model run: each is one lane (component) of a
 * single-basin HBV run, so the lane loop vectorises (8 floats per AVX2 register). */
#define CALIB_LANES 8

typedef struct calib_problem {
    const tg_real *forcing;   /* (T, 3) */
    const tg_real *obs;       /* (T) */
    int T, W, n;              /* n = T - W scored days */
    int objective, routing, nvar;
    double lo[TG_CALIB_NVAR], hi[TG_CALIB_NVAR];
    tg_hbv_config c;          /* B = 1, M = CALIB_LANES */
    tg_real *par;             /* (NPARAM, CALIB_LANES) */
    tg_real *out;             /* (n, NOUT, CALIB_LANES) */
    tg_real *q;               /* (n, CALIB_LANES) routed flow */
    /* gradient buffers (tg__calib_problem_grad_init) */
    tg_real *hist;            /* tg_hbv_hist_size: stores of every scored step */
    tg_real *g_out;           /* (n, NOUT, CALIB_LANES) seed of the HBV backward; only row Q used */
    tg_real *g_q;             /* (n, CALIB_LANES) dL/d routed flow */
} calib_problem;

/* Validates the options once (method, objective, budget against the population). */
int tg__calib_options_check(const tg_calib_options *o);
/* Bounds of the nvar = 13 (+2 with routing) variables; buffers for CALIB_LANES lanes. */
int tg__calib_problem_init(calib_problem *p, const tg_real *forcing, const tg_real *obs, int T, int W,
                       int objective, int routing);
void tg__calib_problem_free(calib_problem *p);
/* tg_sceua_batch_fn: x (k, nvar) physical values -> objective f (k). */
int tg__calib_eval_batch(void *ud, int k, const double *x, double *f);
/* Objective of lane `lane` of a (n, stride) array of simulated flow. */
double tg__calib_objective_strided(int objective, const tg_real *obs, const tg_real *sim, int n, int stride);

/* Objective and dL/dsim (written to g with stride gstride; 0 on days without obs). */
double tg__calib_objective_grad_strided(int objective, const tg_real *obs, const tg_real *sim, int n, int stride,
                                    tg_real *g, int gstride);
int tg__calib_problem_grad_init(calib_problem *p);
/* x (k, nvar) physical -> loss (k) and d loss / d x (k, nvar), exact (hand-written backward). */
int tg__calib_loss_grad(calib_problem *p, int k, const double *x, double *loss, double *gx);

/* Gradient-based calibration (hbv_adam.c). */
int tg__calib_adam(tg_calib_fit *fit, calib_problem *p, const tg_calib_options *opt, uint64_t seed);

#endif
