/* evaluate.c — `terragrad test RUN_DIR`: run the trained model over a whole period per
 * basin (with a spin-up before it), score it, and write metrics and predictions. */
#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train_internal.h"

/* Writes one basin's predictions CSV (temp file + rename). */
static int write_predictions(const char *dir, const char *id, int first_day, int n, const tg_real *obs,
                             const tg_real *sim, const tg_model_kind_info *kind,
                             const tg_real *fluxes /* (n, nout) or NULL */, const tg_real *pet,
                             int nout /* the kind's outputs; 17 with the 1.1p "cap" */)
{
    char path[4400], tmp[4500], date[16];
    snprintf(path, sizeof path, "%s/%s.csv", dir, id);
    FILE *f;
    int rc = tg_io_begin(path, tmp, sizeof tmp, &f);
    if (rc)
        return rc;
    fprintf(f, "date,Q_obs,Q");
    if (fluxes) {
        fprintf(f, ",PET");
        for (int k = 1; k < nout; k++)
            fprintf(f, ",%s", k < kind->n_outputs ? kind->outputs[k] : tg_hbv_output_names[k]);
    }
    fputc('\n', f);
    for (int t = 0; t < n; t++) {
        fprintf(f, "%s,", tg_date_format(first_day + t, date));
        if (isnan((double)obs[t]))
            fprintf(f, "NA");
        else
            fprintf(f, TG_REAL_FMT_CSV, (double)obs[t]);
        fprintf(f, "," TG_REAL_FMT_CSV, (double)sim[t]);
        if (fluxes) {
            fprintf(f, "," TG_REAL_FMT_CSV, (double)pet[t]);
            for (int k = 1; k < nout; k++)
                fprintf(f, "," TG_REAL_FMT_CSV, (double)fluxes[(size_t)t * (size_t)nout + (size_t)k]);
        }
        fputc('\n', f);
    }
    return tg_io_commit(f, tmp, path);
}

/* Relative water-balance error of one basin's process-model outputs over days 1..n-1:
 * (inputs - ET - runoff - change in storage) / inputs. States are end-of-day, so day 0's
 * state is the starting storage. Closes to round-off for the explicit HBV; shows the
 * Newton tolerance for implicit models. */
static double water_balance_error(const tg_real *fl /* (n, nout) */, int n, int nout)
{
    double in = 0, out = 0, s0 = 0, s1 = 0;
    static const int stores[] = {TG_HBV_SWE, TG_HBV_MELTWATER, TG_HBV_SM, TG_HBV_SUZ, TG_HBV_SLZ};
    for (int t = 1; t < n; t++) {
        const tg_real *r = fl + (size_t)t * (size_t)nout;
        in += (double)r[TG_HBV_RAIN] + (double)r[TG_HBV_SNOW];
        out += (double)r[TG_HBV_ET] + (double)r[TG_HBV_Q0] + (double)r[TG_HBV_Q1] + (double)r[TG_HBV_Q2];
    }
    for (int i = 0; i < 5; i++) {
        s0 += (double)fl[stores[i]];
        s1 += (double)fl[(size_t)(n - 1) * (size_t)nout + (size_t)stores[i]];
    }
    return in > 0 ? (in - out - (s1 - s0)) / in : (double)NAN;
}

/* Learned static parameters per basin (mean over components, physical units) and the
 * routing parameters: <run>/params_<period>.csv. */
static int write_params(const char *path, const tg_dataset *d, const tg_model_kind_info *kind,
                        const double *par /* (B, stride) */, int routing, int stride,
                        int cap /* the 1.1p C, at column stride - 1 */,
                        int pcorr /* the precipitation multiplier, at column TG_HBV_NPARAM + 3 */,
                        int sfcf /* the snowfall correction factor, at column TG_HBV_NPARAM + 4 */)
{
    char tmp[4300];
    FILE *f;
    int rc = tg_io_begin(path, tmp, sizeof tmp, &f);
    if (rc)
        return rc;
    fprintf(f, "basin");
    for (int p = 0; p < kind->n_params; p++)
        fprintf(f, ",%s", kind->params[p]);
    if (cap)
        fprintf(f, ",%s", tg_hbv_param_names[TG_HBV_C]);
    if (pcorr)
        fprintf(f, ",PCORR");
    if (sfcf)
        fprintf(f, ",SFCF");
    fprintf(f, routing ? ",route_a,route_theta\n" : "\n");
    for (int b = 0; b < d->B; b++) {
        fprintf(f, "%s", d->raw[b].id);
        for (int p = 0; p < kind->n_params; p++)
            fprintf(f, "," TG_REAL_FMT_CSV, par[(size_t)b * stride + p]);
        if (cap)
            fprintf(f, "," TG_REAL_FMT_CSV, par[(size_t)b * stride + stride - 1]);
        if (pcorr)
            fprintf(f, "," TG_REAL_FMT_CSV, par[(size_t)b * stride + TG_HBV_NPARAM + 3]);
        if (sfcf)
            fprintf(f, "," TG_REAL_FMT_CSV, par[(size_t)b * stride + TG_HBV_NPARAM + 4]);
        for (int p = 0; p < (routing ? 2 : 0); p++) /* after the kind's parameters */
            fprintf(f, "," TG_REAL_FMT_CSV, par[(size_t)b * stride + TG_HBV_NPARAM + p]);
        fputc('\n', f);
    }
    return tg_io_commit(f, tmp, path);
}

static int write_metrics(const char *path, const tg_dataset *d, const tg_metrics *m, const double *wb)
{
    char tmp[4300];
    FILE *f;
    int rc = tg_io_begin(path, tmp, sizeof tmp, &f);
    if (rc)
        return rc;
    fprintf(f, "basin");
    for (int k = 0; k < TG_METRIC_COUNT; k++)
        fprintf(f, ",%s", tg_metric_names[k]);
    fprintf(f, wb ? ",n_days,water_balance_rel\n" : ",n_days\n");
    for (int b = 0; b < d->B; b++) {
        fprintf(f, "%s", d->raw[b].id);
        for (int k = 0; k < TG_METRIC_COUNT; k++)
            fprintf(f, "," TG_METRIC_FMT, tg_metric_get(&m[b], k));
        fprintf(f, ",%d", m[b].n);
        if (wb)
            fprintf(f, "," TG_REAL_FMT_CSV, wb[b]);
        fputc('\n', f);
    }
    return tg_io_commit(f, tmp, path);
}

/* ---------------------------------------------------------------- one evaluation
 * tg_evaluate: the run's config, data, model and checkpoint; then chunks of basins (shared
 * out over the ranks), each run forward over warm-up + period; per basin the metrics,
 * learned parameters and predictions; finally the files and the summary. */
/* per basin: static parameters (<= NP), route a, theta, water balance, PCORR, SFCF, the 1.1p C */
enum { NEXTRA = TG_HBV_NPARAM + 6 };
enum { MAX_CHUNK = 1024 };

typedef struct eval_run {
    const char *run_dir, *period;   /* period: the label of the outputs (tg_eval_plan) */
    const tg_eval_plan *plan;
    const char *out_dir;
    char path[4200], pred_dir[4200];
    tg_cfg *cfg;
    tg_run_config c;            /* its typed form */
    tg_runlog rl;
    int first, last, warm, hor, n, L, in, chunk, nout;
    tg_dataset d;
    int have_data;
    tg_model m;
    tg_params *ps;
    tg_ctx *ctx;
    tg_real *x, *forc, *obs, *sim, *flux, *pet, *obs_b, *qfull;
    tg_basin *sl_norm, *sl_raw;
    tg_real *all_obs, *all_sim, *all_series; /* (B, n), (B, n), (B, nout, n): the NetCDF file */
    double *all_dyn;            /* (B, n, ndyn): daily parameters of hbv.dynamic, mean over components */
    int ndyn, dyn_par[TG_HBV_NPARAM_MAX], has_dyn;
    tg_metrics *met;
    double *extra;
    int has_fluxes, has_routing;
    long filled;                /* missing inputs set to the normalised mean */
} eval_run;

/* Log, period, data, model with the checkpoint's weights, output folder. */
static int eval_open(eval_run *e)
{
    /* one log per period: scoring the training period must not overwrite the test log
     * (and "train.log" is the training's own log) */
    char logname[64];
    tg_eval_log_name(logname, sizeof logname, e->period);
    const tg_eval_plan *p = e->plan;
    int rc = tg_run_config_from_cfg(e->cfg, &e->c);
    if (!rc)
        rc = tg_runlog_open(&e->rl, e->out_dir, logname);
    if (!rc && p->first != INT_MIN) {
        e->first = p->first;
        e->last = p->last;
    } else if (!rc)
        rc = tg_train_period(e->cfg, e->path, e->period, &e->first, &e->last);
    if (rc)
        return rc;
    e->ps = tg_params_create();
    e->ctx = tg_ctx_create();
    /* the run's normalisation (fit = 0) whatever basins are scored */
    /* applied: a file without a Q column loads as a Q never observed, which
     * tg_apply_check_observed then reports per basin like an all-missing one */
    rc = p->apply ? tg_dataset_load_apply(&e->d, e->cfg, e->run_dir, 0, &e->rl)
                  : tg_dataset_load(&e->d, e->cfg, e->run_dir, 0, &e->rl);
    e->have_data = 1;
    if (!rc)
        rc = tg_model_build(&e->m, e->cfg, &e->d, e->ps);
    snprintf(e->path, sizeof e->path, "%s/last.ckpt", e->run_dir);
    if (!rc)
        rc = tg_checkpoint_load(e->path, e->ps, NULL, NULL, NULL);
    e->warm = (int)e->c.training.warmup;
    e->hor = (int)e->c.training.horizon;
    e->n = e->last - e->first + 1;
    e->L = e->warm + e->n;
    e->in = e->d.F + e->d.S;
    if (!rc && p->apply) /* other basins or dates: the forcing must cover warm-up + period */
        rc = tg_apply_check_coverage(&e->d, e->cfg, e->first - e->warm, e->last, e->warm, p->predict_only);
    if (!rc && !p->predict_only)
        rc = tg_apply_check_observed(&e->d, e->cfg, e->first, e->last, e->period, &e->rl);
    if (!rc && p->apply && tg_dist_is_root())
        rc = tg_apply_attribute_report(e->run_dir, &e->d, e->out_dir, e->period, &e->rl);
    snprintf(e->pred_dir, sizeof e->pred_dir, "%s/predictions_%s", e->out_dir, e->period);
    if (!rc)
        rc = tg_mkdir_p(e->pred_dir);
    /* basins per forward pass: bound the LSTM's saved activations to ~200 MB */
    e->chunk = (int)(5e7 / ((double)e->L * (6.0 * e->m.hidden + 3.0 * e->in + 50.0)));
    if (e->chunk < 1) e->chunk = 1;
    if (e->chunk > e->d.B) e->chunk = e->d.B;
    if (e->chunk > MAX_CHUNK) e->chunk = MAX_CHUNK;
    const tg_model_kind_info *k = e->m.info;
    e->nout = tg_model_nout(&e->m); /* 17 for δHBV 1.1p: the capillary flux "cap" last */
    for (int q = 0; k && k->n_outputs > 1 && q < TG_HBV_NPARAM_MAX; q++)
        if (e->m.hbv.dynamic & (1u << q)) /* par_dyn's rows: ascending parameter order */
            e->dyn_par[e->ndyn++] = q;
    if (!rc && (k->n_params > TG_HBV_NPARAM || (k->n_outputs > 1 && k->n_outputs != TG_HBV_NOUT)))
        rc = tg_error_set(TG_EINVAL, "model.type %s: evaluation handles up to %d parameters and %d outputs", k->name,
                          TG_HBV_NPARAM, TG_HBV_NOUT);
    return rc;
}

static int eval_alloc(eval_run *e)
{
    const size_t L = (size_t)e->L, c = (size_t)e->chunk, n = (size_t)e->n, B = (size_t)e->d.B;
    e->x = malloc(L * c * (size_t)e->in * sizeof(tg_real));
    e->forc = malloc(L * c * 3 * sizeof(tg_real));
    e->obs = malloc(L * c * sizeof(tg_real));
    e->sim = malloc(n * sizeof(tg_real));
    e->flux = malloc(n * (size_t)e->nout * sizeof(tg_real));
    e->pet = malloc(n * sizeof(tg_real));
    e->obs_b = malloc(n * sizeof(tg_real));
    e->qfull = malloc(L * c * sizeof(tg_real));
    e->sl_norm = calloc(c, sizeof(tg_basin));
    e->sl_raw = calloc(c, sizeof(tg_basin));
    e->met = calloc(B, sizeof(tg_metrics));
    e->extra = calloc(B * NEXTRA, sizeof(double));
    e->all_obs = calloc(B * n, sizeof(tg_real));
    e->all_sim = calloc(B * n, sizeof(tg_real));
    if (e->nout > 1) /* zero: summed over the ranks */
        e->all_series = calloc(B * n * (size_t)e->nout, sizeof(tg_real));
    if (e->ndyn)
        e->all_dyn = calloc(B * n * (size_t)e->ndyn, sizeof(double));
    if (!e->x || !e->forc || !e->obs || !e->sim || !e->flux || !e->pet || !e->obs_b || !e->qfull || !e->sl_norm ||
        !e->sl_raw || !e->met || !e->all_obs || !e->all_sim || (e->nout > 1 && !e->all_series) || (e->ndyn && !e->all_dyn) ||
        !e->extra)
        return tg_error_set(TG_ENOMEM, "out of memory");
    return 0;
}

/* Inputs x, observed Q and forcing (P, T, PET) of basins b0..b0+nb-1 over warm-up + period. */
static int eval_chunk_inputs(eval_run *e, int b0, int nb)
{
    const int L = e->L;
    int zero_off[MAX_CHUNK] = {0}, idx[MAX_CHUNK], rc = 0;
    for (int k = 0; k < nb && !rc; k++) {
        idx[k] = k;
        rc = tg_basin_slice(&e->d.norm[b0 + k], e->first - e->warm, e->last, &e->sl_norm[k]);
        if (!rc)
            rc = tg_basin_slice(&e->d.raw[b0 + k], e->first - e->warm, e->last, &e->sl_raw[k]);
    }
    if (rc)
        return rc;
    /* statics of this chunk */
    tg_batch_gather(e->sl_norm, idx, zero_off, nb, L, e->d.vars, e->d.F,
                    e->d.statics ? e->d.statics + (size_t)b0 * e->d.S : NULL, e->d.S, e->x);
    for (size_t i = 0; i < (size_t)L * nb * e->in; i++)
        if (isnan((double)e->x[i])) { /* days outside a basin's record: the normalised mean */
            e->x[i] = 0;
            e->filled++;
        }
    int qv = TG_VAR_Q, fv[3] = {TG_VAR_P, TG_VAR_TEMP, TG_VAR_PET};
    tg_batch_gather(e->sl_raw, idx, zero_off, nb, L, &qv, 1, NULL, 0, e->obs);
    tg_batch_gather(e->sl_raw, idx, zero_off, nb, L, fv, 3, NULL, 0, e->forc);
    for (size_t i = 0; i < (size_t)L * nb * 3; i++)
        if (isnan((double)e->forc[i])) {
            e->forc[i] = 0;
            e->filled++;
        }
    return 0;
}

/* The model over the chunk: *qd (Lq, nb) streamflow; mo the process model's outputs. */
static int eval_chunk_forward(eval_run *e, int nb, tg_model_out *mo, const tg_real **qd, int *Lq)
{
    const int warm = e->warm, hor = e->hor, n = e->n, in = e->in;
    int rc = 0;
    if (!e->m.kind) {
        /* The LSTM is run as it was trained: windows of warm-up + horizon days, each
         * predicting its last `horizon` days from a fresh state, tiled over the period
         * (a 20-year run from one state drifts from what training saw). */
        *Lq = e->L;
        for (int t0 = 0; !rc && t0 < n; t0 += hor) {
            int len = n - t0 < hor ? n - t0 : hor;
            rc = tg_model_forward(&e->m, e->ctx, e->ps, e->x + (size_t)t0 * nb * in, e->forc + (size_t)t0 * nb * 3,
                                  warm + len, nb, 0, NULL, mo);
            if (!rc)
                memcpy(e->qfull + (size_t)(warm + t0) * nb, mo->q->data + (size_t)warm * nb,
                       (size_t)len * nb * sizeof(tg_real));
            tg_ctx_reset(e->ctx);
            tg_ctx_set_grad(e->ctx, 0);
        }
        memset(mo, 0, sizeof *mo);
        *qd = e->qfull;
        return rc;
    }
    rc = tg_model_forward(&e->m, e->ctx, e->ps, e->x, e->forc, e->L, nb, 0, NULL, mo);
    if (!rc) {
        *Lq = mo->q->shape[0];
        *qd = mo->q->data;
    }
    return rc;
}

/* Basin b (column k of the chunk): metrics, learned parameters, water balance, its
 * predictions CSV and the series for the NetCDF file. */
static int eval_basin(eval_run *e, int b, int k, int nb, const tg_model_out *mo, const tg_real *qd, int Lq)
{
    const int n = e->n, warm = e->warm, nout = e->nout;
    const tg_model_kind_info *kind = e->m.info;
    double *o = malloc((size_t)n * sizeof(double)), *s = malloc((size_t)n * sizeof(double));
    if (!o || !s) {
        free(o);
        free(s);
        return tg_error_set(TG_ENOMEM, "out of memory");
    }
    for (int t = 0; t < n; t++) {
        e->obs_b[t] = e->obs[(size_t)(warm + t) * nb + k];
        e->sim[t] = qd[(size_t)(Lq - n + t) * nb + k];
        o[t] = (double)e->obs[(size_t)(warm + t) * nb + k];
        s[t] = (double)e->sim[t];
        e->pet[t] = e->forc[((size_t)(warm + t) * nb + k) * 3 + 2];
        if (mo->fluxes)
            for (int j = 0; j < nout; j++)
                e->flux[(size_t)t * nout + j] = mo->fluxes->data[((size_t)(Lq - n + t) * nout + j) * nb + k];
    }
    tg_metrics_compute(o, s, n, &e->met[b]); /* NaN metrics for basins without data */
    free(o);
    free(s);
    if (mo->fluxes) {
        double *x = e->extra + (size_t)b * NEXTRA;
        x[TG_HBV_NPARAM + 2] = kind->water_balance ? water_balance_error(e->flux, n, nout) : (double)NAN;
        if (mo->par_static) { /* (NP, nb, M): mean over components */
            const int Mc = mo->par_static->shape[2];
            const int np = tg_hbv_nparam(&e->m.hbv); /* kind->n_params, + C with hbv.capillary */
            assert(mo->par_static->shape[0] == np);
            for (int p = 0; p < np && (p < kind->n_params || p == TG_HBV_C); p++) {
                double acc = 0;
                for (int c = 0; c < Mc; c++)
                    acc += (double)mo->par_static->data[((size_t)p * nb + k) * Mc + c];
                x[p == TG_HBV_C ? NEXTRA - 1 : p] = acc / Mc;
            }
        }
        if (mo->pcorr) /* (nb) */
            x[TG_HBV_NPARAM + 3] = (double)mo->pcorr->data[k];
        if (mo->sfcf) /* (nb) */
            x[TG_HBV_NPARAM + 4] = (double)mo->sfcf->data[k];
        if (mo->routing) /* (2, nb) */
            for (int j = 0; j < 2; j++)
                x[TG_HBV_NPARAM + j] = (double)mo->routing->data[(size_t)j * nb + k];
    }
    int rc = write_predictions(e->pred_dir, e->d.raw[b].id, e->first, n, e->obs_b, e->sim, kind,
                               mo->fluxes ? e->flux : NULL, e->pet, nout);
    /* the series for the NetCDF file: the CSV's columns */
    memcpy(e->all_obs + (size_t)b * n, e->obs_b, (size_t)n * sizeof(tg_real));
    memcpy(e->all_sim + (size_t)b * n, e->sim, (size_t)n * sizeof(tg_real));
    if (mo->fluxes && e->all_series) {
        tg_real *ser = e->all_series + (size_t)b * nout * n; /* row 0 PET, row k output k */
        memcpy(ser, e->pet, (size_t)n * sizeof(tg_real));
        for (int j = 1; j < nout; j++)
            for (int t = 0; t < n; t++)
                ser[(size_t)j * n + t] = e->flux[(size_t)t * nout + j];
    }
    const tg_tensor *pd = mo->par_dyn; /* (Lp, ndyn, nb, M): the period is its last n days */
    if (pd && e->all_dyn && pd->shape[1] == e->ndyn && pd->shape[0] >= n) {
        const int Lp = pd->shape[0], Mc = pd->shape[3];
        for (int t = 0; t < n; t++)
            for (int j = 0; j < e->ndyn; j++) {
                double acc = 0;
                for (int c = 0; c < Mc; c++)
                    acc += (double)pd->data[((((size_t)(Lp - n + t) * e->ndyn + j) * nb + k) * Mc + c)];
                e->all_dyn[((size_t)b * n + t) * e->ndyn + j] = acc / Mc;
            }
        e->has_dyn = 1;
    }
    return rc;
}

/* Every chunk of this rank's basins. */
static int eval_chunks(eval_run *e)
{
    int rc = 0;
    tg_ctx_set_grad(e->ctx, 0);
    const int rank = tg_dist_rank(), nranks = tg_dist_size();
    for (int b0 = 0, ci = 0; !rc && b0 < e->d.B; b0 += e->chunk, ci++) {
        if (ci % nranks != rank) /* chunks of basins are shared out over the ranks */
            continue;
        int nb = e->d.B - b0 < e->chunk ? e->d.B - b0 : e->chunk;
        if ((rc = eval_chunk_inputs(e, b0, nb)))
            break;
        tg_model_out mo;
        const tg_real *qd = NULL;
        int Lq = 0;
        if ((rc = eval_chunk_forward(e, nb, &mo, &qd, &Lq)))
            break;
        e->has_fluxes |= mo.fluxes != NULL;
        e->has_routing |= mo.routing != NULL;
        for (int k = 0; k < nb && !rc; k++)
            rc = eval_basin(e, b0 + k, k, nb, &mo, qd, Lq);
        for (int k = 0; k < nb; k++) {
            tg_basin_free(&e->sl_norm[k]);
            tg_basin_free(&e->sl_raw[k]);
        }
        tg_ctx_reset(e->ctx);
        tg_ctx_set_grad(e->ctx, 0);
    }
    return rc;
}

/* Every rank filled its own basins; the others are zero (metrics, series): summed over ranks. */
static int eval_gather_ranks(eval_run *e)
{
    const int rank = tg_dist_rank(), nranks = tg_dist_size(), n = e->n, B = e->d.B;
    if (nranks == 1)
        return 0;
    int rc = 0;
    double *mv = calloc((size_t)B * (TG_METRIC_COUNT + 1), sizeof(double));
    if (!mv)
        rc = tg_error_set(TG_ENOMEM, "out of memory");
    for (int b = 0; !rc && b < B; b++) {
        if ((b / e->chunk) % nranks != rank)
            continue;
        for (int k = 0; k < TG_METRIC_COUNT; k++)
            mv[(size_t)b * (TG_METRIC_COUNT + 1) + k] = tg_metric_get(&e->met[b], k);
        mv[(size_t)b * (TG_METRIC_COUNT + 1) + TG_METRIC_COUNT] = e->met[b].n;
    }
    if (!rc)
        rc = tg_dist_sum_double(mv, (size_t)B * (TG_METRIC_COUNT + 1));
    if (!rc)
        rc = tg_dist_sum_double(e->extra, (size_t)B * NEXTRA);
    if (!rc) {
        int flags[3] = {e->has_fluxes, e->has_routing, e->has_dyn};
        rc = tg_dist_max_int(flags, 3);
        e->has_fluxes = flags[0];
        e->has_routing = flags[1];
        e->has_dyn = flags[2];
    }
    /* series: zero for the basins of other ranks (NaN, a missing observation, stays NaN) */
    if (!rc)
        rc = tg_dist_sum_real(e->all_obs, (size_t)B * n);
    if (!rc)
        rc = tg_dist_sum_real(e->all_sim, (size_t)B * n);
    if (!rc && e->all_series)
        rc = tg_dist_sum_real(e->all_series, (size_t)B * n * (size_t)e->nout);
    if (!rc && e->all_dyn)
        rc = tg_dist_sum_double(e->all_dyn, (size_t)B * n * (size_t)e->ndyn);
    for (int b = 0; !rc && b < B; b++) {
        for (int k = 0; k < TG_METRIC_COUNT; k++)
            tg_metric_set(&e->met[b], k, mv[(size_t)b * (TG_METRIC_COUNT + 1) + k]);
        e->met[b].n = (int)mv[(size_t)b * (TG_METRIC_COUNT + 1) + TG_METRIC_COUNT];
    }
    free(mv);
    return rc;
}

/* metrics_<period>.csv, params_<period>.csv (process models), predictions_<period>.nc. */
static int eval_write(eval_run *e)
{
    if (!tg_dist_is_root())
        return 0;
    const int B = e->d.B;
    int rc = 0;
    double *wb = NULL;
    if (e->has_fluxes && !e->plan->predict_only && (wb = malloc((size_t)B * sizeof *wb)))
        for (int b = 0; b < B; b++)
            wb[b] = e->extra[(size_t)b * NEXTRA + TG_HBV_NPARAM + 2];
    if (!e->plan->predict_only) { /* no observations: no metrics */
        snprintf(e->path, sizeof e->path, "%s/metrics_%s.csv", e->out_dir, e->period);
        rc = write_metrics(e->path, &e->d, e->met, wb);
    }
    if (!rc && e->has_fluxes) {
        snprintf(e->path, sizeof e->path, "%s/params_%s.csv", e->out_dir, e->period);
        rc = write_params(e->path, &e->d, e->m.info, e->extra, e->has_routing, NEXTRA, e->m.hbv.capillary,
                          e->c.model.precip_correction, e->c.model.snow_correction);
    }
    if (!rc) {
        char cfg_path[4200];
        snprintf(e->path, sizeof e->path, "%s/predictions_%s.nc", e->out_dir, e->period);
        snprintf(cfg_path, sizeof cfg_path, "%s/config.yaml", e->run_dir);
        tg_results_nc r = {.path = e->path, .config_path = cfg_path, .period = e->period, .kind = e->m.info,
                           .d = &e->d, .B = B, .n = e->n, .first_day = e->first, .q_obs = e->all_obs,
                           .q_sim = e->all_sim, .series = e->has_fluxes ? e->all_series : NULL, .nout = e->nout,
                           .extra = e->has_fluxes ? e->extra : NULL, .extra_stride = NEXTRA,
                           .routing = e->has_routing, .capillary = e->m.hbv.capillary,
                           .pcorr = e->c.model.precip_correction, .sfcf = e->c.model.snow_correction, .met = e->plan->predict_only ? NULL : e->met,
                           .wb = wb, .dyn = e->has_dyn ? e->all_dyn : NULL, .ndyn = e->ndyn, .dyn_par = e->dyn_par};
        rc = tg_results_netcdf_write(&r);
    }
    free(wb);
    return rc;
}

/* Median and mean of every metric (and the water balance) into the log. */
static int eval_summary(eval_run *e)
{
    tg_metrics med, mean;
    int cnt[TG_METRIC_COUNT];
    const int B = e->d.B;
    if (e->plan->predict_only) {
        char d0[16], d1[16];
        tg_runlog_printf(&e->rl, "predicted %d basins over %s..%s (no metrics); wrote %s/predictions_%s/\n", B,
                         tg_date_format(e->first, d0), tg_date_format(e->last, d1), e->out_dir, e->period);
        return 0;
    }
    int rc = tg_metrics_summary(e->met, B, 30, &med, &mean, cnt);
    char date0[16], date1[16];
    tg_runlog_printf(&e->rl, "%s period %s..%s, %d basins (%d with >= 30 observed days)\n", e->period,
                     tg_date_format(e->first, date0), tg_date_format(e->last, date1), B, med.n);
    tg_runlog_printf(&e->rl, "%-12s %10s %10s\n", "metric", "median", "mean");
    for (int k = 0; k < TG_METRIC_COUNT; k++)
        tg_runlog_printf(&e->rl, "%-12s %10.4f %10.4f\n", tg_metric_names[k], tg_metric_get(&med, k),
                         tg_metric_get(&mean, k));
    if (e->has_fluxes) {
        double worst = 0, sum_abs = 0;
        int cnt_wb = 0;
        for (int b = 0; b < B; b++) {
            double x = fabs(e->extra[(size_t)b * NEXTRA + TG_HBV_NPARAM + 2]);
            if (isfinite(x)) {
                worst = x > worst ? x : worst;
                sum_abs += x;
                cnt_wb++;
            }
        }
        tg_runlog_printf(&e->rl, "water balance (process model, relative to inputs): mean |error| %.2e, max %.2e\n",
                         cnt_wb ? sum_abs / cnt_wb : 0.0, worst);
    }
    tg_runlog_printf(&e->rl, "wrote %s/metrics_%s.csv, predictions_%s/ and predictions_%s.nc\n", e->out_dir,
                     e->period, e->period, e->period);
    return rc;
}

static void eval_free(eval_run *e)
{
    free(e->x); free(e->forc); free(e->obs); free(e->sim); free(e->flux); free(e->pet); free(e->obs_b);
    free(e->qfull); free(e->sl_norm); free(e->sl_raw); free(e->met); free(e->extra);
    free(e->all_obs); free(e->all_sim); free(e->all_series); free(e->all_dyn);
    tg_model_free(&e->m);
    tg_ctx_free(&e->ctx);
    tg_params_free(&e->ps);
    if (e->have_data)
        tg_dataset_free(&e->d);
    tg_runlog_close(&e->rl);
    tg_run_config_free(&e->c);
    tg_cfg_free(&e->cfg);
}

void tg_eval_log_name(char *buf, size_t size, const char *period)
{
    snprintf(buf, size, strcmp(period, "test") ? "eval_%s.log" : "test.log", period);
}

int tg_evaluate(const char *run_dir, const char *period)
{
    const int members = tg_run_ensemble_seeds(run_dir, NULL, 0);
    if (members != 0) /* a seed ensemble (or a config that does not load: its error) */
        return members > 0 ? tg_evaluate_ensemble(run_dir, period) : -members;
    char path[4200];
    tg_cfg *cfg = tg_train_load_run_config(run_dir, path, sizeof path);
    if (!cfg)
        return tg_error_code();
    tg_eval_plan p = {.label = period, .first = INT_MIN, .last = INT_MIN, .out_dir = run_dir};
    return tg_evaluate_plan(run_dir, cfg, path, &p);
}

int tg_evaluate_plan(const char *run_dir, tg_cfg *cfg, const char *cfg_path, const tg_eval_plan *p)
{
    eval_run *e = calloc(1, sizeof *e);
    if (!e) {
        tg_cfg_free(&cfg);
        return tg_error_set(TG_ENOMEM, "out of memory");
    }
    e->run_dir = run_dir;
    e->period = p->label;
    e->plan = p;
    e->out_dir = p->out_dir ? p->out_dir : run_dir;
    e->cfg = cfg;
    snprintf(e->path, sizeof e->path, "%s", cfg_path);
    int rc = tg_dist_is_root() && strcmp(e->out_dir, run_dir) ? tg_mkdir_p(e->out_dir) : 0;
    tg_dist_max_int(&rc, 1); /* the folder exists before any rank opens its log */
    if (!rc)
        rc = eval_open(e);
    if (!rc)
        rc = eval_alloc(e);
    if (!rc)
        rc = eval_chunks(e);
    tg_dist_max_int(&rc, 1);
    if (!rc)
        rc = eval_gather_ranks(e);
    if (!rc && e->filled)
        tg_runlog_printf(&e->rl, "note: %ld missing input values (outside the basins' records) set to the mean\n",
                         e->filled);
    if (!rc)
        rc = eval_write(e);
    if (!rc)
        rc = eval_summary(e);
    else
        tg_runlog_file(&e->rl, "error: %s\n", tg_error_message());
    /* the kind's own step after test writes into the run folder: not for applied runs */
    if (!rc && tg_dist_is_root() && e->m.kind && e->m.kind->after_test && !p->apply &&
        !strcmp(e->out_dir, run_dir)) {
        rc = e->m.kind->after_test(run_dir, e->period);
        if (rc)
            tg_runlog_file(&e->rl, "error: %s\n", tg_error_message());
    }
    eval_free(e);
    free(e);
    return rc;
}
