/* terragrad/richards.h — Richards-equation soil columns from YAML configs, and soil
 * parameters fitted to water-content observations (L-BFGS through the adjoint).
 * Part of libterragrad-hydro (the application library, docs/library.md): the equation
 * itself (tg_richards, tg_soil, the implicit step) is engine API in terragrad/adjoint.h.
 * Included by <terragrad.h>. */
#ifndef TERRAGRAD_RICHARDS_H
#define TERRAGRAD_RICHARDS_H

#include "terragrad/adjoint.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================== inverse problem */
/* Soil parameters of one column from water-content observations: L-BFGS (strong Wolfe,
 * terragrad/nn.h) on bounded transforms p = lo + (hi − lo) σ(z) (or the same in log p for
 * scale parameters), with the adjoint gradient. A trial point where Newton fails gets the
 * loss 1 (θ misfits are < 1) and a zero gradient, so the line search backs off. */
typedef struct tg_richards_fit {
    int max_iter;                /* L-BFGS iterations (default 200) */
    unsigned char fit[16];       /* 1 = estimate parameter j (default all) */
    double lo[16], hi[16];       /* open bounds per parameter */
    unsigned char log_scale[16]; /* 1 = the bounds are applied to log p */
    tg_newton_opts newton;
    /* results */
    double loss;                 /* final mean squared θ misfit */
    int evals;                   /* forward + adjoint runs */
    int newton_failures;         /* trial points where Newton failed */
} tg_richards_fit;
/* Bounds for the soil: vgm α ∈ (1e-3, 1) log, n ∈ (1.05, 4), Ks ∈ (1e-7, 0.1) log,
 * θr ∈ (0, 0.2), θs ∈ (0.25, 0.6); haverkamp α, A ∈ (1, 1e9) log, β, γ ∈ (1, 8), Ks, θr,
 * θs as vgm. */
TG_API void tg_richards_fit_defaults(const tg_soil *soil, tg_richards_fit *fo);
/* m: one column (B = 1); psi0 (N); u (T, 2); observations: step t_k, cell_k, θ value_k.
 * p (P): the first guess in (inside the bounds), the estimate out. */
TG_API int tg_richards_fit_run(const tg_richards *m, const tg_real *psi0, const tg_real *u,
                               int n_obs, const int *t, const int *cell, const tg_real *value,
                               tg_real *p, tg_richards_fit *fo);

/* ===================================================================== configuration */
/* A column run described by YAML (see examples/richards_celia.yaml, docs/richards.md).
 * Unknown keys and wrong types are TG_EINVAL naming the file, key and line. */
typedef struct tg_richards_config {
    char soil[32];
    tg_real params[16];        /* the soil's P parameters, in its order */
    int N;
    double depth, dt;
    int bc_top, bc_bottom;
    double top_value, bottom_value;
    int init_kind;             /* 0: uniform head, 1: linear from bottom to top head */
    double init_head, init_head_top;
    int n_out;
    double out_times[64];
    tg_newton_opts newton;
} tg_richards_config;
TG_API int tg_richards_config_load(const char *path, tg_richards_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
