/* richards_run.c — running a Richards column: forward with mass accounting, the time grid
 * that lands on output times, and a water-content misfit usable as a trajectory loss. */
#include <math.h>
#include <string.h>

#include "terragrad/adjoint.h"

/* ------------------------------------------------------------------ simulate */
typedef struct {
    const tg_richards *m;
    int B;
    const tg_real *p, *u;
    tg_real *psi_out;          /* (T+1, B, N) or NULL */
    double *S0, *inflow, *qt, *qb, *S1; /* (B) each */
} sim_obs;

static int sim_observe(void *ud, int t, const tg_real *psi)
{
    sim_obs *s = ud;
    const tg_richards *m = s->m;
    const size_t BN = (size_t)s->B * (size_t)m->N;
    if (s->psi_out)
        memcpy(s->psi_out + (size_t)t * BN, psi, BN * sizeof *psi);
    if (t == m->T)
        tg_richards_storage(m, s->B, s->p, psi, s->S1);
    if (t == 0) {
        tg_richards_storage(m, s->B, s->p, psi, s->S0);
        return 0;
    }
    /* Backward Euler: the fluxes of step t−1 are those at the new state x_t. */
    tg_richards_boundary_inflow(m, s->B, s->p, psi, s->u + (size_t)(t - 1) * 2 * (size_t)s->B,
                                s->qt, s->qb);
    for (int b = 0; b < s->B; b++)
        s->inflow[b] += (double)m->dt[t - 1] * (s->qt[b] + s->qb[b]);
    return 0;
}

int tg_richards_simulate(const tg_richards *m, int B, const tg_real *psi0, const tg_real *p,
                         const tg_real *u, const tg_newton_opts *o, tg_real *psi_out,
                         double *mass_err, tg_newton_report *rep)
{
    int rc = tg_richards_check(m, B, p);
    if (rc)
        return rc;
    if (!psi0 || (m->T > 0 && !u))
        return tg_error_set(TG_EINVAL, "tg_richards_simulate: missing initial state or forcing");
    const size_t dbytes = 5 * (size_t)B * sizeof(double);
    double *d = tg_malloc(dbytes);
    if (!d)
        return TG_ENOMEM;
    memset(d, 0, dbytes);
    sim_obs s = {m, B, p, u, psi_out, d, d + B, d + 2 * B, d + 3 * B, d + 4 * B};
    tg_implicit_fns f;
    tg_richards_fns(m, &f);
    rc = tg_implicit_traj_forward(&f, (void *)m, B, m->T, psi0, p, u, o, 1, sim_observe, &s, NULL,
                                  rep);
    for (int b = 0; b < B && !rc && mass_err; b++) {
        /* relative to the cumulative inflow; a closed column (no inflow) relative to storage */
        double in = s.inflow[b], dS = s.S1[b] - s.S0[b];
        double den = fabs(in) > 0 ? fabs(in) : (s.S0[b] > 0 ? s.S0[b] : 1);
        mass_err[b] = (dS - in) / den;
    }
    tg_free(d, dbytes);
    return rc;
}

/* ------------------------------------------------------------------ time grid */
int tg_richards_time_grid(double dt, const double *out_times, int n_out, tg_real **steps_dt,
                          int *T, int *out_step)
{
    *steps_dt = NULL;
    *T = 0;
    if (!(dt > 0) || n_out < 1)
        return tg_error_set(TG_EINVAL, "time grid: need dt > 0 and at least one output time");
    long total = 0;
    double prev = 0;
    for (int k = 0; k < n_out; k++) {
        if (!(out_times[k] >= prev) || (k > 0 && !(out_times[k] > prev)))
            return tg_error_set(TG_EINVAL, "time grid: output times must be >= 0 and ascending "
                                           "(time %d = %g)", k, out_times[k]);
        /* tolerance so 360/10 is 36 steps, not 37 */
        total += (long)ceil((out_times[k] - prev) / dt - 1e-9);
        prev = out_times[k];
    }
    if (total > 100000000L)
        return tg_error_set(TG_EINVAL, "time grid: %ld steps is too many", total);
    tg_real *st = tg_malloc((size_t)(total > 0 ? total : 1) * sizeof *st);
    if (!st)
        return TG_ENOMEM;
    int t = 0;
    prev = 0;
    for (int k = 0; k < n_out; k++) {
        int nk = (int)ceil((out_times[k] - prev) / dt - 1e-9);
        /* equal steps inside each interval: the output time is hit exactly */
        for (int j = 0; j < nk; j++)
            st[t++] = (tg_real)((out_times[k] - prev) / nk);
        out_step[k] = t;
        prev = out_times[k];
    }
    *steps_dt = st;
    *T = t;
    return 0;
}

/* ------------------------------------------------------------------ observations */
int tg_richards_obs_observe(void *ud, int t, const tg_real *psi)
{
    tg_richards_obs *o = ud;
    const tg_richards *m = o->m;
    const int N = m->N, P = m->soil->P;
    for (int k = 0; k < o->n; k++) {
        if (o->t[k] != t)
            continue;
        tg_real th;
        m->soil->eval(o->p + (size_t)o->lane[k] * P, 1, psi + (size_t)o->lane[k] * N + o->cell[k],
                      &th, NULL, NULL, NULL);
        double d = (double)th - (double)o->value[k];
        o->loss += o->weight * d * d;
    }
    return 0;
}

int tg_richards_obs_grad(void *ud, int t, const tg_real *psi, tg_real *psi_bar, tg_real *p_bar)
{
    tg_richards_obs *o = ud;
    const tg_richards *m = o->m;
    const int N = m->N, P = m->soil->P;
    tg_real dp[16];
    for (int k = 0; k < o->n; k++) {
        if (o->t[k] != t)
            continue;
        const tg_real *pk = o->p + (size_t)o->lane[k] * P;
        const size_t at = (size_t)o->lane[k] * N + (size_t)o->cell[k];
        tg_real th, C;
        m->soil->eval(pk, 1, psi + at, &th, &C, NULL, NULL);
        tg_real g = (tg_real)(2 * o->weight * ((double)th - (double)o->value[k]));
        psi_bar[at] += g * C;
        if (p_bar && P <= 16) {
            m->soil->eval_dp(pk, 1, psi + at, dp, NULL);
            for (int j = 0; j < P; j++)
                p_bar[(size_t)o->lane[k] * P + j] += g * dp[j];
        }
    }
    return 0;
}
