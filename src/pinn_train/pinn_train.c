/* pinn_train.c — the PINN trainer: points, loss terms and weights, Adam then L-BFGS.
 *
 * Loss = w_res L_res + w_ic L_ic + w_bc L_bc + w_data L_data, each term a mean over its
 * points of the squared misfit summed over components. Adaptive weights follow the
 * learning-rate annealing of Wang, Teng & Perdikaris (2021, SIAM J. Sci. Comput. 43(5),
 * "Understanding and mitigating gradient flow pathologies in PINNs", Algorithm 1, eq. 40):
 * every adapt_every Adam iterations
 *     w_i_hat = max_theta |dL_res/dtheta| / mean |d(w_i L_i)/dtheta|,
 *     w_i <- (1 - alpha) w_i + alpha w_i_hat,
 * as in the authors' code (GradientPathologiesPINNs, Helmholtz2D_model_tf.py): theta are
 * the weight matrices only (no biases, no PDE coefficients), the max is over all of them,
 * the mean is the mean of the per-layer means, and the denominator is the gradient of the
 * WEIGHTED term, so the update settles at w_i = sqrt(max / mean|dL_i|). Without w_i there
 * (an earlier version) w_i grows like 1 / sqrt(L_i) as a term is fitted: 1e5 on the 1-D
 * Poisson test, where Adam then ignored the residual. w_res stays fixed; alpha = 0.1
 * follows the code (it keeps 0.9 of the old weight). L-BFGS runs with the weights frozen. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "pinn_train/pinn_train_internal.h"
#include "terragrad/lbfgs.h"
#include "terragrad/nn.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------------ points */
static void points_free(pinn_points *p, int dim, int f)
{
    tg_free(p->x, p->x ? (size_t)p->n * dim * sizeof *p->x : 0);
    tg_free(p->u, p->u ? (size_t)p->n * f * sizeof *p->u : 0);
    memset(p, 0, sizeof *p);
}

static int points_alloc(pinn_points *p, int n, int dim, int f)
{
    memset(p, 0, sizeof *p);
    p->n = n;
    if (n == 0)
        return 0;
    p->x = tg_calloc((size_t)n * dim, sizeof *p->x);
    p->u = tg_calloc((size_t)n * f, sizeof *p->u);
    if (!p->x || !p->u) {
        points_free(p, dim, f);
        return tg_error_set(TG_ENOMEM, "pinn: out of memory for %d points", n);
    }
    return 0;
}

static int sample_collocation(tg_pinn_run *r)
{
    const pinn_case *pc = r->pc;
    tg_real lo[2] = {(tg_real)pc->lo[0], (tg_real)pc->lo[1]}, hi[2] = {(tg_real)pc->hi[0], (tg_real)pc->hi[1]};
    int rc = tg_pinn_sample(r->col.x, r->n_col, pc->dim, lo, hi, r->sample_kind, &r->rng);
    if (!rc && pc->warp)
        pc->warp(r, r->col.x, r->n_col);
    if (rc || !r->col_at_data)
        return rc;
    memcpy(r->col.x + (size_t)r->n_col * pc->dim, r->data.x, (size_t)r->data.n * pc->dim * sizeof *r->col.x);
    return 0;
}

static int make_points(tg_pinn_run *r)
{
    const pinn_case *pc = r->pc;
    const int dim = pc->dim, f = pc->f;
    int rc = points_alloc(&r->col, r->n_col + (r->col_at_data ? r->data.n : 0), dim, f);
    if (!rc)
        rc = sample_collocation(r);
    if (rc)
        return rc;
    /* initial condition: x by the same method, t = t_lo */
    if (pc->has_time && r->n_ic > 0) {
        if ((rc = points_alloc(&r->ic, r->n_ic, dim, f)))
            return rc;
        tg_real lo = (tg_real)pc->lo[0], hi = (tg_real)pc->hi[0], *xs = tg_malloc((size_t)r->n_ic * sizeof *xs);
        if (!xs)
            return tg_error_set(TG_ENOMEM, "pinn: out of memory");
        rc = tg_pinn_sample(xs, r->n_ic, 1, &lo, &hi, r->sample_kind, &r->rng);
        for (int i = 0; i < r->n_ic && !rc; i++) {
            double x[2] = {(double)xs[i], pc->lo[1]}, u[PINN_MAX_F];
            r->ic.x[(size_t)i * dim] = xs[i], r->ic.x[(size_t)i * dim + 1] = (tg_real)pc->lo[1];
            pc->initial(x, u);
            for (int c = 0; c < f; c++)
                r->ic.u[(size_t)i * f + c] = (tg_real)u[c];
        }
        tg_free(xs, (size_t)r->n_ic * sizeof *xs);
        if (rc)
            return rc;
    }
    /* boundary: both sides of x; along t by the same method (one point per side in 1-D) */
    int nside[2] = {pc->has_time ? r->n_bc / 2 : 1, 0};
    nside[1] = pc->has_time ? r->n_bc - nside[0] : 1;
    for (int s = 0; s < 2; s++) {
        pinn_points *b = &r->bc[s];
        if ((rc = points_alloc(b, nside[s], dim, f)))
            return rc;
        tg_real *ts = NULL;
        if (pc->has_time && nside[s] > 0) {
            tg_real lo = (tg_real)pc->lo[1], hi = (tg_real)pc->hi[1];
            ts = tg_malloc((size_t)nside[s] * sizeof *ts);
            if (!ts)
                return tg_error_set(TG_ENOMEM, "pinn: out of memory");
            rc = tg_pinn_sample(ts, nside[s], 1, &lo, &hi, r->sample_kind, &r->rng);
        }
        for (int i = 0; i < nside[s] && !rc; i++) {
            double x[2] = {s ? pc->hi[0] : pc->lo[0], ts ? (double)ts[i] : 0}, g[PINN_MAX_F];
            for (int d = 0; d < dim; d++)
                b->x[(size_t)i * dim + d] = (tg_real)x[d];
            if (pc->boundary(s, r->bc_type[s], x, g))
                rc = tg_error_set(TG_EINVAL, "case %s has no %s condition at x = %g", pc->name,
                                  r->bc_type[s] == BC_NEUMANN ? "Neumann" : "Dirichlet", x[0]);
            for (int c = 0; c < f; c++)
                b->u[(size_t)i * f + c] = (tg_real)g[c];
        }
        tg_free(ts, ts ? (size_t)nside[s] * sizeof *ts : 0);
        if (rc)
            return rc;
    }
    return 0;
}

/* observations: data.points distinct reference points, optional Gaussian noise */
static int make_data(tg_pinn_run *r, int n, double noise)
{
    const int dim = r->pc->dim, f = r->pc->f;
    if (n <= 0)
        return points_alloc(&r->data, 0, dim, f);
    if (r->ref.n < n)
        return tg_error_set(TG_EINVAL, "pinn: data.points = %d but the reference has %d points", n, r->ref.n);
    int rc = points_alloc(&r->data, n, dim, f);
    int *idx = tg_malloc((size_t)r->ref.n * sizeof *idx);
    if (rc || !idx) {
        tg_free(idx, idx ? (size_t)r->ref.n * sizeof *idx : 0);
        return rc ? rc : tg_error_set(TG_ENOMEM, "pinn: out of memory");
    }
    for (int i = 0; i < r->ref.n; i++)
        idx[i] = i;
    for (int i = 0; i < n; i++) { /* partial Fisher-Yates: n distinct indices */
        int j = i + (int)tg_rng_below(&r->rng, (uint64_t)(r->ref.n - i));
        int t = idx[i];
        idx[i] = idx[j], idx[j] = t;
    }
    double sd[PINN_MAX_F] = {0};
    for (int c = 0; c < f; c++) { /* noise scale: the standard deviation of the observations */
        double m = 0, m2 = 0;
        for (int i = 0; i < n; i++) {
            double v = r->ref.u[(size_t)idx[i] * f + c];
            m += v, m2 += v * v;
        }
        m /= n;
        sd[c] = sqrt(fmax(m2 / n - m * m, 0));
    }
    for (int i = 0; i < n; i++) {
        for (int d = 0; d < dim; d++)
            r->data.x[(size_t)i * dim + d] = (tg_real)r->ref.x[(size_t)idx[i] * dim + d];
        for (int c = 0; c < f; c++)
            r->data.u[(size_t)i * f + c] =
                (tg_real)(r->ref.u[(size_t)idx[i] * f + c] + noise * sd[c] * tg_rng_normal(&r->rng));
    }
    tg_free(idx, (size_t)r->ref.n * sizeof *idx);
    return 0;
}

/* ------------------------------------------------------------------ create */
static int file_exists(const char *p)
{
    struct stat st;
    return p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* absolute or relative to the working directory, the config's folder, the data folder */
int tg_pinn_resolve_path(char *out, size_t size, const char *rel, const char *cfg_path, const char *data_dir)
{
    if (!out || size == 0)
        return 0;
    if (rel[0] == '/' || file_exists(rel)) {
        snprintf(out, size, "%s", rel);
        return file_exists(out);
    }
    if (cfg_path) {
        const char *slash = strrchr(cfg_path, '/');
        if (slash) {
            snprintf(out, size, "%.*s/%s", (int)(slash - cfg_path), cfg_path, rel);
            if (file_exists(out))
                return 1;
        }
    }
    if (data_dir) {
        snprintf(out, size, "%s/%s", data_dir, rel);
        if (file_exists(out))
            return 1;
    }
    snprintf(out, size, "%s", rel);
    return 0;
}

static int list_has(const tg_cfg *cfg, const char *key, const char *name)
{
    for (int i = 0; i < tg_cfg_list_len(cfg, key); i++)
        if (!strcmp(tg_cfg_list_item(cfg, key, i), name))
            return 1;
    return 0;
}

static int cfg_error(const tg_cfg *cfg, const char *key, const char *msg)
{
    return tg_error_set(TG_EINVAL, "%s:%d: '%s': %s", tg_cfg_path(cfg), tg_cfg_line(cfg, key), key, msg);
}

static int setup(tg_pinn_run *r, const tg_cfg *cfg, const char *data_dir)
{
    const pinn_case *pc = r->pc;
    tg_rng_seed(&r->rng, (uint64_t)tg_cfg_int(cfg, "seed"));
    r->threads = (int)tg_cfg_int(cfg, "threads");
    /* network */
    int sizes[TG_PINN_MAX_LAYERS + 1], nl;
    if (tg_cfg_has(cfg, "network.layers")) {
        int n = tg_cfg_list_len(cfg, "network.layers");
        if (n < 2 || n > TG_PINN_MAX_LAYERS + 1)
            return cfg_error(cfg, "network.layers", "needs 2 to 33 widths");
        for (int i = 0; i < n; i++) {
            double v = atof(tg_cfg_list_item(cfg, "network.layers", i));
            if (v != floor(v) || v < 1 || v > 4096)
                return cfg_error(cfg, "network.layers", "widths must be integers in 1..4096");
            sizes[i] = (int)v;
        }
        if (sizes[0] != pc->dim || sizes[n - 1] != pc->f) {
            char m[160];
            snprintf(m, sizeof m, "case %s needs %d inputs and %d outputs", pc->name, pc->dim, pc->f);
            return cfg_error(cfg, "network.layers", m);
        }
        nl = n - 1;
    } else {
        int h = (int)tg_cfg_int(cfg, "network.hidden"), w = (int)tg_cfg_int(cfg, "network.width");
        if (h < 1 || h >= TG_PINN_MAX_LAYERS || w < 1 || w > 4096)
            return cfg_error(cfg, tg_cfg_has(cfg, "network.hidden") ? "network.hidden" : "network.width",
                             "hidden layers 1..31 and width 1..4096");
        sizes[0] = pc->dim;
        for (int i = 1; i <= h; i++)
            sizes[i] = w;
        sizes[h + 1] = pc->f;
        nl = h + 1;
    }
    int act = tg_pinn_act_parse(tg_cfg_str(cfg, "network.activation"));
    tg_real lo[2] = {(tg_real)pc->lo[0], (tg_real)pc->lo[1]}, hi[2] = {(tg_real)pc->hi[0], (tg_real)pc->hi[1]};
    int rc = tg_pinn_net_init(&r->net, r->ps, "u", nl, sizes, act, lo, hi, &r->rng);
    if (rc)
        return rc;
    /* PDE coefficients */
    for (int i = 0; i < tg_cfg_list_len(cfg, "pde.inverse"); i++) {
        int ok = 0;
        for (int k = 0; k < pc->ncoef; k++)
            ok |= !strcmp(tg_cfg_list_item(cfg, "pde.inverse", i), pc->coef[k]);
        if (!ok)
            return cfg_error(cfg, "pde.inverse", "not a coefficient of this case");
    }
    for (int i = 0; i < tg_cfg_list_len(cfg, "pde.log"); i++)
        if (!list_has(cfg, "pde.inverse", tg_cfg_list_item(cfg, "pde.log", i)))
            return cfg_error(cfg, "pde.log", "lists a coefficient that is not learned (pde.inverse)");
    for (int k = 0; k < pc->ncoef; k++) {
        char key[64];
        snprintf(key, sizeof key, "pde.%s", pc->coef[k]);
        int learn = list_has(cfg, "pde.inverse", pc->coef[k]);
        double v = tg_cfg_has(cfg, key) ? tg_cfg_float(cfg, key) : learn ? pc->coef_guess[k] : pc->coef_true[k];
        r->coef_fixed[k] = v;
        r->coef_id[k] = -1;
        r->coef_log[k] = list_has(cfg, "pde.log", pc->coef[k]);
        if (r->coef_log[k] && !(v > 0))
            return cfg_error(cfg, key, "a log-parametrised coefficient needs a positive start");
        if (learn) {
            snprintf(key, sizeof key, "pde.%s", pc->coef[k]);
            r->coef_id[k] = tg_params_add(r->ps, key, 1, (const int[]){1});
            if (r->coef_id[k] < 0)
                return tg_error_code();
            tg_params_data(r->ps, r->coef_id[k])[0] = (tg_real)(r->coef_log[k] ? log(v) : v);
        }
    }
    /* boundary types */
    r->bc_type[0] = !strcmp(tg_cfg_str(cfg, "bc.left"), "neumann") ? BC_NEUMANN : BC_DIRICHLET;
    r->bc_type[1] = !strcmp(tg_cfg_str(cfg, "bc.right"), "neumann") ? BC_NEUMANN : BC_DIRICHLET;
    /* reference */
    const char *ref = tg_cfg_has(cfg, "data.reference") ? tg_cfg_str(cfg, "data.reference") : pc->default_ref;
    r->ref_path[0] = 0;
    if (pc->prepare) {
        if ((rc = pc->prepare(r, cfg, data_dir)))
            return rc;
    } else if (ref) {
        if (!tg_pinn_resolve_path(r->ref_path, sizeof r->ref_path, ref, tg_cfg_path(cfg), data_dir)) {
            if (tg_cfg_has(cfg, "data.reference"))
                return cfg_error(cfg, "data.reference", "file not found");
            r->ref_path[0] = 0; /* the default is optional: run without a reference */
        } else if ((rc = pc->reference(r->ref_path, &r->ref)))
            return rc;
    } else if ((rc = pc->reference(NULL, &r->ref)))
        return rc;
    if (r->ref.n && (r->ref.dim != pc->dim || r->ref.f != pc->f))
        return tg_error_set(TG_EINVAL, "%s: %d coordinates and %d values, case %s needs %d and %d", r->ref_path,
                            r->ref.dim, r->ref.f, pc->name, pc->dim, pc->f);
    /* points */
    r->sample_kind = tg_sample_parse(tg_cfg_str(cfg, "sampling.method"));
    r->n_col = (int)tg_cfg_int(cfg, "sampling.collocation");
    r->n_ic = (int)tg_cfg_int(cfg, "sampling.initial");
    r->n_bc = (int)tg_cfg_int(cfg, "sampling.boundary");
    r->resample_every = (int)tg_cfg_int(cfg, "sampling.resample_every");
    r->col_at_data = tg_cfg_bool(cfg, "sampling.collocation_at_data");
    if (pc->transform) /* initial and boundary conditions are built into the field */
        r->n_ic = r->n_bc = 0;
    if (r->n_col < 0 || r->n_ic < 0 || r->n_bc < 0 || r->resample_every < 0)
        return tg_error_set(TG_EINVAL, "%s: sampling counts must be >= 0", tg_cfg_path(cfg));
    if (r->sample_kind == TG_SAMPLE_SOBOL && pc->dim > 3)
        return cfg_error(cfg, "sampling.method", "sobol supports up to 3 coordinates");
    int nd = (int)tg_cfg_int(cfg, "data.points");
    if (nd > 0 && !r->ref.n)
        return cfg_error(cfg, "data.points", "observations need a reference solution (data.reference)");
    r->data_noise = tg_cfg_float(cfg, "data.noise");
    if ((rc = make_data(r, nd, r->data_noise)) || (rc = make_points(r)))
        return rc;
    /* weights, optimisation */
    const char *wk[NTERMS] = {"weights.residual", "weights.initial", "weights.boundary", "weights.data"};
    for (int k = 0; k < NTERMS; k++) {
        r->w[k] = r->w0[k] = tg_cfg_float(cfg, wk[k]);
        if (r->w[k] < 0)
            return cfg_error(cfg, wk[k], "weights must be >= 0");
    }
    r->adaptive = !strcmp(tg_cfg_str(cfg, "weights.adaptive"), "grad_norm");
    r->adapt_every = (int)tg_cfg_int(cfg, "weights.adapt_every");
    r->alpha = tg_cfg_float(cfg, "weights.alpha");
    if (r->adapt_every < 1)
        return cfg_error(cfg, "weights.adapt_every", "must be >= 1");
    r->adam_iters = (int)tg_cfg_int(cfg, "train.adam_iters");
    r->adam_lr = tg_cfg_float(cfg, "train.adam_lr");
    r->lbfgs_iters = (int)tg_cfg_int(cfg, "train.lbfgs_iters");
    r->lbfgs_history = (int)tg_cfg_int(cfg, "train.lbfgs_history");
    /* float: the loss's rounding noise outgrows the late L-BFGS decreases (Burgers stalled
     * at 1.4e-5 with plain Armijo); double: plain strong Wolfe, as before */
    r->lbfgs_approx_wolfe = tg_cfg_has(cfg, "train.lbfgs_approx_wolfe") ? tg_cfg_float(cfg, "train.lbfgs_approx_wolfe")
                            : sizeof(tg_real) == sizeof(float)                 ? 1e-2
                                                                                : 0.0;
    if (!(r->lbfgs_approx_wolfe >= 0 && r->lbfgs_approx_wolfe < 1))
        return cfg_error(cfg, "train.lbfgs_approx_wolfe", "must be in [0, 1)");
    r->print_every = (int)tg_cfg_int(cfg, "train.print_every");
    if (r->adam_iters < 0 || r->lbfgs_iters < 0 || r->lbfgs_history < 1 || r->print_every < 1)
        return tg_error_set(TG_EINVAL, "%s: train.* counts must be >= 0 (history, print_every >= 1)", tg_cfg_path(cfg));
    snprintf(r->name, sizeof r->name, "%s", pc->name);
    return 0;
}

tg_pinn_run *tg_pinn_run_create(const tg_cfg *cfg, const char *data_dir)
{
    const pinn_case *pc = tg_pinn_case_find(tg_cfg_str(cfg, "case"));
    if (!pc) {
        cfg_error(cfg, "case", "unknown case");
        return NULL;
    }
    tg_pinn_run *r = tg_calloc(1, sizeof *r);
    if (!r) {
        tg_error_set(TG_ENOMEM, "pinn: out of memory");
        return NULL;
    }
    r->pc = pc;
    r->ps = tg_params_create();
    if (!r->ps || setup(r, cfg, data_dir)) {
        int code = tg_error_code();
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", tg_error_message());
        tg_pinn_run_free(&r);
        tg_error_set(code ? code : TG_ENOMEM, "%s", msg);
        return NULL;
    }
    return r;
}

void tg_pinn_run_free(tg_pinn_run **pr)
{
    if (!pr || !*pr)
        return;
    tg_pinn_run *r = *pr;
    const int dim = r->pc->dim, f = r->pc->f;
    points_free(&r->col, dim, f);
    points_free(&r->ic, dim, f);
    points_free(&r->bc[0], dim, f);
    points_free(&r->bc[1], dim, f);
    points_free(&r->data, dim, f);
    tg_pinn_ref_free(&r->ref);
    tg_pinn_richards_free(&r->rich);
    tg_free(r->hist, r->hist_cap * sizeof *r->hist);
    tg_params_free(&r->ps);
    tg_free(r, sizeof *r);
    *pr = NULL;
}

/* ------------------------------------------------------------------ losses */
double tg_pinn_run_coef(const tg_pinn_run *r, int k)
{
    if (r->coef_id[k] < 0)
        return r->coef_fixed[k];
    double v = (double)r->ps->value[r->ps->offset[r->coef_id[k]]];
    return r->coef_log[k] ? exp(v) : v;
}

int tg_pinn_field_jet(const tg_pinn_run *r, tg_ctx *ctx, const tg_jet *in, tg_jet *u)
{
    const tg_real *x = in->v->data; /* the coordinates */
    tg_jet feat;
    int rc = 0;
    if (r->pc->features) {
        if ((rc = r->pc->features(r, ctx, in, &feat)))
            return rc;
        in = &feat;
    }
    if (!r->pc->transform)
        return tg_pinn_net_jet(ctx, r->ps, &r->net, in, u);
    tg_jet raw;
    rc = tg_pinn_net_jet(ctx, r->ps, &r->net, in, &raw);
    return rc ? rc : r->pc->transform(r, ctx, x, in->n, &raw, u);
}

/* sum over points and components of (pred - target)^2, as a tensor */
static tg_tensor *sq_misfit(tg_ctx *ctx, tg_tensor *pred, const pinn_points *p, int f)
{
    tg_tensor *e = tg_sub(ctx, pred, tg_from(ctx, 2, (const int[]){p->n, f}, p->u));
    return tg_sum(ctx, tg_mul(ctx, e, e));
}

/* The weighted loss; terms with weight 0 are skipped. term[k] gets each unweighted term. */
tg_tensor *tg_pinn_build_loss(tg_pinn_run *r, tg_ctx *ctx, const double *w, double *term)
{
    const pinn_case *pc = r->pc;
    const int dim = pc->dim, f = pc->f;
    tg_tensor *coef[PINN_MAX_COEF], *tot = NULL, *t[NTERMS] = {NULL};
    for (int k = 0; k < pc->ncoef; k++) {
        if (r->coef_id[k] >= 0) {
            coef[k] = tg_param(ctx, r->ps, r->coef_id[k]);
            if (r->coef_log[k])
                coef[k] = tg_exp(ctx, coef[k]);
        } else
            coef[k] = tg_full(ctx, 1, (const int[]){1}, (tg_real)r->coef_fixed[k]);
    }
    tg_jet_spec s2, s1;
    tg_jet_spec_init(&s2, dim, 1, (const int[][2]){{0, 0}});
    tg_jet_spec_init(&s1, dim, 0, NULL);
    tg_jet in, u;
    if (w[TERM_RES] > 0 && r->col.n > 0) {
        tg_jet_coords(&in, tg_from(ctx, 2, (const int[]){r->col.n, dim}, r->col.x), &s2);
        tg_tensor *res[PINN_MAX_F];
        if (tg_pinn_field_jet(r, ctx, &in, &u) || pc->residual(ctx, &u, coef, r->col.x, r->col.n, res))
            return NULL;
        for (int c = 0; c < f; c++) {
            tg_tensor *m = tg_mean(ctx, tg_mul(ctx, res[c], res[c]));
            t[TERM_RES] = t[TERM_RES] ? tg_add(ctx, t[TERM_RES], m) : m;
        }
    }
    if (w[TERM_IC] > 0 && r->ic.n > 0) {
        tg_jet_coords(&in, tg_from(ctx, 2, (const int[]){r->ic.n, dim}, r->ic.x), &s1);
        if (tg_pinn_field_jet(r, ctx, &in, &u))
            return NULL;
        t[TERM_IC] = tg_muls(ctx, sq_misfit(ctx, u.v, &r->ic, f), (tg_real)(1.0 / r->ic.n));
    }
    int nb = r->bc[0].n + r->bc[1].n;
    if (w[TERM_BC] > 0 && nb > 0)
        for (int s = 0; s < 2; s++) {
            const pinn_points *b = &r->bc[s];
            if (!b->n)
                continue;
            tg_jet_coords(&in, tg_from(ctx, 2, (const int[]){b->n, dim}, b->x), &s1);
            if (tg_pinn_field_jet(r, ctx, &in, &u))
                return NULL;
            tg_tensor *m = tg_muls(ctx, sq_misfit(ctx, r->bc_type[s] == BC_NEUMANN ? u.d[0] : u.v, b, f),
                                   (tg_real)(1.0 / nb));
            t[TERM_BC] = t[TERM_BC] ? tg_add(ctx, t[TERM_BC], m) : m;
        }
    if (w[TERM_DATA] > 0 && r->data.n > 0) {
        tg_jet_coords(&in, tg_from(ctx, 2, (const int[]){r->data.n, dim}, r->data.x), &s1);
        if (tg_pinn_field_jet(r, ctx, &in, &u))
            return NULL;
        t[TERM_DATA] = tg_muls(ctx, sq_misfit(ctx, u.v, &r->data, f), (tg_real)(1.0 / r->data.n));
    }
    for (int k = 0; k < NTERMS; k++) {
        term[k] = t[k] ? (double)t[k]->data[0] : 0;
        if (!t[k])
            continue;
        tg_tensor *wt = w[k] == 1 ? t[k] : tg_muls(ctx, t[k], (tg_real)w[k]);
        tot = tot ? tg_add(ctx, tot, wt) : wt;
    }
    if (!tot)
        tg_error_set(TG_EINVAL, "pinn: every loss term is empty or has weight 0");
    return tg_ctx_status(ctx) ? NULL : tot;
}

static int hist_push(tg_pinn_run *r, int iter, char phase, double loss, const double *term)
{
    if (r->hist_n == r->hist_cap) {
        size_t nc = r->hist_cap ? 2 * r->hist_cap : 1024;
        struct pinn_hist *h = tg_realloc(r->hist, r->hist_cap * sizeof *h, nc * sizeof *h);
        if (!h)
            return tg_error_set(TG_ENOMEM, "pinn: out of memory for the loss history");
        r->hist = h, r->hist_cap = nc;
    }
    struct pinn_hist *h = &r->hist[r->hist_n++];
    memset(h, 0, sizeof *h);
    h->iter = iter, h->phase = phase, h->loss = (float)loss;
    for (int k = 0; k < NTERMS; k++)
        h->term[k] = (float)term[k], h->w[k] = (float)r->w[k];
    for (int k = 0; k < r->pc->ncoef; k++)
        h->coef[k] = (float)tg_pinn_run_coef(r, k);
    return 0;
}

/* Wang et al. (2021) learning-rate annealing: one backward per term. */
int tg_pinn_adapt_weights(tg_pinn_run *r, tg_ctx *ctx)
{
    double gmax_res = 0, gmean[NTERMS] = {0}, term[NTERMS];
    for (int k = 0; k < NTERMS; k++) {
        double w1[NTERMS] = {0};
        w1[k] = k == TERM_RES ? 1 : r->w[k]; /* the gradient of the WEIGHTED term, as the authors */
        if (r->w0[k] <= 0 || w1[k] <= 0)
            continue;
        tg_ctx_reset(ctx);
        tg_params_zero_grad(r->ps);
        tg_tensor *L = tg_pinn_build_loss(r, ctx, w1, term);
        if (!L) {
            if (tg_ctx_status(ctx))
                return tg_ctx_status(ctx);
            tg_error_clear();
            continue; /* an empty term */
        }
        if (tg_backward(ctx, L))
            return tg_error_code();
        for (int l = 0; l < r->net.nlayers; l++) { /* weight matrices only, mean of layer means */
            const size_t o = r->ps->offset[r->net.param_id[l][0]], m = (size_t)r->net.size[l] * r->net.size[l + 1];
            double acc = 0;
            for (size_t i = o; i < o + m; i++) {
                double g = fabs((double)r->ps->grad[i]);
                if (k == TERM_RES)
                    gmax_res = fmax(gmax_res, g);
                acc += g;
            }
            if (k != TERM_RES)
                gmean[k] += acc / (double)m / r->net.nlayers;
        }
    }
    tg_ctx_reset(ctx);
    tg_params_zero_grad(r->ps);
    for (int k = 1; k < NTERMS; k++)
        if (r->w0[k] > 0 && gmean[k] > 0 && gmax_res > 0)
            r->w[k] = (1 - r->alpha) * r->w[k] + r->alpha * gmax_res / gmean[k];
    return 0;
}

static void report(tg_pinn_run *r, char phase, int iter, int total, double t0, tg_pinn_progress_fn fn, void *ud)
{
    if (!fn)
        return;
    tg_pinn_progress p;
    memset(&p, 0, sizeof p);
    p.phase = phase, p.iter = iter, p.total = total, p.loss = r->loss;
    for (int k = 0; k < NTERMS; k++)
        p.term[k] = r->term[k], p.weight[k] = r->w[k];
    p.ncoef = 0;
    for (int k = 0; k < r->pc->ncoef; k++)
        if (r->coef_id[k] >= 0) {
            p.coef_name[p.ncoef] = r->pc->coef[k];
            p.coef[p.ncoef++] = tg_pinn_run_coef(r, k);
        }
    p.seconds = now_seconds() - t0;
    fn(ud, &p);
}

/* L-BFGS sees the loss times `scale`, set to 1 / (loss at the start of the phase and at
 * every restart). The minimiser is the same, but the optimizer's absolute thresholds (a
 * curvature pair is kept only if y's > 1e-10, as torch.optim.LBFGS) then act on an O(1)
 * objective: with a PINN loss of 1e-6 almost every pair was rejected and L-BFGS crawled
 * like gradient descent. */
typedef struct {
    tg_pinn_run *r;
    tg_ctx *ctx;
    int evals;
    double scale;
} lbfgs_state;

static int lbfgs_closure(void *ud, tg_params *ps, double *loss)
{
    lbfgs_state *st = ud;
    tg_pinn_run *r = st->r;
    (void)ps;
    tg_ctx_reset(st->ctx);
    tg_tensor *L = tg_pinn_build_loss(r, st->ctx, r->w, r->term);
    tg_tensor *Ls = L ? tg_muls(st->ctx, L, (tg_real)st->scale) : NULL;
    if (!Ls || tg_backward(st->ctx, Ls))
        return -1;
    r->loss = (double)L->data[0];
    *loss = (double)Ls->data[0];
    st->evals++;
    return hist_push(r, r->adam_iters + st->evals, 'l', r->loss, r->term) ? -1 : 0;
}

int tg_pinn_run_train(tg_pinn_run *r, tg_pinn_progress_fn fn, void *ud)
{
    /* the thread count is the caller's (tg_pinn_run_threads): the library only reads it */
    int rc = 0;
    double t0 = now_seconds();
    clock_t c0 = clock();
    tg_ctx *ctx = tg_ctx_create();
    tg_optim *adam = tg_optim_create(&(tg_optim_config){.kind = TG_OPTIM_ADAM, .lr = r->adam_lr}, r->ps);
    if (!ctx || !adam)
        rc = tg_error_code() ? tg_error_code() : TG_ENOMEM;
    for (int it = 0; !rc && it < r->adam_iters; it++) {
        if (r->resample_every && it > 0 && it % r->resample_every == 0 && (rc = sample_collocation(r)))
            break;
        if (r->adaptive && it % r->adapt_every == 0 && (rc = tg_pinn_adapt_weights(r, ctx)))
            break;
        tg_ctx_reset(ctx);
        tg_tensor *L = tg_pinn_build_loss(r, ctx, r->w, r->term);
        if (!L || tg_backward(ctx, L)) {
            rc = tg_error_code() ? tg_error_code() : TG_EINVAL;
            break;
        }
        r->loss = (double)L->data[0];
        if (!isfinite(r->loss)) {
            rc = tg_error_set(TG_ECONVERGE, "pinn: loss is %g at Adam iteration %d", r->loss, it + 1);
            break;
        }
        if ((rc = tg_optim_step(adam, r->ps)) || (rc = hist_push(r, it + 1, 'a', r->loss, r->term)))
            break;
        if ((it + 1) % r->print_every == 0 || it + 1 == r->adam_iters)
            report(r, 'a', it + 1, r->adam_iters, t0, fn, ud);
    }
    tg_optim_free(&adam);
    if (!rc && r->lbfgs_iters > 0) {
        /* one optimizer step = up to `chunk` L-BFGS iterations, then a progress line */
        int chunk = r->print_every < r->lbfgs_iters ? r->print_every : r->lbfgs_iters;
        tg_optim_config oc = {.kind = TG_OPTIM_LBFGS, .lr = 1, .history = r->lbfgs_history, .max_iter = chunk,
                              .max_eval = chunk * 5 / 4 + 1, .tol_grad = 1e-12, .tol_change = 1e-15};
        tg_optim *lb = tg_optim_create(&oc, r->ps);
        if (lb && (rc = tg_lbfgs_set_approx_wolfe(lb, r->lbfgs_approx_wolfe)))
            tg_optim_free(&lb);
        lbfgs_state st = {r, ctx, 0, 1.0};
        double prev = HUGE_VAL;
        int restarted = 0;
        if (!lb)
            rc = tg_error_code() ? tg_error_code() : TG_ENOMEM;
        for (int done = 0; !rc && done < r->lbfgs_iters; done += chunk) {
            double loss0;
            if (done == 0 || restarted) { /* (re)scale the objective to about 1 */
                tg_ctx_reset(ctx);
                tg_tensor *L = tg_pinn_build_loss(r, ctx, r->w, r->term);
                if (!L) {
                    rc = tg_error_code() ? tg_error_code() : TG_EINVAL;
                    break;
                }
                st.scale = (double)L->data[0] > 0 ? 1.0 / (double)L->data[0] : 1.0;
                tg_ctx_reset(ctx);
            }
            tg_params_zero_grad(r->ps);
            if ((rc = tg_optim_step_closure(lb, r->ps, lbfgs_closure, &st, &loss0)))
                break;
            r->lbfgs_done = done + chunk < r->lbfgs_iters ? done + chunk : r->lbfgs_iters;
            report(r, 'l', r->lbfgs_done, r->lbfgs_iters, t0, fn, ud);
            if (!isfinite(r->loss)) {
                rc = tg_error_set(TG_ECONVERGE, "pinn: L-BFGS loss is %g", r->loss);
                break;
            }
            if (!(r->loss < prev)) {
                /* no progress over a whole chunk: restart once from plain gradient steps
                 * (a stale curvature history stalls L-BFGS, in float especially), stop
                 * if that does not help either */
                if (restarted)
                    break;
                tg_optim_reset(lb);
                restarted = 1;
            } else
                restarted = 0;
            prev = r->loss < prev ? r->loss : prev;
        }
        tg_optim_free(&lb);
    }
    r->train_seconds = now_seconds() - t0;
    r->train_cpu_seconds = (double)(clock() - c0) / CLOCKS_PER_SEC;
    tg_ctx_free(&ctx);
    tg_params_zero_grad(r->ps);
    return rc;
}

/* ------------------------------------------------------------------ evaluation */
int tg_pinn_run_predict(const tg_pinn_run *r, int n, const double *x, double *u)
{
    const int dim = r->pc->dim, f = r->pc->f, B = 4096;
    tg_real *xb = tg_malloc((size_t)B * dim * sizeof *xb), *ub = tg_malloc((size_t)B * f * sizeof *ub);
    int rc = xb && ub ? 0 : tg_error_set(TG_ENOMEM, "pinn: out of memory");
    for (int i0 = 0; !rc && i0 < n; i0 += B) {
        int m = n - i0 < B ? n - i0 : B;
        for (size_t k = 0; k < (size_t)m * dim; k++)
            xb[k] = (tg_real)x[(size_t)i0 * dim + k];
        if (r->pc->features_value)
            for (int i = 0; i < m; i++)
                r->pc->features_value(r, x + (size_t)(i0 + i) * dim, xb + (size_t)i * dim);
        rc = tg_pinn_net_eval(&r->net, r->ps, m, xb, ub);
        for (size_t k = 0; !rc && k < (size_t)m * f; k++)
            u[(size_t)i0 * f + k] = (double)ub[k];
        if (!rc && r->pc->transform_value)
            for (int i = 0; i < m; i++) {
                double net[PINN_MAX_F];
                for (int c = 0; c < f; c++)
                    net[c] = u[(size_t)(i0 + i) * f + c];
                r->pc->transform_value(r, x + (size_t)(i0 + i) * dim, net, u + (size_t)(i0 + i) * f);
            }
    }
    tg_free(xb, xb ? (size_t)B * dim * sizeof *xb : 0);
    tg_free(ub, ub ? (size_t)B * f * sizeof *ub : 0);
    return rc;
}

double tg_pinn_run_rel_l2(const tg_pinn_run *r)
{
    if (!r->ref.n)
        return NAN;
    size_t m = (size_t)r->ref.n * r->ref.f;
    double *u = tg_malloc(m * sizeof *u), num = 0, den = 0;
    if (!u || tg_pinn_run_predict(r, r->ref.n, r->ref.x, u)) {
        tg_free(u, u ? m * sizeof *u : 0);
        return NAN;
    }
    for (size_t k = 0; k < m; k++) {
        double e = u[k] - r->ref.u[k];
        num += e * e, den += r->ref.u[k] * r->ref.u[k];
    }
    tg_free(u, m * sizeof *u);
    return sqrt(num / den);
}

int tg_pinn_run_coefficients(const tg_pinn_run *r, int max, const char **names, double *values, double *truth,
                             int *learned)
{
    int n = r->pc->ncoef < max ? r->pc->ncoef : max;
    for (int k = 0; k < n; k++) {
        if (names)
            names[k] = r->pc->coef[k];
        if (values)
            values[k] = tg_pinn_run_coef(r, k);
        if (truth)
            truth[k] = r->pc->coef_true[k];
        if (learned)
            learned[k] = r->coef_id[k] >= 0;
    }
    return n;
}

double tg_pinn_run_seconds(const tg_pinn_run *r) { return r->train_seconds; }
const char *tg_pinn_run_reference(const tg_pinn_run *r) { return r->ref.n ? (r->ref_path[0] ? r->ref_path : "analytic") : NULL; }
tg_params *tg_pinn_run_params(tg_pinn_run *r) { return r->ps; }
void tg_pinn_run_set_threads(tg_pinn_run *r, int threads) { r->threads = threads > 0 ? threads : 0; }
int tg_pinn_run_threads(const tg_pinn_run *r) { return r->threads; }
