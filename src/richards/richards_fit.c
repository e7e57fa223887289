/* richards_fit.c — soil parameters of a column from water-content observations:
 * L-BFGS on bounded transforms, gradients from the discrete adjoint. */
#include <math.h>
#include <string.h>

#include "terragrad.h"

void tg_richards_fit_defaults(const tg_soil *soil, tg_richards_fit *fo)
{
    memset(fo, 0, sizeof *fo);
    fo->max_iter = 200;
    fo->newton = tg_newton_defaults();
    for (int j = 0; j < soil->P && j < 16; j++)
        fo->fit[j] = 1;
    /* shared positions: 2 = Ks, 3 = θr, 4 = θs (both models) */
    fo->lo[2] = 1e-7, fo->hi[2] = 0.1, fo->log_scale[2] = 1;
    fo->lo[3] = 0.0, fo->hi[3] = 0.2;
    fo->lo[4] = 0.25, fo->hi[4] = 0.6;
    if (soil == &tg_soil_haverkamp) {
        fo->lo[0] = 1, fo->hi[0] = 1e9, fo->log_scale[0] = 1;
        fo->lo[1] = 1, fo->hi[1] = 8;
        fo->lo[5] = 1, fo->hi[5] = 1e9, fo->log_scale[5] = 1;
        fo->lo[6] = 1, fo->hi[6] = 8;
    } else {
        fo->lo[0] = 1e-3, fo->hi[0] = 1, fo->log_scale[0] = 1;
        fo->lo[1] = 1.05, fo->hi[1] = 4;
    }
}

/* p = lo + (hi − lo) σ(z) in p or log p; also returns dp/dz. */
static double to_p(const tg_richards_fit *fo, int j, double z, double *dpdz)
{
    double s = 1 / (1 + exp(-z)), ds = s * (1 - s);
    if (fo->log_scale[j]) {
        double a = log(fo->lo[j]), b = log(fo->hi[j]), p = exp(a + (b - a) * s);
        *dpdz = p * (b - a) * ds;
        return p;
    }
    *dpdz = (fo->hi[j] - fo->lo[j]) * ds;
    return fo->lo[j] + (fo->hi[j] - fo->lo[j]) * s;
}

static int to_z(const tg_richards_fit *fo, int j, double p, double *z)
{
    double a = fo->lo[j], b = fo->hi[j], x = p;
    if (fo->log_scale[j]) {
        if (!(a > 0 && p > 0))
            return 1;
        a = log(a), b = log(b), x = log(p);
    }
    double s = (x - a) / (b - a);
    if (!(s > 0 && s < 1))
        return 1;
    *z = log(s / (1 - s));
    return 0;
}

typedef struct {
    const tg_richards *m;
    const tg_real *psi0, *u;
    int n_obs;
    const int *t, *cell, *lane;
    const tg_real *value;
    tg_real *p, *pbar;
    tg_richards_fit *fo;
} fit_ctx;

static int closure(void *ud, tg_params *ps, double *loss)
{
    fit_ctx *c = ud;
    const tg_richards *m = c->m;
    const int P = m->soil->P;
    double dpdz[16];
    for (int j = 0; j < P; j++)
        c->p[j] = c->fo->fit[j] ? (tg_real)to_p(c->fo, j, (double)ps->value[j], &dpdz[j])
                                : c->p[j];
    c->fo->evals++;
    tg_implicit_fns f;
    tg_richards_fns(m, &f);
    tg_richards_obs obs = {m, c->p, c->n_obs, c->t, c->lane, c->cell, c->value,
                           1.0 / c->n_obs, 0};
    tg_implicit_traj *tr = NULL;
    int rc = m->soil->check(c->p);
    if (!rc)
        rc = tg_implicit_traj_forward(&f, (void *)m, 1, m->T, c->psi0, c->p, c->u, &c->fo->newton,
                                      -1, tg_richards_obs_observe, &obs, &tr, NULL);
    if (rc == TG_ECONVERGE || rc == TG_EINVAL) {
        /* outside where the model can be solved: a wall for the line search */
        c->fo->newton_failures++;
        tg_error_clear();
        *loss = 1;
        return 0;
    }
    if (rc)
        return rc;
    memset(c->pbar, 0, (size_t)P * sizeof *c->pbar);
    rc = tg_implicit_traj_backward(tr, tg_richards_obs_grad, &obs, NULL, c->pbar, NULL);
    tg_implicit_traj_free(&tr);
    if (rc)
        return rc;
    *loss = obs.loss;
    for (int j = 0; j < P; j++)
        ps->grad[j] = c->fo->fit[j] ? (tg_real)((double)c->pbar[j] * dpdz[j]) : 0;
    return 0;
}

int tg_richards_fit_run(const tg_richards *m, const tg_real *psi0, const tg_real *u, int n_obs,
                        const int *t, const int *cell, const tg_real *value, tg_real *p,
                        tg_richards_fit *fo)
{
    int rc = tg_richards_check(m, 1, p);
    if (rc)
        return rc;
    const int P = m->soil->P;
    if (P > 16 || n_obs < 1)
        return tg_error_set(TG_EINVAL, "richards fit: need 1+ observations and P <= 16");
    for (int k = 0; k < n_obs; k++)
        if (t[k] < 0 || t[k] > m->T || cell[k] < 0 || cell[k] >= m->N)
            return tg_error_set(TG_EINVAL, "richards fit: observation %d at step %d, cell %d is "
                                           "outside the run", k, t[k], cell[k]);
    tg_params *ps = tg_params_create();
    int id = ps ? tg_params_add(ps, "soil_z", 1, (const int[]){P}) : -1;
    size_t ibytes = (size_t)n_obs * sizeof(int), rbytes = 2 * (size_t)P * sizeof(tg_real);
    int *lane = tg_calloc((size_t)n_obs, sizeof *lane);
    tg_real *work = tg_malloc(rbytes);
    tg_optim *opt = NULL;
    if (!ps || id < 0 || !lane || !work) {
        rc = TG_ENOMEM;
        goto done;
    }
    for (int j = 0; j < P; j++) {
        double z = 0;
        if (fo->fit[j] && to_z(fo, j, (double)p[j], &z)) {
            rc = tg_error_set(TG_EINVAL, "richards fit: first guess %s = %g is outside (%g, %g)",
                              m->soil->param_names[j], (double)p[j], fo->lo[j], fo->hi[j]);
            goto done;
        }
        ps->value[j] = (tg_real)z;
    }
    fit_ctx c = {m, psi0, u, n_obs, t, cell, lane, value, work, work + P, fo};
    memcpy(c.p, p, (size_t)P * sizeof *p);
    tg_optim_config oc;
    memset(&oc, 0, sizeof oc);
    oc.kind = TG_OPTIM_LBFGS;
    oc.history = 20;
    oc.max_iter = fo->max_iter > 0 ? fo->max_iter : 200;
    oc.max_eval = 2 * oc.max_iter;
    oc.tol_grad = 1e-12;
    oc.tol_change = 1e-15;
    opt = tg_optim_create(&oc, ps);
    if (!opt) {
        rc = tg_error_code() ? tg_error_code() : TG_ENOMEM;
        goto done;
    }
    fo->evals = fo->newton_failures = 0;
    double l0;
    rc = tg_optim_step_closure(opt, ps, closure, &c, &l0);
    if (!rc) {
        double dpdz;
        for (int j = 0; j < P; j++)
            if (fo->fit[j])
                p[j] = (tg_real)to_p(fo, j, (double)ps->value[j], &dpdz);
        /* the loss at the returned parameters */
        memcpy(c.p, p, (size_t)P * sizeof *p);
        tg_implicit_fns f;
        tg_richards_fns(m, &f);
        tg_richards_obs obs = {m, c.p, n_obs, t, lane, cell, value, 1.0 / n_obs, 0};
        rc = tg_implicit_traj_forward(&f, (void *)m, 1, m->T, psi0, c.p, u, &fo->newton, 1,
                                      tg_richards_obs_observe, &obs, NULL, NULL);
        fo->loss = obs.loss;
    }
done:
    tg_optim_free(&opt);
    tg_params_free(&ps);
    tg_free(lane, ibytes);
    tg_free(work, rbytes);
    return rc;
}
