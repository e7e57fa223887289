/* pinn_train_internal.h — the PINN trainer's state, shared by pinn_cases.c (PDE
 * definitions), pinn_train.c (losses, optimisation) and pinn_output.c (files, plots). */
#ifndef TG_PINN_TRAIN_INTERNAL_H
#define TG_PINN_TRAIN_INTERNAL_H

#include <stdio.h>

#include "terragrad/core.h"
#include "terragrad/pinn.h"
#include "terragrad/config.h"
#include "terragrad/pinn_run.h"

#define PINN_MAX_COEF 4
#define PINN_MAX_F 2

enum { TERM_RES = 0, TERM_IC, TERM_BC, TERM_DATA, NTERMS };
enum { BC_DIRICHLET = 0, BC_NEUMANN = 1 };

typedef struct pinn_case pinn_case;
typedef struct tg_pinn_run tg_pinn_run;
typedef struct pinn_richards pinn_richards;
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
    /* Optional hooks (NULL for the plain cases). transform: the field u as a jet from the
     * network's jet `net` at points x (n, dim), e.g. a hard-constrained ansatz (the IC/BC
     * terms are then dropped); transform_value: the same for values only. prepare: runs
     * after the network and coefficients are set up and may fill r->ref itself (the
     * richards case runs the numerical solver there). summary/plots: extra lines in
     * summary.txt and plot.gp (dir: the run folder). */
    int (*transform)(const tg_pinn_run *r, tg_ctx *ctx, const tg_real *x, int n, const tg_jet *net, tg_jet *u);
    void (*transform_value)(const tg_pinn_run *r, const double *x, const double *net, double *u);
    int (*prepare)(tg_pinn_run *r, const struct tg_cfg *cfg, const char *data_dir);
    /* features: the network's inputs as a jet of the coordinates (instead of the coordinates
     * themselves; the net's input map is then set by prepare); features_value: values only.
     * warp: moves freshly sampled collocation points (n, dim) in place. */
    int (*features)(const tg_pinn_run *r, tg_ctx *ctx, const tg_jet *in, tg_jet *feat);
    void (*features_value)(const tg_pinn_run *r, const double *x, tg_real *feat);
    void (*warp)(const tg_pinn_run *r, tg_real *x, int n);
    int (*summary)(const tg_pinn_run *r, FILE *fp);
    int (*plots)(const tg_pinn_run *r, const char *dir, FILE *gp);
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
    double lbfgs_approx_wolfe;   /* tg_lbfgs_set_approx_wolfe */
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
    pinn_richards *rich;               /* richards case: solver runs, ramp, statistics */
};

/* The weighted loss (terms with weight 0 skipped); term[k] gets the unweighted terms. */
tg_tensor *tg_pinn_build_loss(tg_pinn_run *r, tg_ctx *ctx, const double *w, double *term);
/* One update of the adaptive weights (Wang et al. 2021); resets ctx and ps->grad. */
int tg_pinn_adapt_weights(tg_pinn_run *r, tg_ctx *ctx);
/* Coefficient k at the current parameters (after exp for log ones). */
double tg_pinn_run_coef(const tg_pinn_run *r, int k);
/* Predict u at points x (n, dim) into u (n, f) with the current weights. */
int tg_pinn_run_predict(const tg_pinn_run *r, int n, const double *x, double *u);

/* rel as given, or relative to the config's folder, then data_dir; 1 if the file exists. */
int tg_pinn_resolve_path(char *out, size_t size, const char *rel, const char *cfg_path, const char *data_dir);
/* The field u (network + the case's transform) as a jet at coordinates `in`. */
int tg_pinn_field_jet(const tg_pinn_run *r, tg_ctx *ctx, const tg_jet *in, tg_jet *u);

/* ------------------------------------------------------------------ richards (pinn_richards.c)
 * Celia et al. (1990) infiltration: Haverkamp soil, z in [0, 40] cm upward, t in [0, 360] s.
 * The residual is scaled by PINN_RICHARDS_RES_SCALE = t_end / (theta_s - theta_r). */
#define PINN_RICHARDS_L 40.0
#define PINN_RICHARDS_T 360.0
#define PINN_RICHARDS_RES_SCALE (360.0 / (0.287 - 0.075))
extern const pinn_case tg_pinn_case_richards;
void tg_pinn_richards_free(pinn_richards **rp);
/* Haverkamp parameters {alpha, beta, Ks, theta_r, theta_s, A, gamma} of the case with
 * coefficients Ks, alpha, beta, gamma from c (4). */
void tg_pinn_richards_params(const double *c, double *p7);
/* Mass balance of a field over [0, L] x [0, T]: field(ud, n, zt, psi, psi_z) gives psi and
 * dpsi/dz at n points zt (n, 2). Storage by Simpson in z (nz even intervals); cumulative
 * boundary inflow K (psi_z + 1) at the top minus at the bottom, by Simpson in s with
 * t = T s^2 (nt even intervals; integrable t^-1/2 fluxes become smooth). out: [0] storage
 * change, [1] cumulative inflow, [2] (storage change - inflow) / |inflow|. */
typedef int (*pinn_field_fn)(void *ud, int n, const double *zt, double *psi, double *psi_z);
int tg_pinn_richards_mass_balance(pinn_field_fn field, void *ud, const double *p7, double L, double T, int nz,
                                  int nt, double out[3]);

#endif
