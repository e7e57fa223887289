/* stepper.c — a trained lstm / dhbv run stepped one day at a time (terragrad/stepper.h).
 *
 * Why a step equals `terragrad test` (evaluate.c) bit for bit where the BLAS allows it:
 * every number goes through the kernel the batch evaluation uses, in the same order —
 *  - the LSTM: tg_lstm_forward (the kernel behind tg_lstm), h0/c0 NULL where the batch
 *    starts from zeros;
 *  - the head, sigmoid, parameter scaling and routing parameters: the same tape ops on a
 *    one-day, one-basin batch (tg_linear, tg_muls/tg_adds for lstm; tg_model_dhbv_params and
 *    tg_routing_params_op for dhbv, the very functions the dhbv kind's forward calls).
 * What differs is only the row count of the matrix products (one basin, one day at a
 * time, against test's basins x days); OpenBLAS computes each row of a product the same
 * way whatever the row count on the kernels tested (docs/bmi.md lists them).
 *
 * What a step computes:
 *  lstm: test tiles the period with windows of `training.warmup` + `training.horizon`
 *        days, each predicting its last `horizon` days from a fresh (zero) LSTM state. The
 *        stepper does the same from its start day: on the first day of every horizon block
 *        it resets h and c, runs the LSTM over the `warmup` days before (kept as
 *        normalised inputs in the history state), then steps one day.
 *  dhbv: test runs the LSTM once over warm-up + period; HBV's static parameters and the
 *        routing come from the head on the LAST day of that window, the dynamic ones from
 *        each day's head; HBV warms up over the first `warmup` days with the static
 *        parameters. So open reads the basin's forcing for [start - warmup, end] from the
 *        run's data, runs the LSTM over it for the static parameters and the routing
 *        (static_from_end = 0 takes the head on the day before start instead), keeps the
 *        LSTM state of the day before start and the warm-up forcing for the caller's HBV;
 *        each step runs the LSTM one day and turns the head into the day's parameters. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "terragrad/stepper.h"
#include "train_internal.h"

struct tg_stepper {
    tg_stepper_info info;
    tg_cfg *run;
    tg_dataset d;
    int have_d;
    tg_model mdl;
    tg_model step_mdl;             /* dhbv: mdl with no HBV warm-up, for one-day parameter batches */
    tg_params *ps;
    tg_ctx *ctx;
    int bi;                        /* the basin's index in the run */
    int F, S, in, H;
    int src[TG_MAX_INPUTS];        /* forcing index (0 P, 1 T, 2 PET) of each dynamic input */
    int normk[TG_MAX_INPUTS];      /* its normalisation feature */
    tg_real *statics;              /* (S) normalised */
    tg_real *x, *hs, *cs, *gates;  /* LSTM scratch: (rows, in), (rows, H) x2, (rows, 4H) */
    tg_real *h0, *c0;              /* (H) the state a step starts from */
    int rows_cap;
    tg_real *warm_forc;            /* dhbv: (warmup, 3) raw forcing of the HBV warm-up, or NULL */
    int warm_T;
    /* state (tg_stepper_state) */
    double *h, *c;                 /* (H) */
    double *hist;                  /* lstm: (warmup, F) */
    double winday;                 /* lstm */
    double *params;                /* dhbv: (NPARAM, M) */
    double routing[2];             /* dhbv: a, theta (0: no routing) */
};

static int scratch(tg_stepper *s, int rows)
{
    if (rows <= s->rows_cap)
        return 0;
    free(s->x);
    free(s->hs);
    free(s->cs);
    free(s->gates);
    s->x = malloc((size_t)rows * s->in * sizeof(tg_real));
    s->hs = malloc((size_t)rows * s->H * sizeof(tg_real));
    s->cs = malloc((size_t)rows * s->H * sizeof(tg_real));
    s->gates = malloc((size_t)rows * 4 * s->H * sizeof(tg_real));
    s->rows_cap = rows;
    if (!s->x || !s->hs || !s->cs || !s->gates) {
        s->rows_cap = 0;
        return tg_error_set(TG_ENOMEM, "out of memory");
    }
    return 0;
}

/* The LSTM over `rows` rows of s->x from the state (h, c), or from zeros (NULL h0/c0, as
 * the batch evaluation starts) when fresh; the new state goes back into h and c, the
 * hidden states of every row stay in s->hs. */
static int lstm_run(tg_stepper *s, int rows, int fresh)
{
    const tg_params *ps = s->ps;
    const tg_lstm_layer *l = &s->mdl.lstm;
    for (int j = 0; j < s->H; j++) {
        s->h0[j] = (tg_real)s->h[j];
        s->c0[j] = (tg_real)s->c[j];
    }
    int rc = tg_lstm_forward(s->hs, s->cs, s->gates, s->x, ps->value + ps->offset[l->w_ih],
                             ps->value + ps->offset[l->w_hh], ps->value + ps->offset[l->b_ih],
                             ps->value + ps->offset[l->b_hh], fresh ? NULL : s->h0, fresh ? NULL : s->c0, rows, 1,
                             s->in, s->H, l->chunks);
    if (rc)
        return tg_error_set(rc, "stepper: LSTM: out of memory");
    for (int j = 0; j < s->H; j++) {
        s->h[j] = (double)s->hs[(size_t)(rows - 1) * s->H + j];
        s->c[j] = (double)s->cs[(size_t)(rows - 1) * s->H + j];
    }
    return 0;
}

/* Normalised input row of a day from raw forcing (P, T, PET), then the statics. */
static void input_row(const tg_stepper *s, const tg_real *forcing, tg_real *x)
{
    for (int f = 0; f < s->F; f++) {
        x[f] = forcing[s->src[f]];
        tg_norm_apply(&s->d.nm, s->normk[f], &x[f], 1, 1);
        if (isnan((double)x[f]))
            x[f] = 0; /* missing: the normalised mean, as terragrad test */
    }
    memcpy(x + s->F, s->statics, (size_t)s->S * sizeof(tg_real));
}

/* Rows of normalised inputs for days first..last from the run's data (missing: 0, the
 * normalised mean, as terragrad test does), and raw forcing (missing: 0) if forc != NULL. */
static int data_rows(tg_stepper *s, int first, int last, tg_real *forc)
{
    tg_basin sn, sr;
    int rc = tg_basin_slice(&s->d.norm[s->bi], first, last, &sn);
    if (!rc && (rc = tg_basin_slice(&s->d.raw[s->bi], first, last, &sr)))
        tg_basin_free(&sn);
    if (rc)
        return rc;
    const int v3[3] = {TG_VAR_P, TG_VAR_TEMP, TG_VAR_PET};
    for (int t = 0; t <= last - first; t++) {
        tg_real *x = s->x + (size_t)t * s->in;
        for (int f = 0; f < s->F; f++) {
            tg_real v = sn.var[s->d.vars[f]][t];
            x[f] = isnan((double)v) ? 0 : v;
        }
        memcpy(x + s->F, s->statics, (size_t)s->S * sizeof(tg_real));
        for (int k = 0; forc && k < 3; k++) {
            tg_real v = sr.var[v3[k]] ? sr.var[v3[k]][t] : (tg_real)NAN;
            forc[(size_t)t * 3 + k] = isnan((double)v) ? 0 : v;
        }
    }
    tg_basin_free(&sn);
    tg_basin_free(&sr);
    return 0;
}

static int load_run(const tg_stepper_options *o, tg_stepper *s)
{
    char path[4200];
    const char *dir = o->run_dir;
    if (!(s->run = tg_train_load_run_config(dir, path, sizeof path)))
        return tg_error_code();
    const char *type = tg_cfg_str(s->run, "model.type");
    if (strcmp(type, "lstm") && strcmp(type, "dhbv"))
        return tg_error_set(TG_EINVAL, "%s: model.type %s: the stepper runs lstm and dhbv runs", path, type);
    s->info.dhbv = !strcmp(type, "dhbv");
    if (tg_cfg_int(s->run, "model.input_layer") > 0)
        return tg_error_set(TG_EINVAL, "%s: model.input_layer is not supported by the stepper", path);
    int rc = tg_dataset_load(&s->d, s->run, dir, 0, NULL);
    s->have_d = 1; /* freed even after a failed load (it frees what it allocated) */
    if (rc)
        return rc;
    s->ps = tg_params_create();
    s->ctx = tg_ctx_create();
    if (!s->ps || !s->ctx)
        return tg_error_set(TG_ENOMEM, "out of memory");
    if ((rc = tg_model_build(&s->mdl, s->run, &s->d, s->ps)))
        return rc;
    if (s->info.dhbv && s->mdl.hbv.capillary)
        return tg_error_set(TG_EINVAL, "%s: hbv.capillary (δHBV 1.1p) is not supported by the stepper", path);
    snprintf(path, sizeof path, "%s/last.ckpt", dir);
    if ((rc = tg_checkpoint_load(path, s->ps, NULL, NULL, NULL)))
        return rc;
    s->bi = -1;
    for (int b = 0; b < s->d.B; b++)
        if (!strcmp(s->d.raw[b].id, o->basin))
            s->bi = b;
    if (s->bi < 0)
        return tg_error_set(TG_EINVAL, "%s: basin '%s' is not one of the run's basins", dir, o->basin);
    s->F = s->d.F;
    s->S = s->d.S;
    s->in = s->F + s->S;
    s->H = s->mdl.hidden;
    for (int f = 0; f < s->F; f++) {
        int v = s->d.vars[f];
        s->src[f] = v == TG_VAR_P ? 0 : v == TG_VAR_TEMP ? 1 : v == TG_VAR_PET ? 2 : -1;
        if (s->src[f] < 0)
            return tg_error_set(TG_EINVAL, "%s: input '%s' is not one of the stepper's inputs (P, T, PET)", dir,
                                tg_var_name(v));
        s->normk[f] = tg_norm_find(&s->d.nm, tg_var_name(v));
        if (s->normk[f] < 0)
            return tg_error_set(TG_EINVAL, "%s: no normalisation for input '%s'", dir, tg_var_name(v));
    }
    tg_stepper_info *I = &s->info;
    I->hidden = s->H;
    I->inputs = s->F;
    I->statics = s->S;
    I->warmup = (int)tg_cfg_int(s->run, "training.warmup");
    I->horizon = (int)tg_cfg_int(s->run, "training.horizon");
    if (s->info.dhbv) {
        I->components = s->mdl.M;
        I->dynamic = s->mdl.hbv.dynamic;
        I->smooth_temp = s->mdl.hbv.smooth_temp;
        I->smooth_store = s->mdl.hbv.smooth_store;
        for (int p = 0; p < TG_HBV_NPARAM; p++)
            I->n_dynamic += (I->dynamic >> p) & 1u;
        I->n_out = (TG_HBV_NPARAM + I->n_dynamic) * I->components + 2;
        s->step_mdl = s->mdl;
        s->step_mdl.hbv_warmup = 0;
    } else {
        I->n_out = 1;
    }
    s->statics = malloc(((size_t)s->S + 1) * sizeof(tg_real));
    s->h = calloc((size_t)s->H, sizeof(double));
    s->c = calloc((size_t)s->H, sizeof(double));
    s->h0 = malloc((size_t)s->H * sizeof(tg_real));
    s->c0 = malloc((size_t)s->H * sizeof(tg_real));
    s->hist = calloc((size_t)I->warmup * s->F + 1, sizeof(double));
    s->params = malloc(((size_t)TG_HBV_NPARAM * I->components + 1) * sizeof(double));
    if (!s->statics || !s->h || !s->c || !s->h0 || !s->c0 || !s->hist || !s->params)
        return tg_error_set(TG_ENOMEM, "out of memory");
    for (int i = 0; i < TG_HBV_NPARAM * I->components; i++)
        s->params[i] = (double)NAN; /* until computed or set: a step refuses to run */
    for (int k = 0; k < s->S; k++) {
        tg_real v = s->d.statics[(size_t)s->bi * s->S + k];
        s->statics[k] = isnan((double)v) ? 0 : v;
    }
    return scratch(s, I->warmup + 1);
}

static int lstm_setup(const tg_stepper_options *o, tg_stepper *s)
{
    const int W = s->info.warmup;
    s->winday = 0;
    if (!o->warmup_from_data || W == 0)
        return 0;
    int rc = data_rows(s, o->start_day - W, o->start_day - 1, NULL);
    for (int t = 0; !rc && t < W; t++)
        for (int f = 0; f < s->F; f++)
            s->hist[(size_t)t * s->F + f] = (double)s->x[(size_t)t * s->in + f];
    return rc;
}

/* The head on one day's hidden state hrow (H) through the dhbv kind's own parameter code
 * (tg_model_dhbv_params on a one-day, one-basin batch): static parameters, dynamic
 * parameters of the day and (routing = 1) routing a, theta into out (info.n_out), as
 * tg_stepper_step. */
static int dhbv_head(tg_stepper *s, const tg_real *hrow, tg_real *out, int routing)
{
    const int M = s->info.components, NP = TG_HBV_NPARAM, nd = s->info.n_dynamic;
    tg_ctx_reset(s->ctx);
    tg_ctx_set_grad(s->ctx, 0);
    tg_tensor *h = tg_from(s->ctx, TG_SHAPE(1, 1, s->H), hrow), *ps = NULL, *pd = NULL, *last = NULL;
    int rc = h ? tg_model_dhbv_params(&s->step_mdl, s->ctx, s->ps, h, 1, 1, &ps, &pd, &last) : tg_ctx_status(s->ctx);
    if (rc)
        return rc;
    memcpy(out, ps->data, (size_t)NP * M * sizeof(tg_real));
    if (nd)
        memcpy(out + NP * M, pd->data, (size_t)nd * M * sizeof(tg_real));
    out[(NP + nd) * M] = out[(NP + nd) * M + 1] = 0; /* no routing */
    if (routing && s->mdl.routing) {
        tg_tensor *a = NULL, *th = NULL;
        if ((rc = tg_routing_params_op(s->ctx, tg_slice(s->ctx, last, 1, NP * M, 2), &a, &th)))
            return rc;
        out[(NP + nd) * M] = a->data[0];
        out[(NP + nd) * M + 1] = th->data[0];
    }
    return 0;
}

static int dhbv_setup(const tg_stepper_options *o, tg_stepper *s)
{
    const int M = s->info.components, NP = TG_HBV_NPARAM, W = s->info.warmup;
    s->routing[0] = s->routing[1] = 0;
    if (!o->warmup_from_data)
        return 0;
    /* the network over the warm-up and (static_from_end) the period, as one batch */
    const int first = o->start_day - W, last = o->static_from_end ? o->end_day : o->start_day - 1;
    if (o->static_from_end && o->end_day == INT_MIN)
        return tg_error_set(TG_EINVAL, "stepper: static parameters from the end day need an end day (they come from "
                                       "the head on the last day of the period, as terragrad test)");
    if (last < first)
        return tg_error_set(TG_EINVAL, "stepper: static parameters from the warm-up need training.warmup > 0");
    const int rows = last - first + 1;
    tg_real *forc = malloc((size_t)rows * 3 * sizeof(tg_real));
    tg_real *out = malloc((size_t)s->info.n_out * sizeof(tg_real));
    int rc = forc && out ? scratch(s, rows) : tg_error_set(TG_ENOMEM, "out of memory");
    if (!rc)
        rc = data_rows(s, first, last, forc);
    if (!rc)
        rc = lstm_run(s, rows, 1);
    if (!rc)
        rc = dhbv_head(s, s->hs + (size_t)(rows - 1) * s->H, out, 1);
    if (!rc) {
        for (int k = 0; k < NP * M; k++)
            s->params[k] = (double)out[k];
        s->routing[0] = (double)out[(NP + s->info.n_dynamic) * M];
        s->routing[1] = (double)out[(NP + s->info.n_dynamic) * M + 1];
        /* the LSTM state at the end of the warm-up (none: zeros), the warm-up forcing for HBV */
        for (int j = 0; j < s->H; j++) {
            s->h[j] = W ? (double)s->hs[(size_t)(W - 1) * s->H + j] : 0;
            s->c[j] = W ? (double)s->cs[(size_t)(W - 1) * s->H + j] : 0;
        }
        if (W) {
            s->warm_forc = forc;
            s->warm_T = W;
            forc = NULL;
        }
    }
    free(forc);
    free(out);
    return rc;
}

int tg_stepper_open(const tg_stepper_options *o, tg_stepper **out)
{
    *out = NULL;
    if (!o || !o->run_dir || !o->basin)
        return tg_error_set(TG_EINVAL, "stepper: run_dir and basin are required");
    tg_stepper *s = calloc(1, sizeof *s);
    if (!s)
        return tg_error_set(TG_ENOMEM, "out of memory");
    int rc = load_run(o, s);
    if (!rc)
        rc = s->info.dhbv ? dhbv_setup(o, s) : lstm_setup(o, s);
    if (rc) {
        tg_stepper_free(&s);
        return rc;
    }
    *out = s;
    return 0;
}

void tg_stepper_free(tg_stepper **sp)
{
    tg_stepper *s = sp ? *sp : NULL;
    if (!s)
        return;
    if (s->ps) {
        tg_model_free(&s->mdl);
        tg_params_free(&s->ps);
    }
    tg_ctx_free(&s->ctx);
    if (s->have_d)
        tg_dataset_free(&s->d);
    tg_cfg_free(&s->run);
    free(s->statics);
    free(s->x);
    free(s->hs);
    free(s->cs);
    free(s->gates);
    free(s->h0);
    free(s->c0);
    free(s->h);
    free(s->c);
    free(s->hist);
    free(s->params);
    free(s->warm_forc);
    free(s);
    *sp = NULL;
}

const tg_stepper_info *tg_stepper_get_info(const tg_stepper *s) { return &s->info; }

const tg_real *tg_stepper_warmup_forcing(const tg_stepper *s, int *T)
{
    *T = s->warm_forc ? s->warm_T : 0;
    return s->warm_forc;
}

static int lstm_step(tg_stepper *s, const tg_real *forcing, tg_real *out)
{
    const int W = s->info.warmup, F = s->F, hor = s->info.horizon;
    int rc = 0, fresh = 0;
    if (!(s->winday >= 0 && s->winday < hor && s->winday == floor(s->winday)))
        return tg_error_set(TG_EINVAL, "stepper: window day = %g: want a whole number in [0, %d)", s->winday, hor);
    if (s->winday == 0) { /* a new block: fresh state over the last W days */
        for (int j = 0; j < s->H; j++)
            s->h[j] = s->c[j] = 0;
        for (int t = 0; t < W; t++) {
            for (int f = 0; f < F; f++)
                s->x[(size_t)t * s->in + f] = (tg_real)s->hist[(size_t)t * F + f];
            memcpy(s->x + (size_t)t * s->in + F, s->statics, (size_t)s->S * sizeof(tg_real));
        }
        if (W)
            rc = lstm_run(s, W, 1);
        else
            fresh = 1;
    }
    if (rc)
        return rc;
    input_row(s, forcing, s->x);
    if ((rc = lstm_run(s, 1, fresh)))
        return rc;
    if (W) { /* today's inputs join the history */
        memmove(s->hist, s->hist + F, (size_t)(W - 1) * F * sizeof(double));
        for (int f = 0; f < F; f++)
            s->hist[(size_t)(W - 1) * F + f] = (double)s->x[f];
    }
    s->winday = fmod(s->winday + 1, (double)hor);
    /* the head and the output scaling as tg_model_forward: linear, then q = y std + mean */
    tg_ctx_reset(s->ctx);
    tg_ctx_set_grad(s->ctx, 0);
    tg_tensor *y = tg_linear(s->ctx, s->ps, &s->mdl.head, tg_from(s->ctx, TG_SHAPE(1, 1, s->H), s->hs));
    y = tg_adds(s->ctx, tg_muls(s->ctx, tg_reshape(s->ctx, y, TG_SHAPE(1, 1)), (tg_real)s->mdl.q_std),
                (tg_real)s->mdl.q_mean);
    if (!y)
        return tg_ctx_status(s->ctx);
    out[0] = y->data[0];
    return 0;
}

static int dhbv_step(tg_stepper *s, const tg_real *forcing, tg_real *out)
{
    const int M = s->info.components, NP = TG_HBV_NPARAM, nd = s->info.n_dynamic;
    for (int k = 0; k < NP * M; k++) {
        const tg_domain *dom = &tg_hbv_param_domain[k / M];
        char buf[96];
        if (isnan(s->params[k]))
            return tg_error_set(TG_EINVAL, "stepper: the static HBV parameters are not set (no warm-up from data: "
                                           "set them)");
        if (!tg_domain_contains(dom, s->params[k]))
            return tg_error_set(TG_EINVAL, "stepper: static parameter %d: %s = %g is outside its domain (%s)", k,
                                tg_hbv_param_names[k / M], s->params[k],
                                tg_domain_format(dom, tg_hbv_param_names[k / M], buf, sizeof buf));
    }
    input_row(s, forcing, s->x);
    int rc = lstm_run(s, 1, 0);
    if (!rc)
        rc = dhbv_head(s, s->hs, out, 0); /* the day's dynamic parameters (the static columns unused) */
    if (rc)
        return rc;
    for (int k = 0; k < NP * M; k++)
        out[k] = (tg_real)s->params[k];
    out[(NP + nd) * M] = (tg_real)s->routing[0];
    out[(NP + nd) * M + 1] = (tg_real)s->routing[1];
    return 0;
}

int tg_stepper_step(tg_stepper *s, const tg_real *forcing, tg_real *out)
{
    return s->info.dhbv ? dhbv_step(s, forcing, out) : lstm_step(s, forcing, out);
}

double *tg_stepper_state(tg_stepper *s, int part, int *size)
{
    const int lstm = !s->info.dhbv;
    int n = 0;
    double *p = NULL;
    switch (part) {
    case TG_STEPPER_HIDDEN: n = s->H, p = s->h; break;
    case TG_STEPPER_CELL: n = s->H, p = s->c; break;
    case TG_STEPPER_HISTORY: n = lstm ? s->info.warmup * s->F : 0, p = s->hist; break;
    case TG_STEPPER_WINDOW_DAY: n = lstm, p = &s->winday; break;
    case TG_STEPPER_STATIC: n = lstm ? 0 : TG_HBV_NPARAM * s->info.components, p = s->params; break;
    case TG_STEPPER_ROUTING: n = lstm ? 0 : 2, p = s->routing; break;
    default: break;
    }
    if (size)
        *size = n;
    return n ? p : NULL;
}

const char *tg_stepper_state_name(int part)
{
    static const char *const names[TG_STEPPER_NPARTS] = {"hidden", "cell", "history", "window_day",
                                                        "static_parameters", "routing_parameters"};
    return part >= 0 && part < TG_STEPPER_NPARTS ? names[part] : NULL;
}

int tg_stepper_state_size(const tg_stepper *s)
{
    int total = 0, n;
    for (int p = 0; p < TG_STEPPER_NPARTS; p++) {
        tg_stepper_state((tg_stepper *)s, p, &n);
        total += n;
    }
    return total;
}

int tg_stepper_state_get(const tg_stepper *s, double *buf, int n)
{
    if (n != tg_stepper_state_size(s))
        return tg_error_set(TG_EINVAL, "stepper: state of %d values, buffer of %d", tg_stepper_state_size(s), n);
    for (int p = 0, k; p < TG_STEPPER_NPARTS; p++) {
        const double *v = tg_stepper_state((tg_stepper *)s, p, &k);
        if (k)
            memcpy(buf, v, (size_t)k * sizeof(double));
        buf += k;
    }
    return 0;
}

int tg_stepper_state_set(tg_stepper *s, const double *buf, int n)
{
    if (n != tg_stepper_state_size(s))
        return tg_error_set(TG_EINVAL, "stepper: state of %d values, buffer of %d", tg_stepper_state_size(s), n);
    for (int i = 0; i < n; i++)
        if (!isfinite(buf[i]) && !isnan(buf[i]))
            return tg_error_set(TG_EINVAL, "stepper: state value %d is infinite", i);
    for (int p = 0, k; p < TG_STEPPER_NPARTS; p++) {
        double *v = tg_stepper_state(s, p, &k);
        if (k)
            memcpy(v, buf, (size_t)k * sizeof(double));
        buf += k;
    }
    return 0;
}
