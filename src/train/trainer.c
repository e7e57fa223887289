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
    tg_ctx *ctx;
    tg_sampler smp;
    tg_schedule sched;
    tg_rng rng;
    uint64_t sampler_seed;
    char *state, *fingerprint;
    int loss_type, warm, hor, L, nb, epochs, iters;
    int64_t start_epoch;
    batch_buf bb;
    int *bi, *off, *lbi, *loff;
    double *bstd;
    tg_real *obs_all;
    FILE *lossf;
    double t0;
} train_run;

/* <run>/config.yaml: a copy of the config file, or the text of a typed config. */
static int write_run_config(const train_run *t)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.yaml", t->run_dir);
    if (t->src_path)
        return tg_copy_file(t->src_path, path);
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
    t->lbi = malloc(nb * sizeof(int));
    t->loff = malloc(nb * sizeof(int));
    t->obs_all = malloc(L * nb * sizeof(tg_real));
    if (!t->bb.x || !t->bb.forcing || !t->bb.obs || !t->bi || !t->off || !t->bstd || !t->lbi || !t->loff || !t->obs_all)
        return tg_error_set(TG_ENOMEM, "out of memory for batches");
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

/* One minibatch: every rank draws the same global batch; a window is computed by the rank
 * that owns its basin (basin % ranks), so 1 and N ranks see the same batches. The loss of
 * the batch in *lv, the physics penalty's part in *pen. */
static int train_step(train_run *t, int ep, int it, double *lv, double *pen_value)
{
    const int L = t->L, hor = t->hor, nb = t->nb;
    int got = tg_sampler_next(&t->smp, nb, t->bi, t->off);
    if (got < nb) /* epoch of the sampler ended: fill up from the next one */
        got += tg_sampler_next(&t->smp, nb - got, t->bi + got, t->off + got);
    int qv = TG_VAR_Q, nloc = 0, rc;
    tg_batch_gather(t->d.raw, t->bi, t->off, got, L, &qv, 1, NULL, 0, t->obs_all);
    size_t count = tg_loss_count(t->obs_all + (size_t)(L - hor) * got, (size_t)hor * got);
    for (int k = 0; k < got; k++)
        if (t->bi[k] % t->nranks == t->rank) {
            t->lbi[nloc] = t->bi[k];
            t->loff[nloc] = t->off[k];
            t->bstd[nloc] = t->d.q_std[t->bi[k]];
            nloc++;
        }
    double S[3] = {0, 0, 0}, cf[2];
    tg_tensor *St[2] = {NULL, NULL}, *pen = NULL;
    tg_ctx *ctx = t->ctx;
    if (nloc > 0) {
        gather(&t->d, t->lbi, t->loff, nloc, L, &t->bb);
        tg_model_out mo;
        if ((rc = tg_model_forward(&t->m, ctx, t->ps, t->bb.x, t->bb.forcing, L, nloc, 1, &t->rng, &mo)))
            return rc;
        int Lq = mo.q->shape[0];
        tg_tensor *q = tg_slice(ctx, mo.q, 0, Lq - hor, hor);
        if ((rc = tg_loss_parts(ctx, t->loss_type, q, t->bb.obs + (size_t)(L - hor) * nloc, t->bstd, count, St)))
            return rc;
        for (int i = 0; i < 2; i++)
            S[i] = St[i] ? (double)St[i]->data[0] : 0;
        /* a physics-guided penalty is a mean over this rank's windows: weight it by
         * the rank's share of the batch so the sum over ranks is the batch mean */
        if (mo.penalty) {
            pen = tg_muls(ctx, mo.penalty, (tg_real)((double)nloc / got));
            S[2] = pen ? (double)pen->data[0] : 0;
        }
    } else if (!t->m.kind) /* dropout draws from the RNG: keep every rank in step */
        tg_dropout(ctx, tg_new(ctx, TG_SHAPE(1)), t->m.dropout, 1, &t->rng);
    if ((rc = tg_dist_sum_double(S, 3)))
        return rc;
    *lv = tg_loss_combine(t->loss_type, S, t->c.loss.log_weight, cf) + S[2];
    *pen_value = S[2];
    if (!isfinite(*lv))
        return tg_error_set(TG_EINVAL, "epoch %d iteration %d: the loss is not finite (%g); lower optim.lr?", ep, it,
                            *lv);
    if (nloc > 0) {
        tg_tensor *lin = tg_muls(ctx, St[0], (tg_real)cf[0]);
        if (St[1])
            lin = tg_add(ctx, lin, tg_muls(ctx, St[1], (tg_real)cf[1]));
        if (pen)
            lin = tg_add(ctx, lin, pen);
        if (!lin || (rc = tg_backward(ctx, lin)))
            return rc ? rc : tg_ctx_status(ctx);
    }
    if ((rc = tg_dist_sum_real(t->ps->grad, t->ps->size)))
        return rc;
    if (t->c.optim.clip > 0)
        tg_clip_grad_norm(t->ps, t->c.optim.clip);
    if ((rc = tg_optim_step(t->op, t->ps)))
        return rc;
    tg_ctx_reset(ctx);
    return 0;
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
    free(t->lbi);
    free(t->loff);
    free(t->obs_all);
    tg_sampler_free(&t->smp);
    tg_optim_free(&t->op);
    tg_model_free(&t->m);
    tg_ctx_free(&t->ctx);
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
    int threads = (int)t->c.training.threads;
    if (threads > 0)
        omp_set_num_threads(threads);
    tg_runlog_printf(&t->rl, "terragrad train %s -> %s (%s build, %d threads, %d rank%s, %s)\n", name, run_dir,
                     TG_REAL_NAME, omp_get_max_threads(), t->nranks, t->nranks > 1 ? "s" : "", tg_dist_backend());
    t->ps = tg_params_create();
    t->ctx = tg_ctx_create();
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
    tg_cfg *cfg = tg_train_cfg_check(tg_cfg_load(config_path, schema, n_schema));
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
    int rc = train(cfg, config_path, config_path, NULL, run_dir, opt);
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
