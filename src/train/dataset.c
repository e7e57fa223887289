/* dataset.c — the basins of a run: ids, series, static attributes, normalisation. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train_internal.h"

static int cmp_id(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

/* Every "<id>.csv" in a folder except attributes.csv, sorted. */
/* tg_basin_list_free frees n ids: shrink the grown list to exactly that (the allocator
 * hook is told the size of every block it frees). */
static int exact_size(tg_basin_list *ids, int cap)
{
    const int want = ids->n > 0 ? ids->n : 1;
    if (!ids->id || want == cap)
        return 0;
    void *p = tg_realloc(ids->id, (size_t)cap * TG_ID_MAX, (size_t)want * TG_ID_MAX);
    if (!p)
        return tg_error_set(TG_ENOMEM, "out of memory");
    ids->id = p;
    return 0;
}

static int ids_from_folder(const char *dir, tg_basin_list *ids)
{
    DIR *d = opendir(dir);
    if (!d)
        return tg_error_set(TG_EIO, "%s: cannot open data folder", dir);
    struct dirent *e;
    int cap = 0;
    ids->n = 0;
    ids->id = NULL;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".csv") || !strcmp(e->d_name, "attributes.csv") ||
            len - 4 >= TG_ID_MAX)
            continue;
        if (ids->n == cap) {
            int nc = cap ? 2 * cap : 64;
            void *p = tg_realloc(ids->id, (size_t)cap * TG_ID_MAX, (size_t)nc * TG_ID_MAX);
            if (!p) {
                closedir(d);
                return tg_error_set(TG_ENOMEM, "out of memory");
            }
            ids->id = p;
            cap = nc;
        }
        memcpy(ids->id[ids->n], e->d_name, len - 4);
        ids->id[ids->n][len - 4] = '\0';
        ids->n++;
    }
    closedir(d);
    qsort(ids->id, (size_t)ids->n, TG_ID_MAX, cmp_id);
    int rc = exact_size(ids, cap);
    if (!rc && ids->n == 0)
        return tg_error_set(TG_EINVAL, "%s: no <basin>.csv files", dir);
    return rc;
}

/* Caravan: the gauge_id column of basins.csv. */
static int ids_from_caravan(const char *root, tg_basin_list *ids)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/basins.csv", root);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(path, sizeof path, "%s/timeseries", root);
        return ids_from_folder(path, ids);
    }
    char line[1024];
    int cap = 0, lineno = 0;
    ids->n = 0;
    ids->id = NULL;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (lineno == 1)
            continue; /* header */
        size_t len = strcspn(line, ",\r\n");
        if (len == 0)
            continue;
        if (len >= TG_ID_MAX) {
            fclose(f);
            return tg_error_set(TG_EINVAL, "%s: line %d, field 'gauge_id': too long", path, lineno);
        }
        if (ids->n == cap) {
            int nc = cap ? 2 * cap : 256;
            void *p = tg_realloc(ids->id, (size_t)cap * TG_ID_MAX, (size_t)nc * TG_ID_MAX);
            if (!p) {
                fclose(f);
                return tg_error_set(TG_ENOMEM, "out of memory");
            }
            ids->id = p;
            cap = nc;
        }
        memcpy(ids->id[ids->n], line, len);
        ids->id[ids->n][len] = '\0';
        ids->n++;
    }
    fclose(f);
    return exact_size(ids, cap);
}

/* data.format (TG_CARAVAN_CSV or TG_CARAVAN_NETCDF; csv for a config built in C), or -1
 * with the error set when netcdf is asked of a source that has no such variant. */
static int caravan_format(const tg_run_config *c)
{
    const tg_cfg *cfg = tg_run_config_cfg(c);
    const char *f = cfg ? tg_cfg_str(cfg, "data.format") : NULL;
    if (!f || !strcmp(f, "csv"))
        return TG_CARAVAN_CSV;
    if (strcmp(c->data.source, "caravan") || !tg_caravan_is_official(c->data.path))
        return tg_error_set(TG_EINVAL, "%s:%d: data.format: %s is read for data.source caravan in the published "
                                       "layout only (data.source here: %s)", tg_cfg_path(cfg),
                            tg_cfg_line(cfg, "data.format"), f, c->data.source), -1;
    return TG_CARAVAN_NETCDF;
}

int tg_dataset_basin_ids(const tg_run_config *c, tg_basin_list *ids)
{
    memset(ids, 0, sizeof *ids);
    const char *src = c->data.source, *path = c->data.path;
    int rc = 0;
    const int format = caravan_format(c);
    if (format < 0)
        return tg_error_code();
    int n = c->data.basins.n;
    if (n > 0) {
        ids->id = tg_calloc((size_t)n, TG_ID_MAX);
        if (!ids->id)
            return tg_error_set(TG_ENOMEM, "out of memory");
        for (int i = 0; i < n; i++)
            snprintf(ids->id[i], TG_ID_MAX, "%s", c->data.basins.items[i]);
        ids->n = n;
    } else if (c->data.basin_file)
        rc = tg_basin_list_read(c->data.basin_file, ids);
    else if (!strcmp(src, "caravan") && tg_caravan_is_official(path))
        rc = tg_caravan_official_ids_as(path, format, ids);
    else if (!strcmp(src, "caravan") || !strcmp(src, "caravan_derived"))
        rc = ids_from_caravan(path, ids);
    else if (!strcmp(src, "csv"))
        rc = ids_from_folder(path, ids);
    else
        rc = tg_error_set(TG_EINVAL, "%s: data.source '%s' needs data.basins or data.basin_file",
                          c->file ? c->file : "config", src);
    if (rc)
        return rc;
    long nmax = c->data.n_basins;
    if (nmax > 0 && nmax < ids->n)
        ids->n = (int)nmax;
    return 0;
}

static int read_basin(const tg_run_config *c, const char *id, tg_basin *b)
{
    const char *src = c->data.source, *path = c->data.path;
    /* data.variables.* (variables.c): read from the parsed YAML; a config built in C
     * (no YAML behind it) uses each source's default columns */
    const tg_cfg *cfg = tg_run_config_cfg(c);
    const char *colmap[TG_NVAR];
    if (!strcmp(src, "caravan") && tg_caravan_is_official(path)) {
        tg_dataset_columns(cfg, tg_caravan_default_columns(), colmap);
        return tg_caravan_official_read_as(path, caravan_format(c), id, colmap, b);
    }
    int mapped = tg_dataset_columns(cfg, NULL, colmap);
    if (!strcmp(src, "caravan") || !strcmp(src, "caravan_derived"))
        return tg_caravan_read(path, id, b);
    if (!strcmp(src, "csv") && mapped) {
        char file[4200];
        snprintf(file, sizeof file, "%s/%s.csv", path, id);
        return tg_csv_read_mapped(file, id, colmap, b);
    }
    if (!strcmp(src, "csv"))
        return tg_csv_read(path, id, b);
    if (!strcmp(src, "camels_us")) {
        tg_camels_options o = {.product = c->data.product, .pet_method = TG_PET_AUTO};
        return tg_camels_read(path, id, &o, b);
    }
    return tg_error_set(TG_EINVAL, "data.source '%s' is read as a whole file", src);
}

static int load_basins(tg_dataset *d, const tg_run_config *c, const tg_basin_list *ids)
{
    const char *src = c->data.source;
    d->B = ids->n;
    d->raw = calloc((size_t)d->B, sizeof(tg_basin));
    if (!d->raw)
        return tg_error_set(TG_ENOMEM, "out of memory");
    if (!strcmp(src, "netcdf")) {
        tg_basin *all = NULL;
        int nall = 0;
        int rc = tg_netcdf_read(c->data.path, &all, &nall);
        if (rc)
            return rc;
        for (int i = 0; i < d->B && !rc; i++) {
            int j = 0;
            while (j < nall && strcmp(all[j].id, ids->id[i]))
                j++;
            if (j == nall)
                rc = tg_error_set(TG_EINVAL, "%s: no basin '%s'", c->data.path, ids->id[i]);
            else
                rc = tg_basin_slice(&all[j], all[j].start, all[j].start + all[j].T - 1, &d->raw[i]);
        }
        tg_basin_array_free(&all, nall);
        return rc;
    }
    int rc = 0;
    char msg[2048] = "";
    /* Basins are independent files: read them in parallel, report the first failure. */
    #pragma omp parallel for schedule(dynamic)
    for (int i = 0; i < d->B; i++) {
        int r;
        #pragma omp atomic read
        r = rc;
        if (r)
            continue;
        int e = read_basin(c, ids->id[i], &d->raw[i]);
        if (e) {
            #pragma omp critical(tg_dataset_err)
            if (!rc) {
                rc = e;
                snprintf(msg, sizeof msg, "%s", tg_error_message());
            }
        }
    }
    if (rc)
        return tg_error_set(rc, "%s", msg);
    return 0;
}

/* quiet: no log line (the training basins' range, read beside the applied basins) */
static int load_statics(tg_dataset *d, const tg_run_config *c, tg_runlog *rl, int quiet)
{
    const char *apath = c->data.attributes;
    if (!apath)
        return 0;
    int ncol = c->data.attribute_names.n;
    const char **cols = ncol ? calloc((size_t)ncol, sizeof(char *)) : NULL;
    for (int i = 0; i < ncol; i++)
        cols[i] = strdup(c->data.attribute_names.items[i]);
    tg_attributes a;
    memset(&a, 0, sizeof a);
    size_t len = strlen(apath);
    int rc, by_name = len > 4 && !strcmp(apath + len - 4, ".csv"); /* columns picked below */
    if (by_name)
        rc = tg_attributes_read_csv(apath, &a);
    else if (d->B > 0 && tg_caravan_attributes_found(apath, d->raw[0].id)) {
        char (*ids)[TG_ID_MAX] = calloc((size_t)d->B, TG_ID_MAX);
        for (int b = 0; ids && b < d->B; b++)
            snprintf(ids[b], TG_ID_MAX, "%s", d->raw[b].id);
        rc = ids ? tg_caravan_attributes_read(apath, (const char (*)[TG_ID_MAX])ids, d->B, &a)
                 : tg_error_set(TG_ENOMEM, "out of memory");
        free(ids);
        by_name = 1;
    } else {
        tg_attr_options o = {.columns = cols, .n_columns = ncol, .include_hydro = 0, .categorical = TG_CAT_ONEHOT};
        rc = tg_camels_attributes_read(apath, &o, &a);
    }
    /* csv: select the named columns here */
    int *pick = NULL;
    int S = a.F;
    if (!rc) {
        pick = malloc((size_t)(a.F > 0 ? a.F : 1) * sizeof(int));
        if (ncol && by_name) {
            S = ncol;
            for (int i = 0; i < ncol && !rc; i++) {
                pick[i] = tg_attributes_column(&a, cols[i]);
                if (pick[i] < 0)
                    rc = tg_error_set(TG_EINVAL, "%s: no attribute column '%s' (data.attribute_names)", apath, cols[i]);
            }
        } else
            for (int i = 0; i < S; i++)
                pick[i] = i;
    }
    if (!rc) {
        d->S = S;
        d->statics = calloc((size_t)d->B * (size_t)(S > 0 ? S : 1), sizeof(tg_real));
        d->static_names = calloc((size_t)(S > 0 ? S : 1), TG_NAME_MAX);
        d->statics_raw = calloc((size_t)d->B * (size_t)(S > 0 ? S : 1), sizeof(tg_real));
        if (!d->statics || !d->static_names || !d->statics_raw)
            rc = tg_error_set(TG_ENOMEM, "out of memory");
        for (int s = 0; s < S && !rc; s++)
            snprintf(d->static_names[s], TG_NAME_MAX, "%s", a.name[pick[s]]);
        for (int b = 0; b < d->B && !rc; b++) {
            int row = tg_attributes_basin(&a, d->raw[b].id);
            if (row < 0)
                rc = tg_error_set(TG_EINVAL, "%s: no attributes for basin '%s'", apath, d->raw[b].id);
            else
                for (int s = 0; s < S; s++)
                    d->statics[(size_t)b * S + s] = a.value[(size_t)row * a.F + pick[s]];
        }
    }
    if (!rc) {
        memcpy(d->statics_raw, d->statics, (size_t)d->B * (size_t)S * sizeof(tg_real));
        if (!quiet)
            tg_runlog_printf(rl, "static attributes: %d columns from %s\n", d->S, apath);
    }
    free(pick);
    for (int i = 0; i < ncol; i++)
        free((void *)cols[i]);
    free(cols);
    tg_attributes_free(&a);
    return rc;
}

/* z-score of statics over basins (stored as features "attr:<name>"); missing -> 0 (the mean). */
static int normalise_statics(tg_dataset *d, int fit)
{
    for (int s = 0; s < d->S; s++) {
        char name[TG_NAME_MAX + 8];
        snprintf(name, sizeof name, "attr:%.60s", d->static_names[s]);
        int k = tg_norm_find(&d->nm, name);
        if (fit) {
            if (k < 0)
                k = tg_norm_add(&d->nm, name, 0, 0);
            if (k < 0)
                return tg_error_code();
            tg_norm_update(&d->nm, k, d->statics + s, (size_t)d->B, (size_t)d->S);
        } else if (k < 0)
            return tg_error_set(TG_EINVAL, "normalisation file has no feature '%s'", name);
    }
    if (fit && tg_norm_finish(&d->nm))
        return tg_error_code();
    for (int s = 0; s < d->S; s++) {
        char name[TG_NAME_MAX + 8];
        snprintf(name, sizeof name, "attr:%.60s", d->static_names[s]);
        int k = tg_norm_find(&d->nm, name);
        tg_norm_apply(&d->nm, k, d->statics + s, (size_t)d->B, (size_t)d->S);
        for (int b = 0; b < d->B; b++)
            if (isnan((double)d->statics[(size_t)b * d->S + s]))
                d->statics[(size_t)b * d->S + s] = 0;
    }
    return 0;
}

/* Whether input `name` is normalised as log(x + 0.1). Without `inputs.log` in the config:
 * not for the LSTM, which generalised better from raw P (docs/results.md, session 4), and P
 * for the process models, whose networks follow the δHBV convention (no measured difference
 * there). */
static int log_transformed(const tg_run_config *c, const tg_model_kind_info *kind, const char *name)
{
    if (!c->inputs.log_set)
        return kind->n_forcing > 0 && !strcmp(name, "P"); /* a process model (it reads forcing) */
    int lg = 0;
    for (int i = 0; i < c->inputs.log.n; i++)
        lg |= !strcmp(c->inputs.log.items[i], name);
    return lg;
}

static const char *const period_names[3] = {"train", "valid", "test"};

/* Each configured period ends on or after its start: checked before any data are read,
 * since an empty period otherwise surfaces only as "no valid value to fit on". */
static int periods_check_order(const tg_cfg *cfg)
{
    for (int i = 0; i < 3; i++) {
        char ks[64], ke[64], a[16], b[16];
        snprintf(ks, sizeof ks, "periods.%s_start", period_names[i]);
        snprintf(ke, sizeof ke, "periods.%s_end", period_names[i]);
        if (!tg_cfg_has(cfg, ks) || !tg_cfg_has(cfg, ke))
            continue;
        int s = tg_cfg_date(cfg, ks), e = tg_cfg_date(cfg, ke);
        if (e < s)
            return tg_error_set(TG_EINVAL, "%s:%d: %s %s is before %s %s", tg_cfg_path(cfg), tg_cfg_line(cfg, ke),
                                ke + 8, tg_date_format(e, a), ks + 8, tg_date_format(s, b));
    }
    return 0;
}

/* Each configured period overlaps the days the basins cover (their union). */
static int periods_check_data(const tg_cfg *cfg, const tg_dataset *d)
{
    if (d->B == 0)
        return 0;
    int lo = d->raw[0].start, hi = d->raw[0].start + d->raw[0].T - 1;
    for (int b = 1; b < d->B; b++) {
        if (d->raw[b].start < lo) lo = d->raw[b].start;
        if (d->raw[b].start + d->raw[b].T - 1 > hi) hi = d->raw[b].start + d->raw[b].T - 1;
    }
    for (int i = 0; i < 3; i++) {
        char ks[64], ke[64], a[16], b[16], c[16];
        snprintf(ks, sizeof ks, "periods.%s_start", period_names[i]);
        snprintf(ke, sizeof ke, "periods.%s_end", period_names[i]);
        if (!tg_cfg_has(cfg, ks) || !tg_cfg_has(cfg, ke))
            continue;
        int s = tg_cfg_date(cfg, ks), e = tg_cfg_date(cfg, ke);
        if (s > hi || e < lo)
            return tg_error_set(TG_EINVAL, "%s:%d: %s period %s..%s lies outside the data, which %s %s", tg_cfg_path(cfg),
                                tg_cfg_line(cfg, s > hi ? ks : ke), period_names[i], tg_date_format(s, a),
                                tg_date_format(e, b), s > hi ? "end" : "start", tg_date_format(s > hi ? hi : lo, c));
    }
    return 0;
}

/* c: the typed form of cfg (which still gives the lines for messages). */
/* flags: DS_APPLY (the run applied to other basins or dates: its periods need not overlap
 * these data; evaluate.c checks the days it needs), DS_NO_Q (streamflow may be absent: a
 * missing Q column reads as all missing). */
enum { DS_APPLY = 1, DS_NO_Q = 2 };
static int dataset_load(tg_dataset *d, const tg_cfg *cfg, const tg_run_config *c, const char *run_dir, int fit,
                        int flags, tg_runlog *rl)
{
    const tg_model_kind_info *kind = tg_model_kind_lookup(c->model.type);
    if (!kind)
        return tg_error_set(TG_EINVAL, "%s:%d: model.type: '%s' is not one of %s", tg_cfg_path(cfg),
                            tg_cfg_line(cfg, "model.type"), c->model.type, tg_model_kind_names());
    tg_basin_list ids;
    int rc = periods_check_order(cfg);
    if (rc)
        return rc;
    if ((rc = tg_dataset_basin_ids(c, &ids)))
        return rc;
    rc = load_basins(d, c, &ids);
    tg_basin_list_free(&ids);
    if (rc)
        return rc;
    if (!(flags & DS_APPLY) && (rc = periods_check_data(cfg, d)))
        return rc;
    tg_runlog_printf(rl, "data: %d basins from %s (%s)\n", d->B, c->data.path, c->data.source);
    if (d->B > 0 && d->raw[0].note[0])
        tg_runlog_printf(rl, "data: %s: %s\n", d->raw[0].id, d->raw[0].note);
    /* dynamic inputs */
    d->F = c->inputs.dynamic.n;
    if (d->F > TG_MAX_INPUTS)
        return tg_error_set(TG_EINVAL, "%s: at most %d dynamic inputs", tg_cfg_path(cfg), TG_MAX_INPUTS);
    unsigned need = flags & DS_NO_Q ? 0 : TG_VAR_BIT(TG_VAR_Q);
    for (int f = 0; f < d->F; f++) {
        const char *name = c->inputs.dynamic.items[f];
        d->vars[f] = tg_var_find(name);
        if (d->vars[f] < 0)
            return tg_error_set(TG_EINVAL, "%s:%d: inputs.dynamic: unknown variable '%s'", tg_cfg_path(cfg),
                                tg_cfg_line(cfg, "inputs.dynamic"), name);
        need |= TG_VAR_BIT(d->vars[f]);
    }
    /* the forcing the model kind declares it reads (process models: P, T, PET) */
    d->n_forcing = kind->n_forcing;
    for (int f = 0; f < kind->n_forcing; f++) {
        d->forcing_vars[f] = tg_var_find(kind->forcing[f]);
        if (d->forcing_vars[f] < 0)
            return tg_error_set(TG_EINVAL, "model.type %s: unknown forcing variable '%s'", kind->name,
                                kind->forcing[f]);
        need |= TG_VAR_BIT(d->forcing_vars[f]);
    }
    for (int b = 0; b < d->B; b++)
        if ((rc = tg_basin_require(&d->raw[b], need, "the run's inputs")))
            return rc;
    for (int b = 0; b < d->B; b++) /* DS_NO_Q: no Q column is a Q that is never observed */
        if (!d->raw[b].var[TG_VAR_Q] && !tg_basin_add_var(&d->raw[b], TG_VAR_Q))
            return tg_error_set(TG_ENOMEM, "out of memory");
    if ((rc = load_statics(d, c, rl, 0)))
        return rc;
    /* normalisation: fit on the training period, or load the run's statistics */
    char npath[4200];
    snprintf(npath, sizeof npath, "%s/normalisation.txt", run_dir);
    int first = c->periods.train_start, last = c->periods.train_end;
    if (fit) {
        for (int f = 0; f < d->F; f++) {
            const char *name = tg_var_name(d->vars[f]);
            int lg = log_transformed(c, kind, name);
            if ((rc = tg_norm_fit_basins(&d->nm, name, lg, 0.1, d->raw, d->B, d->vars[f], first, last)))
                return tg_error_prefix(rc, "normalising input '%s': ", name);
        }
        if ((rc = tg_norm_fit_basins(&d->nm, "Q", 0, 0, d->raw, d->B, TG_VAR_Q, first, last)))
            return tg_error_prefix(rc, "normalising Q: ");
    } else if ((rc = tg_norm_load(&d->nm, npath)))
        return rc;
    if ((rc = normalise_statics(d, fit)))
        return rc;
    if (fit && (rc = tg_norm_save(&d->nm, npath)))
        return rc;
    int kq = tg_norm_find(&d->nm, "Q");
    d->q_mean_all = d->nm.f[kq].mean;
    d->q_std_all = d->nm.f[kq].std;
    /* normalised copies of the inputs */
    d->norm = calloc((size_t)d->B, sizeof(tg_basin));
    d->q_std = calloc((size_t)d->B, sizeof(double));
    if (!d->norm || !d->q_std)
        return tg_error_set(TG_ENOMEM, "out of memory");
    for (int b = 0; b < d->B && !rc; b++) {
        tg_basin *r = &d->raw[b], *n = &d->norm[b];
        if ((rc = tg_basin_init(n, r->id, r->start, r->T)))
            break;
        for (int f = 0; f < d->F && !rc; f++) {
            tg_real *dst = tg_basin_add_var(n, d->vars[f]);
            if (!dst) {
                rc = TG_ENOMEM;
                break;
            }
            memcpy(dst, r->var[d->vars[f]], (size_t)r->T * sizeof(tg_real));
            tg_norm_apply(&d->nm, tg_norm_find(&d->nm, tg_var_name(d->vars[f])), dst, (size_t)r->T, 1);
        }
        /* per-basin flow std over the training period: the NSE* weights */
        double s = 0, s2 = 0;
        int cnt = 0;
        for (int t = 0; t < r->T; t++) {
            int day = r->start + t;
            double q = (double)r->var[TG_VAR_Q][t];
            if (day < first || day > last || isnan(q))
                continue;
            s += q;
            s2 += q * q;
            cnt++;
        }
        d->q_std[b] = cnt > 1 ? sqrt(fmax(0, (s2 - s * s / cnt) / (cnt - 1))) : 1;
    }
    return rc;
}

int tg_dataset_load(tg_dataset *d, const tg_cfg *cfg, const char *run_dir, int fit, tg_runlog *rl)
{
    memset(d, 0, sizeof *d);
    tg_run_config c;
    int rc = tg_run_config_from_cfg(cfg, &c);
    if (!rc)
        rc = dataset_load(d, cfg, &c, run_dir, fit, 0, rl);
    tg_run_config_free(&c);
    return rc;
}

int tg_dataset_load_apply(tg_dataset *d, const tg_cfg *cfg, const char *run_dir, int need_q, tg_runlog *rl)
{
    memset(d, 0, sizeof *d);
    tg_run_config c;
    int rc = tg_run_config_from_cfg(cfg, &c);
    if (!rc)
        rc = dataset_load(d, cfg, &c, run_dir, 0, DS_APPLY | (need_q ? 0 : DS_NO_Q), rl);
    tg_run_config_free(&c);
    return rc;
}

int tg_dataset_load_statics(tg_dataset *d, const tg_cfg *cfg)
{
    memset(d, 0, sizeof *d);
    tg_run_config c;
    tg_basin_list ids = {0};
    int rc = tg_run_config_from_cfg(cfg, &c);
    if (!rc)
        rc = tg_dataset_basin_ids(&c, &ids);
    if (!rc && !(d->raw = calloc((size_t)(ids.n > 0 ? ids.n : 1), sizeof(tg_basin))))
        rc = tg_error_set(TG_ENOMEM, "out of memory");
    for (int b = 0; !rc && b < ids.n; b++) {
        rc = tg_basin_init(&d->raw[b], ids.id[b], 0, 0);
        d->B = b + 1;
    }
    if (!rc)
        rc = load_statics(d, &c, NULL, 1);
    tg_basin_list_free(&ids);
    tg_run_config_free(&c);
    return rc;
}

void tg_dataset_free(tg_dataset *d)
{
    for (int b = 0; b < d->B; b++) {
        if (d->raw) tg_basin_free(&d->raw[b]);
        if (d->norm) tg_basin_free(&d->norm[b]);
    }
    free(d->raw);
    free(d->norm);
    free(d->statics);
    free(d->statics_raw);
    free(d->static_names);
    free(d->q_std);
    tg_norm_free(&d->nm);
    memset(d, 0, sizeof *d);
}
