/* model_surrogate.c — `model.type: surrogate`: differentiable parameter learning (dPL)
 * through a FROZEN neural surrogate of a black-box model (src/surrogate, docs/surrogate.md).
 *
 *   normalised inputs -> LSTM -> head (np per day) -> sigmoid -> u (nb, np) in [0, 1]
 *   (static per basin: the window's last day) -> frozen surrogate(forcing, u) -> Q
 *
 * u is the position of each parameter inside the range the surrogate was trained on (the
 * ranges come from the surrogate file, so the network can never leave them). The surrogate
 * was trained on windows of its own length T from the model's fixed initial state; a
 * longer sequence (the test period of `terragrad test`) is cut into overlapping windows of
 * T days that start `surrogate.spinup` days before the days they predict, all stacked into
 * ONE batched surrogate call.
 *
 * Frozen weights: the surrogate keeps its weights in its OWN tg_params (never in the
 * trainer's), so the optimizer, gradient clipping, MPI gradient sums and checkpoints never
 * see them; tg_surrogate_load also marks every one frozen, so backward accumulates no
 * gradient into them (tg_param gives frozen parameters no grad buffer). A 64-bit FNV-1a hash
 * of the surrogate's weights is kept in a frozen 3-value trainer parameter
 * "surrogate.fingerprint" (21 bits each: exact in float): it goes into last.ckpt, and every
 * forward compares it with the weights in memory — a surrogate file replaced between
 * `train` and `test`, or weights changed during training, stop the run with a clear error.
 *
 * tg_surrogate_train_eval (CLI: `terragrad surrogate eval RUN_DIR`) writes the learned
 * parameters per basin and, with `surrogate.blackbox`, runs them through the REAL model. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "surrogate/surrogate_net.h"
#include "train_internal.h"

static const tg_cfg_key surr_keys[] = {
    {"surrogate.file", TG_CFG_PATH, 0, NULL,
     "model.type surrogate: the frozen surrogate (PATH and PATH.meta written by `terragrad surrogate fit`, "
     "e.g. runs/x/surrogate.tgck); its parameter ranges bound what is learned",
     NULL},
    {"surrogate.spinup", TG_CFG_INT, 0, "0",
     "sequences longer than the surrogate's window are cut into its windows, each starting this many days "
     "before the days it predicts (0 = window / 3)",
     NULL},
    {"surrogate.blackbox", TG_CFG_STR, 0, NULL,
     "the REAL model the surrogate emulates (shared library or executable; auto = the Fortran bucket model "
     "next to terragrad): `terragrad surrogate eval RUN_DIR` scores the learned parameters with it",
     NULL},
    {"surrogate.blackbox_kind", TG_CFG_STR, 0, "library", "how surrogate.blackbox is run", "library|exec"},
    {"surrogate.blackbox_spinup", TG_CFG_INT, 0, "365",
     "days the real model runs before the scored period (from the record's start if shorter)", NULL},
};

typedef struct surr_impl {
    tg_surrogate *s;
    int np, T, spin;
    int fp_id;              /* trainer parameter "surrogate.fingerprint" */
    tg_real fp[3];          /* the loaded surrogate's fingerprint */
    tg_tensor *last_u;      /* (nb, np) of the last forward; valid until the ctx is reset */
    char file[4096];
} surr_impl;

/* FNV-1a over the weights' bytes, split into three 21-bit pieces. */
static void fingerprint(tg_surrogate *s, tg_real fp[3])
{
    const tg_params *ps = tg_surrogate_params(s);
    const unsigned char *p = (const unsigned char *)ps->value;
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < ps->size * sizeof(tg_real); i++) {
        h ^= p[i];
        h *= 1099511628211u;
    }
    for (int k = 0; k < 3; k++)
        fp[k] = (tg_real)(double)((h >> (21 * k)) & 0x1fffffu);
}

static int surr_build(tg_model *m, const tg_cfg *cfg, const tg_dataset *d, tg_params *ps, int *n_out)
{
    (void)d;
    const char *file = tg_cfg_str(cfg, "surrogate.file");
    if (!file)
        return tg_error_set(TG_EINVAL, "%s: model.type surrogate needs surrogate.file (the surrogate written by "
                            "`terragrad surrogate fit`, e.g. runs/NAME/surrogate.tgck)", tg_cfg_path(cfg));
    const int line = tg_cfg_line(cfg, "surrogate.file");
    tg_surrogate *s = tg_surrogate_load(file);
    if (!s) {
        char msg[1024];
        int code = tg_error_code() ? tg_error_code() : TG_EINVAL;
        snprintf(msg, sizeof msg, "%s", tg_error_message());
        return tg_error_set(code, "%s:%d: surrogate.file '%s': %s", tg_cfg_path(cfg), line, file, msg);
    }
    static const int vars[3] = {TG_VAR_P, TG_VAR_TEMP, TG_VAR_PET};
    int bad = s->nf != 3;
    for (int k = 0; !bad && k < 3; k++)
        bad = strcmp(s->fname[k], tg_var_name(vars[k])) != 0;
    int rc = 0;
    if (bad)
        rc = tg_error_set(TG_EINVAL, "%s:%d: surrogate.file '%s': trained on %d forcings (%s%s%s...); model.type "
                          "surrogate feeds P, T, PET", tg_cfg_path(cfg), line, file, s->nf, s->fname[0],
                          s->nf > 1 ? ", " : "", s->nf > 1 ? s->fname[1] : "");
    else if (s->target != 0)
        rc = tg_error_set(TG_EINVAL, "%s:%d: surrogate.file '%s' emulates model output %d, not Q (output 0)",
                          tg_cfg_path(cfg), line, file, s->target);
    else if (s->no_params)
        rc = tg_error_set(TG_EINVAL, "%s:%d: surrogate.file '%s' was trained blind to the parameters "
                          "(no_params): nothing can be learned through it", tg_cfg_path(cfg), line, file);
    else if (s->T < 2)
        rc = tg_error_set(TG_EINVAL, "%s:%d: surrogate.file '%s': window of %d days", tg_cfg_path(cfg), line,
                          file, s->T);
    surr_impl *im = NULL;
    if (!rc && !(im = calloc(1, sizeof *im)))
        rc = tg_error_set(TG_ENOMEM, "out of memory");
    if (!rc) {
        im->s = s;
        im->np = s->np;
        im->T = s->T;
        long spin = tg_cfg_int(cfg, "surrogate.spinup");
        im->spin = spin > 0 ? (int)spin : s->T / 3;
        if (spin < 0 || im->spin >= s->T)
            rc = tg_error_set(TG_EINVAL, "%s:%d: surrogate.spinup %ld must be in [0, %d) (the surrogate's window)",
                              tg_cfg_path(cfg), tg_cfg_line(cfg, "surrogate.spinup"), spin, s->T);
        snprintf(im->file, sizeof im->file, "%s", file);
        fingerprint(s, im->fp);
        m->impl = im;
    }
    if (!rc) {
        im->fp_id = tg_params_add(ps, "surrogate.fingerprint", 1, (int[]){3});
        if (im->fp_id < 0)
            rc = tg_error_code() ? tg_error_code() : TG_ENOMEM;
        else
            tg_params_set_frozen(ps, im->fp_id, 1);
    }
    if (!im)
        tg_surrogate_free(&s);
    *n_out = s ? s->np : 1;
    return rc;
}

static int surr_init_weights(const tg_model *m, tg_params *ps, tg_rng *rng, const tg_cfg *cfg)
{
    (void)rng;
    (void)cfg;
    const surr_impl *im = m->impl;
    memcpy(tg_params_data(ps, im->fp_id), im->fp, sizeof im->fp);
    return 0;
}

static void surr_free(tg_model *m)
{
    surr_impl *im = m->impl;
    if (im) {
        tg_surrogate_free(&im->s);
        free(im);
    }
}

/* q (L, nb) of the frozen surrogate on forcing (L, nb, 3) with parameters u (nb, np): one
 * call when L <= T, else overlapping windows of T days stacked along the batch axis. */
static tg_tensor *surrogate_q(tg_ctx *ctx, const surr_impl *im, tg_tensor *forcing, tg_tensor *u, int L, int nb)
{
    const int T = im->T, step = T - im->spin;
    if (L <= T)
        return tg_surrogate_forward(ctx, im->s, forcing, u);
    /* window k starts at s_k and contributes days [c_k, e_k): the first one everything, the
     * others from `spin` days after their start (the last one is aligned to day L) */
    const int K = 1 + (L - T + step - 1) / step;
    int *start = malloc(sizeof *start * (size_t)K * 2);
    tg_tensor **parts = malloc(sizeof *parts * (size_t)K), **us = malloc(sizeof *us * (size_t)K);
    tg_tensor *q = NULL;
    if (!start || !parts || !us) {
        tg_error_set(TG_ENOMEM, "surrogate: out of memory for %d windows", K);
        goto done;
    }
    int *from = start + K;
    for (int k = 0, covered = 0; k < K; k++) {
        start[k] = k == 0 ? 0 : covered - im->spin < L - T ? covered - im->spin : L - T;
        from[k] = covered;
        covered = start[k] + T;
    }
    tg_tensor *f = tg_new(ctx, TG_SHAPE(T, K * nb, 3));
    if (!f)
        goto done;
    for (int k = 0; k < K; k++) {
        for (int t = 0; t < T; t++)
            memcpy(f->data + ((size_t)t * (size_t)(K * nb) + (size_t)k * (size_t)nb) * 3,
                   forcing->data + (size_t)(start[k] + t) * (size_t)nb * 3, sizeof(tg_real) * (size_t)nb * 3);
        us[k] = u;
    }
    tg_tensor *qa = tg_surrogate_forward(ctx, im->s, f, tg_concat(ctx, us, K, 0)); /* (T, K nb) */
    for (int k = 0; k < K; k++) {
        const int end = k + 1 < K ? from[k + 1] : L;
        parts[k] = tg_slice(ctx, tg_slice(ctx, qa, 1, k * nb, nb), 0, from[k] - start[k], end - from[k]);
    }
    q = tg_concat(ctx, parts, K, 0);
done:
    free(start);
    free(parts);
    free(us);
    return q;
}

static int surr_forward(const tg_model *m, tg_ctx *ctx, tg_params *ps, tg_tensor *y, tg_tensor *forcing, int L,
                        int nb, int train, tg_model_out *out)
{
    (void)train;
    surr_impl *im = m->impl;
    tg_real fp[3];
    fingerprint(im->s, fp);
    const tg_real *stored = tg_params_data(ps, im->fp_id);
    if (memcmp(fp, im->fp, sizeof fp))
        return tg_error_set(TG_ESTATE, "surrogate.file '%s': the frozen surrogate's weights changed in memory",
                            im->file);
    if (memcmp(stored, im->fp, sizeof fp))
        return tg_error_set(TG_EINVAL, "surrogate.file '%s' is not the surrogate this run was trained with (its "
                            "weights' fingerprint differs from the one in the checkpoint): restore that file or "
                            "retrain", im->file);
    /* static parameters from the window's last day */
    tg_tensor *u = tg_sigmoid(ctx, tg_select(ctx, y, 0, L - 1)); /* (nb, np) */
    tg_tensor *q = u ? surrogate_q(ctx, im, forcing, u, L, nb) : NULL;
    if (!q)
        return tg_ctx_status(ctx) ? tg_ctx_status(ctx) : tg_error_code() ? tg_error_code() : TG_ESTATE;
    im->last_u = u;
    out->q = q;
    out->skip = 0;
    return 0;
}

const tg_model_kind tg_model_kind_surrogate = {
    .name = "surrogate",
    .build = surr_build,
    .init_weights = surr_init_weights,
    .forward = surr_forward,
    .free = surr_free,
    .keys = surr_keys,
    .n_keys = (int)(sizeof surr_keys / sizeof surr_keys[0]),
    .after_test = tg_surrogate_train_eval, /* score the learned parameters with the real model */
};

/* ====================================================================== evaluation */
/* The state of tg_surrogate_train_eval, filled step by step. */
typedef struct surr_eval {
    const char *run_dir, *period;
    char path[4400], tmp[4500];
    tg_cfg *cfg;
    tg_runlog rl;
    int first, last, warm, n, L, in, B, np, run_first;
    tg_dataset d;
    tg_model m;
    tg_params *ps;
    tg_ctx *ctx;
    tg_blackbox *bb;
    const surr_impl *im;
    double *par, *qs, *qb, *o, *sv, *med;  /* (B, np) parameters; (B, n) surrogate and real Q */
    tg_real *x, *forc, *obs;
    tg_metrics *ms, *mb;                   /* surrogate / real model metrics per basin */
    int *st;                               /* black-box status per basin */
    tg_basin sl_norm[16], sl_raw[16];
} surr_eval;
enum { SURR_CHUNK = 16 };

/* The run's config (a surrogate run), its log, the period, data, model and checkpoint. */
static int se_open(surr_eval *e)
{
    e->cfg = tg_train_load_run_config(e->run_dir, e->path, sizeof e->path);
    if (!e->cfg)
        return tg_error_code() ? tg_error_code() : TG_EINVAL;
    if (tg_model_kind_find(tg_cfg_str(e->cfg, "model.type")) != &tg_model_kind_surrogate)
        return tg_error_set(TG_EINVAL, "%s: model.type is '%s', not surrogate", e->path,
                            tg_cfg_str(e->cfg, "model.type"));
    int rc = tg_runlog_open(&e->rl, e->run_dir, "surrogate_eval.log");
    if (!rc)
        rc = tg_train_period(e->cfg, e->path, e->period, &e->first, &e->last);
    if (rc)
        return rc;
    e->ps = tg_params_create();
    e->ctx = tg_ctx_create();
    rc = e->ps && e->ctx ? tg_dataset_load(&e->d, e->cfg, e->run_dir, 0, &e->rl) : tg_error_set(TG_ENOMEM, "out of memory");
    if (!rc)
        rc = tg_model_build(&e->m, e->cfg, &e->d, e->ps);
    snprintf(e->path, sizeof e->path, "%s/last.ckpt", e->run_dir);
    if (!rc)
        rc = tg_checkpoint_load(e->path, e->ps, NULL, NULL, NULL);
    e->warm = (int)tg_cfg_int(e->cfg, "training.warmup");
    e->n = e->last - e->first + 1;
    e->L = e->warm + e->n;
    e->in = e->d.F + e->d.S;
    e->im = e->m.impl;
    e->np = e->im ? e->im->np : 0;
    e->B = e->d.B;
    return rc;
}

static int se_alloc(surr_eval *e)
{
    const size_t B = (size_t)e->B, n = (size_t)e->n, L = (size_t)e->L, c = SURR_CHUNK;
    e->par = malloc(sizeof *e->par * B * (size_t)e->np);
    e->qs = malloc(sizeof *e->qs * B * n);
    e->qb = malloc(sizeof *e->qb * B * n);
    e->o = malloc(sizeof *e->o * n);
    e->sv = malloc(sizeof *e->sv * B * 6);
    e->med = malloc(sizeof *e->med * B);
    e->x = malloc(sizeof *e->x * L * c * (size_t)e->in);
    e->forc = malloc(sizeof *e->forc * L * c * 3);
    e->obs = malloc(sizeof *e->obs * L * c);
    e->ms = calloc(B, sizeof *e->ms);
    e->mb = calloc(B, sizeof *e->mb);
    e->st = calloc(B, sizeof *e->st);
    if (!e->par || !e->qs || !e->qb || !e->o || !e->sv || !e->med || !e->x || !e->forc || !e->obs || !e->ms ||
        !e->mb || !e->st)
        return tg_error_set(TG_ENOMEM, "out of memory");
    return 0;
}

/* Basins b0..b0+nb-1 through the trained network: their parameters (physical units) and
 * the surrogate's streamflow and metrics. */
static int se_network_chunk(surr_eval *e, int b0, int nb)
{
    const int first = e->first, last = e->last, warm = e->warm, n = e->n, L = e->L, in = e->in, np = e->np;
    const tg_dataset *d = &e->d;
    int idx[SURR_CHUNK], zero[SURR_CHUNK] = {0}, rc = 0;
    for (int k = 0; k < nb && !rc; k++) {
        idx[k] = k;
        rc = tg_basin_slice(&d->norm[b0 + k], first - warm, last, &e->sl_norm[k]);
        if (!rc)
            rc = tg_basin_slice(&d->raw[b0 + k], first - warm, last, &e->sl_raw[k]);
    }
    if (!rc) {
        tg_batch_gather(e->sl_norm, idx, zero, nb, L, d->vars, d->F,
                        d->statics ? d->statics + (size_t)b0 * (size_t)d->S : NULL, d->S, e->x);
        int qv = TG_VAR_Q, fv[3] = {TG_VAR_P, TG_VAR_TEMP, TG_VAR_PET};
        tg_batch_gather(e->sl_raw, idx, zero, nb, L, &qv, 1, NULL, 0, e->obs);
        tg_batch_gather(e->sl_raw, idx, zero, nb, L, fv, 3, NULL, 0, e->forc);
        for (size_t i = 0; i < (size_t)L * (size_t)nb * (size_t)in; i++)
            if (isnan((double)e->x[i]))
                e->x[i] = 0; /* outside the record: the normalised mean, as `terragrad test` */
        for (size_t i = 0; i < (size_t)L * (size_t)nb * 3; i++)
            if (isnan((double)e->forc[i]))
                e->forc[i] = 0;
        tg_model_out mo;
        rc = tg_model_forward(&e->m, e->ctx, e->ps, e->x, e->forc, L, nb, 0, NULL, &mo);
        for (int k = 0; !rc && k < nb; k++) {
            const int b = b0 + k;
            for (int j = 0; j < np; j++)
                e->par[(size_t)b * (size_t)np + (size_t)j] =
                    e->im->s->lo[j] + (double)e->im->last_u->data[(size_t)k * (size_t)np + (size_t)j] *
                                          (e->im->s->hi[j] - e->im->s->lo[j]);
            for (int t = 0; t < n; t++) {
                e->o[t] = (double)e->obs[(size_t)(warm + t) * (size_t)nb + (size_t)k];
                e->qs[(size_t)b * (size_t)n + (size_t)t] =
                    (double)mo.q->data[(size_t)(warm + t) * (size_t)nb + (size_t)k];
            }
            tg_metrics_compute(e->o, e->qs + (size_t)b * (size_t)n, n, &e->ms[b]);
        }
    }
    for (int k = 0; k < nb; k++) {
        tg_basin_free(&e->sl_norm[k]);
        tg_basin_free(&e->sl_raw[k]);
    }
    tg_ctx_reset(e->ctx);
    tg_ctx_set_grad(e->ctx, 0);
    return rc;
}

/* surrogate_params_<period>.csv: the learned parameters per basin. */
static int se_write_params(surr_eval *e)
{
    FILE *f;
    snprintf(e->path, sizeof e->path, "%s/surrogate_params_%s.csv", e->run_dir, e->period);
    int rc = tg_io_begin(e->path, e->tmp, sizeof e->tmp, &f);
    if (rc)
        return rc;
    fprintf(f, "basin");
    for (int j = 0; j < e->np; j++)
        fprintf(f, ",%s", e->im->s->pname[j]);
    fputc('\n', f);
    for (int b = 0; b < e->B; b++) {
        fprintf(f, "%s", e->d.raw[b].id);
        for (int j = 0; j < e->np; j++)
            fprintf(f, ",%.9g", e->par[(size_t)b * (size_t)e->np + (size_t)j]);
        fputc('\n', f);
    }
    return tg_io_commit(f, e->tmp, e->path);
}

/* The REAL model with the learned parameters (when the config names it), started
 * surrogate.blackbox_spinup days before the period (or at the latest record start, if a
 * basin's record begins later). */
static int se_blackbox(surr_eval *e)
{
    const char *bbpath = tg_cfg_str(e->cfg, "surrogate.blackbox");
    const long bspin = tg_cfg_int(e->cfg, "surrogate.blackbox_spinup");
    e->run_first = e->first - (int)(bspin > 0 ? bspin : 0);
    for (int b = 0; b < e->B; b++)
        if (e->d.raw[b].start > e->run_first)
            e->run_first = e->d.raw[b].start;
    if (!bbpath)
        return 0;
    const char *kind = tg_cfg_str(e->cfg, "surrogate.blackbox_kind");
    char bpath[4096];
    const char *names[TG_BB_MAX_DIM];
    for (int j = 0; j < e->np; j++)
        names[j] = e->im->s->pname[j];
    tg_blackbox_options bo = {.name = e->im->s->model[0] ? e->im->s->model : NULL, .np = e->np, .nf = 3, .nout = 1,
                              .param_names = names};
    int rc = 0;
    if (e->run_first > e->first)
        rc = tg_error_set(TG_EINVAL, "%s: a basin's record starts after the %s period begins", e->run_dir, e->period);
    if (!rc && !(rc = tg_blackbox_resolve_path("surrogate.blackbox", kind, bbpath, bpath, sizeof bpath))) {
        e->bb = !strcmp(kind, "library") ? tg_blackbox_library(bpath, &bo) : tg_blackbox_exec(bpath, &bo);
        if (!e->bb)
            rc = tg_error_prefix(tg_error_code() ? tg_error_code() : TG_EINVAL, "%s/config.yaml: surrogate.blackbox: ",
                                 e->run_dir);
        else /* the config chose a program to run: say which, before it first runs */
            tg_runlog_printf(&e->rl, "black box '%s': %s %s (%s by %s/config.yaml)\n", tg_blackbox_name(e->bb), kind,
                             tg_blackbox_path(e->bb), !strcmp(kind, "library") ? "loaded" : "run", e->run_dir);
    }
    if (!rc)
        rc = tg_blackbox_eval_basins(e->bb, e->d.raw, e->B, e->par, e->run_first, e->first, e->last, e->mb, e->st,
                                     e->qb);
    return rc;
}

/* surrogate_metrics_<period>.csv: surrogate and real-model skill per basin (kept in sv). */
static int se_write_metrics(surr_eval *e)
{
    FILE *f;
    const int n = e->n;
    snprintf(e->path, sizeof e->path, "%s/surrogate_metrics_%s.csv", e->run_dir, e->period);
    int rc = tg_io_begin(e->path, e->tmp, sizeof e->tmp, &f);
    if (rc)
        return rc;
    fprintf(f, "basin,NSE_surrogate,KGE_surrogate");
    if (e->bb)
        fprintf(f, ",NSE_blackbox,KGE_blackbox,NSE_surrogate_vs_blackbox,status");
    fputc('\n', f);
    for (int b = 0; b < e->B; b++) {
        double fid = e->bb ? tg_nse(e->qb + (size_t)b * (size_t)n, e->qs + (size_t)b * (size_t)n, n, 1, 1) : (double)NAN;
        double *sv = e->sv + (size_t)b * 6;
        sv[0] = e->ms[b].nse;
        sv[1] = e->ms[b].kge;
        sv[2] = e->bb ? e->mb[b].nse : (double)NAN;
        sv[3] = e->bb ? e->mb[b].kge : (double)NAN;
        sv[4] = fid;
        fprintf(f, "%s,%.6g,%.6g", e->d.raw[b].id, e->ms[b].nse, e->ms[b].kge);
        if (e->bb)
            fprintf(f, ",%.6g,%.6g,%.6g,%s", e->mb[b].nse, e->mb[b].kge, fid, tg_bb_reason_name(e->st[b]));
        fputc('\n', f);
    }
    return tg_io_commit(f, e->tmp, e->path);
}

/* Medians of the surrogate's and the real model's skill into the log. */
static void se_summary(surr_eval *e)
{
    double mv[5];
    for (int c = 0; c < 5; c++) {
        for (int b = 0; b < e->B; b++)
            e->med[b] = e->sv[(size_t)b * 6 + (size_t)c];
        mv[c] = tg_median_finite(e->med, e->B);
    }
    char d0[16], d1[16];
    tg_runlog_printf(&e->rl, "%s period %s..%s, %d basins; learned parameters: %s/surrogate_params_%s.csv\n",
                     e->period, tg_date_format(e->first, d0), tg_date_format(e->last, d1), e->B, e->run_dir, e->period);
    tg_runlog_printf(&e->rl, "surrogate (what training saw):        median NSE %.4f  KGE %.4f\n", mv[0], mv[1]);
    if (e->bb) {
        int failed = 0;
        for (int b = 0; b < e->B; b++)
            failed += e->st[b] != TG_BB_OK;
        tg_runlog_printf(&e->rl, "REAL model '%s' (learned parameters): median NSE %.4f  KGE %.4f  (%d failed runs; "
                         "spin-up from %s)\n", tg_blackbox_name(e->bb), mv[2], mv[3], failed,
                         tg_date_format(e->run_first, d0));
        tg_runlog_printf(&e->rl, "surrogate vs real model at the learned parameters: median NSE %.4f\n", mv[4]);
    } else
        tg_runlog_printf(&e->rl, "no surrogate.blackbox in the config: the real model was not run\n");
    tg_runlog_printf(&e->rl, "wrote %s/surrogate_metrics_%s.csv\n", e->run_dir, e->period);
}

static void se_free(surr_eval *e)
{
    free(e->par); free(e->qs); free(e->qb); free(e->o); free(e->sv); free(e->med);
    free(e->x); free(e->forc); free(e->obs); free(e->ms); free(e->mb); free(e->st);
    tg_blackbox_free(&e->bb);
    tg_model_free(&e->m);
    tg_ctx_free(&e->ctx);
    tg_params_free(&e->ps);
    if (e->d.raw)
        tg_dataset_free(&e->d);
    tg_runlog_close(&e->rl);
    tg_cfg_free(&e->cfg);
}

/* Scores a trained surrogate run on `period`: 1. the network's learned parameters and the
 * surrogate's streamflow, 2. the real black-box model run with those parameters. */
int tg_surrogate_train_eval(const char *run_dir, const char *period)
{
    surr_eval *e = calloc(1, sizeof *e);
    if (!e)
        return tg_error_set(TG_ENOMEM, "out of memory");
    e->run_dir = run_dir;
    e->period = period;
    int rc = se_open(e);
    if (!rc)
        rc = se_alloc(e);
    if (!rc)
        tg_ctx_set_grad(e->ctx, 0);
    for (int b0 = 0; !rc && b0 < e->B; b0 += SURR_CHUNK)
        rc = se_network_chunk(e, b0, e->B - b0 < SURR_CHUNK ? e->B - b0 : SURR_CHUNK);
    if (!rc)
        rc = se_write_params(e);
    if (!rc)
        rc = se_blackbox(e);
    if (!rc)
        rc = se_write_metrics(e);
    if (!rc)
        se_summary(e);
    else if (e->rl.log)
        tg_runlog_file(&e->rl, "error: %s\n", tg_error_message());
    se_free(e);
    free(e);
    return rc;
}
