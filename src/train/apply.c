/* apply.c — a trained run applied elsewhere (tg_evaluate_with): other basins (a data folder,
 * a basin list), explicit dates, another output folder, prediction without observed
 * streamflow; the forcing must cover warm-up + period, and the static attributes of the
 * applied basins are compared with the training basins' range. The run's normalisation is
 * loaded, never refitted (evaluate.c: tg_dataset_load_apply has fit = 0). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "train_internal.h"

/* The file a basin's series were read from, as well as it can be named (for messages). */
static void basin_file(const tg_cfg *cfg, const char *id, char *out, size_t size)
{
    const char *src = tg_cfg_str(cfg, "data.source"), *path = tg_cfg_str(cfg, "data.path");
    struct stat st;
    if (src && path && (!strcmp(src, "caravan") || !strcmp(src, "caravan_derived") || !strcmp(src, "csv"))) {
        snprintf(out, size, "%s/timeseries/%s.csv", path, id);
        if (stat(out, &st) == 0)
            return;
        snprintf(out, size, "%s/%s.csv", path, id);
        if (stat(out, &st) == 0)
            return;
    }
    snprintf(out, size, "%s (basin %s)", path ? path : "data.path", id);
}

/* Prediction without observations: no input the model reads may be missing over
 * warm-up + period (filling it with the training mean would be a silent guess). */
static int check_inputs_present(const tg_dataset *d, const tg_cfg *cfg, int first, int last)
{
    for (int b = 0; b < d->B; b++) {
        const tg_basin *r = &d->raw[b];
        int vars[2 * TG_MAX_INPUTS], nv = 0;
        for (int f = 0; f < d->F; f++)
            vars[nv++] = d->vars[f];
        for (int f = 0; f < d->n_forcing; f++)
            vars[nv++] = d->forcing_vars[f];
        for (int k = 0; k < nv; k++) {
            const tg_real *x = r->var[vars[k]];
            for (int day = first; x && day <= last; day++)
                if (isnan((double)x[day - r->start])) {
                    char file[4400], ds[16];
                    basin_file(cfg, r->id, file, sizeof file);
                    return tg_error_set(TG_EINVAL, "%s: field '%s': missing on %s (prediction needs every input "
                                                   "over the warm-up and the period)",
                                        file, tg_var_name(vars[k]), tg_date_format(day, ds));
                }
        }
    }
    return 0;
}

int tg_apply_check_coverage(const tg_dataset *d, const tg_cfg *cfg, int first, int last, int warm, int predict_only)
{
    for (int b = 0; b < d->B; b++) {
        const tg_basin *r = &d->raw[b];
        int r0 = r->start, r1 = r->start + r->T - 1;
        if (r->T > 0 && r0 <= first && r1 >= last)
            continue;
        char file[4400], a[16], z[16], p0[16], p1[16], w0[16];
        basin_file(cfg, r->id, file, sizeof file);
        if (r->T == 0)
            return tg_error_set(TG_EINVAL, "%s: no days of data", file);
        return tg_error_set(TG_EINVAL,
                            "%s: the forcing covers %s..%s, but the period %s..%s with its %d-day warm-up "
                            "(training.warmup) needs %s..%s",
                            file, tg_date_format(r0, a), tg_date_format(r1, z), tg_date_format(first + warm, p0),
                            tg_date_format(last, p1), warm, tg_date_format(first, w0), tg_date_format(last, p1));
    }
    return predict_only ? check_inputs_present(d, cfg, first, last) : 0;
}

/* Days of basin r with an observed Q in first..last (a file without a Q column: none). */
static int observed_days(const tg_basin *r, int first, int last)
{
    const tg_real *q = r->var[TG_VAR_Q];
    int n = 0;
    for (int day = first; q && day <= last; day++)
        n += day >= r->start && day < r->start + r->T && !isnan((double)q[day - r->start]);
    return n;
}

int tg_apply_check_observed(const tg_dataset *d, const tg_cfg *cfg, int first, int last, const char *label,
                            tg_runlog *rl)
{
    char d0[16], d1[16], file[4400], msg[4800];
    int with_q = 0;
    tg_date_format(first, d0);
    tg_date_format(last, d1);
    for (int b = 0; b < d->B; b++)
        with_q += observed_days(&d->raw[b], first, last) > 0;
    if (d->B > 0 && with_q == 0) {
        const char *path = tg_cfg_str(cfg, "data.path");
        return tg_error_set(TG_EINVAL,
                            "%s: none of the %d basins has observed streamflow (Q) in the %s period %s..%s: nothing "
                            "to score; `terragrad predict RUN --data DIR --start DATE --end DATE --out DIR` is the "
                            "command for basins without observations",
                            path ? path : "data.path", d->B, label, d0, d1);
    }
    for (int b = 0; b < d->B && tg_dist_is_root(); b++) {
        if (observed_days(&d->raw[b], first, last) > 0)
            continue;
        basin_file(cfg, d->raw[b].id, file, sizeof file);
        snprintf(msg, sizeof msg,
                 "warning: %s: basin %s has no observed streamflow (Q) in the %s period %s..%s: its metrics are "
                 "NaN; `terragrad predict` is the command for basins without observations\n",
                 file, d->raw[b].id, label, d0, d1);
        tg_log_message(TG_LOG_WARN, "%s", msg); /* stderr of the command line, not stdout's report */
        tg_runlog_file(rl, "%s", msg);
    }
    return 0;
}

int tg_apply_attribute_report(const char *run_dir, const tg_dataset *d, const char *out_dir, const char *label,
                              tg_runlog *rl)
{
    char path[4400], tmp[4500];
    tg_cfg *run_cfg = tg_train_load_run_config(run_dir, path, sizeof path);
    if (!run_cfg)
        return tg_error_code();
    tg_dataset tr;
    int rc = tg_dataset_load_statics(&tr, run_cfg);
    tg_cfg_free(&run_cfg);
    if (rc) { /* the report is a diagnostic: without the training attributes, say so and go on */
        tg_runlog_printf(rl, "warning: the training basins' attributes cannot be read (%s): attribute range not "
                             "checked\n", tg_error_message());
        tg_dataset_free(&tr);
        return 0;
    }
    const int S = d->S;
    double *lo = malloc((size_t)(S > 0 ? S : 1) * sizeof(double)), *hi = malloc((size_t)(S > 0 ? S : 1) * sizeof(double));
    int *col = malloc((size_t)(S > 0 ? S : 1) * sizeof(int));
    if (!lo || !hi || !col)
        rc = tg_error_set(TG_ENOMEM, "out of memory");
    for (int s = 0; !rc && s < S; s++) { /* training range per attribute, matched by name */
        col[s] = -1;
        for (int j = 0; j < tr.S; j++)
            if (!strcmp(tr.static_names[j], d->static_names[s]))
                col[s] = j;
        lo[s] = INFINITY;
        hi[s] = -INFINITY;
        for (int b = 0; col[s] >= 0 && b < tr.B; b++) {
            double v = (double)tr.statics_raw[(size_t)b * tr.S + col[s]];
            if (!isnan(v)) {
                lo[s] = v < lo[s] ? v : lo[s];
                hi[s] = v > hi[s] ? v : hi[s];
            }
        }
    }
    snprintf(path, sizeof path, "%s/attributes_range_%s.csv", out_dir, label);
    FILE *f = NULL;
    if (!rc)
        rc = tg_io_begin(path, tmp, sizeof tmp, &f);
    int n_basins_out = 0;
    if (!rc)
        fprintf(f, "basin,n_outside,n_missing,outside\n");
    for (int b = 0; !rc && b < d->B; b++) {
        int n_out = 0, n_miss = 0;
        char list[2048] = "";
        size_t used = 0;
        for (int s = 0; s < S; s++) {
            double v = (double)d->statics_raw[(size_t)b * S + s];
            if (isnan(v)) {
                n_miss++;
                continue;
            }
            if (col[s] >= 0 && v >= lo[s] && v <= hi[s])
                continue;
            n_out++;
            /* name=value[training min..max], space-separated: one CSV field, easy to split */
            int w = col[s] < 0 ? snprintf(list + used, sizeof list - used, "%s%s=%.6g[not-in-training]",
                                          used ? " " : "", d->static_names[s], v)
                               : snprintf(list + used, sizeof list - used, "%s%s=%.6g[%.6g..%.6g]",
                                          used ? " " : "", d->static_names[s], v, lo[s], hi[s]);
            if (w > 0 && (size_t)w < sizeof list - used)
                used += (size_t)w;
        }
        fprintf(f, "%s,%d,%d,%s\n", d->raw[b].id, n_out, n_miss, list);
        if (n_out) {
            n_basins_out++;
            tg_runlog_printf(rl, "basin %s: %d static attribute%s outside the training basins' range [min..max]: %s\n",
                             d->raw[b].id, n_out, n_out > 1 ? "s" : "", list);
        }
    }
    if (!rc)
        rc = tg_io_commit(f, tmp, path);
    if (!rc)
        tg_runlog_printf(rl, "attributes: %d of %d basins have static attributes outside the range of the %d "
                             "training basins (%s)\n",
                         n_basins_out, d->B, tr.B, path);
    free(lo);
    free(hi);
    free(col);
    tg_dataset_free(&tr);
    return rc;
}

/* "data.basins=[a, b, ...]" for the basins to score (the data folder's or the list's). */
static int basins_set(const tg_cfg *cfg, const tg_evaluate_options *o, char **out)
{
    tg_basin_list ids = {0};
    int rc;
    if (o->basins_file)
        rc = tg_basin_list_read(o->basins_file, &ids);
    else {
        tg_run_config c;
        if ((rc = tg_run_config_from_cfg(cfg, &c)))
            return rc;
        tg_run_config c2 = c; /* the run's source, everything in the new folder */
        c2.data.path = o->data_dir;
        c2.data.basins.n = 0;
        c2.data.basin_file = NULL;
        c2.data.n_basins = 0;
        rc = tg_dataset_basin_ids(&c2, &ids);
        tg_run_config_free(&c);
    }
    if (!rc && ids.n == 0)
        rc = tg_error_set(TG_EINVAL, "%s: no basins", o->basins_file ? o->basins_file : o->data_dir);
    size_t len = 32;
    for (int i = 0; !rc && i < ids.n; i++) {
        if (strpbrk(ids.id[i], ",[]'\""))
            rc = tg_error_set(TG_EINVAL, "%s: basin id '%s' holds a character ids cannot have (,[]'\")",
                              o->basins_file ? o->basins_file : o->data_dir, ids.id[i]);
        len += strlen(ids.id[i]) + 2;
    }
    char *s = rc ? NULL : malloc(len);
    if (!rc && !s)
        rc = tg_error_set(TG_ENOMEM, "out of memory");
    if (!rc) {
        size_t u = (size_t)snprintf(s, len, "data.basins=[");
        for (int i = 0; i < ids.n; i++)
            u += (size_t)snprintf(s + u, len - u, "%s%s", i ? ", " : "", ids.id[i]);
        snprintf(s + u, len - u, "]");
        *out = s;
    }
    tg_basin_list_free(&ids);
    return rc;
}

static int parse_day(const char *s, const char *what, int *day)
{
    if (tg_date_parse(s, day))
        return tg_error_set(TG_EINVAL, "%s '%s': expected a date YYYY-MM-DD", what, s);
    return 0;
}

int tg_evaluate_with(const char *run_dir, const tg_evaluate_options *opt)
{
    const tg_evaluate_options zero = {0};
    const tg_evaluate_options *o = opt ? opt : &zero;
    tg_eval_plan p = {.first = INT_MIN, .last = INT_MIN, .out_dir = o->out_dir, .predict_only = o->predict_only};
    p.label = o->period ? o->period : o->start ? "apply" : "test";
    if (!*p.label || strspn(p.label, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
                         strlen(p.label))
        return tg_error_set(TG_EINVAL, "period name '%s': letters, digits, '_' and '-' only (it names files)",
                            p.label);
    if (!o->start != !o->end)
        return tg_error_set(TG_EINVAL, "a start date needs an end date and the other way round");
    if (!o->start && strcmp(p.label, "test") && strcmp(p.label, "valid") && strcmp(p.label, "train"))
        return tg_error_set(TG_EINVAL, "period '%s': test, valid or train (or give start and end dates)", p.label);
    if (o->predict_only && !o->start)
        return tg_error_set(TG_EINVAL, "prediction needs start and end dates");
    int rc = 0;
    if (o->start) {
        char a[16], b[16];
        if ((rc = parse_day(o->start, "start date", &p.first)) || (rc = parse_day(o->end, "end date", &p.last)))
            return rc;
        if (p.last < p.first)
            return tg_error_set(TG_EINVAL, "end date %s is before start date %s", tg_date_format(p.last, a),
                                tg_date_format(p.first, b));
    }
    struct stat st;
    if (o->data_dir && stat(o->data_dir, &st) != 0)
        return tg_error_set(TG_EIO, "%s: no such data folder or file (--data)", o->data_dir);
    if (o->basins_file && (stat(o->basins_file, &st) != 0 || !S_ISREG(st.st_mode)))
        return tg_error_set(TG_EIO, "%s: no such basin list file (--basins)", o->basins_file);
    p.apply = o->data_dir || o->basins_file || o->start || o->predict_only;

    /* the run's config with the caller's overrides; then data.path and the basin list */
    char path[4200];
    snprintf(path, sizeof path, "%s/config.yaml", run_dir);
    int n_schema;
    const tg_cfg_key *schema = tg_train_schema_all(&n_schema);
    tg_cfg *cfg = tg_cfg_load_with(path, schema, n_schema, o->set, o->n_set);
    if (!cfg)
        return tg_error_code();
    if (!o->data_dir && !o->basins_file)
        return tg_evaluate_plan(run_dir, cfg, path, &p);
    const char **sets = malloc((size_t)(o->n_set + 3) * sizeof(char *));
    char *data_set = NULL, *bset = NULL;
    if (!sets)
        rc = tg_error_set(TG_ENOMEM, "out of memory");
    int n = 0;
    for (int i = 0; !rc && i < o->n_set; i++)
        sets[n++] = o->set[i];
    if (!rc && o->data_dir) {
        size_t len = strlen(o->data_dir) + 16;
        if (!(data_set = malloc(len)))
            rc = tg_error_set(TG_ENOMEM, "out of memory");
        else {
            snprintf(data_set, len, "data.path=%s", o->data_dir);
            sets[n++] = data_set;
        }
    }
    if (!rc)
        rc = basins_set(cfg, o, &bset);
    if (!rc) {
        sets[n++] = bset;
        sets[n++] = "data.n_basins=0";
    }
    tg_cfg_free(&cfg);
    if (!rc && !(cfg = tg_cfg_load_with(path, schema, n_schema, sets, n)))
        rc = tg_error_code();
    free(sets);
    free(data_set);
    free(bset);
    if (rc)
        return rc;
    return tg_evaluate_plan(run_dir, cfg, path, &p);
}
