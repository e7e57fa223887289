/* evaluate.c — `terragrad test RUN_DIR`: run the trained model over a whole period per
 * basin (with a spin-up before it), score it, and write metrics and predictions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train_internal.h"

/* Writes one basin's predictions CSV (temp file + rename). */
static int write_predictions(const char *dir, const char *id, int first_day, int n, const tg_real *obs,
                             const tg_real *sim, const tg_real *fluxes /* (n, nout) or NULL */, const tg_real *pet,
                             int nout /* 16, or 17 with the 1.1p "cap" */)
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
            fprintf(f, ",%s", tg_hbv_output_names[k]);
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
static int write_params(const char *path, const tg_dataset *d, const double *par /* (B, stride) */, int routing,
                        int stride, int cap /* the 1.1p C, at column stride - 1 */)
{
    char tmp[4300];
    FILE *f;
    int rc = tg_io_begin(path, tmp, sizeof tmp, &f);
    if (rc)
        return rc;
    fprintf(f, "basin");
    for (int p = 0; p < TG_HBV_NPARAM + (cap ? 1 : 0); p++)
        fprintf(f, ",%s", tg_hbv_param_names[p]);
    fprintf(f, routing ? ",route_a,route_theta\n" : "\n");
    for (int b = 0; b < d->B; b++) {
        fprintf(f, "%s", d->raw[b].id);
        for (int p = 0; p < TG_HBV_NPARAM; p++)
            fprintf(f, "," TG_REAL_FMT_CSV, par[(size_t)b * stride + p]);
        if (cap)
            fprintf(f, "," TG_REAL_FMT_CSV, par[(size_t)b * stride + stride - 1]);
        for (int p = TG_HBV_NPARAM; p < TG_HBV_NPARAM + (routing ? 2 : 0); p++)
            fprintf(f, "," TG_REAL_FMT_CSV, par[(size_t)b * stride + p]);
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
            fprintf(f, "," TG_REAL_FMT_CSV, tg_metric_get(&m[b], k));
        fprintf(f, ",%d", m[b].n);
        if (wb)
            fprintf(f, "," TG_REAL_FMT_CSV, wb[b]);
        fputc('\n', f);
    }
    return tg_io_commit(f, tmp, path);
}

int tg_evaluate(const char *run_dir, const char *period)
{
    char path[4200];
    tg_cfg *cfg = tg_train_load_run_config(run_dir, path, sizeof path);
    if (!cfg)
        return tg_error_code();
    tg_runlog rl = {0};
    /* one log per period: scoring the training period must not overwrite the test log
     * (and "train.log" is the training's own log) */
    char logname[64];
    snprintf(logname, sizeof logname, strcmp(period, "test") ? "eval_%s.log" : "test.log", period);
    int first, last, rc = tg_runlog_open(&rl, run_dir, logname);
    if (!rc)
        rc = tg_train_period(cfg, path, period, &first, &last);
    if (rc) {
        tg_cfg_free(&cfg);
        tg_runlog_close(&rl);
        return rc;
    }
    tg_dataset d;
    tg_model m = {0};
    tg_params *ps = tg_params_create();
    tg_ctx *ctx = tg_ctx_create();
    tg_metrics *met = NULL;
    rc = tg_dataset_load(&d, cfg, run_dir, 0, &rl);
    if (!rc)
        rc = tg_model_build(&m, cfg, &d, ps);
    snprintf(path, sizeof path, "%s/last.ckpt", run_dir);
    if (!rc)
        rc = tg_checkpoint_load(path, ps, NULL, NULL, NULL);
    const int warm = (int)tg_cfg_int(cfg, "training.warmup"), hor = (int)tg_cfg_int(cfg, "training.horizon");
    const int n = last - first + 1, L = warm + n, in = d.F + d.S;
    char pred_dir[4200];
    snprintf(pred_dir, sizeof pred_dir, "%s/predictions_%s", run_dir, period);
    if (!rc)
        rc = tg_mkdir_p(pred_dir);
    /* basins per forward pass: bound the LSTM's saved activations to ~200 MB */
    int chunk = (int)(5e7 / ((double)L * (6.0 * m.hidden + 3.0 * in + 50.0)));
    if (chunk < 1) chunk = 1;
    if (chunk > d.B) chunk = d.B;
    if (chunk > 1024) chunk = 1024;
    tg_real *x = NULL, *forc = NULL, *obs = NULL, *sim = NULL, *flux = NULL, *pet = NULL, *obs_b = NULL, *qfull = NULL;
    tg_basin *sl_norm = NULL, *sl_raw = NULL;
    tg_basin *sims = NULL;
    /* per basin: learned static parameters (13), routing a and theta, water-balance error,
     * the 1.1p C (0 without capillary rise) */
    enum { NEXTRA = TG_HBV_NPARAM + 4 };
    const int nout = tg_hbv_nout(&m.hbv);
    double *extra = NULL;
    int has_fluxes = 0, has_routing = 0;
    if (!rc) {
        x = malloc((size_t)L * chunk * in * sizeof(tg_real));
        forc = malloc((size_t)L * chunk * 3 * sizeof(tg_real));
        obs = malloc((size_t)L * chunk * sizeof(tg_real));
        sim = malloc((size_t)n * sizeof(tg_real));
        flux = malloc((size_t)n * TG_HBV_NOUT_MAX * sizeof(tg_real));
        pet = malloc((size_t)n * sizeof(tg_real));
        obs_b = malloc((size_t)n * sizeof(tg_real));
        qfull = malloc((size_t)L * chunk * sizeof(tg_real));
        sl_norm = calloc((size_t)chunk, sizeof(tg_basin));
        sl_raw = calloc((size_t)chunk, sizeof(tg_basin));
        met = calloc((size_t)d.B, sizeof(tg_metrics));
        extra = calloc((size_t)d.B * NEXTRA, sizeof(double));
        sims = calloc((size_t)d.B, sizeof(tg_basin));
        if (!x || !forc || !obs || !sim || !flux || !pet || !obs_b || !qfull || !sl_norm || !sl_raw || !met || !sims || !extra)
            rc = tg_error_set(TG_ENOMEM, "out of memory");
    }
    tg_ctx_set_grad(ctx, 0);
    long filled = 0;
    const int rank = tg_dist_rank(), nranks = tg_dist_size();
    for (int b0 = 0, ci = 0; !rc && b0 < d.B; b0 += chunk, ci++) {
        if (ci % nranks != rank) /* chunks of basins are shared out over the ranks */
            continue;
        int nb = d.B - b0 < chunk ? d.B - b0 : chunk;
        int zero_off[1024] = {0}, idx[1024];
        for (int k = 0; k < nb && !rc; k++) {
            idx[k] = k;
            rc = tg_basin_slice(&d.norm[b0 + k], first - warm, last, &sl_norm[k]);
            if (!rc)
                rc = tg_basin_slice(&d.raw[b0 + k], first - warm, last, &sl_raw[k]);
        }
        if (rc)
            break;
        /* statics of this chunk */
        tg_batch_gather(sl_norm, idx, zero_off, nb, L, d.vars, d.F, d.statics ? d.statics + (size_t)b0 * d.S : NULL,
                        d.S, x);
        for (size_t i = 0; i < (size_t)L * nb * in; i++)
            if (isnan((double)x[i])) { /* days outside a basin's record: the normalised mean */
                x[i] = 0;
                filled++;
            }
        int qv = TG_VAR_Q, fv[3] = {TG_VAR_P, TG_VAR_TEMP, TG_VAR_PET};
        tg_batch_gather(sl_raw, idx, zero_off, nb, L, &qv, 1, NULL, 0, obs);
        tg_batch_gather(sl_raw, idx, zero_off, nb, L, fv, 3, NULL, 0, forc);
        for (size_t i = 0; i < (size_t)L * nb * 3; i++)
            if (isnan((double)forc[i])) {
                forc[i] = 0;
                filled++;
            }
        tg_model_out mo;
        const tg_real *qd;
        int Lq;
        if (!m.kind) {
            /* The LSTM is run as it was trained: windows of warm-up + horizon days, each
             * predicting its last `horizon` days from a fresh state, tiled over the period
             * (a 20-year run from one state drifts from what training saw). */
            Lq = L;
            for (int t0 = 0; !rc && t0 < n; t0 += hor) {
                int len = n - t0 < hor ? n - t0 : hor;
                rc = tg_model_forward(&m, ctx, ps, x + (size_t)t0 * nb * in, forc + (size_t)t0 * nb * 3, warm + len, nb, 0,
                                      NULL, &mo);
                if (!rc)
                    memcpy(qfull + (size_t)(warm + t0) * nb, mo.q->data + (size_t)warm * nb,
                           (size_t)len * nb * sizeof(tg_real));
                tg_ctx_reset(ctx);
                tg_ctx_set_grad(ctx, 0);
            }
            memset(&mo, 0, sizeof mo);
            qd = qfull;
        } else {
            rc = tg_model_forward(&m, ctx, ps, x, forc, L, nb, 0, NULL, &mo);
            if (!rc) {
                Lq = mo.q->shape[0];
                qd = mo.q->data;
            }
        }
        if (rc)
            break;
        has_fluxes |= mo.fluxes != NULL;
        has_routing |= mo.routing != NULL;
        for (int k = 0; k < nb && !rc; k++) {
            int b = b0 + k;
            double *o = malloc((size_t)n * sizeof(double)), *s = malloc((size_t)n * sizeof(double));
            if (!o || !s) {
                free(o);
                free(s);
                rc = tg_error_set(TG_ENOMEM, "out of memory");
                break;
            }
            for (int t = 0; t < n; t++) {
                obs_b[t] = obs[(size_t)(warm + t) * nb + k];
                sim[t] = qd[(size_t)(Lq - n + t) * nb + k];
                o[t] = (double)obs[(size_t)(warm + t) * nb + k];
                s[t] = (double)sim[t];
                pet[t] = forc[((size_t)(warm + t) * nb + k) * 3 + 2];
                if (mo.fluxes)
                    for (int j = 0; j < nout; j++)
                        flux[(size_t)t * (size_t)nout + (size_t)j] =
                            mo.fluxes->data[((size_t)(Lq - n + t) * (size_t)nout + (size_t)j) * nb + k];
            }
            tg_metrics_compute(o, s, n, &met[b]); /* NaN metrics for basins without data */
            if (mo.fluxes) {
                double *e = extra + (size_t)b * NEXTRA;
                e[TG_HBV_NPARAM + 2] = water_balance_error(flux, n, nout);
                if (mo.par_static) { /* (NP, nb, M): mean over components */
                    const int Mc = mo.par_static->shape[2];
                    for (int p = 0; p < mo.par_static->shape[0]; p++) {
                        double acc = 0;
                        for (int c = 0; c < Mc; c++)
                            acc += (double)mo.par_static->data[((size_t)p * nb + k) * Mc + c];
                        e[p == TG_HBV_C ? NEXTRA - 1 : p] = acc / Mc;
                    }
                }
                if (mo.routing) /* (2, nb) */
                    for (int j = 0; j < 2; j++)
                        e[TG_HBV_NPARAM + j] = (double)mo.routing->data[(size_t)j * nb + k];
            }
            free(o);
            free(s);
            rc = write_predictions(pred_dir, d.raw[b].id, first, n, obs_b, sim,
                                   mo.fluxes ? flux : NULL, pet, nout);
            /* the simulated series for the NetCDF file */
            if (!rc && !(rc = tg_basin_init(&sims[b], d.raw[b].id, first, n))) {
                tg_real *qv2 = tg_basin_add_var(&sims[b], TG_VAR_Q);
                if (!qv2)
                    rc = TG_ENOMEM;
                else
                    memcpy(qv2, sim, (size_t)n * sizeof(tg_real));
                sims[b].lat = d.raw[b].lat;
                sims[b].lon = d.raw[b].lon;
                sims[b].area_km2 = d.raw[b].area_km2;
            }
        }
        for (int k = 0; k < nb; k++) {
            tg_basin_free(&sl_norm[k]);
            tg_basin_free(&sl_raw[k]);
        }
        tg_ctx_reset(ctx);
        tg_ctx_set_grad(ctx, 0);
    }
    /* gather: every rank filled its own basins; the others are zero (metrics, series) */
    tg_dist_max_int(&rc, 1);
    if (!rc && nranks > 1) {
        double *mv = calloc((size_t)d.B * (TG_METRIC_COUNT + 1), sizeof(double));
        tg_real *qs = calloc((size_t)d.B * n, sizeof(tg_real));
        if (!mv || !qs)
            rc = tg_error_set(TG_ENOMEM, "out of memory");
        for (int b = 0; !rc && b < d.B; b++) {
            if ((b / chunk) % nranks != rank)
                continue;
            for (int k = 0; k < TG_METRIC_COUNT; k++)
                mv[(size_t)b * (TG_METRIC_COUNT + 1) + k] = tg_metric_get(&met[b], k);
            mv[(size_t)b * (TG_METRIC_COUNT + 1) + TG_METRIC_COUNT] = met[b].n;
            memcpy(qs + (size_t)b * n, sims[b].var[TG_VAR_Q], (size_t)n * sizeof(tg_real));
        }
        if (!rc)
            rc = tg_dist_sum_double(mv, (size_t)d.B * (TG_METRIC_COUNT + 1));
        if (!rc)
            rc = tg_dist_sum_double(extra, (size_t)d.B * NEXTRA);
        if (!rc) {
            int flags[2] = {has_fluxes, has_routing};
            rc = tg_dist_max_int(flags, 2);
            has_fluxes = flags[0];
            has_routing = flags[1];
        }
        if (!rc)
            rc = tg_dist_sum_real(qs, (size_t)d.B * n);
        for (int b = 0; !rc && b < d.B; b++) {
            for (int k = 0; k < TG_METRIC_COUNT; k++)
                tg_metric_set(&met[b], k, mv[(size_t)b * (TG_METRIC_COUNT + 1) + k]);
            met[b].n = (int)mv[(size_t)b * (TG_METRIC_COUNT + 1) + TG_METRIC_COUNT];
            if (!sims[b].var[TG_VAR_Q]) {
                if ((rc = tg_basin_init(&sims[b], d.raw[b].id, first, n)))
                    break;
                if (!tg_basin_add_var(&sims[b], TG_VAR_Q)) {
                    rc = TG_ENOMEM;
                    break;
                }
            }
            memcpy(sims[b].var[TG_VAR_Q], qs + (size_t)b * n, (size_t)n * sizeof(tg_real));
        }
        free(mv);
        free(qs);
    }
    if (!rc && filled)
        tg_runlog_printf(&rl, "note: %ld missing input values (outside the basins' records) set to the mean\n", filled);
    if (!rc && tg_dist_is_root()) {
        snprintf(path, sizeof path, "%s/metrics_%s.csv", run_dir, period);
        double *wb = NULL;
        if (has_fluxes && (wb = malloc((size_t)d.B * sizeof *wb)))
            for (int b = 0; b < d.B; b++)
                wb[b] = extra[(size_t)b * NEXTRA + TG_HBV_NPARAM + 2];
        rc = write_metrics(path, &d, met, wb);
        free(wb);
        if (!rc && has_fluxes) {
            snprintf(path, sizeof path, "%s/params_%s.csv", run_dir, period);
            rc = write_params(path, &d, extra, has_routing, NEXTRA, m.hbv.capillary);
        }
    }
    if (!rc && tg_dist_is_root()) {
        snprintf(path, sizeof path, "%s/predictions_%s.nc", run_dir, period);
        rc = tg_netcdf_write(path, sims, d.B);
    }
    if (!rc) {
        tg_metrics med, mean;
        int cnt[TG_METRIC_COUNT];
        rc = tg_metrics_summary(met, d.B, 30, &med, &mean, cnt);
        char date0[16], date1[16];
        tg_runlog_printf(&rl, "%s period %s..%s, %d basins (%d with >= 30 observed days)\n", period,
                         tg_date_format(first, date0), tg_date_format(last, date1), d.B, med.n);
        tg_runlog_printf(&rl, "%-12s %10s %10s\n", "metric", "median", "mean");
        for (int k = 0; k < TG_METRIC_COUNT; k++)
            tg_runlog_printf(&rl, "%-12s %10.4f %10.4f\n", tg_metric_names[k], tg_metric_get(&med, k),
                             tg_metric_get(&mean, k));
        if (has_fluxes) {
            double worst = 0, sum_abs = 0;
            int cnt_wb = 0;
            for (int b = 0; b < d.B; b++) {
                double e = fabs(extra[(size_t)b * NEXTRA + TG_HBV_NPARAM + 2]);
                if (isfinite(e)) {
                    worst = e > worst ? e : worst;
                    sum_abs += e;
                    cnt_wb++;
                }
            }
            tg_runlog_printf(&rl, "water balance (process model, relative to inputs): mean |error| %.2e, max %.2e\n",
                             cnt_wb ? sum_abs / cnt_wb : 0.0, worst);
        }
        tg_runlog_printf(&rl, "wrote %s/metrics_%s.csv, predictions_%s/ and predictions_%s.nc\n", run_dir, period,
                         period, period);
    } else
        tg_runlog_file(&rl, "error: %s\n", tg_error_message());
    if (!rc && tg_dist_is_root() && m.kind && m.kind->after_test) {
        rc = m.kind->after_test(run_dir, period);
        if (rc)
            tg_runlog_file(&rl, "error: %s\n", tg_error_message());
    }
    free(x); free(forc); free(obs); free(sim); free(flux); free(pet); free(obs_b); free(qfull);
    free(sl_norm); free(sl_raw); free(met); free(extra);
    if (sims) {
        for (int b = 0; b < d.B; b++)
            tg_basin_free(&sims[b]);
        free(sims);
    }
    tg_model_free(&m);
    tg_ctx_free(&ctx);
    tg_params_free(&ps);
    tg_dataset_free(&d);
    tg_runlog_close(&rl);
    tg_cfg_free(&cfg);
    return rc;
}
