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

static int make_schedule(const tg_cfg *cfg, tg_schedule *s)
{
    const char *kind = tg_cfg_str(cfg, "optim.schedule");
    double lr = tg_cfg_float(cfg, "optim.lr");
    if (!strcmp(kind, "step"))
        *s = tg_schedule_step(lr, (int)tg_cfg_int(cfg, "optim.step_size"), tg_cfg_float(cfg, "optim.gamma"));
    else if (!strcmp(kind, "exponential"))
        *s = tg_schedule_exponential(lr, tg_cfg_float(cfg, "optim.gamma"));
    else if (!strcmp(kind, "cosine"))
        *s = tg_schedule_cosine(lr, (int)tg_cfg_int(cfg, "training.epochs"), tg_cfg_float(cfg, "optim.lr_min"));
    else if (!strcmp(kind, "table")) {
        int n = tg_cfg_list_len(cfg, "optim.table_epochs");
        if (n == 0 || n != tg_cfg_list_len(cfg, "optim.table_lrs") || n > TG_SCHED_MAX_TABLE)
            return tg_error_set(TG_EINVAL, "%s: optim.table_epochs and optim.table_lrs need the same length (1..%d)",
                                tg_cfg_path(cfg), TG_SCHED_MAX_TABLE);
        int ep[TG_SCHED_MAX_TABLE];
        double lrs[TG_SCHED_MAX_TABLE];
        for (int i = 0; i < n; i++) {
            ep[i] = atoi(tg_cfg_list_item(cfg, "optim.table_epochs", i));
            lrs[i] = atof(tg_cfg_list_item(cfg, "optim.table_lrs", i));
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

static void gather(const tg_dataset *d, const int *bi, const int *off, int nb, int L, batch_buf *bb, int need_forcing)
{
    tg_batch_gather(d->norm, bi, off, nb, L, d->vars, d->F, d->statics, d->S, bb->x);
    int qv = TG_VAR_Q;
    tg_batch_gather(d->raw, bi, off, nb, L, &qv, 1, NULL, 0, bb->obs);
    if (need_forcing) {
        int fv[3] = {TG_VAR_P, TG_VAR_TEMP, TG_VAR_PET};
        tg_batch_gather(d->raw, bi, off, nb, L, fv, 3, NULL, 0, bb->forcing);
    }
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

int tg_train(const char *config_path, const tg_train_options *opt)
{
    int n_schema;
    const tg_cfg_key *schema = tg_train_schema_all(&n_schema);
    tg_cfg *cfg = tg_cfg_load(config_path, schema, n_schema);
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
    const int rank = tg_dist_rank(), nranks = tg_dist_size(), root = tg_dist_is_root();
    const int resume = opt && opt->resume;
    tg_run_lock lock = {-1};
    int rc = root ? claim_run_dir(run_dir, opt, &lock) : 0;
    char path[4200];
    snprintf(path, sizeof path, "%s/config.yaml", run_dir);
    if (!rc && root && !resume)
        rc = tg_copy_file(config_path, path);
    tg_runlog rl = {0};
    if (!rc && root)
        rc = tg_runlog_open(&rl, run_dir, "train.log");
    int any = rc;
    tg_dist_max_int(&any, 1); /* the run directory exists (or the run stops) for everyone */
    if (any) {
        tg_runlog_close(&rl);
        tg_run_lock_release(&lock);
        tg_cfg_free(&cfg);
        return rc ? rc : tg_error_set(TG_EIO, "%s: the root rank could not set up the run folder", run_dir);
    }
    /* training.threads is applied by the caller (terragrad train) before this call: the
     * library only reads the thread count */
    tg_runlog_printf(&rl, "terragrad train %s -> %s (%s build, %d threads, %d rank%s, %s)\n", config_path, run_dir,
                     TG_REAL_NAME, omp_get_max_threads(), nranks, nranks > 1 ? "s" : "", tg_dist_backend());

    tg_dataset d;
    tg_model m = {0};
    tg_params *ps = tg_params_create();
    tg_optim *op = NULL;
    tg_ctx *ctx = tg_ctx_create();
    tg_sampler smp;
    memset(&smp, 0, sizeof smp);
    batch_buf bb = {0};
    FILE *lossf = NULL;
    tg_rng rng;
    tg_rng_seed(&rng, (uint64_t)tg_cfg_int(cfg, "seed"));
    /* the sampler's seed: fixed for the whole run; a resumed run replays its shuffles */
    const uint64_t sampler_seed = (uint64_t)tg_cfg_int(cfg, "seed") * 7919u;
    char *state = NULL, *fingerprint = NULL;
    char ckpt[4200];
    snprintf(ckpt, sizeof ckpt, "%s/last.ckpt", run_dir);
    if (resume) {
        /* the run state first: a changed config is named before it breaks anything else */
        rc = tg_checkpoint_load_ex(ckpt, NULL, NULL, NULL, NULL, (void **)&state, NULL);
        if (!rc && !state)
            rc = tg_error_set(TG_EINVAL,
                              "cannot resume from %s: it was written by an older terragrad (checkpoint format 1) "
                              "without the sampler state and config fingerprint, so it cannot be continued exactly "
                              "(terragrad test still reads it; to train on, start again with --overwrite)",
                              ckpt);
        if (!rc)
            rc = tg_runstate_check_config(state, ckpt, cfg);
    }
    if (!rc)
        rc = tg_dataset_load(&d, cfg, run_dir, !resume, &rl);
    if (!rc && resume)
        rc = tg_runstate_check_data(state, ckpt, cfg, &d);
    if (!rc)
        rc = tg_runstate_fingerprint(cfg, &d, &fingerprint);
    if (!rc)
        rc = tg_model_build(&m, cfg, &d, ps);
    if (!rc)
        rc = tg_model_init_weights(&m, ps, &rng, cfg);
    int loss_type = tg_loss_parse(tg_cfg_str(cfg, "loss.type"));
    tg_optim_config oc = {0};
    if (!rc) {
        tg_optim_kind kind;
        rc = tg_optim_parse(tg_cfg_str(cfg, "optim.type"), &kind);
        oc.kind = kind;
        oc.lr = tg_cfg_float(cfg, "optim.lr");
        oc.weight_decay = tg_cfg_float(cfg, "optim.weight_decay");
    }
    if (!rc && !(op = tg_optim_create(&oc, ps)))
        rc = tg_error_code() ? tg_error_code() : TG_ENOMEM;
    tg_schedule sched;
    if (!rc)
        rc = make_schedule(cfg, &sched);
    int64_t start_epoch = 0;
    if (!rc && resume)
        rc = tg_checkpoint_load(ckpt, ps, op, &rng, &start_epoch);
    const int warm = (int)tg_cfg_int(cfg, "training.warmup"), hor = (int)tg_cfg_int(cfg, "training.horizon");
    const int L = warm + hor, nb = (int)tg_cfg_int(cfg, "training.batch");
    const int epochs = (int)tg_cfg_int(cfg, "training.epochs"), iters = (int)tg_cfg_int(cfg, "training.iterations");
    if (!rc && (hor <= 0 || warm < 0 || nb <= 0 || epochs < 0 || iters <= 0))
        rc = tg_error_set(TG_EINVAL, "%s: training.horizon, batch and iterations must be positive", config_path);
    if (!rc)
        rc = tg_sampler_init(&smp, d.raw, d.B, d.vars, d.F, TG_VAR_Q, tg_cfg_date(cfg, "periods.train_start"),
                             tg_cfg_date(cfg, "periods.train_end"), warm, hor, sampler_seed);
    if (!rc && smp.n_windows == 0)
        rc = tg_error_set(TG_EINVAL, "%s: no training window of %d days with observed flow in the training period",
                          config_path, L);
    if (!rc && resume)
        rc = tg_runstate_restore_sampler(state, ckpt, &smp, sampler_seed);
    if (!rc && resume && root) {
        /* the run's config.yaml describes the run as it continues (more epochs, new schedule) */
        snprintf(path, sizeof path, "%s/config.yaml", run_dir);
        rc = tg_copy_file(config_path, path);
        snprintf(path, sizeof path, "%s/loss.csv", run_dir);
        if (!rc)
            rc = loss_csv_truncate(path, start_epoch);
    }
    if (!rc && resume)
        tg_runlog_printf(&rl, "resumed from %s after epoch %lld\n", ckpt, (long long)start_epoch);
    int *bi = NULL, *off = NULL, *lbi = NULL, *loff = NULL;
    double *bstd = NULL;
    tg_real *obs_all = NULL;
    if (!rc) {
        size_t in = (size_t)(d.F + d.S);
        bb.x = malloc((size_t)L * nb * in * sizeof(tg_real));
        bb.forcing = malloc((size_t)L * nb * 3 * sizeof(tg_real));
        bb.obs = malloc((size_t)L * nb * sizeof(tg_real));
        bi = malloc((size_t)nb * sizeof(int));
        off = malloc((size_t)nb * sizeof(int));
        bstd = malloc((size_t)nb * sizeof(double));
        lbi = malloc((size_t)nb * sizeof(int));
        loff = malloc((size_t)nb * sizeof(int));
        obs_all = malloc((size_t)L * nb * sizeof(tg_real));
        if (!bb.x || !bb.forcing || !bb.obs || !bi || !off || !bstd || !lbi || !loff || !obs_all)
            rc = tg_error_set(TG_ENOMEM, "out of memory for batches");
    }
    if (!rc) {
        tg_runlog_printf(&rl, "model %s: %zu parameters; %ld training windows of %d days (%d warm-up); loss %s; "
                         "optimizer %s lr %g\n", tg_cfg_str(cfg, "model.type"), ps->size, smp.n_windows, L, warm,
                         tg_cfg_str(cfg, "loss.type"), tg_cfg_str(cfg, "optim.type"), oc.lr);
        snprintf(path, sizeof path, "%s/loss.csv", run_dir);
        lossf = root ? fopen(path, start_epoch ? "a" : "w") : NULL;
        if (root && !lossf)
            rc = tg_error_set(TG_EIO, "%s: cannot write", path);
        else if (root && !start_epoch)
            fprintf(lossf, "epoch,loss,lr,seconds\n");
    }
    const double clip = tg_cfg_float(cfg, "optim.clip"), lw = tg_cfg_float(cfg, "loss.log_weight");
    double t0 = now();
    for (int ep = (int)start_epoch + 1; !rc && ep <= epochs; ep++) {
        double lr = tg_schedule_lr(&sched, ep - 1), sum = 0, pen_sum = 0;
        tg_optim_set_lr(op, lr);
        double te = now();
        for (int it = 1; it <= iters && !rc; it++) {
            int got = tg_sampler_next(&smp, nb, bi, off);
            if (got < nb) /* epoch of the sampler ended: fill up from the next one */
                got += tg_sampler_next(&smp, nb - got, bi + got, off + got);
            /* every rank draws the same global batch; a window is computed by the rank that
             * owns its basin (basin % ranks), so 1 and N ranks see the same batches */
            int qv = TG_VAR_Q, nloc = 0;
            tg_batch_gather(d.raw, bi, off, got, L, &qv, 1, NULL, 0, obs_all);
            size_t count = tg_loss_count(obs_all + (size_t)(L - hor) * got, (size_t)hor * got);
            for (int k = 0; k < got; k++)
                if (bi[k] % nranks == rank) {
                    lbi[nloc] = bi[k];
                    loff[nloc] = off[k];
                    bstd[nloc] = d.q_std[bi[k]];
                    nloc++;
                }
            double S[3] = {0, 0, 0}, cf[2];
            tg_tensor *St[2] = {NULL, NULL}, *pen = NULL;
            if (nloc > 0) {
                gather(&d, lbi, loff, nloc, L, &bb, m.kind != NULL);
                tg_model_out mo;
                if ((rc = tg_model_forward(&m, ctx, ps, bb.x, bb.forcing, L, nloc, 1, &rng, &mo)))
                    break;
                int Lq = mo.q->shape[0];
                tg_tensor *q = tg_slice(ctx, mo.q, 0, Lq - hor, hor);
                if ((rc = tg_loss_parts(ctx, loss_type, q, bb.obs + (size_t)(L - hor) * nloc, bstd, count, St)))
                    break;
                for (int i = 0; i < 2; i++)
                    S[i] = St[i] ? (double)St[i]->data[0] : 0;
                /* a physics-guided penalty is a mean over this rank's windows: weight it by
                 * the rank's share of the batch so the sum over ranks is the batch mean */
                if (mo.penalty) {
                    pen = tg_muls(ctx, mo.penalty, (tg_real)((double)nloc / got));
                    S[2] = pen ? (double)pen->data[0] : 0;
                }
            } else if (!m.kind) /* dropout draws from the RNG: keep every rank in step */
                tg_dropout(ctx, tg_new(ctx, TG_SHAPE(1)), m.dropout, 1, &rng);
            if ((rc = tg_dist_sum_double(S, 3)))
                break;
            double lv = tg_loss_combine(loss_type, S, lw, cf) + S[2];
            if (!isfinite(lv)) {
                rc = tg_error_set(TG_EINVAL, "epoch %d iteration %d: the loss is not finite (%g); lower optim.lr?", ep,
                                  it, lv);
                break;
            }
            if (nloc > 0) {
                tg_tensor *lin = tg_muls(ctx, St[0], (tg_real)cf[0]);
                if (St[1])
                    lin = tg_add(ctx, lin, tg_muls(ctx, St[1], (tg_real)cf[1]));
                if (pen)
                    lin = tg_add(ctx, lin, pen);
                if (!lin || (rc = tg_backward(ctx, lin)))
                    break;
            }
            if ((rc = tg_dist_sum_real(ps->grad, ps->size)))
                break;
            if (clip > 0)
                tg_clip_grad_norm(ps, clip);
            if ((rc = tg_optim_step(op, ps)))
                break;
            tg_ctx_reset(ctx);
            sum += lv;
            pen_sum += S[2];
            double frac = ((double)(ep - 1 - start_epoch) * iters + it) / ((double)(epochs - start_epoch) * iters);
            if (root)
                tg_runlog_progress(&rl, ep, epochs, it, iters, sum / it, now() - t0, frac);
        }
        if (rc)
            break;
        if (pen_sum != 0)
            tg_runlog_printf(&rl, "epoch %d/%d  loss %.5f (penalty %.5f)  lr %.3g  %.1fs\n", ep, epochs, sum / iters,
                             pen_sum / iters, lr, now() - te);
        else
            tg_runlog_printf(&rl, "epoch %d/%d  loss %.5f  lr %.3g  %.1fs\n", ep, epochs, sum / iters, lr, now() - te);
        if (root) {
            fprintf(lossf, "%d,%.8g,%.6g,%.3f\n", ep, sum / iters, lr, now() - t0);
            fflush(lossf);
            char *text = NULL;
            size_t len = 0;
            rc = tg_runstate_format(fingerprint, &smp, sampler_seed, &text, &len);
            if (!rc)
                rc = tg_checkpoint_save_ex(ckpt, ps, op, &rng, ep, text, len);
            free(text);
        }
        tg_dist_max_int(&rc, 1); /* a failed checkpoint stops every rank */
    }
    if (!rc)
        tg_runlog_printf(&rl, "training done in %.1fs; checkpoint %s/last.ckpt\n", now() - t0, run_dir);
    else
        tg_runlog_file(&rl, "error: %s\n", tg_error_message());
    if (lossf)
        fclose(lossf);
    free(bb.x);
    free(bb.forcing);
    free(bb.obs);
    free(bi);
    free(off);
    free(bstd);
    free(lbi);
    free(loff);
    free(obs_all);
    tg_sampler_free(&smp);
    tg_optim_free(&op);
    tg_model_free(&m);
    tg_ctx_free(&ctx);
    tg_params_free(&ps);
    if (d.raw || d.B)
        tg_dataset_free(&d);
    free(state);
    free(fingerprint);
    tg_runlog_close(&rl);
    tg_run_lock_release(&lock);
    tg_cfg_free(&cfg);
    return rc;
}
