/* hbv_implicit.c — the implicit HBV run: forward (one Newton solve per day for every lane
 * of a block of basins), the adjoint sweep, and the whole run as one tape node.
 *
 * Lanes are (basin, component) pairs, lane l = b·M + m. Blocks of whole basins run in
 * parallel (OpenMP): each block calls the generic batched Newton (tg_implicit_solve) and
 * its adjoint (tg_implicit_step_adjoint) on its own lanes, so per-lane arithmetic, and
 * hence every result, is independent of the thread count. Memory kept for backward: the
 * converged stores x_t of every differentiated day (T_d + 1)·L·5 reals, nothing from the
 * Newton iterations. */
#include <stdio.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "models/hbv_implicit_internal.h"
#include "models/hbv_op_io.h"

#define R0 TG_R(0.0)

void tg_hbvi_config_init(tg_hbvi_config *c, int T, int warmup, int B, int M)
{
    memset(c, 0, sizeof *c);
    tg_hbv_config_init(&c->hbv, T, warmup, B, M);
    c->scheme = TG_HBVI_EULER;
    c->w_temp = TG_R(0.5);
    c->w_store = TG_R(1.0);
    c->w_et = TG_R(0.02);
    c->drain = TG_R(10.0);
    c->max_substeps = 1 << HBVI_MAX_LEVEL;
    c->newton = tg_newton_defaults();
}

int tg_hbvi_config_check(const tg_hbvi_config *c)
{
    if (!c)
        return tg_error_set(TG_EINVAL, "hbv_implicit: config is NULL");
    int rc = tg_hbv_config_check(&c->hbv);
    if (rc)
        return tg_error_prefix(rc, "hbv_implicit: ");
    if (c->hbv.capillary) /* the implicit residuals are those of δHBV 1.0 */
        return tg_error_set(TG_EINVAL, "hbv_implicit: capillary rise (δHBV 1.1p) is not supported");
    if (c->scheme != TG_HBVI_EULER && c->scheme != TG_HBVI_CN)
        return tg_error_set(TG_EINVAL, "hbv_implicit: scheme = %d, need euler (0) or cn (1)", c->scheme);
    if (!(c->w_temp > 0) || !(c->w_store > 0) || !(c->w_et > 0))
        return tg_error_set(TG_EINVAL, "hbv_implicit: smoothing widths must be > 0 (w_temp %g, w_store %g, w_et %g)",
                            (double)c->w_temp, (double)c->w_store, (double)c->w_et);
    if (!(c->drain > 0))
        return tg_error_set(TG_EINVAL, "hbv_implicit: drain = %g, need > 0", (double)c->drain);
    if (c->max_substeps < 1 || c->max_substeps > (1 << HBVI_MAX_LEVEL))
        return tg_error_set(TG_EINVAL, "hbv_implicit: max_substeps = %d, need 1..%d", c->max_substeps,
                            1 << HBVI_MAX_LEVEL);
    if (c->newton.max_iter < 1)
        return tg_error_set(TG_EINVAL, "hbv_implicit: newton.max_iter = %d, need >= 1", c->newton.max_iter);
    return 0;
}

/* First differentiated step. */
static int first_diff(const tg_hbvi_config *c)
{
    return c->hbv.warmup_grad ? 0 : c->hbv.warmup;
}

/* states = the stores of every differentiated step, then one byte per differentiated
 * lane-day: 0 = one daily step, 1..HBVI_MAX_LEVEL = solved in 2^flag sub-steps,
 * HBVI_FLAG_UNCONVERGED = kept unconverged (newton.allow_unconverged; adjoint skipped). */
static size_t n_state_reals(const tg_hbvi_config *c)
{
    return (size_t)(c->hbv.T - first_diff(c) + 1) * (size_t)c->hbv.B * (size_t)c->hbv.M * HBVI_NS;
}

static size_t n_flag_bytes(const tg_hbvi_config *c)
{
    return (size_t)(c->hbv.T - first_diff(c)) * (size_t)c->hbv.B * (size_t)c->hbv.M;
}

size_t tg_hbvi_states_size(const tg_hbvi_config *c)
{
    return n_state_reals(c) + (n_flag_bytes(c) + sizeof(tg_real) - 1) / sizeof(tg_real);
}

/* ------------------------------------------------------------------ blocks */
typedef struct {
    int b0, nb;  /* basins */
    int l0, L;   /* lanes */
} block;

/* About 64 lanes per block (whole basins): small enough for 2+ blocks per thread on a
 * training batch, large enough that per-call overheads vanish. */
static int n_blocks(const tg_hbvi_config *c, int *nb_per)
{
    int nb = 64 / c->hbv.M;
    if (nb < 1)
        nb = 1;
    *nb_per = nb;
    return (c->hbv.B + nb - 1) / nb;
}

static block block_of(const tg_hbvi_config *c, int i, int nb_per)
{
    block k;
    k.b0 = i * nb_per;
    k.nb = c->hbv.B - k.b0 < nb_per ? c->hbv.B - k.b0 : nb_per;
    k.l0 = k.b0 * c->hbv.M;
    k.L = k.nb * c->hbv.M;
    return k;
}

/* theta (L, 13) and u (T, L, U) of a block from the op layouts; warm-up days carry the
 * static value of the dynamic parameters. */
static void pack(const tg_hbvi_config *c, const hbvi_dyn *d, block k, const tg_real *forcing,
                 const tg_real *par_static, const tg_real *par_dyn, tg_real *theta, tg_real *u)
{
    const int T = c->hbv.T, W = c->hbv.warmup, B = c->hbv.B, M = c->hbv.M, U = d->U;
    const size_t Lall = (size_t)B * (size_t)M;
    const int nd = U - 3;
    for (int l = 0; l < k.L; l++)
        for (int j = 0; j < HBVI_NP; j++)
            theta[(size_t)l * HBVI_NP + j] = par_static[(size_t)j * Lall + (size_t)(k.l0 + l)];
    for (int t = 0; t < T; t++)
        for (int l = 0; l < k.L; l++) {
            const int b = k.b0 + l / M;
            tg_real *ur = u + ((size_t)t * (size_t)k.L + (size_t)l) * (size_t)U;
            for (int q = 0; q < 3; q++)
                ur[q] = forcing[((size_t)t * (size_t)B + (size_t)b) * 3 + (size_t)q];
            for (int j = 0; j < HBVI_NP; j++) {
                const int s = d->slot[j];
                if (s < 0)
                    continue;
                ur[s] = t < W ? theta[(size_t)l * HBVI_NP + j]
                              : par_dyn[(((size_t)(t - W) * (size_t)nd + (size_t)(s - 3)) * Lall) +
                                        (size_t)(k.l0 + l)];
            }
        }
}

/* Output row k from the fluxes of a lane (daily amounts) and its end-of-day stores. */
static void lane_outputs(const tg_real *v, const tg_real *xn, tg_real *o)
{
    o[TG_HBV_Q0] = v[FX_Q0];
    o[TG_HBV_Q1] = v[FX_Q1];
    o[TG_HBV_Q2] = v[FX_Q2];
    o[TG_HBV_Q] = v[FX_Q0] + v[FX_Q1] + v[FX_Q2];
    o[TG_HBV_ET] = v[FX_ET];
    o[TG_HBV_RAIN] = v[FX_RAIN];
    o[TG_HBV_SNOW] = v[FX_SNOW];
    o[TG_HBV_MELT] = v[FX_MELT];
    o[TG_HBV_SWE] = xn[0];
    o[TG_HBV_MELTWATER] = xn[1];
    o[TG_HBV_SM] = xn[2];
    o[TG_HBV_SUZ] = xn[3];
    o[TG_HBV_SLZ] = xn[4];
    o[TG_HBV_RECHARGE] = v[FX_RECH];
    o[TG_HBV_EXCESS] = v[FX_EXC];
    o[TG_HBV_PERC_OUT] = v[FX_PERC];
}

/* Per-flux output weights (adjoint of lane_outputs): w (12) and store seeds xs (5). */
static void lane_output_seeds(const tg_real *g, tg_real *w, tg_real *xs)
{
    memset(w, 0, HBVI_NF * sizeof *w);
    w[FX_Q0] = g[TG_HBV_Q0] + g[TG_HBV_Q];
    w[FX_Q1] = g[TG_HBV_Q1] + g[TG_HBV_Q];
    w[FX_Q2] = g[TG_HBV_Q2] + g[TG_HBV_Q];
    w[FX_ET] = g[TG_HBV_ET];
    w[FX_RAIN] = g[TG_HBV_RAIN];
    w[FX_SNOW] = g[TG_HBV_SNOW];
    w[FX_MELT] = g[TG_HBV_MELT];
    w[FX_RECH] = g[TG_HBV_RECHARGE];
    w[FX_EXC] = g[TG_HBV_EXCESS];
    w[FX_PERC] = g[TG_HBV_PERC_OUT];
    xs[0] = g[TG_HBV_SWE];
    xs[1] = g[TG_HBV_MELTWATER];
    xs[2] = g[TG_HBV_SM];
    xs[3] = g[TG_HBV_SUZ];
    xs[4] = g[TG_HBV_SLZ];
}

/* Per-block error, carried out of the parallel region (messages are thread-local). */
typedef struct {
    int rc;
    char msg[400];
} block_err;

static void keep_error(block_err *e, int rc)
{
    e->rc = rc;
    snprintf(e->msg, sizeof e->msg, "%s", tg_error_message());
}

static int first_error(const block_err *e, int n)
{
    for (int i = 0; i < n; i++)
        if (e[i].rc)
            return tg_error_set(e[i].rc, "%s", e[i].msg);
    return 0;
}

static int worth_threads(const tg_hbvi_config *c, int nblk)
{
    return nblk > 1 && (double)c->hbv.T * (double)c->hbv.B * (double)c->hbv.M >= 2e4;
}

/* ------------------------------------------------------------------ forward */
static int forward_block(const tg_hbvi_config *c, const hbvi_dyn *d, const tg_implicit_fns *f,
                         block k, tg_real *out_basin, tg_real *out_lane, tg_real *state_final,
                         tg_real *states, const tg_real *forcing, const tg_real *par_static,
                         const tg_real *par_dyn, const tg_real *state_init, tg_hbvi_stats *st)
{
    const int T = c->hbv.T, W = c->hbv.warmup, B = c->hbv.B, M = c->hbv.M, U = d->U;
    const int t0 = first_diff(c);
    const size_t Lall = (size_t)B * (size_t)M, Ln = (size_t)k.L * HBVI_NS;
    const size_t n_theta = (size_t)k.L * HBVI_NP, n_u = (size_t)T * (size_t)k.L * (size_t)U;
    const size_t bytes = (n_theta + n_u + 2 * Ln + (size_t)k.L * (TG_HBV_NOUT + HBVI_NF)) * sizeof(tg_real) +
                         2 * (size_t)k.L;
    tg_real *mem = tg_malloc(bytes);
    if (!mem)
        return tg_error_set(TG_ENOMEM, "hbv_implicit: out of memory (%zu bytes)", bytes);
    tg_real *theta = mem, *u = theta + n_theta, *roll = u + n_u, *ol = roll + 2 * Ln;
    tg_real *vsub = ol + (size_t)k.L * TG_HBV_NOUT; /* flux amounts of sub-stepped lanes */
    unsigned char *conv = (unsigned char *)(vsub + (size_t)k.L * HBVI_NF), *level = conv + k.L;
    pack(c, d, k, forcing, par_static, par_dyn, theta, u);

    tg_newton_opts o = c->newton;
    o.allow_unconverged = 1;
    o.warm_start = 0;
    tg_newton_report rep;
    tg_newton_report_init(&rep);
    int status = 0;

    /* x_0 */
    tg_real *x0 = states && t0 == 0 ? states + (size_t)k.l0 * HBVI_NS : roll;
    for (int l = 0; l < k.L; l++)
        for (int i = 0; i < HBVI_NS; i++)
            x0[(size_t)l * HBVI_NS + i] =
                state_init ? state_init[(size_t)i * Lall + (size_t)(k.l0 + l)] : TG_R(TG_HBV_INIT_STORE);
    for (int t = 0; t < T; t++) {
        tg_real *xc = states && t >= t0 ? states + ((size_t)(t - t0) * Lall + (size_t)k.l0) * HBVI_NS
                                        : roll + (size_t)(t & 1) * Ln;
        tg_real *xn = states && t + 1 >= t0
                          ? states + ((size_t)(t + 1 - t0) * Lall + (size_t)k.l0) * HBVI_NS
                          : roll + (size_t)((t + 1) & 1) * Ln;
        const tg_real *ut = u + (size_t)t * (size_t)k.L * (size_t)U;
        if ((status = tg_implicit_solve(f, (void *)c, k.L, t, xc, theta, ut, xn, conv, &o, &rep)))
            goto done;
        memset(level, 0, (size_t)k.L);
        for (int l = 0; l < k.L && !status; l++) {
            if (conv[l] || c->max_substeps < 2)
                continue;
            tg_real p[HBVI_NP];
            int lv;
            tg__hbvi_lane_params(d, theta + (size_t)l * HBVI_NP, ut + (size_t)l * U, p);
            status = tg__hbvi_substep_forward(c, t, p, ut + (size_t)l * U, xc + (size_t)l * HBVI_NS,
                                          xn + (size_t)l * HBVI_NS, vsub + (size_t)l * HBVI_NF, &rep.iters, &lv);
            if (lv) {
                conv[l] = 1;
                level[l] = (unsigned char)lv;
                st->substepped++;
            }
        }
        if (status)
            goto done;
        if (states && t >= t0) {
            unsigned char *flag = (unsigned char *)(states + n_state_reals(c)) + (size_t)(t - t0) * Lall + k.l0;
            for (int l = 0; l < k.L; l++)
                flag[l] = conv[l] ? level[l] : HBVI_FLAG_UNCONVERGED;
        }
        for (int l = 0; l < k.L; l++)
            if (!conv[l] && c->newton.allow_unconverged)
                st->unconverged++;
            else if (!conv[l]) {
                status = tg_error_set(TG_ECONVERGE,
                                      "hbv_implicit: Newton did not converge for basin %d (of the batch), "
                                      "component %d, day %d of the window%s (max_iter %d, tolerance "
                                      "ftol %.3g / xtol %.3g; raise hbv_adj.max_iter or check the "
                                      "forcing: P %g, T %g, PET %g)",
                                      k.b0 + l / M, l % M, t, t < W ? " (warm-up)" : "", o.max_iter,
                                      o.ftol, o.xtol, (double)ut[(size_t)l * U], (double)ut[(size_t)l * U + 1],
                                      (double)ut[(size_t)l * U + 2]);
                goto done;
            }
        if (t >= W && (out_basin || out_lane)) {
            const int day = t - W;
            for (int l = 0; l < k.L; l++) {
                tg_real p[HBVI_NP];
                const tg_real *ul = ut + (size_t)l * U, *xl = xn + (size_t)l * HBVI_NS;
                if (level[l]) { /* sub-stepped: the day's amounts were summed over its sub-steps */
                    lane_outputs(vsub + (size_t)l * HBVI_NF, xl, ol + (size_t)l * TG_HBV_NOUT);
                    continue;
                }
                tg__hbvi_lane_params(d, theta + (size_t)l * HBVI_NP, ul, p);
                hbvi_lane Lv;
                tg__hbvi_eval(c, xl, p, ul[0], ul[1], ul[2], 0, &Lv);
                if (c->scheme == TG_HBVI_CN) {
                    hbvi_lane L0;
                    tg__hbvi_eval(c, xc + (size_t)l * HBVI_NS, p, ul[0], ul[1], ul[2], 0, &L0);
                    for (int q = 0; q < HBVI_NF; q++)
                        Lv.v[q] = TG_R(0.5) * (Lv.v[q] + L0.v[q]);
                }
                lane_outputs(Lv.v, xl, ol + (size_t)l * TG_HBV_NOUT);
            }
            for (int q = 0; q < TG_HBV_NOUT; q++) {
                const size_t row = (size_t)day * TG_HBV_NOUT + (size_t)q;
                if (out_lane)
                    for (int l = 0; l < k.L; l++)
                        out_lane[row * Lall + (size_t)(k.l0 + l)] = ol[(size_t)l * TG_HBV_NOUT + (size_t)q];
                if (out_basin)
                    for (int b = 0; b < k.nb; b++) {
                        tg_real s = R0;
                        for (int m = 0; m < M; m++)
                            s += ol[(size_t)(b * M + m) * TG_HBV_NOUT + (size_t)q];
                        out_basin[row * (size_t)B + (size_t)(k.b0 + b)] = s / (tg_real)M;
                    }
            }
        }
        if (t == T - 1 && state_final)
            for (int l = 0; l < k.L; l++)
                for (int i = 0; i < HBVI_NS; i++)
                    state_final[(size_t)i * Lall + (size_t)(k.l0 + l)] = xn[(size_t)l * HBVI_NS + i];
    }
done:
    st->steps += rep.steps;
    st->iters += rep.iters;
    st->halvings += rep.halvings;
    if (rep.max_iters > st->max_iters)
        st->max_iters = rep.max_iters;
    if (rep.worst_residual > st->worst_residual)
        st->worst_residual = rep.worst_residual;
    tg_free(mem, bytes);
    return status;
}

int tg_hbvi_forward(tg_real *out_basin, tg_real *out_lane, tg_real *state_final, tg_real *states,
                    const tg_real *forcing, const tg_real *par_static, const tg_real *par_dyn,
                    const tg_real *state_init, const tg_hbvi_config *c, tg_hbvi_stats *stats)
{
    int rc = tg_hbvi_config_check(c);
    if (rc)
        return rc;
    if (!forcing || !par_static || (c->hbv.dynamic && !par_dyn))
        return tg_error_set(TG_EINVAL, "hbv_implicit: forcing, static%s parameters must be given",
                            c->hbv.dynamic ? " and dynamic" : "");
    hbvi_dyn d;
    tg__hbvi_dyn_make(c, &d);
    tg_implicit_fns f;
    tg_hbvi_fns(c, &f);
    int nb_per, nblk = n_blocks(c, &nb_per);
    block_err *err = tg_malloc((size_t)nblk * sizeof *err);
    tg_hbvi_stats *st = tg_malloc((size_t)nblk * sizeof *st);
    if (!err || !st) {
        tg_free(err, (size_t)nblk * sizeof *err);
        tg_free(st, (size_t)nblk * sizeof *st);
        return tg_error_set(TG_ENOMEM, "hbv_implicit: out of memory");
    }
    memset(err, 0, (size_t)nblk * sizeof *err);
    memset(st, 0, (size_t)nblk * sizeof *st);
#pragma omp parallel for schedule(dynamic, 1) if (worth_threads(c, nblk))
    for (int i = 0; i < nblk; i++) {
        int r = forward_block(c, &d, &f, block_of(c, i, nb_per), out_basin, out_lane, state_final, states,
                              forcing, par_static, par_dyn, state_init, &st[i]);
        if (r)
            keep_error(&err[i], r);
    }
    rc = first_error(err, nblk);
    if (stats) {
        memset(stats, 0, sizeof *stats);
        for (int i = 0; i < nblk; i++) {
            if (st[i].steps > stats->steps) /* every block solves the same days */
                stats->steps = st[i].steps;
            stats->iters += st[i].iters;
            stats->halvings += st[i].halvings;
            stats->unconverged += st[i].unconverged;
            stats->substepped += st[i].substepped;
            if (st[i].max_iters > stats->max_iters)
                stats->max_iters = st[i].max_iters;
            if (st[i].worst_residual > stats->worst_residual)
                stats->worst_residual = st[i].worst_residual;
        }
    }
    tg_free(err, (size_t)nblk * sizeof *err);
    tg_free(st, (size_t)nblk * sizeof *st);
    return rc;
}

/* ------------------------------------------------------------------ backward */
static int backward_block(const tg_hbvi_config *c, const hbvi_dyn *d, const tg_implicit_fns *f,
                          block k, tg_real *g_par_static, tg_real *g_par_dyn, tg_real *g_forcing,
                          tg_real *g_state_init, const tg_real *g_out_basin, const tg_real *g_out_lane,
                          const tg_real *g_state_final, const tg_real *states, const tg_real *forcing,
                          const tg_real *par_static, const tg_real *par_dyn)
{
    const int T = c->hbv.T, W = c->hbv.warmup, B = c->hbv.B, M = c->hbv.M, U = d->U, nd = U - 3;
    const int t0 = first_diff(c), cn = c->scheme == TG_HBVI_CN;
    const size_t Lall = (size_t)B * (size_t)M, Ln = (size_t)k.L * HBVI_NS;
    const size_t n_theta = (size_t)k.L * HBVI_NP, n_u = (size_t)T * (size_t)k.L * (size_t)U;
    const size_t bytes = (2 * n_theta + 2 * n_u + 3 * Ln + (size_t)k.L * HBVI_NF) * sizeof(tg_real);
    tg_real *mem = tg_malloc(bytes);
    if (!mem)
        return tg_error_set(TG_ENOMEM, "hbv_implicit: out of memory (%zu bytes)", bytes);
    memset(mem, 0, bytes);
    tg_real *theta = mem, *u = theta + n_theta, *theta_bar = u + n_u, *u_bar = theta_bar + n_theta;
    tg_real *xbar = u_bar + n_u, *xbar_prev = xbar + Ln;
    tg_real *xbar_sub = xbar_prev + Ln, *w_sub = xbar_sub + Ln; /* sub-stepped lanes of the day */
    pack(c, d, k, forcing, par_static, par_dyn, theta, u);
    if (g_state_final)
        for (int l = 0; l < k.L; l++)
            for (int i = 0; i < HBVI_NS; i++)
                xbar[(size_t)l * HBVI_NS + i] = g_state_final[(size_t)i * Lall + (size_t)(k.l0 + l)];
    int status = 0;
    for (int t = T - 1; t >= t0; t--) {
        const tg_real *xc = states + ((size_t)(t - t0) * Lall + (size_t)k.l0) * HBVI_NS;
        const tg_real *xn = states + ((size_t)(t + 1 - t0) * Lall + (size_t)k.l0) * HBVI_NS;
        const tg_real *ut = u + (size_t)t * (size_t)k.L * (size_t)U;
        tg_real *ubt = u_bar + (size_t)t * (size_t)k.L * (size_t)U;
        memset(xbar_prev, 0, Ln * sizeof *xbar_prev);
        const unsigned char *flag = (const unsigned char *)(states + n_state_reals(c)) + (size_t)(t - t0) * Lall + k.l0;
        for (int l = 0; l < k.L; l++)
            if (hbvi_flag_substepped(flag[l]))
                memset(w_sub + (size_t)l * HBVI_NF, 0, HBVI_NF * sizeof *w_sub);
        if (t >= W && (g_out_basin || g_out_lane)) {
            const size_t day = (size_t)(t - W);
            for (int l = 0; l < k.L; l++) {
                tg_real g[TG_HBV_NOUT], w[HBVI_NF], xs[HBVI_NS], p[HBVI_NP], pb[HBVI_NP] = {0};
                int any = 0;
                for (int q = 0; q < TG_HBV_NOUT; q++) {
                    const size_t row = day * TG_HBV_NOUT + (size_t)q;
                    tg_real s = R0;
                    if (g_out_lane)
                        s += g_out_lane[row * Lall + (size_t)(k.l0 + l)];
                    if (g_out_basin)
                        s += g_out_basin[row * (size_t)B + (size_t)(k.b0 + l / M)] / (tg_real)M;
                    g[q] = s;
                    any |= s != R0;
                }
                if (!any)
                    continue;
                lane_output_seeds(g, w, xs);
                tg_real *xb = xbar + (size_t)l * HBVI_NS, *ub = ubt + (size_t)l * U;
                for (int i = 0; i < HBVI_NS; i++)
                    xb[i] += xs[i];
                if (hbvi_flag_substepped(flag[l])) { /* seeds go to its sub-steps */
                    memcpy(w_sub + (size_t)l * HBVI_NF, w, sizeof w);
                    continue;
                }
                const tg_real *ul = ut + (size_t)l * U;
                tg__hbvi_lane_params(d, theta + (size_t)l * HBVI_NP, ul, p);
                hbvi_lane Lv;
                const tg_real sc = cn ? TG_R(0.5) : TG_R(1.0);
                tg__hbvi_eval(c, xn + (size_t)l * HBVI_NS, p, ul[0], ul[1], ul[2], 2, &Lv);
                tg__hbvi_vjp(&Lv, w, sc, xb, pb, ub);
                if (cn) {
                    tg__hbvi_eval(c, xc + (size_t)l * HBVI_NS, p, ul[0], ul[1], ul[2], 2, &Lv);
                    tg__hbvi_vjp(&Lv, w, sc, xbar_prev + (size_t)l * HBVI_NS, pb, ub);
                }
                tg__hbvi_scatter_params(d, pb, theta_bar + (size_t)l * HBVI_NP, ub);
            }
        }
        /* Lanes off the daily step: a sub-stepped day's seeds go through its own sub-step
         * adjoint below. A lane-day kept unconverged has no implicit-function derivative
         * (F ≠ 0 there, its Jacobian may be singular): its x⁺ is treated as a constant, so
         * no gradient flows through that day of that lane (counted in the forward's stats). */
        for (int l = 0; l < k.L; l++)
            if (flag[l]) {
                memcpy(xbar_sub + (size_t)l * HBVI_NS, xbar + (size_t)l * HBVI_NS, HBVI_NS * sizeof *xbar);
                memset(xbar + (size_t)l * HBVI_NS, 0, HBVI_NS * sizeof *xbar);
            }
        if ((status = tg_implicit_step_adjoint(f, (void *)c, k.L, t, xc, theta, ut, xn, xbar, xbar_prev,
                                               theta_bar, ubt)))
            goto done;
        for (int l = 0; l < k.L; l++) {
            if (!hbvi_flag_substepped(flag[l]))
                continue;
            tg_real p[HBVI_NP], pb[HBVI_NP] = {0};
            const tg_real *ul = ut + (size_t)l * U;
            tg_real *ub = ubt + (size_t)l * U;
            tg__hbvi_lane_params(d, theta + (size_t)l * HBVI_NP, ul, p);
            if ((status = tg__hbvi_substep_backward(c, t, flag[l], p, ul, xc + (size_t)l * HBVI_NS,
                                                xbar_sub + (size_t)l * HBVI_NS, w_sub + (size_t)l * HBVI_NF,
                                                xbar_prev + (size_t)l * HBVI_NS, pb, ub)))
                goto done;
            tg__hbvi_scatter_params(d, pb, theta_bar + (size_t)l * HBVI_NP, ub);
        }
        tg_real *sw = xbar;
        xbar = xbar_prev;
        xbar_prev = sw;
    }
    /* scatter */
    if (t0 == 0 && g_state_init)
        for (int l = 0; l < k.L; l++)
            for (int i = 0; i < HBVI_NS; i++)
                g_state_init[(size_t)i * Lall + (size_t)(k.l0 + l)] += xbar[(size_t)l * HBVI_NS + i];
    if (g_par_static)
        for (int l = 0; l < k.L; l++)
            for (int j = 0; j < HBVI_NP; j++)
                g_par_static[(size_t)j * Lall + (size_t)(k.l0 + l)] += theta_bar[(size_t)l * HBVI_NP + j];
    for (int t = t0; t < T; t++)
        for (int l = 0; l < k.L; l++) {
            const tg_real *ub = u_bar + ((size_t)t * (size_t)k.L + (size_t)l) * (size_t)U;
            const int b = k.b0 + l / M;
            if (g_forcing)
                for (int q = 0; q < 3; q++)
                    g_forcing[((size_t)t * (size_t)B + (size_t)b) * 3 + (size_t)q] += ub[q];
            for (int j = 0; j < HBVI_NP; j++) {
                const int s = d->slot[j];
                if (s < 0)
                    continue;
                if (t < W) {
                    if (g_par_static)
                        g_par_static[(size_t)j * Lall + (size_t)(k.l0 + l)] += ub[s];
                } else if (g_par_dyn) {
                    g_par_dyn[((size_t)(t - W) * (size_t)nd + (size_t)(s - 3)) * Lall + (size_t)(k.l0 + l)] += ub[s];
                }
            }
        }
done:
    tg_free(mem, bytes);
    return status;
}

int tg_hbvi_backward(tg_real *g_par_static, tg_real *g_par_dyn, tg_real *g_forcing, tg_real *g_state_init,
                     const tg_real *g_out_basin, const tg_real *g_out_lane, const tg_real *g_state_final,
                     const tg_real *states, const tg_real *forcing, const tg_real *par_static,
                     const tg_real *par_dyn, const tg_hbvi_config *c)
{
    int rc = tg_hbvi_config_check(c);
    if (rc)
        return rc;
    if (!states || !forcing || !par_static || (c->hbv.dynamic && !par_dyn))
        return tg_error_set(TG_EINVAL, "hbv_implicit backward: states, forcing and parameters must be given");
    hbvi_dyn d;
    tg__hbvi_dyn_make(c, &d);
    tg_implicit_fns f;
    tg_hbvi_fns(c, &f);
    int nb_per, nblk = n_blocks(c, &nb_per);
    block_err *err = tg_malloc((size_t)nblk * sizeof *err);
    if (!err)
        return tg_error_set(TG_ENOMEM, "hbv_implicit: out of memory");
    memset(err, 0, (size_t)nblk * sizeof *err);
#pragma omp parallel for schedule(dynamic, 1) if (worth_threads(c, nblk))
    for (int i = 0; i < nblk; i++) {
        int r = backward_block(c, &d, &f, block_of(c, i, nb_per), g_par_static, g_par_dyn, g_forcing,
                               g_state_init, g_out_basin, g_out_lane, g_state_final, states, forcing,
                               par_static, par_dyn);
        if (r)
            keep_error(&err[i], r);
    }
    rc = first_error(err, nblk);
    tg_free(err, (size_t)nblk * sizeof *err);
    return rc;
}

/* ------------------------------------------------------------------ tape op */
typedef struct {
    tg_hbvi_config c;
    tg_hbv_slots s;
    tg_real *states;
    tg_hbvi_stats *stats;
} hbvi_op_data;

static int op_forward(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out)
{
    hbvi_op_data *d = ud;
    const tg_hbv_slots *s = &d->s;
    (void)n_in, (void)n_out;
    return tg_hbvi_forward(tg_hbv_slot_data(out, s->o_basin), tg_hbv_slot_data(out, s->o_lane),
                           tg_hbv_slot_data(out, s->o_final), d->states, in[s->i_forcing]->data,
                           in[s->i_static]->data, tg_hbv_slot_data(in, s->i_dyn), tg_hbv_slot_data(in, s->i_init),
                           &d->c, d->stats);
}

static int op_backward(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out,
                       const tg_real *const *grad_out, tg_real *const *grad_in)
{
    hbvi_op_data *d = ud;
    const tg_hbv_slots *s = &d->s;
    (void)out, (void)n_in, (void)n_out;
    if (!d->states)
        return tg_error_set(TG_ESTATE, "hbv_implicit op: no saved stores (forward ran without gradient)");
    return tg_hbvi_backward(grad_in[s->i_static], tg_hbv_slot_grad_in(grad_in, s->i_dyn), grad_in[s->i_forcing],
                            tg_hbv_slot_grad_in(grad_in, s->i_init), tg_hbv_slot_grad(grad_out, s->o_basin),
                            tg_hbv_slot_grad(grad_out, s->o_lane), tg_hbv_slot_grad(grad_out, s->o_final),
                            d->states, in[s->i_forcing]->data, in[s->i_static]->data,
                            tg_hbv_slot_data(in, s->i_dyn), &d->c);
}

static const tg_custom_op hbvi_op_def = {"hbv_implicit", op_forward, op_backward};

int tg_hbvi_op(tg_ctx *ctx, const tg_hbvi_config *c, tg_tensor *forcing, tg_tensor *par_static,
               tg_tensor *par_dyn, tg_tensor *state_init, tg_tensor **out_basin, tg_tensor **out_lane,
               tg_tensor **state_final, tg_hbvi_stats *stats)
{
    if (out_basin)
        *out_basin = NULL;
    if (out_lane)
        *out_lane = NULL;
    if (state_final)
        *state_final = NULL;
    if (!ctx)
        return tg_error_set(TG_EINVAL, "hbv_implicit op: no context");
    if (tg_ctx_status(ctx))
        return tg_ctx_status(ctx);
    int rc = tg_hbvi_config_check(c);
    if (rc)
        return rc;
    hbvi_dyn dy;
    tg__hbvi_dyn_make(c, &dy);
    const tg_hbv_io_dims dm = {c->hbv.T, c->hbv.T - c->hbv.warmup, c->hbv.B, c->hbv.M, TG_HBV_NFORCING, dy.U - 3, 0, 0};
    tg_hbv_io io;
    rc = tg_hbv_io_setup(&io, "hbv_implicit op", dm, forcing, par_static, par_dyn, state_init, out_basin, out_lane,
                         state_final);
    if (rc)
        return rc;
    hbvi_op_data *d = tg_ctx_alloc(ctx, sizeof *d);
    if (!d)
        return tg_error_set(TG_ENOMEM, "hbv_implicit op: out of step memory");
    memset(d, 0, sizeof *d);
    d->c = *c;
    d->s = io.s;
    d->stats = stats;
    if (tg_hbv_io_needs_grad(&io, ctx)) {
        d->states = tg_ctx_alloc(ctx, tg_hbvi_states_size(c) * sizeof(tg_real));
        if (!d->states)
            return tg_error_set(TG_ENOMEM, "hbv_implicit op: out of step memory for %zu saved stores",
                                tg_hbvi_states_size(c));
    }
    return tg_hbv_io_record(&io, ctx, &hbvi_op_def, d, out_basin, out_lane, state_final);
}
