/* bmi_net.c — trained runs of `terragrad train` behind the BMI: model.type lstm and dhbv.
 *
 * The network is the hydro library's run stepper (terragrad/stepper.h, public API): it
 * loads the run for the basin, warms the network up, and steps it one day — for lstm to
 * the day's streamflow, for dhbv to the day's HBV parameters. HBV and the routing of the
 * dhbv kind are the HBV kind's code (bmi_hbv.c: the library's HBV kernel one day at a
 * time, the gamma unit hydrograph on a buffer), so both kinds expose the same stores.
 * Why a step equals `terragrad test`: src/train/stepper.c and docs/bmi.md. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tgbmi.h"
#include "terragrad/stepper.h"

typedef struct net {
    tg_stepper *st;
    tg_real *out;                  /* (info->n_out) one step's result */
} net;

static int dhbv_setup(tgbmi *m, net *n)
{
    const tg_stepper_info *I = tg_stepper_get_info(n->st);
    const int M = I->components;
    int rc = tgbmi_hbv_alloc(m, M);
    if (rc)
        return rc;
    m->step_cfg.dynamic = I->dynamic;
    m->step_cfg.smooth_temp = I->smooth_temp;
    m->step_cfg.smooth_store = I->smooth_store;
    if (I->n_dynamic && !(m->par_dyn = malloc((size_t)I->n_dynamic * M * sizeof(tg_real))))
        return tg_error_set(TG_ENOMEM, "out of memory");
    int T = 0;
    const tg_real *forc = tg_stepper_warmup_forcing(n->st, &T);
    if (!forc)
        return 0;
    /* HBV's warm-up with the static parameters the stepper computed */
    int np = 0;
    const double *par = tg_stepper_state(n->st, TG_STEPPER_STATIC, &np);
    for (int k = 0; k < np; k++)
        m->par[k] = (tg_real)par[k];
    return tgbmi_hbv_warmup(m, forc, T);
}

int tgbmi_net_setup(tgbmi *m)
{
    net *n = calloc(1, sizeof *n);
    if (!n)
        return tg_error_set(TG_ENOMEM, "out of memory");
    m->net = n;
    const tg_stepper_options o = {
        .run_dir = m->cfg.run_dir,
        .basin = m->cfg.basin,
        .start_day = m->cfg.start_day,
        .end_day = m->cfg.end_day,
        .warmup_from_data = m->cfg.warmup_policy == TGBMI_WARMUP_DATA,
        .static_from_end = m->cfg.dhbv_static_end,
    };
    int rc = tg_stepper_open(&o, &n->st);
    if (rc)
        return rc;
    const tg_stepper_info *I = tg_stepper_get_info(n->st);
    const int want = m->cfg.kind == TGBMI_DHBV;
    if (I->dhbv != want)
        return tg_error_set(TG_EINVAL, "%s: model.type is %s, the BMI config says model: %s", m->cfg.run_dir,
                            I->dhbv ? "dhbv" : "lstm", want ? "dhbv" : "lstm");
    if (!(n->out = malloc((size_t)I->n_out * sizeof(tg_real))))
        return tg_error_set(TG_ENOMEM, "out of memory");
    return want ? dhbv_setup(m, n) : 0;
}

int tgbmi_net_step(tgbmi *m, const tg_real *forcing)
{
    net *n = m->net;
    const tg_stepper_info *I = tg_stepper_get_info(n->st);
    int rc = tg_stepper_step(n->st, forcing, n->out);
    if (rc)
        return rc;
    if (!I->dhbv) {
        m->out[TGBMI_O_Q] = (double)n->out[0] * (m->cfg.per_hour ? 1.0 / 24.0 : 1.0);
        return 0;
    }
    const int M = I->components, NP = TG_HBV_NPARAM, nd = I->n_dynamic;
    memcpy(m->par, n->out, (size_t)NP * M * sizeof(tg_real));
    if (nd)
        memcpy(m->par_dyn, n->out + NP * M, (size_t)nd * M * sizeof(tg_real));
    tgbmi_hbv_set_routing(m, (double)n->out[(NP + nd) * M], (double)n->out[(NP + nd) * M + 1]);
    return tgbmi_hbv_step(m, forcing);
}

void tgbmi_net_free(tgbmi *m)
{
    net *n = m->net;
    if (!n)
        return;
    tg_stepper_free(&n->st);
    free(n->out);
    free(n);
    m->net = NULL;
}

/* The BMI's network state variables are the stepper's state parts (TGBMI_NS_* in that order). */
static int part_of(int which)
{
    static const int part[TGBMI_NS_COUNT] = {TG_STEPPER_HIDDEN, TG_STEPPER_CELL, TG_STEPPER_HISTORY,
                                            TG_STEPPER_WINDOW_DAY, TG_STEPPER_STATIC, TG_STEPPER_ROUTING};
    return which >= 0 && which < TGBMI_NS_COUNT ? part[which] : -1;
}

int tgbmi_net_state_size(const tgbmi *m, int which)
{
    const net *n = m->net;
    int size = 0;
    if (n && n->st && part_of(which) >= 0)
        tg_stepper_state(n->st, part_of(which), &size);
    return size;
}

double *tgbmi_net_state(tgbmi *m, int which)
{
    net *n = m->net;
    return n && n->st && part_of(which) >= 0 ? tg_stepper_state(n->st, part_of(which), NULL) : NULL;
}
