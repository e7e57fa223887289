/* terragrad/pinn_run.h — the PINN trainer driven by YAML configs (`terragrad pinn`) and
 * the reference-solution readers it uses (CSV, .npz).
 * Part of libterragrad-hydro (the application library, docs/library.md): the jets, the
 * Taylor-mode network and the collocation samplers are engine API in terragrad/pinn.h.
 * Included by <terragrad.h>. */
#ifndef TERRAGRAD_PINN_RUN_H
#define TERRAGRAD_PINN_RUN_H

#include <stdint.h>

#include "terragrad/pinn.h"

#ifdef __cplusplus
extern "C" {
#endif

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
