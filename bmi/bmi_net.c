/* bmi_net.c — trained runs of `terragrad train` behind the BMI: model.type lstm and dhbv.
 *
 * Uses the application layer's internal API (src/train/train_internal.h: run config,
 * dataset with the run's normalisation and attributes, model build, checkpoint load) —
 * there is no public one yet; docs/bmi.md lists what it uses.
 *
 * What a step computes, and why it equals `terragrad test` (src/train/evaluate.c):
 *  lstm: test tiles the period with windows of `training.warmup` + `training.horizon`
 *        days, each predicting its last `horizon` days from a fresh (zero) LSTM state.
 *        The module does the same from its start day: on the first day of every horizon
 *        block it resets h and c, runs the LSTM over the `warmup` days before (kept as
 *        normalised inputs in state__lstm_input_history), then steps one day.
 *  dhbv: test runs the LSTM once over warm-up + period; HBV's static parameters and the
 *        routing come from the head on the LAST day of that window, the dynamic ones from
 *        each day's head; HBV warms up over the first `warmup` days with the static
 *        parameters. So initialize reads the basin's forcing for [start - warmup, end] from
 *        the run's data, runs the LSTM over it for the static parameters and the routing
 *        (dhbv_static: end; `warmup` takes the head on the day before start instead, which
 *        needs no future forcing), warms HBV up, and keeps the LSTM state of the day
 *        before start; each update then steps the LSTM one day, turns the head into that
 *        day's dynamic parameters and steps HBV and the routing once. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tgbmi.h"
#include "train/train_internal.h"

typedef struct net {
    tg_cfg *run;
    tg_dataset d;
    int have_d;
    tg_model mdl;
    tg_params *ps;
    int bi;                        /* the basin's index in the run */
    int F, S, in, H, K, warm, hor;
    int src[TG_MAX_INPUTS];        /* BMI input (0 P, 1 T, 2 PET) of each dynamic input */
    int normk[TG_MAX_INPUTS];      /* its normalisation feature */
    tg_real *statics;              /* (S) normalised */
    tg_real *x, *hs, *cs, *gates;  /* scratch: (rows, in), (rows, H) x2, (rows, 4H) */
    int rows_cap;
    /* state, exposed through get_value / set_value */
    double *h, *c;                 /* (H) */
    double *hist;                  /* lstm: (warm, F) normalised inputs of the last days, oldest first */
    double winday;                 /* lstm: day within the horizon block (0: reset before stepping) */
    double *params;                /* dhbv: (NPARAM, M) static parameters, physical */
    double routing[2];             /* dhbv: a, theta (NaN: no routing) */
    int ndyn;
} net;

static int scratch(net *n, int rows)
{
    if (rows <= n->rows_cap)
        return 0;
    free(n->x);
    free(n->hs);
    free(n->cs);
    free(n->gates);
    n->x = malloc((size_t)rows * n->in * sizeof(tg_real));
    n->hs = malloc((size_t)rows * n->H * sizeof(tg_real));
    n->cs = malloc((size_t)rows * n->H * sizeof(tg_real));
    n->gates = malloc((size_t)rows * 4 * n->H * sizeof(tg_real));
    n->rows_cap = rows;
    if (!n->x || !n->hs || !n->cs || !n->gates) {
        n->rows_cap = 0;
        return tg_error_set(TG_ENOMEM, "out of memory");
    }
    return 0;
}

/* LSTM over `rows` rows of n->x from (h, c); the new state goes back into h and c, the
 * hidden states of every row stay in n->hs. */
static int lstm_run(net *n, int rows)
{
    const tg_params *ps = n->ps;
    const tg_lstm_layer *l = &n->mdl.lstm;
    tg_real hb[1024], cb[1024]; /* H <= 1024, checked at load */
    for (int j = 0; j < n->H; j++) {
        hb[j] = (tg_real)n->h[j];
        cb[j] = (tg_real)n->c[j];
    }
    int rc = tg_lstm_forward(n->hs, n->cs, n->gates, n->x, ps->value + ps->offset[l->w_ih], ps->value + ps->offset[l->w_hh],
                             ps->value + ps->offset[l->b_ih], ps->value + ps->offset[l->b_hh], hb, cb, rows, 1, n->in,
                             n->H, 1);
    if (rc)
        return rc;
    for (int j = 0; j < n->H; j++) {
        n->h[j] = (double)n->hs[(size_t)(rows - 1) * n->H + j];
        n->c[j] = (double)n->cs[(size_t)(rows - 1) * n->H + j];
    }
    return 0;
}

/* head output k for hidden state h (the linear layer; sigmoid applied by the caller) */
static tg_real head(const net *n, const tg_real *h, int k)
{
    const tg_real *w = n->ps->value + n->ps->offset[n->mdl.head.w], *b = n->ps->value + n->ps->offset[n->mdl.head.b];
    tg_real y = b[k];
    for (int j = 0; j < n->H; j++)
        y += w[(size_t)k * n->H + j] * h[j];
    return y;
}

static tg_real sigmoid(tg_real x)
{
    return (tg_real)(1.0 / (1.0 + exp(-(double)x)));
}

/* Normalised input row of a day: dynamic inputs from forcing (P, T, PET in mm d-1, °C), statics. */
static void input_row(const net *n, const tg_real *forcing, tg_real *x)
{
    for (int f = 0; f < n->F; f++) {
        x[f] = forcing[n->src[f]];
        tg_norm_apply(&n->d.nm, n->normk[f], &x[f], 1, 1);
    }
    memcpy(x + n->F, n->statics, (size_t)n->S * sizeof(tg_real));
}

/* Rows of normalised inputs for days first..last from the run's data (missing: 0, the
 * normalised mean, as terragrad test does), and raw forcing (missing: 0) if forc != NULL. */
static int data_rows(net *n, int first, int last, tg_real *forc)
{
    tg_basin sn, sr;
    int rc = tg_basin_slice(&n->d.norm[n->bi], first, last, &sn);
    if (!rc && (rc = tg_basin_slice(&n->d.raw[n->bi], first, last, &sr)))
        tg_basin_free(&sn);
    if (rc)
        return rc;
    const int v3[3] = {TG_VAR_P, TG_VAR_TEMP, TG_VAR_PET};
    for (int t = 0; t <= last - first; t++) {
        tg_real *x = n->x + (size_t)t * n->in;
        for (int f = 0; f < n->F; f++) {
            tg_real v = sn.var[n->d.vars[f]][t];
            x[f] = isnan((double)v) ? 0 : v;
        }
        memcpy(x + n->F, n->statics, (size_t)n->S * sizeof(tg_real));
        for (int k = 0; forc && k < 3; k++) {
            tg_real v = sr.var[v3[k]] ? sr.var[v3[k]][t] : (tg_real)NAN;
            forc[(size_t)t * 3 + k] = isnan((double)v) ? 0 : v;
        }
    }
    tg_basin_free(&sn);
    tg_basin_free(&sr);
    return 0;
}

static int load_run(tgbmi *m, net *n)
{
    char path[4200];
    const char *dir = m->cfg.run_dir;
    if (!(n->run = tg_train_load_run_config(dir, path, sizeof path)))
        return tg_error_code();
    const char *type = tg_cfg_str(n->run, "model.type");
    const char *want = m->cfg.kind == TGBMI_LSTM ? "lstm" : "dhbv";
    if (strcmp(type, want))
        return tg_error_set(TG_EINVAL, "%s: model.type is %s, the BMI config says model: %s", path, type, want);
    if (tg_cfg_int(n->run, "model.input_layer") > 0)
        return tg_error_set(TG_EINVAL, "%s: model.input_layer is not supported by the BMI module", path);
    int rc = tg_dataset_load(&n->d, n->run, dir, 0, NULL);
    n->have_d = 1; /* freed even after a failed load (it frees what it allocated) */
    if (rc)
        return rc;
    n->ps = tg_params_create();
    if (!n->ps)
        return tg_error_set(TG_ENOMEM, "out of memory");
    if ((rc = tg_model_build(&n->mdl, n->run, &n->d, n->ps)))
        return rc;
    snprintf(path, sizeof path, "%s/last.ckpt", dir);
    if ((rc = tg_checkpoint_load(path, n->ps, NULL, NULL, NULL)))
        return rc;
    n->bi = -1;
    for (int b = 0; b < n->d.B; b++)
        if (!strcmp(n->d.raw[b].id, m->cfg.basin))
            n->bi = b;
    if (n->bi < 0)
        return tg_error_set(TG_EINVAL, "%s: basin '%s' is not one of the run's basins", dir, m->cfg.basin);
    n->F = n->d.F;
    n->S = n->d.S;
    n->in = n->F + n->S;
    n->H = n->mdl.hidden;
    n->K = n->mdl.head.out;
    n->warm = (int)tg_cfg_int(n->run, "training.warmup");
    n->hor = (int)tg_cfg_int(n->run, "training.horizon");
    if (n->H > 1024)
        return tg_error_set(TG_EINVAL, "%s: hidden size %d: the BMI module supports up to 1024", dir, n->H);
    for (int f = 0; f < n->F; f++) {
        int v = n->d.vars[f];
        n->src[f] = v == TG_VAR_P ? 0 : v == TG_VAR_TEMP ? 1 : v == TG_VAR_PET ? 2 : -1;
        if (n->src[f] < 0)
            return tg_error_set(TG_EINVAL, "%s: input '%s' is not one of the module's inputs (P, T, PET)", dir,
                                tg_var_name(v));
        n->normk[f] = tg_norm_find(&n->d.nm, tg_var_name(v));
        if (n->normk[f] < 0)
            return tg_error_set(TG_EINVAL, "%s: no normalisation for input '%s'", dir, tg_var_name(v));
    }
    n->statics = malloc(((size_t)n->S + 1) * sizeof(tg_real));
    n->h = calloc((size_t)n->H, sizeof(double));
    n->c = calloc((size_t)n->H, sizeof(double));
    n->hist = calloc((size_t)n->warm * n->F + 1, sizeof(double));
    if (!n->statics || !n->h || !n->c || !n->hist)
        return tg_error_set(TG_ENOMEM, "out of memory");
    for (int s = 0; s < n->S; s++) {
        tg_real v = n->d.statics[(size_t)n->bi * n->S + s];
        n->statics[s] = isnan((double)v) ? 0 : v;
    }
    return scratch(n, n->warm + 1);
}

static int lstm_setup(tgbmi *m, net *n)
{
    n->winday = 0;
    if (m->cfg.warmup_policy != TGBMI_WARMUP_DATA || n->warm == 0)
        return 0;
    int rc = data_rows(n, m->cfg.start_day - n->warm, m->cfg.start_day - 1, NULL);
    for (int t = 0; !rc && t < n->warm; t++)
        for (int f = 0; f < n->F; f++)
            n->hist[(size_t)t * n->F + f] = (double)n->x[(size_t)t * n->in + f];
    return rc;
}

static int dhbv_setup(tgbmi *m, net *n)
{
    const int M = n->mdl.M, NP = TG_HBV_NPARAM;
    int rc = tgbmi_hbv_alloc(m, M);
    if (rc)
        return rc;
    m->step_cfg.dynamic = n->mdl.hbv.dynamic;
    m->step_cfg.smooth_temp = n->mdl.hbv.smooth_temp;
    m->step_cfg.smooth_store = n->mdl.hbv.smooth_store;
    n->ndyn = tg_hbv_ndynamic(&m->step_cfg);
    n->params = malloc((size_t)NP * M * sizeof(double));
    if (n->ndyn && !(m->par_dyn = malloc((size_t)n->ndyn * M * sizeof(tg_real))))
        return tg_error_set(TG_ENOMEM, "out of memory");
    if (!n->params)
        return tg_error_set(TG_ENOMEM, "out of memory");
    for (int i = 0; i < NP * M; i++)
        n->params[i] = (double)NAN; /* until computed or set: update refuses to step */
    n->routing[0] = n->routing[1] = 0; /* a = theta = 0: no routing */
    if (m->cfg.warmup_policy != TGBMI_WARMUP_DATA)
        return 0;
    /* the network over the warm-up and (dhbv_static: end) the period */
    const int W = n->warm, first = m->cfg.start_day - W;
    const int last = m->cfg.dhbv_static_end ? m->cfg.end_day : m->cfg.start_day - 1;
    if (m->cfg.dhbv_static_end && m->cfg.end_day == INT_MIN)
        return tg_error_set(TG_EINVAL, "bmi: dhbv_static: end needs the config's end day (static parameters "
                                       "come from the head on the last day of the period, as terragrad test)");
    if (last < first)
        return tg_error_set(TG_EINVAL, "bmi: dhbv_static: warmup needs training.warmup > 0");
    const int rows = last - first + 1;
    tg_real *forc = malloc((size_t)rows * 3 * sizeof(tg_real));
    rc = forc ? scratch(n, rows) : tg_error_set(TG_ENOMEM, "out of memory");
    if (!rc)
        rc = data_rows(n, first, last, forc);
    if (!rc)
        rc = lstm_run(n, rows);
    if (!rc) {
        const tg_real *hl = n->hs + (size_t)(rows - 1) * n->H;
        tg_real u[TG_HBV_NPARAM * 64];
        if (M > 64)
            rc = tg_error_set(TG_EINVAL, "bmi: hbv.components %d > 64", M);
        for (int k = 0; !rc && k < NP * M; k++)
            u[k] = sigmoid(head(n, hl, k)); /* column p*M + c */
        if (!rc) {
            tg_hbv_scale_forward(m->par, u, 1, TG_HBV_ALL_PARAMS, M);
            for (int k = 0; k < NP * M; k++)
                n->params[k] = (double)m->par[k];
            if (n->mdl.routing) {
                tg_real ur[2] = {sigmoid(head(n, hl, NP * M)), sigmoid(head(n, hl, NP * M + 1))}, a, th;
                tg_routing_scale_forward(&a, &th, ur, 1);
                n->routing[0] = (double)a;
                n->routing[1] = (double)th;
            }
        }
    }
    /* the LSTM state at the end of the warm-up */
    for (int j = 0; !rc && j < n->H; j++) {
        n->h[j] = W ? (double)n->hs[(size_t)(W - 1) * n->H + j] : 0;
        n->c[j] = W ? (double)n->cs[(size_t)(W - 1) * n->H + j] : 0;
    }
    if (!rc && W)
        rc = tgbmi_hbv_warmup(m, forc, W);
    free(forc);
    return rc;
}

int tgbmi_net_setup(tgbmi *m)
{
    net *n = calloc(1, sizeof *n);
    if (!n)
        return tg_error_set(TG_ENOMEM, "out of memory");
    m->net = n;
    int rc = load_run(m, n);
    if (!rc)
        rc = m->cfg.kind == TGBMI_LSTM ? lstm_setup(m, n) : dhbv_setup(m, n);
    return rc;
}

static int lstm_step(tgbmi *m, net *n, const tg_real *forcing)
{
    const int W = n->warm, F = n->F;
    int rc = 0;
    if (!(n->winday >= 0 && n->winday < n->hor && n->winday == floor(n->winday)))
        return tg_error_set(TG_EINVAL, "bmi: state__lstm_window_day = %g: want a whole number in [0, %d)", n->winday,
                            n->hor);
    if (n->winday == 0) { /* a new block: fresh state over the last W days */
        for (int j = 0; j < n->H; j++)
            n->h[j] = n->c[j] = 0;
        for (int t = 0; t < W; t++) {
            for (int f = 0; f < F; f++)
                n->x[(size_t)t * n->in + f] = (tg_real)n->hist[(size_t)t * F + f];
            memcpy(n->x + (size_t)t * n->in + F, n->statics, (size_t)n->S * sizeof(tg_real));
        }
        if (W)
            rc = lstm_run(n, W);
    }
    if (rc)
        return rc;
    input_row(n, forcing, n->x);
    if ((rc = lstm_run(n, 1)))
        return rc;
    if (W) { /* today's inputs join the history */
        memmove(n->hist, n->hist + F, (size_t)(W - 1) * F * sizeof(double));
        for (int f = 0; f < F; f++)
            n->hist[(size_t)(W - 1) * F + f] = (double)n->x[f];
    }
    n->winday = fmod(n->winday + 1, (double)n->hor);
    tg_real q = head(n, n->hs, 0) * (tg_real)n->mdl.q_std + (tg_real)n->mdl.q_mean;
    m->out[TGBMI_O_Q] = (double)q * (m->cfg.per_hour ? 1.0 / 24.0 : 1.0);
    return 0;
}

static int dhbv_step(tgbmi *m, net *n, const tg_real *forcing)
{
    const int M = n->mdl.M, NP = TG_HBV_NPARAM;
    for (int k = 0; k < NP * M; k++) {
        const tg_domain *dom = &tg_hbv_param_domain[k / M];
        char buf[96];
        if (isnan(n->params[k]))
            return tg_error_set(TG_EINVAL, "bmi: the static HBV parameters are not set (warmup.policy none: "
                                           "set state__dhbv_static_parameters)");
        if (!tg_domain_contains(dom, n->params[k]))
            return tg_error_set(TG_EINVAL, "bmi: state__dhbv_static_parameters[%d]: %s = %g is outside its domain (%s)",
                                k, tg_hbv_param_names[k / M], n->params[k],
                                tg_domain_format(dom, tg_hbv_param_names[k / M], buf, sizeof buf));
        m->par[k] = (tg_real)n->params[k];
    }
    tgbmi_hbv_set_routing(m, n->routing[0], n->routing[1]);
    input_row(n, forcing, n->x);
    int rc = lstm_run(n, 1);
    if (rc)
        return rc;
    if (n->ndyn) {
        tg_real u[TG_HBV_NPARAM * 64];
        int r = 0;
        for (int p = 0; p < NP; p++)
            if (m->step_cfg.dynamic & (1u << p))
                for (int c = 0; c < M; c++)
                    u[r++] = sigmoid(head(n, n->hs, p * M + c));
        tg_hbv_scale_forward(m->par_dyn, u, 1, m->step_cfg.dynamic, M);
    }
    return tgbmi_hbv_step(m, forcing);
}

int tgbmi_net_step(tgbmi *m, const tg_real *forcing)
{
    net *n = m->net;
    return m->cfg.kind == TGBMI_LSTM ? lstm_step(m, n, forcing) : dhbv_step(m, n, forcing);
}

void tgbmi_net_free(tgbmi *m)
{
    net *n = m->net;
    if (!n)
        return;
    if (n->ps) {
        tg_model_free(&n->mdl);
        tg_params_free(&n->ps);
    }
    if (n->have_d)
        tg_dataset_free(&n->d);
    tg_cfg_free(&n->run);
    free(n->statics);
    free(n->x);
    free(n->hs);
    free(n->cs);
    free(n->gates);
    free(n->h);
    free(n->c);
    free(n->hist);
    free(n->params);
    free(n);
    m->net = NULL;
}

int tgbmi_net_state_size(const tgbmi *m, int which)
{
    const net *n = m->net;
    if (!n)
        return 0;
    switch (which) {
    case TGBMI_NS_H: case TGBMI_NS_C: return n->H;
    case TGBMI_NS_HISTORY: return n->warm * n->F;
    case TGBMI_NS_WINDAY: return 1;
    case TGBMI_NS_PARAMS: return TG_HBV_NPARAM * n->mdl.M;
    case TGBMI_NS_ROUTING: return 2;
    default: return 0;
    }
}

double *tgbmi_net_state(tgbmi *m, int which)
{
    net *n = m->net;
    if (!n)
        return NULL;
    switch (which) {
    case TGBMI_NS_H: return n->h;
    case TGBMI_NS_C: return n->c;
    case TGBMI_NS_HISTORY: return n->hist;
    case TGBMI_NS_WINDAY: return &n->winday;
    case TGBMI_NS_PARAMS: return n->params;
    case TGBMI_NS_ROUTING: return n->routing;
    default: return NULL;
    }
}
