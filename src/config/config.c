/* config.c — YAML (libyaml) into flat dotted keys, validated against a schema.
 * Why flat: every config key of a run is a leaf; nesting in the file is only grouping, so
 * "training.epochs" is the natural key for lookups, errors and documentation. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config/config_internal.h"

char *tg_cfg_dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = tg_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void tg_cfg_free_entry(entry *e)
{
    for (int i = 0; i < e->n; i++)
        tg_free(e->items[i], strlen(e->items[i]) + 1);
    tg_free(e->items, (size_t)e->n * sizeof(char *));
    tg_free(e->key, strlen(e->key) + 1);
}

void tg_cfg_free(tg_cfg **pc)
{
    if (!pc || !*pc)
        return;
    tg_cfg *c = *pc;
    for (int i = 0; i < c->n; i++)
        tg_cfg_free_entry(&c->e[i]);
    tg_free(c->e, (size_t)c->cap * sizeof(entry));
    tg_free(c->name, strlen(c->name) + 1);
    if (c->base)
        tg_free(c->base, strlen(c->base) + 1);
    for (int i = 0; i < c->n_set; i++)
        tg_free(c->sets[i], strlen(c->sets[i]) + 1);
    tg_free(c->sets, (size_t)c->n_set * sizeof(char *));
    tg_free(c, sizeof *c);
    *pc = NULL;
}

entry *tg_cfg_add_entry(tg_cfg *c, const char *key, int line)
{
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 32;
        entry *e = tg_realloc(c->e, (size_t)c->cap * sizeof(entry), (size_t)cap * sizeof(entry));
        if (!e)
            return NULL;
        c->e = e;
        c->cap = cap;
    }
    entry *e = &c->e[c->n];
    memset(e, 0, sizeof *e);
    e->key = tg_cfg_dupstr(key);
    if (!e->key)
        return NULL;
    e->line = line;
    c->n++;
    return e;
}

int tg_cfg_push_item(entry *e, const char *v)
{
    char **it = tg_realloc(e->items, (size_t)e->n * sizeof(char *), (size_t)(e->n + 1) * sizeof(char *));
    if (!it)
        return TG_ENOMEM;
    e->items = it;
    if (!(e->items[e->n] = tg_cfg_dupstr(v)))
        return TG_ENOMEM;
    e->n++;
    return 0;
}

entry *tg_cfg_find(const tg_cfg *c, const char *key)
{
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->e[i].key, key))
            return &c->e[i];
    return NULL;
}

const tg_cfg_key *tg_cfg_schema_find(const tg_cfg *c, const char *key)
{
    for (int i = 0; i < c->nkeys; i++)
        if (!strcmp(c->schema[i].path, key))
            return &c->schema[i];
    return NULL;
}

/* Is `prefix` a group in the schema (some key starts with "prefix.")? */
int tg_cfg_schema_is_group(const tg_cfg *c, const char *prefix)
{
    size_t n = strlen(prefix);
    for (int i = 0; i < c->nkeys; i++)
        if (!strncmp(c->schema[i].path, prefix, n) && c->schema[i].path[n] == '.')
            return 1;
    return 0;
}

/* Levenshtein distance, capped: enough to suggest the key a typo meant. */
static int edit_distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    int prev[64], cur[64];
    for (int j = 0; j <= lb; j++)
        prev[j] = j;
    for (int i = 1; i <= la; i++) {
        cur[0] = i;
        for (int j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(int) * (size_t)(lb + 1));
    }
    return prev[lb];
}

/* "unknown key" message with the nearest valid key, or the keys of the same section. */
int tg_cfg_unknown_key_error(const tg_cfg *c, const char *where, const char *key)
{
    const char *best = NULL;
    char best_buf[128] = "";
    int best_d = 99;
    char cand[128];
    int depth = 0;
    for (const char *q = key; *q; q++)
        depth += *q == '.';
    for (int i = 0; i < c->nkeys; i++) {
        /* compare with the schema path cut to the key's depth, so a misspelt section
         * ("trainig") finds its section ("training") */
        snprintf(cand, sizeof cand, "%s", c->schema[i].path);
        char *q = cand;
        for (int k = 0; k <= depth && q; k++)
            q = strchr(q + (k > 0), '.');
        if (q)
            *q = 0;
        int d = edit_distance(key, cand);
        if (d < best_d) {
            best_d = d;
            best = c->schema[i].path;
            snprintf(best_buf, sizeof best_buf, "%s", cand);
        }
    }
    if (best && best_d <= 3)
        return tg_error_set(TG_EINVAL, "%s: unknown key '%s' (did you mean '%s'?)", where, key, best_buf);
    char list[512] = "";
    const char *dot = strrchr(key, '.');
    size_t sec = dot ? (size_t)(dot - key) + 1 : 0;
    for (int i = 0; i < c->nkeys; i++) {
        const char *kp = c->schema[i].path;
        if (sec ? strncmp(kp, key, sec) == 0 : strchr(kp, '.') == NULL) {
            if (strlen(list) + strlen(kp) + 3 >= sizeof list)
                break;
            if (list[0])
                strcat(list, ", ");
            strcat(list, kp);
        }
    }
    return tg_error_set(TG_EINVAL, "%s: unknown key '%s'%s%s%s", where, key, list[0] ? " (valid here: " : "",
                        list, list[0] ? ")" : "");
}

/* ---------------------------------------------------------------- parsing */
typedef struct {
    yaml_parser_t p;
    tg_cfg *c;
} parse_state;

static int parse_error(parse_state *s, const char *what, size_t line)
{
    return tg_error_set(TG_EINVAL, "%s:%zu: %s", s->c->name, line + 1, what);
}

static int next(parse_state *s, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&s->p, ev))
        return tg_error_set(TG_EINVAL, "%s:%zu: YAML syntax error: %s", s->c->name, s->p.problem_mark.line + 1,
                            s->p.problem ? s->p.problem : "unknown");
    return 0;
}

static int parse_mapping(parse_state *s, const char *prefix);

static int parse_value(parse_state *s, const char *key, yaml_event_t *ev)
{
    int line = (int)ev->start_mark.line + 1;
    if (ev->type == YAML_SCALAR_EVENT) {
        if (tg_cfg_schema_is_group(s->c, key) && !tg_cfg_schema_find(s->c, key))
            return parse_error(s, "expected a mapping (nested keys) here", ev->start_mark.line);
        entry *e = tg_cfg_add_entry(s->c, key, line);
        if (!e || tg_cfg_push_item(e, (const char *)ev->data.scalar.value))
            return TG_ENOMEM;
        return 0;
    }
    if (ev->type == YAML_SEQUENCE_START_EVENT) {
        entry *e = tg_cfg_add_entry(s->c, key, line);
        if (!e)
            return TG_ENOMEM;
        e->is_list = 1;
        for (;;) {
            yaml_event_t it;
            if (next(s, &it))
                return TG_EINVAL;
            if (it.type == YAML_SEQUENCE_END_EVENT) {
                yaml_event_delete(&it);
                /* a group name (e.g. "inputs:") is not a key either: validate() needs each
                 * entry's key (checked after the list, so YAML syntax errors come first) */
                if (tg_cfg_schema_is_group(s->c, key) && !tg_cfg_schema_find(s->c, key))
                    return parse_error(s, "expected a mapping (nested keys) here, not a list", ev->start_mark.line);
                return 0;
            }
            if (it.type != YAML_SCALAR_EVENT) {
                int rc = parse_error(s, "lists may hold only plain values", it.start_mark.line);
                yaml_event_delete(&it);
                return rc;
            }
            int rc = tg_cfg_push_item(e, (const char *)it.data.scalar.value);
            yaml_event_delete(&it);
            if (rc)
                return rc;
        }
    }
    if (ev->type == YAML_MAPPING_START_EVENT)
        return parse_mapping(s, key);
    return parse_error(s, "unsupported YAML construct (anchors/aliases are not supported)", ev->start_mark.line);
}

static int parse_mapping(parse_state *s, const char *prefix)
{
    for (;;) {
        yaml_event_t kev;
        if (next(s, &kev))
            return TG_EINVAL;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            return 0;
        }
        if (kev.type != YAML_SCALAR_EVENT) {
            int rc = parse_error(s, "expected a key", kev.start_mark.line);
            yaml_event_delete(&kev);
            return rc;
        }
        char key[256];
        snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", (const char *)kev.data.scalar.value);
        size_t kline = kev.start_mark.line;
        yaml_event_delete(&kev);
        if (tg_cfg_find(s->c, key))
            return parse_error(s, "duplicate key", kline) ? tg_error_set(TG_EINVAL, "%s:%zu: key '%s' given twice",
                                                                         s->c->name, kline + 1, key) : TG_EINVAL;
        if (!tg_cfg_schema_find(s->c, key) && !tg_cfg_schema_is_group(s->c, key))
        {
            char where[4200];
            snprintf(where, sizeof where, "%s:%zu", s->c->name, kline + 1);
            return tg_cfg_unknown_key_error(s->c, where, key);
        }
        yaml_event_t vev;
        if (next(s, &vev))
            return TG_EINVAL;
        int rc = parse_value(s, key, &vev);
        yaml_event_delete(&vev);
        if (rc)
            return rc;
    }
}

/* ---------------------------------------------------------------- validation */
/* Integers of a config fit an int: every consumer stores them in one, and a wider value
 * (hidden: 4294967312) would otherwise wrap silently (to 16) on the cast. */
static int is_int(const char *v, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end || errno || x < INT_MIN || x > INT_MAX)
        return 0;
    if (out) *out = x;
    return 1;
}

static int is_float(const char *v, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno)
        return 0;
    if (out) *out = x;
    return 1;
}

static int parse_bool(const char *v, int *out)
{
    static const char *t[] = {"true", "yes", "on", "1"}, *f[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (!strcmp(v, t[i])) { *out = 1; return 1; }
        if (!strcmp(v, f[i])) { *out = 0; return 1; }
    }
    return 0;
}

static int in_choices(const char *v, const char *choices)
{
    size_t n = strlen(v);
    for (const char *p = choices; p && *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n))
            return 1;
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

static const char *type_name(tg_cfg_type t)
{
    static const char *n[] = {"a string", "an integer", "a number", "true or false", "a date YYYY-MM-DD",
                              "a list", "a list of numbers", "a path"};
    return n[t];
}

void tg_cfg_where(const tg_cfg *c, const entry *e, char *buf, size_t size)
{
    if (e->set)
        snprintf(buf, size, "--set %s", e->set);
    else
        snprintf(buf, size, "%s:%d", c->name, e->line);
}

static int validate(tg_cfg *c)
{
    for (int i = 0; i < c->n; i++) {
        entry *e = &c->e[i];
        const tg_cfg_key *k = tg_cfg_schema_find(c, e->key);
        char at[4200];
        tg_cfg_where(c, e, at, sizeof at);
        if (e->is_list && k->type != TG_CFG_LIST && k->type != TG_CFG_FLOATS)
            return tg_error_set(TG_EINVAL, "%s: key '%s': expected %s, got a list", at, e->key,
                                type_name(k->type));
        for (int j = 0; j < e->n; j++) {
            const char *v = e->items[j];
            int ok = 1, b, d;
            switch (k->type) {
            case TG_CFG_INT: ok = is_int(v, NULL); break;
            case TG_CFG_FLOAT: case TG_CFG_FLOATS: ok = is_float(v, NULL); break;
            case TG_CFG_BOOL: ok = parse_bool(v, &b); break;
            case TG_CFG_DATE: ok = tg_date_parse(v, &d) == 0; break;
            case TG_CFG_STR: ok = !k->choices || in_choices(v, k->choices); break;
            case TG_CFG_LIST: case TG_CFG_PATH: break;
            }
            if (!ok && k->type == TG_CFG_INT && is_float(v, NULL) && strspn(v, "+-0123456789") == strlen(v))
                return tg_error_set(TG_EINVAL, "%s: key '%s': %s is out of range (integers must lie in [%d, %d])",
                                    at, e->key, v, INT_MIN, INT_MAX);
            if (!ok) {
                if (k->type == TG_CFG_STR)
                    return tg_error_set(TG_EINVAL, "%s: key '%s': '%s' is not one of %s", at, e->key, v,
                                        k->choices);
                return tg_error_set(TG_EINVAL, "%s: key '%s': expected %s, got '%s'", at, e->key,
                                    type_name(k->type), v);
            }
        }
    }
    for (int i = 0; i < c->nkeys; i++)
        if (c->schema[i].required && !tg_cfg_find(c, c->schema[i].path))
            return tg_error_set(TG_EINVAL, "%s: missing required key '%s' (%s)", c->name, c->schema[i].path,
                                c->schema[i].doc);
    return 0;
}

static tg_cfg *load(FILE *f, const char *text, const char *name, const tg_cfg_key *schema, int nkeys,
                    const char *const *sets, int n_set)
{
    tg_cfg *c = tg_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->name = tg_cfg_dupstr(name);
    c->schema = schema;
    c->nkeys = nkeys;
    parse_state s = {.c = c};
    yaml_parser_initialize(&s.p);
    if (f)
        yaml_parser_set_input_file(&s.p, f);
    else
        yaml_parser_set_input_string(&s.p, (const unsigned char *)text, strlen(text));
    int rc = 0, done = 0;
    while (!rc && !done) {
        yaml_event_t ev;
        if ((rc = next(&s, &ev)))
            break;
        switch (ev.type) {
        case YAML_MAPPING_START_EVENT: rc = parse_mapping(&s, ""); break;
        case YAML_STREAM_END_EVENT: done = 1; break;
        case YAML_SCALAR_EVENT: case YAML_SEQUENCE_START_EVENT:
            rc = tg_error_set(TG_EINVAL, "%s:%zu: the top level must be a mapping of keys", name, ev.start_mark.line + 1);
            break;
        default: break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&s.p);
    /* overrides replace file values, then ${VAR}s expand, then types are checked: a bad
     * value is named where it came from (file line or --set) whichever way it arrived */
    if (!rc)
        rc = tg_cfg_apply_sets(c, sets, n_set);
    if (!rc)
        rc = tg_cfg_expand_env(c);
    if (!rc)
        rc = validate(c);
    if (!rc)
        rc = tg_cfg_resolve_paths(c, f ? name : NULL);
    if (rc) {
        tg_cfg_free(&c);
        return NULL;
    }
    return c;
}

tg_cfg *tg_cfg_load(const char *path, const tg_cfg_key *schema, int nkeys)
{
    return tg_cfg_load_with(path, schema, nkeys, NULL, 0);
}

tg_cfg *tg_cfg_load_with(const char *path, const tg_cfg_key *schema, int nkeys, const char *const *sets,
                         int n_set)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        tg_error_set(TG_EIO, "%s: cannot open config: %s", path, strerror(errno));
        return NULL;
    }
    tg_cfg *c = load(f, NULL, path, schema, nkeys, sets, n_set);
    fclose(f);
    return c;
}

tg_cfg *tg_cfg_parse_string(const char *text, const char *name, const tg_cfg_key *schema, int nkeys)
{
    return load(NULL, text, name, schema, nkeys, NULL, 0);
}

/* ---------------------------------------------------------------- getters */
const char *tg_cfg_path(const tg_cfg *c) { return c->name; }
int tg_cfg_has(const tg_cfg *c, const char *key) { return tg_cfg_find(c, key) != NULL; }
int tg_cfg_line(const tg_cfg *c, const char *key)
{
    entry *e = tg_cfg_find(c, key);
    return e ? e->line : 0;
}

const char *tg_cfg_str(const tg_cfg *c, const char *key)
{
    entry *e = tg_cfg_find(c, key);
    if (e && e->n)
        return e->items[0];
    const tg_cfg_key *k = tg_cfg_schema_find(c, key);
    return k ? k->def : NULL;
}

long tg_cfg_int(const tg_cfg *c, const char *key)
{
    const char *v = tg_cfg_str(c, key);
    long x = 0;
    return v && is_int(v, &x) ? x : 0;
}

double tg_cfg_float(const tg_cfg *c, const char *key)
{
    const char *v = tg_cfg_str(c, key);
    double x = 0;
    return v && is_float(v, &x) ? x : 0;
}

int tg_cfg_bool(const tg_cfg *c, const char *key)
{
    const char *v = tg_cfg_str(c, key);
    int b = 0;
    return v && parse_bool(v, &b) ? b : 0;
}

int tg_cfg_date(const tg_cfg *c, const char *key)
{
    const char *v = tg_cfg_str(c, key);
    int d;
    return v && tg_date_parse(v, &d) == 0 ? d : INT_MIN;
}

int tg_cfg_list_len(const tg_cfg *c, const char *key)
{
    entry *e = tg_cfg_find(c, key);
    if (e)
        return e->n;
    const tg_cfg_key *k = tg_cfg_schema_find(c, key);
    if (!k || !k->def || !*k->def)
        return 0;
    int n = 1; /* defaults of lists are comma-separated */
    for (const char *p = k->def; *p; p++)
        n += *p == ',';
    return n;
}

const char *tg_cfg_list_item(const tg_cfg *c, const char *key, int i)
{
    entry *e = tg_cfg_find(c, key);
    if (e)
        return i >= 0 && i < e->n ? e->items[i] : NULL;
    const tg_cfg_key *k = tg_cfg_schema_find(c, key);
    if (!k || !k->def)
        return NULL;
    static _Thread_local char buf[256];
    const char *p = k->def;
    for (int j = 0; j < i && p; j++) {
        p = strchr(p, ',');
        if (p) p++;
    }
    if (!p)
        return NULL;
    size_t len = strcspn(p, ",");
    if (len >= sizeof buf)
        len = sizeof buf - 1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    return buf;
}

void tg_cfg_schema_markdown(FILE *out, const tg_cfg_key *schema, int nkeys)
{
    fprintf(out, "| key | type | required | default | meaning |\n|---|---|---|---|---|\n");
    for (int i = 0; i < nkeys; i++) {
        const tg_cfg_key *k = &schema[i];
        char choices[256] = "";
        if (k->choices) { /* '|' would split the markdown cell */
            snprintf(choices, sizeof choices, ": %s", k->choices);
            for (char *p = choices; *p; p++)
                if (*p == '|') *p = '/';
        }
        fprintf(out, "| `%s` | %s%s | %s | %s%s%s | %s |\n", k->path, type_name(k->type), choices,
                k->required ? "yes" : "no",
                k->def ? "`" : "", k->def ? k->def : "—", k->def ? "`" : "", k->doc);
    }
}
