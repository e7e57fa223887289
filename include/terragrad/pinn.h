/* terragrad/pinn.h — physics-informed neural networks.
 *
 * ============================================================== overview
 * A PINN represents a field u(x, t) by an MLP and trains it on PDE residuals at
 * collocation points plus initial/boundary/data misfits (Raissi et al. 2019). The residual
 * needs derivatives of the network with respect to its INPUTS. terragrad computes them by
 * Taylor-mode propagation: a "jet" (value, first derivatives, chosen second derivatives)
 * is pushed through every dense + activation layer in ONE fused custom op with a
 * hand-written backward (derivation in docs/pinn.md). The op's outputs are ordinary
 * tensors — u, u_x, u_t, u_xx, ... — usable in any loss; the reverse sweep then gives exact
 * gradients with respect to all weights, biases and the op's inputs, so one network's
 * output jet can feed another network (a learned K(h) of a learned h(z, t)).
 *
 *     tg_jet_spec spec;                              // 2 coordinates (x, t), and u_xx
 *     tg_jet_spec_init(&spec, 2, 1, (const int[][2]){{0, 0}});
 *     tg_pinn_net net;
 *     tg_pinn_net_init(&net, ps, "u", 9, (const int[]){2, 20, 20, 20, 20, 20, 20, 20, 20, 1},
 *                      TG_PINN_TANH, lo, hi, &rng);  // inputs mapped from [lo, hi] to [-1, 1]
 *     tg_jet in, u;
 *     tg_jet_coords(&in, xt, &spec);                 // xt (N, 2)
 *     tg_pinn_net_jet(ctx, ps, &net, &in, &u);       // u.v, u.d[0] = u_x, u.d[1] = u_t, u.dd[0] = u_xx
 *     // residual u_t + u u_x - nu u_xx with ordinary ops, then tg_backward(ctx, loss)
 *
 * The trainer (tg_pinn_train) adds collocation sampling (uniform, Latin hypercube, Sobol),
 * loss terms, fixed or adaptive loss weights, Adam then L-BFGS, and trainable PDE
 * coefficients; `terragrad pinn CONFIG --out DIR` drives it from YAML.
 */
#ifndef TERRAGRAD_PINN_H
#define TERRAGRAD_PINN_H

#include "terragrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================== jets */
#define TG_JET_MAX_DIR 3     /* base coordinates */
#define TG_JET_MAX_PAIR 6    /* all pure and mixed second derivatives of 3 coordinates */

/* Which derivatives a jet carries: all D first derivatives and P chosen second ones. */
typedef struct tg_jet_spec {
    int ndir;                          /* D: base coordinates (1..3) */
    int npair;                         /* P: second derivatives carried (0..6) */
    int pair[TG_JET_MAX_PAIR][2];      /* (i, j), i <= j: d2/(dx_i dx_j) */
} tg_jet_spec;
/* Checks and normalises (i <= j, no duplicates). */
TG_API int tg_jet_spec_init(tg_jet_spec *s, int ndir, int npair, const int (*pairs)[2]);
/* Index of the pair (i, j) (either order) in the spec, or -1. */
TG_API int tg_jet_spec_find(const tg_jet_spec *s, int i, int j);
/* Number of channels 1 + D + P. */
TG_API int tg_jet_spec_channels(const tg_jet_spec *s);

/* A field of F components at N points and its derivatives with respect to the base
 * coordinates; every tensor is (N, F). */
typedef struct tg_jet {
    tg_jet_spec spec;
    int n, f;
    int is_coords;                     /* 1: v IS the coordinates (F == D), seeds implicit */
    tg_tensor *v;
    tg_tensor *d[TG_JET_MAX_DIR];      /* NULL for coordinates (identity seeds) */
    tg_tensor *dd[TG_JET_MAX_PAIR];    /* NULL for coordinates (zero) */
} tg_jet;
/* The coordinates x (N, D) themselves as a jet: dx_i/dx_j = delta_ij, second derivatives 0. */
TG_API int tg_jet_coords(tg_jet *j, tg_tensor *x, const tg_jet_spec *spec);
/* Component c of a jet as a jet of one component (views via tg_slice). */
TG_API int tg_jet_component(tg_ctx *ctx, const tg_jet *j, int c, tg_jet *out);

/* ===================================================================== networks */
#define TG_PINN_MAX_LAYERS 32
#define TG_PINN_MAX_IN 16
typedef enum tg_pinn_act {
    TG_PINN_TANH = 0,
    TG_PINN_SIN = 1,
    TG_PINN_SIGMOID = 2,
    TG_PINN_SOFTPLUS = 3
} tg_pinn_act;
/* Parses "tanh", "sin", "sigmoid", "softplus"; -1 if unknown. */
TG_API int tg_pinn_act_parse(const char *name);
TG_API const char *tg_pinn_act_name(int act);

/* An MLP n_0 -> n_1 -> ... -> n_L: activation after every layer but the last. Weights
 * live in a tg_params store: W_l (n_l, n_{l-1}) row-major ("<name>.W<l>") and b_l (n_l). */
typedef struct tg_pinn_net {
    int nlayers;                            /* L */
    int size[TG_PINN_MAX_LAYERS + 1];       /* n_0 .. n_L */
    int act;                                /* tg_pinn_act */
    int param_id[TG_PINN_MAX_LAYERS][2];    /* ids of W_l and b_l */
    tg_real in_scale[TG_PINN_MAX_IN];       /* first layer sees in_scale * x + in_shift */
    tg_real in_shift[TG_PINN_MAX_IN];
} tg_pinn_net;
/* Adds the parameters to ps (Xavier-normal weights, zero biases). lo/hi (n_0 each, may be
 * NULL) give the input box mapped affinely onto [-1, 1]. */
TG_API int tg_pinn_net_init(tg_pinn_net *net, tg_params *ps, const char *name, int nlayers, const int *sizes,
                            int act, const tg_real *lo, const tg_real *hi, tg_rng *rng);
/* Re-draws the weights (Xavier normal) and zeroes the biases. */
TG_API void tg_pinn_net_reset(const tg_pinn_net *net, tg_params *ps, tg_rng *rng);
/* The fused Taylor-mode op: out = net(in) as a jet with in's spec and F = n_L. */
TG_API int tg_pinn_net_jet(tg_ctx *ctx, tg_params *ps, const tg_pinn_net *net, const tg_jet *in, tg_jet *out);
/* Plain evaluation (value only, no tape) of points x (N, n_0) into u (N, n_L). */
TG_API int tg_pinn_net_eval(const tg_pinn_net *net, const tg_params *ps, int n, const tg_real *x, tg_real *u);

/* ===================================================================== reference data */
/* A reference solution or observation set: n points of dim coordinates, f values each. */
typedef struct tg_pinn_ref {
    int n, dim, f;
    double *x;                         /* (n, dim) */
    double *u;                         /* (n, f) */
} tg_pinn_ref;
/* CSV with a header; the first dim columns are coordinates, the rest (1..8) values. */
TG_API int tg_pinn_ref_read_csv(const char *path, int dim, tg_pinn_ref *r);
TG_API void tg_pinn_ref_free(tg_pinn_ref *r);
/* A float64 array `name` from an uncompressed .npz (np.savez); *data from tg_malloc
 * (free with tg_free(*data, count * sizeof(double))). */
TG_API int tg_npz_read(const char *path, const char *name, double **data, int *ndim, int shape[4]);

/* ===================================================================== sampling */
typedef enum tg_sample_kind { TG_SAMPLE_UNIFORM = 0, TG_SAMPLE_LHS = 1, TG_SAMPLE_SOBOL = 2 } tg_sample_kind;
/* "uniform", "lhs", "sobol"; -1 if unknown. */
TG_API int tg_sample_parse(const char *name);
/* n points in the box [lo, hi] of dim coordinates into x (n, dim). Uniform: iid; LHS: one
 * point per stratum in every coordinate; Sobol (dim <= 3): the sequence from point 1 with a
 * random digital shift drawn from rng. */
TG_API int tg_pinn_sample(tg_real *x, int n, int dim, const tg_real *lo, const tg_real *hi, int kind, tg_rng *rng);
/* Plain Sobol points skip .. skip+n-1 in [0,1)^dim (dim <= 3) into x (n, dim); shift (dim
 * words) XORed in when not NULL. Direction numbers derived in pinn_sample.c. */
TG_API int tg_sobol(double *x, int n, int dim, uint64_t skip, const uint32_t *shift);

/* ===================================================================== trainer */
/* A PINN run built from a YAML config (keys: tg_pinn_schema, docs/pinn.md): a case
 * (burgers, reaction, poisson1d, richards), network, points, loss weights (fixed or the adaptive
 * scheme of Wang et al. 2021), Adam then L-BFGS (strong Wolfe), learned PDE coefficients. */
typedef struct tg_pinn_run tg_pinn_run;
struct tg_cfg_key;
struct tg_cfg;
TG_API const struct tg_cfg_key *tg_pinn_schema(int *n);
/* Relative file names resolve against the working directory, the config's folder, then
 * data_dir (may be NULL). NULL on error (message names file, line and key). */
TG_API tg_pinn_run *tg_pinn_run_create(const struct tg_cfg *cfg, const char *data_dir);
TG_API void tg_pinn_run_free(tg_pinn_run **run);

typedef struct tg_pinn_progress {
    char phase;                   /* 'a' Adam, 'l' L-BFGS */
    int iter, total;              /* iterations done / planned in this phase */
    double loss;                  /* weighted total */
    double term[4], weight[4];    /* residual, initial, boundary, data */
    int ncoef;                    /* learned coefficients */
    const char *coef_name[4];
    double coef[4];
    double seconds;               /* since training started */
} tg_pinn_progress;
typedef void (*tg_pinn_progress_fn)(void *ud, const tg_pinn_progress *p);
TG_API int tg_pinn_run_train(tg_pinn_run *run, tg_pinn_progress_fn fn, void *ud);
/* Relative L2 error ||u - u_ref|| / ||u_ref|| over the reference points (NAN: none). */
TG_API double tg_pinn_run_rel_l2(const tg_pinn_run *run);
/* All PDE coefficients: names, current values, true values, learned flags (any may be NULL). */
TG_API int tg_pinn_run_coefficients(const tg_pinn_run *run, int max, const char **names, double *values,
                                    double *truth, int *learned);
TG_API double tg_pinn_run_seconds(const tg_pinn_run *run);           /* wall time of training */
TG_API const char *tg_pinn_run_reference(const tg_pinn_run *run);    /* path, "analytic" or NULL */
TG_API tg_params *tg_pinn_run_params(tg_pinn_run *run);
/* The OpenMP thread count the run asks for (config key `threads`, or set here; 0 = OpenMP
 * default). The library never changes the thread count: the caller applies it with
 * omp_set_num_threads before tg_pinn_run_train (as `terragrad pinn` does). */
TG_API void tg_pinn_run_set_threads(tg_pinn_run *run, int threads);
TG_API int tg_pinn_run_threads(const tg_pinn_run *run);
/* DIR/solution.csv (coordinates and u on the reference points, or a 256 x 100 grid),
 * DIR/coefficients.csv (name,value), DIR/loss_history.csv, DIR/summary.txt, and with
 * plots = 1 PNG figures of the field, its error and the loss if gnuplot is installed. */
TG_API int tg_pinn_run_write(const tg_pinn_run *run, const char *dir, int plots);

#ifdef __cplusplus
}
#endif
#endif
