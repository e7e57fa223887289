/* loss_nsekge.c — loss.type nse_kge: an objective aimed at both NSE and KGE,
 *
 *   L = w_nse * NSE*  +  w_beta * (beta - 1)^2  +  w_alpha * (alpha - 1)^2
 *       + w_log * RMSE(log(max(q, 0) + eps), log(obs + eps))
 *
 * NSE* is the existing per-basin weighted squared error (loss.c). beta = mu_s / mu_o (volume)
 * and alpha = sigma_s / sigma_o (variability) are those of each basin's WHOLE training
 * period, not of the window: per-window alpha/beta (loss.type kge) fitted each year's
 * volume and spread separately and trained worse than NSE (docs/results.md).
 *
 * How whole-period statistics enter a minibatch loss (the design choice). The observed
 * mu_o, sigma_o of every basin are exact constants (computed once from the data). The
 * simulated ones are not available without a forward over the full period. We keep, per
 * basin, running estimates of the period means of s and s^2 (an exponential moving
 * average over the windows of that basin the sampler has drawn, bias-corrected as in Adam
 * so that the first visit is not pulled towards 0). In a step, each window k of basin b
 * enters the loss as f(m_k(q) + delta_k) with m_k = (mean of s, mean of s^2) over the
 * window's observed days and delta_k = (running estimate after this step's update) -
 * m_k(current q), a constant. So the VALUE is f at the whole-period estimate, and the
 * GRADIENT is f'(estimate) times the window's own moment gradient: an unbiased
 * stand-in for the window's share of the whole-period gradient (the windows of a basin
 * sample its period). This is stochastic compositional gradient descent (Wang, Fang & Liu
 * 2017, "Stochastic compositional gradient descent") for f(E[m]). The alternative, a
 * full-period forward every N steps, costs a full simulation of every basin (for an LSTM
 * with warm-up, several times a minibatch) and leaves the estimate just as stale between
 * refreshes.
 *
 * Bias of the running estimates (documented in docs/training.md):
 *  - lag: windows simulated with older weights still count, with weight (1 - ema)^j after
 *    j later visits of the basin; with ema = 0.1 the estimate remembers ~10 visits;
 *  - coverage: the mean is over windows, not days: the horizon days near the start and end
 *    of the training period are in fewer windows than those in the middle, and a window
 *    with few observed days counts as much as a full one;
 *  - Jensen: sigma_s from E[s^2] - E[s]^2 of the estimates is the whole-period variance
 *    (within and between windows), but sqrt and the ratio make alpha's estimate slightly
 *    biased for a small number of visits.
 * A basin without observed flow in the training period, or with mu_o <= 0 or sigma_o = 0,
 * has no alpha/beta terms (weight 0). The estimates are saved with the run state in
 * last.ckpt (tg_nsekge_state_append), so --resume continues bit-identically. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train_internal.h"

int tg_nsekge_read(const tg_cfg *cfg, int loss_type, tg_nsekge_weights *w)
{
    static const char *const keys[] = {"loss.weights.nse", "loss.weights.beta", "loss.weights.alpha",
                                       "loss.weights.logrmse", "loss.ema", "loss.log_eps"};
    double *dst[] = {&w->nse, &w->beta, &w->alpha, &w->logrmse, &w->ema, &w->log_eps};
    for (int k = 0; k < 6; k++) {
        *dst[k] = tg_cfg_float(cfg, keys[k]);
        /* the keys of this loss with another loss.type: an error, as a key a model kind
         * does not use (they would silently do nothing) */
        if (loss_type != TG_LOSS_NSE_KGE && tg_cfg_has(cfg, keys[k]))
            return tg_error_set(TG_EINVAL, "%s:%d: key '%s' is only used by loss.type nse_kge (remove it)",
                                tg_cfg_path(cfg), tg_cfg_line(cfg, keys[k]), keys[k]);
        if (!(*dst[k] >= 0) || !isfinite(*dst[k]))
            return tg_error_set(TG_EINVAL, "%s:%d: %s must be a finite number >= 0", tg_cfg_path(cfg),
                                tg_cfg_line(cfg, keys[k]), keys[k]);
    }
    if (!(w->ema > 0 && w->ema <= 1))
        return tg_error_set(TG_EINVAL, "%s:%d: loss.ema must be in (0, 1]", tg_cfg_path(cfg),
                            tg_cfg_line(cfg, "loss.ema"));
    if (!(w->log_eps > 0))
        return tg_error_set(TG_EINVAL, "%s:%d: loss.log_eps must be > 0", tg_cfg_path(cfg),
                            tg_cfg_line(cfg, "loss.log_eps"));
    return 0;
}

int tg_nsekge_state_init(tg_nsekge_state *s, const tg_basin *raw, int B, int first, int last, double ema)
{
    memset(s, 0, sizeof *s);
    s->B = B;
    s->ema = ema;
    s->mu_o = calloc((size_t)B, sizeof(double));
    s->sd_o = calloc((size_t)B, sizeof(double));
    s->m1 = calloc((size_t)B, sizeof(double));
    s->m2 = calloc((size_t)B, sizeof(double));
    s->visits = calloc((size_t)B, sizeof(long));
    if (!s->mu_o || !s->sd_o || !s->m1 || !s->m2 || !s->visits) {
        tg_nsekge_state_free(s);
        return tg_error_set(TG_ENOMEM, "out of memory");
    }
    for (int b = 0; b < B; b++) {
        const tg_basin *r = &raw[b];
        double n = 0, sum = 0, ss = 0;
        for (int t = 0; t < r->T && r->var[TG_VAR_Q]; t++) {
            const double q = (double)r->var[TG_VAR_Q][t];
            if (r->start + t >= first && r->start + t <= last && !isnan(q))
                n++, sum += q;
        }
        const double mu = n > 0 ? sum / n : 0;
        for (int t = 0; t < r->T && r->var[TG_VAR_Q]; t++) {
            const double q = (double)r->var[TG_VAR_Q][t];
            if (r->start + t >= first && r->start + t <= last && !isnan(q))
                ss += (q - mu) * (q - mu);
        }
        s->mu_o[b] = mu;
        s->sd_o[b] = n > 0 ? sqrt(ss / n) : 0; /* population std, as the KGE of metrics.c */
    }
    return 0;
}

int tg_nsekge_state_append(const tg_nsekge_state *s, char **text, size_t *len)
{
    /* one line per basin, the averages as hex floats (%a: exact round trip) */
    size_t cap = *len + (size_t)s->B * 96 + 1;
    char *t = realloc(*text, cap);
    if (!t)
        return tg_error_set(TG_ENOMEM, "out of memory");
    *text = t;
    for (int b = 0; b < s->B; b++) {
        int k = snprintf(t + *len, cap - *len, "nsekge %d %ld %a %a\n", b, s->visits[b], s->m1[b], s->m2[b]);
        if (k < 0 || (size_t)k >= cap - *len)
            return tg_error_set(TG_EINVAL, "nse_kge state: line too long");
        *len += (size_t)k;
    }
    return 0;
}

int tg_nsekge_state_restore(tg_nsekge_state *s, const char *text, const char *ckpt)
{
    int found = 0;
    for (const char *p = text; p && *p;) {
        int b;
        long v;
        double m1, m2;
        if (!strncmp(p, "nsekge ", 7)) {
            if (sscanf(p + 7, "%d %ld %la %la", &b, &v, &m1, &m2) != 4 || b < 0 || b >= s->B || v < 0)
                return tg_error_set(TG_EINVAL, "%s: unreadable nse_kge line in the run state", ckpt);
            s->visits[b] = v, s->m1[b] = m1, s->m2[b] = m2;
            found++;
        }
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    if (found != s->B)
        return tg_error_set(TG_EINVAL, "%s: the run state has nse_kge estimates of %d basins, the run %d (written by "
                                       "an older terragrad?): start again with --overwrite", ckpt, found, s->B);
    return 0;
}

void tg_nsekge_state_free(tg_nsekge_state *s)
{
    free(s->mu_o), free(s->sd_o), free(s->m1), free(s->m2), free(s->visits);
    memset(s, 0, sizeof *s);
}

/* mask (Lp, nb) = 1 on observed days; inv_n (1, nb) = 1 / observed days (0 if none). */
static int make_mask(tg_ctx *ctx, const tg_real *obs, int Lp, int nb, tg_tensor **mask, tg_tensor **inv_n,
                     double *n_obs)
{
    *mask = tg_new(ctx, TG_SHAPE(Lp, nb));
    *inv_n = tg_new(ctx, TG_SHAPE(1, nb));
    if (!*mask || !*inv_n)
        return tg_ctx_status(ctx) ? tg_ctx_status(ctx) : TG_ENOMEM;
    for (int b = 0; b < nb; b++) {
        double n = 0;
        for (int t = 0; t < Lp; t++)
            if (!isnan((double)obs[(size_t)t * nb + b])) {
                (*mask)->data[(size_t)t * nb + b] = 1;
                n++;
            }
        (*inv_n)->data[b] = (tg_real)(n > 0 ? 1 / n : 0);
        n_obs[b] = n;
    }
    return 0;
}

int tg_nsekge_moments(tg_ctx *ctx, tg_tensor *q, const tg_real *obs, tg_tensor **m1, tg_tensor **m2, double *vals)
{
    const int Lp = q->shape[0], nb = q->shape[1];
    tg_tensor *mask, *inv_n;
    double *n_obs = malloc((size_t)nb * sizeof *n_obs);
    if (!n_obs)
        return tg_error_set(TG_ENOMEM, "out of memory");
    int rc = make_mask(ctx, obs, Lp, nb, &mask, &inv_n, n_obs);
    if (!rc) {
        tg_tensor *qm = tg_mul(ctx, mask, q);
        *m1 = tg_mul(ctx, tg_sum_axis(ctx, qm, 0, 1), inv_n);
        *m2 = tg_mul(ctx, tg_sum_axis(ctx, tg_mul(ctx, qm, q), 0, 1), inv_n);
        rc = tg_ctx_status(ctx);
    }
    for (int b = 0; !rc && b < nb; b++) {
        vals[3 * b] = (double)(*m1)->data[b];
        vals[3 * b + 1] = (double)(*m2)->data[b];
        vals[3 * b + 2] = n_obs[b];
    }
    free(n_obs);
    return rc;
}

/* The window terms' basin is usable: observed days in the window and a basin with a
 * positive observed mean and a spread. */
static int usable(const tg_nsekge_state *s, int b, double n_obs)
{
    return n_obs > 0 && s->mu_o[b] > 0 && s->sd_o[b] > 0;
}

/* (beta - 1)^2 and (alpha - 1)^2 of estimates e1 = E[s], e2 = E[s^2]; + 1e-6 (mm/d)^2 in
 * the variance keeps sqrt's gradient finite for a constant simulation (as the kge loss). */
static void terms(double e1, double e2, double mu_o, double sd_o, double *tb, double *ta)
{
    const double beta = e1 / mu_o, alpha = sqrt(fmax(e2 - e1 * e1, 0) + 1e-6) / sd_o;
    *tb = (beta - 1) * (beta - 1);
    *ta = (alpha - 1) * (alpha - 1);
}

void tg_nsekge_update(tg_nsekge_state *s, const int *bi, const double *vals, int got, double *delta, double *vb,
                      double *va)
{
    /* 1. the running estimates, in batch order (the same on every rank) */
    for (int k = 0; k < got; k++) {
        const int b = bi[k];
        if (!usable(s, b, vals[3 * k + 2]))
            continue;
        s->visits[b]++;
        s->m1[b] = (1 - s->ema) * s->m1[b] + s->ema * vals[3 * k];
        s->m2[b] = (1 - s->ema) * s->m2[b] + s->ema * vals[3 * k + 1];
    }
    /* 2. each window's shift to its basin's (bias-corrected) estimate, and the values */
    double sb = 0, sa = 0;
    for (int k = 0; k < got; k++) {
        const int b = bi[k];
        delta[2 * k] = delta[2 * k + 1] = NAN; /* NaN: no terms for this window */
        if (!usable(s, b, vals[3 * k + 2]))
            continue;
        const double corr = 1 - pow(1 - s->ema, (double)s->visits[b]);
        const double e1 = s->m1[b] / corr, e2 = s->m2[b] / corr;
        delta[2 * k] = e1 - vals[3 * k];
        delta[2 * k + 1] = e2 - vals[3 * k + 1];
        double tb, ta;
        terms(e1, e2, s->mu_o[b], s->sd_o[b], &tb, &ta);
        sb += tb / got, sa += ta / got;
    }
    *vb = sb;
    *va = sa;
}

tg_tensor *tg_nsekge_terms(tg_ctx *ctx, tg_tensor *m1, tg_tensor *m2, const double *delta, const int *bi,
                           const tg_nsekge_state *s, int got, double w_beta, double w_alpha)
{
    const int nb = m1->shape[1];
    tg_tensor *d1 = tg_new(ctx, TG_SHAPE(1, nb)), *d2 = tg_new(ctx, TG_SHAPE(1, nb));
    tg_tensor *imu = tg_new(ctx, TG_SHAPE(1, nb)), *isd = tg_new(ctx, TG_SHAPE(1, nb));
    tg_tensor *wb = tg_new(ctx, TG_SHAPE(1, nb)), *wa = tg_new(ctx, TG_SHAPE(1, nb));
    if (!d1 || !d2 || !imu || !isd || !wb || !wa)
        return NULL;
    for (int k = 0; k < nb; k++) {
        const int ok = !isnan(delta[2 * k]);
        d1->data[k] = (tg_real)(ok ? delta[2 * k] : 0);
        d2->data[k] = (tg_real)(ok ? delta[2 * k + 1] : 0);
        imu->data[k] = (tg_real)(ok ? 1 / s->mu_o[bi[k]] : 0);
        isd->data[k] = (tg_real)(ok ? 1 / s->sd_o[bi[k]] : 0);
        wb->data[k] = (tg_real)(ok ? w_beta / got : 0);
        wa->data[k] = (tg_real)(ok ? w_alpha / got : 0);
    }
    tg_tensor *e1 = tg_add(ctx, m1, d1), *e2 = tg_add(ctx, m2, d2);
    tg_tensor *eb = tg_adds(ctx, tg_mul(ctx, e1, imu), TG_R(-1));
    /* relu: E[s^2] - E[s]^2 >= 0 in exact arithmetic (the estimates are convex mixtures) */
    tg_tensor *var = tg_adds(ctx, tg_relu(ctx, tg_sub(ctx, e2, tg_mul(ctx, e1, e1))), TG_R(1e-6));
    tg_tensor *ea = tg_adds(ctx, tg_mul(ctx, tg_sqrt(ctx, var), isd), TG_R(-1));
    tg_tensor *tb = tg_sum(ctx, tg_mul(ctx, wb, tg_mul(ctx, eb, eb)));
    tg_tensor *ta = tg_sum(ctx, tg_mul(ctx, wa, tg_mul(ctx, ea, ea)));
    return tg_add(ctx, tb, ta);
}

int tg_nsekge_parts(tg_ctx *ctx, tg_tensor *q, const tg_real *obs, const double *basin_std, size_t count,
                    double eps, tg_tensor **S)
{
    int rc = tg_loss_parts(ctx, TG_LOSS_NSE, q, obs, basin_std, count, S);
    if (rc)
        return rc;
    /* the log-flow term: log(max(q, 0) + eps), eps = loss.log_eps mm/d (default 0.01: below
     * it, flows are treated as equal; it bounds the log of a zero flow at log(eps)) */
    const int Lp = q->shape[0], nb = q->shape[1];
    const size_t n = (size_t)Lp * (size_t)nb;
    tg_tensor *lo = tg_new(ctx, TG_SHAPE(Lp, nb)), *w = tg_new(ctx, TG_SHAPE(Lp, nb));
    if (!lo || !w)
        return tg_ctx_status(ctx);
    for (size_t i = 0; i < n; i++)
        if (!isnan((double)obs[i])) {
            lo->data[i] = (tg_real)log(fmax(0.0, (double)obs[i]) + eps);
            w->data[i] = (tg_real)(1.0 / (double)count);
        }
    tg_tensor *lq = tg_log(ctx, tg_adds(ctx, tg_relu(ctx, q), (tg_real)eps));
    tg_tensor *d = tg_sub(ctx, lq, lo);
    S[1] = tg_sum(ctx, tg_mul(ctx, w, tg_mul(ctx, d, d)));
    return S[1] ? 0 : tg_ctx_status(ctx);
}

double tg_nsekge_combine(const double *S, const tg_nsekge_weights *w, double *c)
{
    const double r = sqrt(S[1] + 1e-12);
    c[0] = w->nse;
    c[1] = w->logrmse * 0.5 / r;
    return w->nse * S[0] + w->logrmse * r;
}
