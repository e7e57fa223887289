/* run_config.c — the typed run configuration (terragrad/run.h): one table maps every
 * common and HBV key of the schema (schema.c, where the defaults live) to its field of
 * tg_run_config; defaults, loading and writing YAML all walk that table. */
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "train_internal.h"

typedef enum { F_STR, F_LONG, F_DOUBLE, F_BOOL, F_DATE, F_LIST, F_NUMS } field_type;
typedef struct field {
    const char *path;
    field_type type;
    size_t off;
} field;
#define FLD(path, type, member) {path, type, offsetof(tg_run_config, member)}
static const field fields[] = {
    FLD("seed", F_LONG, seed),
    FLD("output.dir", F_STR, output.dir),
    FLD("output.plots", F_BOOL, output.plots),
    FLD("output.plot_basins", F_LIST, output.plot_basins),
    FLD("data.source", F_STR, data.source),
    FLD("data.path", F_STR, data.path),
    FLD("data.basins", F_LIST, data.basins),
    FLD("data.basin_file", F_STR, data.basin_file),
    FLD("data.n_basins", F_LONG, data.n_basins),
    FLD("data.product", F_STR, data.product),
    FLD("data.attributes", F_STR, data.attributes),
    FLD("data.attribute_names", F_LIST, data.attribute_names),
    FLD("periods.train_start", F_DATE, periods.train_start),
    FLD("periods.train_end", F_DATE, periods.train_end),
    FLD("periods.valid_start", F_DATE, periods.valid_start),
    FLD("periods.valid_end", F_DATE, periods.valid_end),
    FLD("periods.test_start", F_DATE, periods.test_start),
    FLD("periods.test_end", F_DATE, periods.test_end),
    FLD("inputs.dynamic", F_LIST, inputs.dynamic),
    FLD("inputs.log", F_LIST, inputs.log),
    FLD("model.type", F_STR, model.type),
    FLD("model.hidden", F_LONG, model.hidden),
    FLD("model.dropout", F_DOUBLE, model.dropout),
    FLD("model.input_layer", F_LONG, model.input_layer),
    FLD("model.forget_bias", F_DOUBLE, model.forget_bias),
    FLD("model.static_head", F_STR, model.static_head),
    FLD("model.static_hidden", F_LONG, model.static_hidden),
    FLD("model.precip_correction", F_BOOL, model.precip_correction),
    FLD("model.precip_range", F_NUMS, model.precip_range),
    FLD("model.snow_correction", F_BOOL, model.snow_correction),
    FLD("model.snow_range", F_NUMS, model.snow_range),
    FLD("hbv.components", F_LONG, hbv.components),
    FLD("hbv.dynamic", F_LIST, hbv.dynamic),
    FLD("hbv.warmup", F_LONG, hbv.warmup),
    FLD("hbv.warmup_grad", F_BOOL, hbv.warmup_grad),
    FLD("hbv.routing", F_BOOL, hbv.routing),
    FLD("hbv.smooth", F_BOOL, hbv.smooth),
    FLD("hbv.capillary", F_BOOL, hbv.capillary),
    FLD("loss.type", F_STR, loss.type),
    FLD("loss.log_weight", F_DOUBLE, loss.log_weight),
    FLD("optim.type", F_STR, optim.type),
    FLD("optim.lr", F_DOUBLE, optim.lr),
    FLD("optim.weight_decay", F_DOUBLE, optim.weight_decay),
    FLD("optim.clip", F_DOUBLE, optim.clip),
    FLD("optim.schedule", F_STR, optim.schedule),
    FLD("optim.gamma", F_DOUBLE, optim.gamma),
    FLD("optim.step_size", F_LONG, optim.step_size),
    FLD("optim.lr_min", F_DOUBLE, optim.lr_min),
    FLD("optim.table_epochs", F_NUMS, optim.table_epochs),
    FLD("optim.table_lrs", F_NUMS, optim.table_lrs),
    FLD("training.epochs", F_LONG, training.epochs),
    FLD("training.iterations", F_LONG, training.iterations),
    FLD("training.batch", F_LONG, training.batch),
    FLD("training.warmup", F_LONG, training.warmup),
    FLD("training.horizon", F_LONG, training.horizon),
    FLD("training.threads", F_LONG, training.threads),
    FLD("training.chunks", F_LONG, training.chunks),
    FLD("training.checkpoint", F_LONG, training.checkpoint),
};
enum { N_FIELDS = (int)(sizeof fields / sizeof fields[0]) };

/* What a loaded (or defaulted) config owns: its tg_cfg (strings point into it) and copies
 * of list items (the getters' default items live in a reused buffer). */
typedef struct owned {
    tg_cfg *cfg;
    int own_cfg;
    char **strs;
    int n_strs;
    void **blocks;
    int n_blocks;
} owned;

static void *keep(owned *o, void *p)
{
    void **b = realloc(o->blocks, (size_t)(o->n_blocks + 1) * sizeof *b);
    if (!b || !p) {
        free(p);
        if (b)
            o->blocks = b;
        return NULL;
    }
    o->blocks = b;
    return b[o->n_blocks++] = p;
}

static int fill_field(const tg_cfg *cfg, const field *f, tg_run_config *rc, owned *o)
{
    void *dst = (char *)rc + f->off;
    int n;
    switch (f->type) {
    case F_STR: *(const char **)dst = tg_cfg_str(cfg, f->path); break;
    case F_LONG: *(long *)dst = tg_cfg_int(cfg, f->path); break;
    case F_DOUBLE: *(double *)dst = tg_cfg_float(cfg, f->path); break;
    case F_BOOL: *(int *)dst = tg_cfg_bool(cfg, f->path); break;
    case F_DATE: *(int *)dst = tg_cfg_date(cfg, f->path); break;
    case F_LIST: {
        n = tg_cfg_list_len(cfg, f->path);
        const char **items = n ? keep(o, calloc((size_t)n, sizeof *items)) : NULL;
        if (n && !items)
            return tg_error_set(TG_ENOMEM, "out of memory");
        for (int i = 0; i < n; i++) {
            const char *v = tg_cfg_list_item(cfg, f->path, i);
            if (!(items[i] = keep(o, strdup(v ? v : ""))))
                return tg_error_set(TG_ENOMEM, "out of memory");
        }
        *(tg_run_list *)dst = (tg_run_list){n, items};
        break;
    }
    case F_NUMS: {
        n = tg_cfg_list_len(cfg, f->path);
        double *v = n ? keep(o, calloc((size_t)n, sizeof *v)) : NULL;
        if (n && !v)
            return tg_error_set(TG_ENOMEM, "out of memory");
        for (int i = 0; i < n; i++)
            v[i] = atof(tg_cfg_list_item(cfg, f->path, i));
        *(tg_run_numbers *)dst = (tg_run_numbers){n, v};
        break;
    }
    }
    return 0;
}

int tg_run_config_from_cfg(const tg_cfg *cfg, tg_run_config *rc)
{
    memset(rc, 0, sizeof *rc);
    owned *o = calloc(1, sizeof *o);
    if (!o)
        return tg_error_set(TG_ENOMEM, "out of memory");
    rc->priv = o;
    for (int i = 0; i < N_FIELDS; i++) {
        int e = fill_field(cfg, &fields[i], rc, o);
        if (e) {
            tg_run_config_free(rc);
            return e;
        }
    }
    rc->inputs.log_set = tg_cfg_has(cfg, "inputs.log");
    rc->file = tg_cfg_path(cfg);
    o->cfg = (tg_cfg *)cfg;
    return 0;
}

void tg_run_config_free(tg_run_config *rc)
{
    owned *o = rc ? rc->priv : NULL;
    if (o) {
        for (int i = 0; i < o->n_blocks; i++)
            free(o->blocks[i]);
        free(o->blocks);
        if (o->own_cfg)
            tg_cfg_free(&o->cfg);
        free(o);
    }
    if (rc)
        memset(rc, 0, sizeof *rc);
}

/* The schema with every key optional: parsing an empty document gives all defaults. */
static const tg_cfg_key *schema_optional(int *n)
{
    static tg_cfg_key *opt;
    static int n_opt;
    if (!opt) {
        const tg_cfg_key *all = tg_train_schema_all(&n_opt);
        if (!(opt = malloc((size_t)n_opt * sizeof *opt)))
            return NULL;
        memcpy(opt, all, (size_t)n_opt * sizeof *opt);
        for (int i = 0; i < n_opt; i++)
            opt[i].required = 0;
    }
    *n = n_opt;
    return opt;
}

void tg_run_config_defaults(tg_run_config *rc)
{
    int n;
    const tg_cfg_key *schema = schema_optional(&n);
    tg_cfg *cfg = schema ? tg_cfg_parse_string("", "(defaults)", schema, n) : NULL;
    if (!cfg || tg_run_config_from_cfg(cfg, rc)) {
        tg_cfg_free(&cfg);
        memset(rc, 0, sizeof *rc);
        return;
    }
    ((owned *)rc->priv)->own_cfg = 1;
    rc->file = NULL;
}

/* The typed view of a freshly loaded cfg, which rc then owns (freed with it, or here on error). */
static int adopt_cfg(tg_cfg *cfg, tg_run_config *rc)
{
    if (!cfg)
        return tg_error_code() ? tg_error_code() : TG_EINVAL;
    int e = tg_run_config_from_cfg(cfg, rc);
    if (e) {
        tg_cfg_free(&cfg);
        return e;
    }
    ((owned *)rc->priv)->own_cfg = 1;
    return 0;
}

int tg_run_config_load(const char *path, tg_run_config *rc)
{
    memset(rc, 0, sizeof *rc);
    int n;
    const tg_cfg_key *schema = tg_train_schema_all(&n);
    tg_cfg *cfg = tg_train_cfg_check(tg_cfg_load(path, schema, n));
    int e = adopt_cfg(cfg, rc);
    if (e)
        return e;
    return 0;
}

const tg_cfg *tg_run_config_cfg(const tg_run_config *rc)
{
    return rc && rc->priv ? ((const owned *)rc->priv)->cfg : NULL;
}

/* ---------------------------------------------------------------- YAML */
static void yaml_str(FILE *out, const char *s)
{
    fputc('\'', out);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', out); /* '' is a quote inside a single-quoted YAML scalar */
        fputc(*s, out);
    }
    fputc('\'', out);
}

/* Whether field f of rc equals its value in d (the defaults). */
static int same_as(const tg_run_config *rc, const tg_run_config *d, const field *f)
{
    const void *a = (const char *)rc + f->off, *b = (const char *)d + f->off;
    switch (f->type) {
    case F_STR: {
        const char *x = *(const char *const *)a, *y = *(const char *const *)b;
        return x == y || (x && y && !strcmp(x, y));
    }
    case F_LONG: return *(const long *)a == *(const long *)b;
    case F_DOUBLE: return *(const double *)a == *(const double *)b;
    case F_BOOL: return !*(const int *)a == !*(const int *)b;
    case F_DATE: return *(const int *)a == *(const int *)b;
    case F_LIST: {
        const tg_run_list *x = a, *y = b;
        if (x->n != y->n)
            return 0;
        for (int i = 0; i < x->n; i++)
            if (strcmp(x->items[i], y->items[i]))
                return 0;
        return 1;
    }
    case F_NUMS: {
        const tg_run_numbers *x = a, *y = b;
        if (x->n != y->n)
            return 0;
        for (int i = 0; i < x->n; i++)
            if (x->v[i] != y->v[i])
                return 0;
        return 1;
    }
    }
    return 0;
}

/* The shortest of %.15g / %.17g that reads back as v (0.1 stays "0.1", as in a YAML file). */
static void put_double(FILE *out, double v)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, sizeof buf, "%.17g", v);
    fputs(buf, out);
}

static void write_value(FILE *out, const tg_run_config *rc, const field *f)
{
    const void *a = (const char *)rc + f->off;
    char date[16];
    switch (f->type) {
    case F_STR: yaml_str(out, *(const char *const *)a); break;
    case F_LONG: fprintf(out, "%ld", *(const long *)a); break;
    case F_DOUBLE: put_double(out, *(const double *)a); break;
    case F_BOOL: fprintf(out, "%s", *(const int *)a ? "true" : "false"); break;
    case F_DATE: fprintf(out, "%s", tg_date_format(*(const int *)a, date)); break;
    case F_LIST: {
        const tg_run_list *l = a;
        fputc('[', out);
        for (int i = 0; i < l->n; i++) {
            if (i)
                fputs(", ", out);
            yaml_str(out, l->items[i]);
        }
        fputc(']', out);
        break;
    }
    case F_NUMS: {
        const tg_run_numbers *l = a;
        fputc('[', out);
        for (int i = 0; i < l->n; i++) {
            fputs(i ? ", " : "", out);
            put_double(out, l->v[i]);
        }
        fputc(']', out);
        break;
    }
    }
}

/* Whether field f is to be written: set (strings, dates), not empty (lists), and not
 * inputs.log when the kind's default applies. */
static int is_set(const tg_run_config *rc, const field *f)
{
    const void *a = (const char *)rc + f->off;
    if (f->type == F_STR)
        return *(const char *const *)a != NULL;
    if (f->type == F_DATE)
        return *(const int *)a != INT_MIN;
    if (!strcmp(f->path, "inputs.log"))
        return rc->inputs.log_set; /* an empty list given means: no input log-transformed */
    if (f->type == F_LIST)
        return ((const tg_run_list *)a)->n > 0;
    if (f->type == F_NUMS)
        return ((const tg_run_numbers *)a)->n > 0;
    return 1;
}

int tg_run_config_write(const tg_run_config *rc, FILE *out)
{
    const tg_model_kind_info *kind = tg_model_kind_lookup(rc->model.type);
    if (!kind)
        return tg_error_set(TG_EINVAL, "model.type: '%s' is not one of %s", rc->model.type ? rc->model.type : "(none)",
                            tg_model_kind_names());
    tg_run_config d;
    tg_run_config_defaults(&d);
    if (!d.priv)
        return tg_error_code() ? tg_error_code() : TG_ENOMEM;
    int rc_ = 0;
    char section[32] = "";
    fprintf(out, "# written by terragrad (tg_run_config_write)\n");
    for (int i = 0; i < N_FIELDS && !rc_; i++) {
        const field *f = &fields[i];
        if (!tg_model_kind_uses(kind, f->path)) {
            if (!same_as(rc, &d, f))
                rc_ = tg_error_set(TG_EINVAL, "%s is set but model.type %s does not use it", f->path, kind->name);
            continue;
        }
        if (!is_set(rc, f))
            continue;
        const char *dot = strchr(f->path, '.');
        if (dot) {
            size_t n = (size_t)(dot - f->path);
            if (strlen(section) != n || strncmp(section, f->path, n)) {
                snprintf(section, sizeof section, "%.*s", (int)n, f->path);
                fprintf(out, "%s:\n", section);
            }
            fprintf(out, "  %s: ", dot + 1);
        } else {
            section[0] = '\0';
            fprintf(out, "%s: ", f->path);
        }
        write_value(out, rc, f);
        fputc('\n', out);
    }
    tg_run_config_free(&d);
    return rc_;
}

int tg_run_config_line(const tg_run_config *rc, const char *key)
{
    const tg_cfg *cfg = tg_run_config_cfg(rc);
    return cfg ? tg_cfg_line(cfg, key) : 0;
}

/* ---------------------------------------------------------------- run folders */
int tg_run_load(const char *run_dir, tg_run_config *rc, long *epoch)
{
    memset(rc, 0, sizeof *rc);
    char path[4200];
    tg_cfg *cfg = tg_train_load_run_config(run_dir, path, sizeof path);
    int e = adopt_cfg(cfg, rc);
    if (e)
        return e;
    if (epoch) {
        int64_t ep = 0;
        uint64_t sum;
        snprintf(path, sizeof path, "%s/last.ckpt", run_dir);
        e = tg_checkpoint_identify(path, &sum, &ep);
        if (e) {
            tg_run_config_free(rc);
            return e;
        }
        *epoch = (long)ep;
    }
    return 0;
}

int tg_simulate_run(const char *run_dir, const char *period)
{
    return tg_evaluate(run_dir, period);
}
