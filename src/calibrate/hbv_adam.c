/* hbv_adam.c — gradient-based per-basin calibration: Adam on unconstrained variables z,
 * mapped to the physical ranges by x = lo + (hi - lo) sigmoid(z), with exact gradients of
 * the objective from HBV's hand-written backward (hbv_grad.c).
 *
 * The loss surface has kinks (thresholds) and several basins of attraction, so R
 * restarts run side by side: restart j is lane j of the same vectorised HBV run, and one
 * Adam state over the (R, nvar) variables updates them all (Adam is elementwise, so this
 * equals R independent optimisers). The best point seen by any restart is returned. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calibrate/calib_internal.h"

static double sigmoid(double z) { return 1.0 / (1.0 + exp(-z)); }

int tg__calib_adam(tg_calib_fit *fit, calib_problem *p, const tg_calib_options *opt, uint64_t seed)
{
    const int nv = p->nvar;
    long budget = opt->max_evals ? opt->max_evals : 2000;
    int R = opt->restarts ? opt->restarts : CALIB_LANES;
    if (R < 1 || budget < R)
        return tg_error_set(TG_EINVAL, "calibrate: adam needs max_evals (%ld) >= restarts (%d) >= 1", budget, R);
    long iters = budget / R;
    tg_params *ps = tg_params_create();
    int id = ps ? tg_params_add(ps, "z", 2, (int[]){R, nv}) : -1;
    tg_optim_config oc = {0};
    oc.kind = TG_OPTIM_ADAM;
    oc.lr = opt->lr > 0 ? opt->lr : 0.2;
    tg_optim *adam = id >= 0 ? tg_optim_create(&oc, ps) : NULL;
    double *x = tg_mem_alloc((size_t)R * (size_t)nv * sizeof(double));
    double *gx = tg_mem_alloc((size_t)R * (size_t)nv * sizeof(double));
    double *loss = tg_mem_alloc((size_t)R * sizeof(double));
    if (!adam || !x || !gx || !loss) {
        tg_optim_free(&adam);
        tg_params_free(&ps);
        tg_mem_free(x);
        tg_mem_free(gx);
        tg_mem_free(loss);
        return tg_error_set(TG_ENOMEM, "calibrate: out of memory for %d restarts", R);
    }
    /* restart 0 starts from the middle of every range, the others uniformly in
     * [0.05, 0.95] of each range (away from the flat ends of the sigmoid) */
    tg_real *z = tg_params_data(ps, id);
    tg_rng rng;
    tg_rng_seed(&rng, seed);
    for (int r = 0; r < R; r++)
        for (int i = 0; i < nv; i++) {
            double u = r == 0 ? 0.5 : 0.05 + 0.9 * tg_rng_uniform(&rng);
            z[r * nv + i] = (tg_real)log(u / (1 - u));
        }
    double best = HUGE_VAL, xbest[TG_CALIB_NVAR];
    for (int i = 0; i < nv; i++)
        xbest[i] = 0.5 * (p->lo[i] + p->hi[i]);
    int rc = 0;
    long evals = 0;
    for (long it = 0; it < iters && !rc; it++) {
        for (int r = 0; r < R; r++)
            for (int i = 0; i < nv; i++)
                x[r * nv + i] = p->lo[i] + (p->hi[i] - p->lo[i]) * sigmoid((double)z[r * nv + i]);
        rc = tg__calib_loss_grad(p, R, x, loss, gx);
        if (rc)
            break;
        evals += R;
        for (int r = 0; r < R; r++) {
            if (loss[r] < best) {
                best = loss[r];
                memcpy(xbest, x + (size_t)r * (size_t)nv, (size_t)nv * sizeof(double));
            }
            /* chain rule through the sigmoid; a restart whose loss is not finite stops moving */
            for (int i = 0; i < nv; i++) {
                double s = sigmoid((double)z[r * nv + i]);
                double g = isfinite(loss[r]) ? gx[r * nv + i] * (p->hi[i] - p->lo[i]) * s * (1 - s) : 0;
                ps->grad[r * nv + i] = isfinite(g) ? (tg_real)g : TG_R(0.0);
            }
        }
        rc = tg_optim_step(adam, ps);
    }
    tg_optim_free(&adam);
    tg_params_free(&ps);
    tg_mem_free(x);
    tg_mem_free(gx);
    tg_mem_free(loss);
    if (rc)
        return rc;
    memcpy(fit->params, xbest, TG_HBV_NPARAM * sizeof(double));
    if (p->routing) {
        fit->a = xbest[TG_HBV_NPARAM];
        fit->theta = xbest[TG_HBV_NPARAM + 1];
    }
    fit->objective = best;
    fit->evals = evals;
    fit->stop = 0;
    return 0;
}
