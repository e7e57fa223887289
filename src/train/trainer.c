/* trainer.c — `terragrad train CONFIG`: minibatches of basin x window, forward, masked
 * loss, backward, clipping, optimizer step; per-epoch checkpoint (atomic), loss log. */
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "train_internal.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int make_schedule(const tg_run_config *c, tg_schedule *s)
{
    const char *kind = c->optim.schedule;
    double lr = c->optim.lr;
    if (!strcmp(kind, "step"))
        *s = tg_schedule_step(lr, (int)c->optim.step_size, c->optim.gamma);
    else if (!strcmp(kind, "exponential"))
        *s = tg_schedule_exponential(lr, c->optim.gamma);
    else if (!strcmp(kind, "cosine"))
        *s = tg_schedule_cosine(lr, (int)c->training.epochs, c->optim.lr_min);
    else if (!strcmp(kind, "table")) {
        int n = c->optim.table_epochs.n;
        if (n == 0 || n != c->optim.table_lrs.n || n > TG_SCHED_MAX_TABLE)
            return tg_error_set(TG_EINVAL, "%s: optim.table_epochs and optim.table_lrs need the same length (1..%d)",
                                c->file ? c->file : "config", TG_SCHED_MAX_TABLE);
        int ep[TG_SCHED_MAX_TABLE];
        double lrs[TG_SCHED_MAX_TABLE];
        for (int i = 0; i < n; i++) {
            ep[i] = (int)c->optim.table_epochs.v[i]; /* as atoi of the YAML item */
            lrs[i] = c->optim.table_lrs.v[i];
        }
        *s = tg_schedule_constant(lr);
        return tg_schedule_table(s, n, ep, lrs);
    } else
        *s = tg_schedule_constant(lr);
    return 0;
}

/* Gathers x (L, nb, F+S), forcing (L, nb, 3) and obs (L, nb) of the sampled windows. */
typedef struct {
    tg_real *x, *forcing, *obs;
} batch_buf;

static void gather(const tg_dataset *d, const int *bi, const int *off, int nb, int L, batch_buf *bb)
{
    tg_batch_gather(d->norm, bi, off, nb, L, d->vars, d->F, d->statics, d->S, bb->x);
    int qv = TG_VAR_Q;
    tg_batch_gather(d->raw, bi, off, nb, L, &qv, 1, NULL, 0, bb->obs);
    if (d->n_forcing) /* the forcing the model kind declares */
        tg_batch_gather(d->raw, bi, off, nb, L, d->forcing_vars, d->n_forcing, NULL, 0, bb->forcing);
}

/* Keeps the header and the epochs <= last of loss.csv (temp file + rename): a run killed
 * after logging an epoch but before its checkpoint logs that epoch again on resume. */
static int loss_csv_truncate(const char *path, int64_t last)
{
    FILE *in = fopen(path, "r");
    if (!in)
        return 0; /* none yet: a new one is started */
    char tmp[4300], line[1024];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *out = fopen(tmp, "w");
    if (!out) {
        fclose(in);
        return tg_error_set(TG_EIO, "%s: cannot write", tmp);
    }
    for (int n = 0; fgets(line, sizeof line, in); n++)
        if (n == 0 || atoll(line) <= last)
            fputs(line, out);
    fclose(in);
    if (fclose(out) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return tg_error_set(TG_EIO, "%s: cannot rewrite", path);
    }
    return 0;
}

/* Takes the run folder for this process (root rank): the lock, then the rule that a used
 * folder is only resumed or overwritten, never silently mixed with a new run. */
static int claim_run_dir(const char *run_dir, const tg_train_options *opt, tg_run_lock *lk)
{
    int rc = tg_run_lock_acquire(lk, run_dir, opt && opt->command ? opt->command : "terragrad train");
    if (rc)
        return rc;
    char ckpt[4200];
    struct stat st;
    snprintf(ckpt, sizeof ckpt, "%s/last.ckpt", run_dir);
    if (opt && opt->resume && opt->overwrite)
        return tg_error_set(TG_EINVAL, "--resume and --overwrite contradict each other");
    if (opt && opt->resume) {
        if (stat(ckpt, &st) != 0)
            return tg_error_set(TG_EIO, "cannot resume: %s does not exist (the run stopped before its first "
                                        "checkpoint?); start it again with --overwrite",
                                ckpt);
        return 0;
    }
    if (opt && opt->overwrite)
        return tg_run_remove_outputs(run_dir);
    if (tg_run_has_training(run_dir))
        return tg_error_set(TG_EINVAL, "%s already holds a training run: continue it with --resume, or replace "
                                       "it with --overwrite (removes that run's outputs), or choose another --out",
                            run_dir);
    return 0;
}

/* ---------------------------------------------------------------- one training run
 * tg_train / tg_train_config: set up the run folder, load or check the run state, build
 * data, model and optimizer, then epochs of minibatch steps with a checkpoint after each. */
/* One chunk of a step's batch: windows [lo, lo + n) of the global batch, computed with its
 * own arena, its own gradient row (a view of the parameters whose grad points there) and
 * its own dropout stream, so that neither the thread nor the rank that computes it changes
 * a bit of the result. Kept across steps: the arenas grow once. */
typedef struct chunk_work {
    tg_ctx *ctx;
    tg_params view;
    tg_rng rng;
    batch_buf bb;
    int lo, n;
    tg_tensor *St[2], *pen;
    tg_tensor *m1, *m2;     /* nse_kge: the windows' moments (1, n) */
    int rc;
    char err[512];
} chunk_work;

typedef struct train_run {
    const tg_cfg *cfg;          /* the config as parsed (fingerprint, messages) */
    tg_run_config c;            /* its typed form: what the trainer reads */
    const char *name;           /* the config's file name, for messages */
    const char *src_path;       /* the config file copied to config.yaml, or NULL: */
    const char *src_text;       /* its YAML text (tg_train_config) */
    char run_dir[4096], ckpt[4200];
    int resume, root, rank, nranks;
    tg_run_lock lock;
    tg_runlog rl;
    tg_dataset d;
    tg_model m;
    tg_params *ps;
    tg_optim *op;
    tg_optim_config oc;
    tg_sampler smp;
    tg_schedule sched;
    tg_rng rng;
    uint64_t sampler_seed;
    char *state, *fingerprint;
    int loss_type, warm, hor, L, nb, epochs, iters;
    int64_t start_epoch;
    batch_buf bb;
    int *bi, *off;
    double *bstd;
    tg_real *obs_all;
    int nch, *own, nown;    /* chunks per batch; those this rank computes */
    chunk_work *cw;         /* (nch) */
    tg_real *G;             /* (nch, ps->size) the chunks' gradients */
    double *Sc;             /* (nch, 3) the chunks' loss sums */
    FILE *lossf;
    double t0;
    tg_nsekge_weights nk;   /* loss.type nse_kge: weights, and the basins' running estimates */
    tg_nsekge_state ns;
    double *wm, *delta;     /* (nb, 3) the windows' moments, (nb, 2) their shifts */
} train_run;

/* <run>/config.yaml: a copy of the config file, or the text of a typed config. */
static int write_run_config(const train_run *t)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.yaml", t->run_dir);
    if (t->src_path) /* the config as run: --set overrides applied, paths absolute */
        return tg_cfg_save(t->cfg, path);
    char tmp[4300];
    FILE *f;
    int rc = tg_io_begin(path, tmp, sizeof tmp, &f);
    if (rc)
        return rc;
    fputs(t->src_text, f);
    return tg_io_commit(f, tmp, path);
}

/* The folder (root rank: lock, resume/overwrite rule, config.yaml, log), agreed by all ranks. */
static int setup_folder(train_run *t, const tg_train_options *opt)
{
    int rc = t->root ? claim_run_dir(t->run_dir, opt, &t->lock) : 0;
    if (!rc && t->root && !t->resume)
        rc = write_run_config(t);
    if (!rc && t->root)
        rc = tg_runlog_open(&t->rl, t->run_dir, "train.log");
    int any = rc;
    tg_dist_max_int(&any, 1); /* the run directory exists (or the run stops) for everyone */
    if (any && !rc)
        rc = tg_error_set(TG_EIO, "%s: the root rank could not set up the run folder", t->run_dir);
    return rc;
}

/* The saved run state first: a changed config is named before it breaks anything else. */
static int load_run_state(train_run *t)
{
    int rc = tg_checkpoint_load_ex(t->ckpt, NULL, NULL, NULL, NULL, (void **)&t->state, NULL);
    if (!rc && !t->state)
        rc = tg_error_set(TG_EINVAL,
                          "cannot resume from %s: it was written by an older terragrad (checkpoint format 1) "
                          "without the sampler state and config fingerprint, so it cannot be continued exactly "
                          "(terragrad test still reads it; to train on, start again with --overwrite)",
                          t->ckpt);
    return rc ? rc : tg_runstate_check_config(t->state, t->ckpt, t->cfg);
}

/* Data, fingerprint, model, optimizer, schedule; on resume the checkpoint's weights. */
static int build(train_run *t)
{
    int rc = tg_dataset_load(&t->d, t->cfg, t->run_dir, !t->resume, &t->rl);
    if (!rc && t->resume)
        rc = tg_runstate_check_data(t->state, t->ckpt, t->cfg, &t->d);
    if (!rc)
        rc = tg_runstate_fingerprint(t->cfg, &t->d, &t->fingerprint);
    if (!rc)
        rc = tg_model_build(&t->m, t->cfg, &t->d, t->ps);
    if (!rc)
        rc = tg_model_init_weights(&t->m, t->ps, &t->rng, t->cfg);
    t->loss_type = tg_loss_parse(t->c.loss.type);
    if (!rc)
        rc = tg_nsekge_read(t->cfg, t->loss_type, &t->nk);
    if (!rc && t->loss_type == TG_LOSS_NSE_KGE)
        rc = tg_nsekge_state_init(&t->ns, t->d.raw, t->d.B, t->c.periods.train_start, t->c.periods.train_end,
                                  t->nk.ema);
    if (!rc && t->loss_type == TG_LOSS_NSE_KGE && t->resume) /* the basins' running estimates */
        rc = tg_nsekge_state_restore(&t->ns, t->state, t->ckpt);
    if (!rc) {
        tg_optim_kind kind;
        rc = tg_optim_parse(t->c.optim.type, &kind);
        t->oc.kind = kind;
        t->oc.lr = t->c.optim.lr;
        t->oc.weight_decay = t->c.optim.weight_decay;
    }
    if (!rc && !(t->op = tg_optim_create(&t->oc, t->ps)))
        rc = tg_error_code() ? tg_error_code() : TG_ENOMEM;
    if (!rc)
        rc = make_schedule(&t->c, &t->sched);
    if (!rc && t->resume)
        rc = tg_checkpoint_load(t->ckpt, t->ps, t->op, &t->rng, &t->start_epoch);
    return rc;
}

/* The window sampler over the training period (on resume: at its saved position). */
static int prepare_sampler(train_run *t)
{
    t->warm = (int)t->c.training.warmup;
    t->hor = (int)t->c.training.horizon;
    t->L = t->warm + t->hor;
    t->nb = (int)t->c.training.batch;
    t->epochs = (int)t->c.training.epochs;
    t->iters = (int)t->c.training.iterations;
    if (t->hor <= 0 || t->warm < 0 || t->nb <= 0 || t->epochs < 0 || t->iters <= 0)
        return tg_error_set(TG_EINVAL, "%s: training.horizon, batch and iterations must be positive", t->name);
    int rc = tg_sampler_init(&t->smp, t->d.raw, t->d.B, t->d.vars, t->d.F, TG_VAR_Q, t->c.periods.train_start,
                             t->c.periods.train_end, t->warm, t->hor, t->sampler_seed);
    if (!rc && t->smp.n_windows == 0)
        rc = tg_error_set(TG_EINVAL, "%s: no training window of %d days with observed flow in the training period",
                          t->name, t->L);
    if (!rc && t->resume)
        rc = tg_runstate_restore_sampler(t->state, t->ckpt, &t->smp, t->sampler_seed);
    if (!rc && t->resume && t->root) {
        /* the run's config.yaml describes the run as it continues (more epochs, new schedule) */
        char path[4200];
        rc = write_run_config(t);
        snprintf(path, sizeof path, "%s/loss.csv", t->run_dir);
        if (!rc)
            rc = loss_csv_truncate(path, t->start_epoch);
    }
    if (!rc && t->resume)
        tg_runlog_printf(&t->rl, "resumed from %s after epoch %lld\n", t->ckpt, (long long)t->start_epoch);
    return rc;
}

static int alloc_batches(train_run *t)
{
    const size_t in = (size_t)(t->d.F + t->d.S), L = (size_t)t->L, nb = (size_t)t->nb;
    t->bb.x = malloc(L * nb * in * sizeof(tg_real));
    t->bb.forcing = malloc(L * nb * (size_t)(t->d.n_forcing > 0 ? t->d.n_forcing : 1) * sizeof(tg_real));
    t->bb.obs = malloc(L * nb * sizeof(tg_real));
    t->bi = malloc(nb * sizeof(int));
    t->off = malloc(nb * sizeof(int));
    t->bstd = malloc(nb * sizeof(double));
    t->obs_all = malloc(L * nb * sizeof(tg_real));
    t->wm = malloc(nb * 3 * sizeof(double));
    t->delta = malloc(nb * 2 * sizeof(double));
    if (!t->bb.x || !t->bb.forcing || !t->bb.obs || !t->bi || !t->off || !t->bstd || !t->obs_all || !t->wm ||
        !t->delta)
        return tg_error_set(TG_ENOMEM, "out of memory for batches");
    if (t->c.training.chunks < 1)
        return tg_error_set(TG_EINVAL, "%s: training.chunks must be at least 1 (is %ld)", t->name, t->c.training.chunks);
    t->nch = t->c.training.chunks < t->nb ? (int)t->c.training.chunks : t->nb;
    const size_t per = ((size_t)t->nb + (size_t)t->nch - 1) / (size_t)t->nch, P = t->ps->size;
    t->cw = calloc((size_t)t->nch, sizeof *t->cw);
    t->own = malloc((size_t)t->nch * sizeof *t->own);
    t->G = malloc((size_t)t->nch * (P ? P : 1) * sizeof(tg_real));
    t->Sc = malloc((size_t)t->nch * 3 * sizeof(double));
    if (!t->cw || !t->own || !t->G || !t->Sc)
        return tg_error_set(TG_ENOMEM, "out of memory for %d batch chunks", t->nch);
    for (int j = 0; j < t->nch; j++) {
        chunk_work *w = &t->cw[j];
        w->lo = (int)((long)j * t->nb / t->nch);
        w->n = (int)((long)(j + 1) * t->nb / t->nch) - w->lo;
        if (j % t->nranks != t->rank) /* another rank computes it */
            continue;
        t->own[t->nown++] = j;
        w->ctx = tg_ctx_create();
        w->view = *t->ps;
        w->view.grad = t->G + (size_t)j * P;
        w->bb.x = malloc(L * per * in * sizeof(tg_real));
        w->bb.forcing = malloc(L * per * (size_t)(t->d.n_forcing > 0 ? t->d.n_forcing : 1) * sizeof(tg_real));
        w->bb.obs = malloc(L * per * sizeof(tg_real));
        if (!w->ctx || !w->bb.x || !w->bb.forcing || !w->bb.obs)
            return tg_error_set(TG_ENOMEM, "out of memory for batch chunk %d", j);
    }
    return 0;
}

/* The run's summary line and loss.csv (appended to on resume). */
static int open_loss_log(train_run *t)
{
    tg_runlog_printf(&t->rl, "model %s: %zu parameters; %ld training windows of %d days (%d warm-up); loss %s; "
                     "optimizer %s lr %g\n", t->m.info->name, t->ps->size, t->smp.n_windows, t->L, t->warm,
                     t->c.loss.type, t->c.optim.type, t->oc.lr);
    char path[4200];
    snprintf(path, sizeof path, "%s/loss.csv", t->run_dir);
    t->lossf = t->root ? fopen(path, t->start_epoch ? "a" : "w") : NULL;
    if (t->root && !t->lossf)
        return tg_error_set(TG_EIO, "%s: cannot write", path);
    if (t->root && !t->start_epoch)
        fprintf(t->lossf, "epoch,loss,lr,seconds\n");
    return 0;
}

/* Forward and loss parts of one chunk (on any thread): its S sums into t->Sc. */
static int chunk_forward(train_run *t, chunk_work *w, int j, int got, size_t count)
{
    const int L = t->L, hor = t->hor;
    tg_ctx_reset(w->ctx);
    gather(&t->d, t->bi + w->lo, t->off + w->lo, w->n, L, &w->bb);
    tg_model_out mo;
    int rc = tg_model_forward(&t->m, w->ctx, &w->view, w->bb.x, w->bb.forcing, L, w->n, 1, &w->rng, &mo);
    if (rc)
        return rc;
    int Lq = mo.q->shape[0];
    tg_tensor *q = tg_slice(w->ctx, mo.q, 0, Lq - hor, hor);
    w->St[0] = w->St[1] = w->pen = w->m1 = w->m2 = NULL;
    const tg_real *obs_h = w->bb.obs + (size_t)(L - hor) * w->n;
    if (t->loss_type == TG_LOSS_NSE_KGE) {
        if ((rc = tg_nsekge_parts(w->ctx, q, obs_h, t->bstd + w->lo, count, t->nk.log_eps, w->St)) ||
            (rc = tg_nsekge_moments(w->ctx, q, obs_h, &w->m1, &w->m2, t->wm + 3 * (size_t)w->lo)))
            return rc;
    } else if ((rc = tg_loss_parts(w->ctx, t->loss_type, q, obs_h, t->bstd + w->lo, count, w->St)))
        return rc;
    double *S = t->Sc + 3 * (size_t)j;
    for (int i = 0; i < 2; i++)
        S[i] = w->St[i] ? (double)w->St[i]->data[0] : 0;
    /* a physics-guided penalty is a mean over the chunk's windows: weight it by the chunk's
     * share of the batch so the sum over chunks is the batch mean */
    if (mo.penalty) {
        w->pen = tg_muls(w->ctx, mo.penalty, (tg_real)((double)w->n / got));
        S[2] = w->pen ? (double)w->pen->data[0] : 0;
    }
    return tg_ctx_status(w->ctx);
}

/* Backward of one chunk's part of the loss into its gradient row. */
static int chunk_backward(const train_run *t, chunk_work *w, int got, const double *cf)
{
    tg_tensor *lin = tg_muls(w->ctx, w->St[0], (tg_real)cf[0]);
    if (w->St[1])
        lin = tg_add(w->ctx, lin, tg_muls(w->ctx, w->St[1], (tg_real)cf[1]));
    if (w->m1) /* nse_kge: the whole-period alpha/beta terms of the chunk's windows */
        lin = tg_add(w->ctx, lin, tg_nsekge_terms(w->ctx, w->m1, w->m2, t->delta + 2 * (size_t)w->lo, t->bi + w->lo,
                                                  &t->ns, got, t->nk.beta, t->nk.alpha));
    if (w->pen)
        lin = tg_add(w->ctx, lin, w->pen);
    if (!lin)
        return tg_ctx_status(w->ctx) ? tg_ctx_status(w->ctx) : TG_ENOMEM;
    return tg_backward(w->ctx, lin);
}

/* Runs phase (0 forward, 1 backward) of this rank's chunks, spread over the OpenMP threads
 * (whole chunks per thread; BLAS on one thread meanwhile). An error of any chunk is the
 * step's error, with its message. */
static int run_chunks(train_run *t, int phase, int got, size_t count, const double *cf)
{
    const int threads = omp_get_max_threads(), par = threads > 1 && t->nown > 1;
    const int blas = par ? tg_blas_set_threads(1) : 0;
#pragma omp parallel for schedule(dynamic, 1) if (par)
    for (int k = 0; k < t->nown; k++) {
        const int j = t->own[k];
        chunk_work *w = &t->cw[j];
        w->rc = phase == 0 ? chunk_forward(t, w, j, got, count) : chunk_backward(t, w, got, cf);
        if (w->rc) /* the message is thread-local: carry it out of the region */
            snprintf(w->err, sizeof w->err, "%s", tg_error_message());
    }
    if (par)
        tg_blas_set_threads(blas);
    for (int k = 0; k < t->nown; k++)
        if (t->cw[t->own[k]].rc)
            return tg_error_set(t->cw[t->own[k]].rc, "%s", t->cw[t->own[k]].err);
    return 0;
}

/* One minibatch. Every rank draws the same global batch and splits it into the same
 * training.chunks chunks; rank r computes chunks r, r + ranks, ... (its threads share them
 * out). The chunks' loss sums and gradients are then added in chunk order on every rank,
 * after an exchange in which each value has exactly one non-zero contribution (so the
 * sum of the exchange is exact): 1 or N ranks, 1 or N threads give the same bits. The
 * loss of the batch in *lv, the physics penalty's part in *pen. */
static int train_step(train_run *t, int ep, int it, double *lv, double *pen_value)
{
    const int L = t->L, hor = t->hor, nb = t->nb;
    const size_t P = t->ps->size;
    int got = tg_sampler_next(&t->smp, nb, t->bi, t->off);
    if (got < nb) /* epoch of the sampler ended: fill up from the next one */
        got += tg_sampler_next(&t->smp, nb - got, t->bi + got, t->off + got);
    int qv = TG_VAR_Q, rc;
    tg_batch_gather(t->d.raw, t->bi, t->off, got, L, &qv, 1, NULL, 0, t->obs_all);
    size_t count = tg_loss_count(t->obs_all + (size_t)(L - hor) * got, (size_t)hor * got);
    for (int k = 0; k < got; k++)
        t->bstd[k] = t->d.q_std[t->bi[k]];
    /* the dropout stream of chunk j in this step: one draw of the run's RNG per step (on
     * every rank), split by chunk index */
    const uint64_t step_seed = tg_rng_next(&t->rng);
    memset(t->Sc, 0, (size_t)t->nch * 3 * sizeof(double));
    memset(t->wm, 0, (size_t)nb * 3 * sizeof(double));
    memset(t->G, 0, (size_t)t->nch * P * sizeof(tg_real));
    for (int k = 0; k < t->nown; k++) {
        chunk_work *w = &t->cw[t->own[k]];
        /* got < nb only if the training set has fewer windows than a batch: then the
         * last chunks shrink (same split on every rank) */
        w->lo = (int)((long)t->own[k] * got / t->nch);
        w->n = (int)((long)(t->own[k] + 1) * got / t->nch) - w->lo;
        tg_rng_seed(&w->rng, step_seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(t->own[k] + 1)));
    }
    if ((rc = run_chunks(t, 0, got, count, NULL)))
        return rc;
    if ((rc = tg_dist_sum_double(t->Sc, (size_t)t->nch * 3)))
        return rc;
    double S[3] = {0, 0, 0}, cf[2], vb = 0, va = 0;
    for (int j = 0; j < t->nch; j++)
        for (int i = 0; i < 3; i++)
            S[i] += t->Sc[3 * (size_t)j + i];
    if (t->loss_type == TG_LOSS_NSE_KGE) {
        /* every window's moments on every rank (one non-zero contribution each: an exact
         * sum), then the same update of the basins' estimates everywhere */
        if ((rc = tg_dist_sum_double(t->wm, (size_t)got * 3)))
            return rc;
        tg_nsekge_update(&t->ns, t->bi, t->wm, got, t->delta, &vb, &va);
        *lv = tg_nsekge_combine(S, &t->nk, cf) + t->nk.beta * vb + t->nk.alpha * va + S[2];
    } else
        *lv = tg_loss_combine(t->loss_type, S, t->c.loss.log_weight, cf) + S[2];
    *pen_value = S[2];
    if (!isfinite(*lv))
        return tg_error_set(TG_EINVAL, "epoch %d iteration %d: the loss is not finite (%g); lower optim.lr?", ep, it,
                            *lv);
    if ((rc = run_chunks(t, 1, got, count, cf)))
        return rc;
    if ((rc = tg_dist_sum_real(t->G, (size_t)t->nch * P)))
        return rc;
    /* from +0: a gradient that is -0 in every chunk becomes +0, as the exchange makes it */
    tg_real *g = t->ps->grad;
    for (size_t i = 0; i < P; i++)
        g[i] = 0;
    for (int j = 0; j < t->nch; j++) {
        const tg_real *gj = t->G + (size_t)j * P;
        for (size_t i = 0; i < P; i++)
            g[i] += gj[i];
    }
    if (t->c.optim.clip > 0)
        tg_clip_grad_norm(t->ps, t->c.optim.clip);
    return tg_optim_step(t->op, t->ps);
}

/* One epoch: its steps, the log line, loss.csv and the checkpoint (root rank). */
static int train_epoch(train_run *t, int ep)
{
    double lr = tg_schedule_lr(&t->sched, ep - 1), sum = 0, pen_sum = 0;
    tg_optim_set_lr(t->op, lr);
    double te = now();
    int rc = 0;
    for (int it = 1; it <= t->iters && !rc; it++) {
        double lv, pen;
        if ((rc = train_step(t, ep, it, &lv, &pen)))
            return rc;
        sum += lv;
        pen_sum += pen;
        double frac = ((double)(ep - 1 - t->start_epoch) * t->iters + it) /
                      ((double)(t->epochs - t->start_epoch) * t->iters);
        if (t->root)
            tg_runlog_progress(&t->rl, ep, t->epochs, it, t->iters, sum / it, now() - t->t0, frac);
    }
    const int iters = t->iters;
    if (pen_sum != 0)
        tg_runlog_printf(&t->rl, "epoch %d/%d  loss %.5f (penalty %.5f)  lr %.3g  %.1fs\n", ep, t->epochs,
                         sum / iters, pen_sum / iters, lr, now() - te);
    else
        tg_runlog_printf(&t->rl, "epoch %d/%d  loss %.5f  lr %.3g  %.1fs\n", ep, t->epochs, sum / iters, lr,
                         now() - te);
    if (t->root) {
        fprintf(t->lossf, "%d,%.8g,%.6g,%.3f\n", ep, sum / iters, lr, now() - t->t0);
        fflush(t->lossf);
        char *text = NULL;
        size_t len = 0;
        rc = tg_runstate_format(t->fingerprint, &t->smp, t->sampler_seed, &text, &len);
        if (!rc && t->loss_type == TG_LOSS_NSE_KGE)
            rc = tg_nsekge_state_append(&t->ns, &text, &len);
        if (!rc)
            rc = tg_checkpoint_save_ex(t->ckpt, t->ps, t->op, &t->rng, ep, text, len);
        free(text);
    }
    tg_dist_max_int(&rc, 1); /* a failed checkpoint stops every rank */
    return rc;
}

static void train_run_free(train_run *t)
{
    if (t->lossf)
        fclose(t->lossf);
    free(t->bb.x);
    free(t->bb.forcing);
    free(t->bb.obs);
    free(t->bi);
    free(t->off);
    free(t->bstd);
    free(t->obs_all);
    free(t->wm);
    free(t->delta);
    tg_nsekge_state_free(&t->ns);
    for (int j = 0; t->cw && j < t->nch; j++) {
        tg_ctx_free(&t->cw[j].ctx);
        free(t->cw[j].bb.x), free(t->cw[j].bb.forcing), free(t->cw[j].bb.obs);
    }
    free(t->cw), free(t->own), free(t->G), free(t->Sc);
    tg_sampler_free(&t->smp);
    tg_optim_free(&t->op);
    tg_model_free(&t->m);
    tg_params_free(&t->ps);
    if (t->d.raw || t->d.B)
        tg_dataset_free(&t->d);
    free(t->state);
    free(t->fingerprint);
    tg_runlog_close(&t->rl);
    tg_run_lock_release(&t->lock);
    tg_run_config_free(&t->c);
}

/* Trains cfg (parsed from src_path, or from src_text) into run_dir. */
static int train(const tg_cfg *cfg, const char *name, const char *src_path, const char *src_text,
                 const char *run_dir, const tg_train_options *opt)
{
    train_run *t = calloc(1, sizeof *t);
    if (!t)
        return tg_error_set(TG_ENOMEM, "out of memory");
    t->lock.fd = -1;
    t->cfg = cfg;
    t->name = name;
    t->src_path = src_path;
    t->src_text = src_text;
    snprintf(t->run_dir, sizeof t->run_dir, "%s", run_dir);
    snprintf(t->ckpt, sizeof t->ckpt, "%s/last.ckpt", run_dir);
    t->rank = tg_dist_rank(), t->nranks = tg_dist_size(), t->root = tg_dist_is_root();
    t->resume = opt && opt->resume;
    int rc = tg_run_config_from_cfg(cfg, &t->c);
    if (!rc)
        rc = setup_folder(t, opt);
    if (rc) {
        train_run_free(t);
        free(t);
        return rc;
    }
    /* training.threads is applied by the caller (terragrad train) before this call: the
     * library only reads the thread count */
    tg_runlog_printf(&t->rl, "terragrad train %s -> %s (%s build, %d threads, %d rank%s, %s)\n", name, run_dir,
                     TG_REAL_NAME, omp_get_max_threads(), t->nranks, t->nranks > 1 ? "s" : "", tg_dist_backend());
    t->ps = tg_params_create();
    tg_rng_seed(&t->rng, (uint64_t)t->c.seed);
    /* the sampler's seed: fixed for the whole run; a resumed run replays its shuffles */
    t->sampler_seed = (uint64_t)t->c.seed * 7919u;
    if (t->resume)
        rc = load_run_state(t);
    if (!rc)
        rc = build(t);
    if (!rc)
        rc = prepare_sampler(t);
    if (!rc)
        rc = alloc_batches(t);
    if (!rc)
        rc = open_loss_log(t);
    t->t0 = now();
    for (int ep = (int)t->start_epoch + 1; !rc && ep <= t->epochs; ep++)
        rc = train_epoch(t, ep);
    if (!rc)
        tg_runlog_printf(&t->rl, "training done in %.1fs; checkpoint %s/last.ckpt\n", now() - t->t0, run_dir);
    else
        tg_runlog_file(&t->rl, "error: %s\n", tg_error_message());
    train_run_free(t);
    free(t);
    return rc;
}

int tg_train(const char *config_path, const tg_train_options *opt)
{
    int n_schema;
    const tg_cfg_key *schema = tg_train_schema_all(&n_schema);
    tg_cfg *cfg = tg_train_cfg_check(
        tg_cfg_load_with(config_path, schema, n_schema, opt ? opt->set : NULL, opt ? opt->n_set : 0));
    if (!cfg)
        return tg_error_code();
    char run_dir[4096];
    if (opt && opt->run_dir)
        snprintf(run_dir, sizeof run_dir, "%s", opt->run_dir);
    else if (tg_cfg_str(cfg, "output.dir"))
        snprintf(run_dir, sizeof run_dir, "%s", tg_cfg_str(cfg, "output.dir"));
    else {
        const char *base = strrchr(config_path, '/');
        base = base ? base + 1 : config_path;
        snprintf(run_dir, sizeof run_dir, "runs/%.*s", (int)strcspn(base, "."), base);
    }
    int rc = tg_cfg_list_len(cfg, "seeds") > 0 ? tg_train_ensemble(cfg, config_path, run_dir, opt)
                                                : train(cfg, config_path, config_path, NULL, run_dir, opt);
    tg_cfg_free(&cfg);
    return rc;
}

int tg_train_config(const tg_run_config *c, const tg_train_options *opt)
{
    if (!c)
        return tg_error_set(TG_EINVAL, "tg_train_config: no config");
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem)
        return tg_error_set(TG_ENOMEM, "out of memory");
    int rc = tg_run_config_write(c, mem);
    if (fclose(mem) != 0 && !rc)
        rc = tg_error_set(TG_ENOMEM, "out of memory");
    char run_dir[4096];
    snprintf(run_dir, sizeof run_dir, "%s",
             opt && opt->run_dir ? opt->run_dir : c->output.dir ? c->output.dir : "runs/run");
    char name[4200];
    snprintf(name, sizeof name, "%s/config.yaml", run_dir);
    int n_schema;
    const tg_cfg_key *schema = tg_train_schema_all(&n_schema);
    tg_cfg *cfg = rc ? NULL : tg_train_cfg_check(tg_cfg_parse_string(text, name, schema, n_schema));
    if (!rc && !cfg)
        rc = tg_error_code() ? tg_error_code() : TG_EINVAL;
    if (!rc)
        rc = train(cfg, name, NULL, text, run_dir, opt);
    tg_cfg_free(&cfg);
    free(text);
    return rc;
}
