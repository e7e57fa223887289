/* pinn_train_internal.h — the PINN trainer's state, shared by pinn_cases.c (PDE
 * definitions), pinn_train.c (losses, optimisation) and pinn_output.c (files, plots). */
#ifndef TG_PINN_TRAIN_INTERNAL_H
#define TG_PINN_TRAIN_INTERNAL_H

#include "pinn/pinn_internal.h"
#include "terragrad/config.h"

#define PINN_MAX_COEF 4
#define PINN_MAX_F 2

enum { TERM_RES = 0, TERM_IC, TERM_BC, TERM_DATA, NTERMS };
enum { BC_DIRICHLET = 0, BC_NEUMANN = 1 };

typedef struct pinn_case pinn_case;
struct pinn_case {
    const char *name, *doc;
    int dim, f;                                   /* coordinates (last is t if time), components */
    int has_time;                                 /* 1: last coordinate is t, initial condition at lo */
    const char *coord[2], *comp[PINN_MAX_F];
    double lo[2], hi[2];
    int ncoef;
    const char *coef[PINN_MAX_COEF];
    double coef_true[PINN_MAX_COEF];
    double coef_guess[PINN_MAX_COEF];             /* default start of an inverse run */
    int pairs;                                    /* second derivatives needed: d2/dx0^2 only */
    const char *default_ref;                      /* relative to the data folder, or NULL */
    /* residuals r[0..f) (N, 1) from the jet of u at points x (N, dim) */
    int (*residual)(tg_ctx *ctx, const tg_jet *u, tg_tensor *const *coef, const tg_real *x, int n, tg_tensor **r);
    void (*initial)(const double *x, double *u);  /* u at t = lo (time cases) */
    /* boundary value at x on side (0: x = lo, 1: x = hi): u (Dirichlet) or du/dx (Neumann);
     * returns 0, or non-zero if this case has no such condition */
    int (*boundary)(int side, int type, const double *x, double *g);
    /* reference solution: from file (path given) or analytic (path NULL) */
    int (*reference)(const char *path, tg_pinn_ref *r);
};
const pinn_case *tg_pinn_case_find(const char *name);
const char *tg_pinn_case_names(void); /* "burgers|reaction|poisson1d" */

typedef struct pinn_points {
    int n;
    tg_real *x;   /* (n, dim) */
    tg_real *u;   /* (n, f) target values (IC, BC value, data) */
} pinn_points;

struct tg_pinn_run {
    const pinn_case *pc;
    char name[64];
    /* network and parameters */
    tg_params *ps;
    tg_pinn_net net;
    tg_rng rng;
    int coef_id[PINN_MAX_COEF];        /* parameter id, or -1 when fixed */
    int coef_log[PINN_MAX_COEF];       /* value = exp(raw) */
    double coef_fixed[PINN_MAX_COEF];
    /* points */
    int sample_kind, n_col, n_ic, n_bc, resample_every, col_at_data;
    pinn_points col, ic, bc[2], data;   /* bc[side]: x = lo, x = hi */
    int bc_type[2];
    double data_noise;
    tg_pinn_ref ref;                   /* reference solution (n = 0: none) */
    char ref_path[1024];
    /* loss weights */
    double w[NTERMS], w0[NTERMS];
    int adaptive, adapt_every;
    double alpha;
    /* optimisation */
    int adam_iters, lbfgs_iters, lbfgs_history, print_every, threads;
    double adam_lr;
    /* results */
    double term[NTERMS], loss, train_seconds, train_cpu_seconds; /* wall, process CPU */
    int lbfgs_done;
    /* history */
    size_t hist_n, hist_cap;
    struct pinn_hist {
        int iter;
        char phase;                    /* 'a' Adam, 'l' L-BFGS */
        float loss, term[NTERMS], w[NTERMS], coef[PINN_MAX_COEF];
    } *hist;
};

/* The weighted loss (terms with weight 0 skipped); term[k] gets the unweighted terms. */
tg_tensor *tg_pinn_build_loss(tg_pinn_run *r, tg_ctx *ctx, const double *w, double *term);
/* One update of the adaptive weights (Wang et al. 2021); resets ctx and ps->grad. */
int tg_pinn_adapt_weights(tg_pinn_run *r, tg_ctx *ctx);
/* Coefficient k at the current parameters (after exp for log ones). */
double tg_pinn_run_coef(const tg_pinn_run *r, int k);
/* Predict u at points x (n, dim) into u (n, f) with the current weights. */
int tg_pinn_run_predict(const tg_pinn_run *r, int n, const double *x, double *u);

#endif
