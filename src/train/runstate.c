/* runstate.c — what last.ckpt holds besides weights, optimizer and dropout generator so
 * that `train --resume` continues exactly as an uninterrupted run would: the sampler's
 * position (its shuffles are replayed from the seed) and a fingerprint of everything else
 * that determines the rest of the run — the config keys, the basin list and a hash of each
 * basin's training-period data and of the static attributes. Resuming with anything but
 * the epoch count or the learning-rate schedule changed is refused, naming what changed.
 *
 * Text, one record per line (saved in the checkpoint's run state section):
 *   terragrad-run-state 1
 *   sampler SEED EPOCH POS N_WINDOWS S0 S1 S2 S3     (hex generator state)
 *   key NAME<TAB>VALUE                               (list items joined by ", ")
 *   basins N ID,ID,...
 *   data ID HASH                                     (FNV-1a 64 of the training days)
 *   statics HASH */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train_internal.h"

/* Keys that may change on resume: where results go, how many epochs, the learning-rate
 * schedule, thread count (results do not depend on it), evaluation periods, and the data
 * paths (the data themselves are hashed). */
static int may_change(const char *key)
{
    static const char *const free_keys[] = {"training.epochs", "training.threads", "optim.lr", "optim.schedule",
                                            "optim.gamma", "optim.step_size", "optim.lr_min", "optim.table_epochs",
                                            "optim.table_lrs", "data.path", "data.attributes"};
    for (size_t i = 0; i < sizeof free_keys / sizeof free_keys[0]; i++)
        if (!strcmp(key, free_keys[i]))
            return 1;
    return !strncmp(key, "output.", 7) || !strncmp(key, "periods.test_", 13) || !strncmp(key, "periods.valid_", 14);
}

/* ---------------------------------------------------------------- growable text */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) TG_PRINTF(2, 3);
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = b->oom ? -1 : vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && (size_t)k < b->cap - b->n) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = b->cap ? 2 * b->cap : 4096;
        while (cap < b->n + (size_t)k + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q, b->cap = cap;
    }
}

/* A config value as one line: list items joined by ", " ("" when unset). */
static void key_value(const tg_cfg *cfg, const char *key, sbuf *b)
{
    int n = tg_cfg_list_len(cfg, key);
    for (int i = 0; i < n; i++) {
        const char *v = tg_cfg_list_item(cfg, key, i);
        sb_printf(b, "%s%s", i ? ", " : "", v ? v : "");
    }
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Every variable of basin b on the training days (the only days the sampler reads). */
static uint64_t basin_hash(const tg_basin *b, int first, int last)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    int lo = first - b->start, hi = last - b->start;
    if (lo < 0)
        lo = 0;
    if (hi > b->T - 1)
        hi = b->T - 1;
    h = fnv(h, &lo, sizeof lo);
    h = fnv(h, &hi, sizeof hi);
    for (int v = 0; v < TG_NVAR; v++)
        if (b->var[v] && hi >= lo) {
            h = fnv(h, &v, sizeof v);
            h = fnv(h, b->var[v] + lo, (size_t)(hi - lo + 1) * sizeof(tg_real));
        }
    return h;
}

static uint64_t statics_hash(const tg_dataset *d)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    h = fnv(h, &d->S, sizeof d->S);
    for (int s = 0; s < d->S; s++)
        h = fnv(h, d->static_names[s], strlen(d->static_names[s]) + 1);
    if (d->statics)
        h = fnv(h, d->statics, (size_t)d->B * d->S * sizeof(tg_real));
    return h;
}

int tg_runstate_fingerprint(const tg_cfg *cfg, const tg_dataset *d, char **fp)
{
    sbuf b = {0};
    int n_schema;
    const tg_cfg_key *schema = tg_train_schema_all(&n_schema);
    for (int k = 0; k < n_schema; k++)
        if (!may_change(schema[k].path)) {
            sb_printf(&b, "key %s\t", schema[k].path);
            key_value(cfg, schema[k].path, &b);
            sb_printf(&b, "\n");
        }
    sb_printf(&b, "basins %d ", d->B);
    for (int i = 0; i < d->B; i++)
        sb_printf(&b, "%s%s", i ? "," : "", d->raw[i].id);
    sb_printf(&b, "\n");
    int first = tg_cfg_date(cfg, "periods.train_start"), last = tg_cfg_date(cfg, "periods.train_end");
    for (int i = 0; i < d->B; i++)
        sb_printf(&b, "data %s %016" PRIx64 "\n", d->raw[i].id, basin_hash(&d->raw[i], first, last));
    sb_printf(&b, "statics %016" PRIx64 "\n", statics_hash(d));
    if (b.oom) {
        free(b.p);
        return tg_error_set(TG_ENOMEM, "out of memory for the run state");
    }
    *fp = b.p;
    return 0;
}

int tg_runstate_format(const char *fp, const tg_sampler *s, uint64_t sampler_seed, char **text, size_t *len)
{
    sbuf b = {0};
    sb_printf(&b, "terragrad-run-state 1\n");
    sb_printf(&b, "sampler %" PRIu64 " %d %ld %ld %016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %016" PRIx64 "\n",
              sampler_seed, s->epoch, s->pos, s->n_windows, s->rng.s[0], s->rng.s[1], s->rng.s[2], s->rng.s[3]);
    sb_printf(&b, "%s", fp);
    if (b.oom) {
        free(b.p);
        return tg_error_set(TG_ENOMEM, "out of memory for the run state");
    }
    *text = b.p;
    *len = b.n;
    return 0;
}

/* The line starting with `prefix` (and its length up to the newline), or NULL. */
static const char *find_line(const char *text, const char *prefix, size_t *n)
{
    size_t pl = strlen(prefix);
    for (const char *p = text; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len >= pl && !memcmp(p, prefix, pl)) {
            *n = len - pl;
            return p + pl;
        }
        p = e ? e + 1 : NULL;
    }
    return NULL;
}

#define ALLOWED "only training.epochs and the learning-rate schedule (optim.lr, optim.schedule, optim.gamma, " \
                "optim.step_size, optim.lr_min, optim.table_*) may change on resume"

int tg_runstate_check_config(const char *text, const char *ckpt, const tg_cfg *cfg)
{
    if (strncmp(text, "terragrad-run-state 1\n", 22) != 0)
        return tg_error_set(TG_EINVAL, "%s: unknown run state format (written by a newer terragrad?)", ckpt);
    int n_schema;
    const tg_cfg_key *schema = tg_train_schema_all(&n_schema);
    sbuf msg = {0};
    int changed = 0;
    for (int k = 0; k < n_schema; k++) {
        if (may_change(schema[k].path))
            continue;
        char prefix[160];
        snprintf(prefix, sizeof prefix, "key %s\t", schema[k].path);
        size_t n;
        const char *was = find_line(text, prefix, &n);
        if (!was)
            continue; /* a key newer than the run: its default holds */
        sbuf now = {0};
        key_value(cfg, schema[k].path, &now);
        if (now.oom) {
            free(now.p);
            free(msg.p);
            return tg_error_set(TG_ENOMEM, "out of memory");
        }
        const char *nv = now.p ? now.p : "";
        if (strlen(nv) != n || memcmp(nv, was, n) != 0) {
            sb_printf(&msg, "%s%s was '%.*s', now '%s'", changed ? "; " : "", schema[k].path, (int)n, was, nv);
            changed++;
        }
        free(now.p);
    }
    int rc = 0;
    if (changed)
        rc = tg_error_set(TG_EINVAL, "cannot resume from %s: %s changed since the run started: %s (" ALLOWED ")",
                          ckpt, tg_cfg_path(cfg), msg.oom ? "?" : msg.p);
    free(msg.p);
    return rc;
}

int tg_runstate_check_data(const char *text, const char *ckpt, const tg_cfg *cfg, const tg_dataset *d)
{
    size_t n;
    const char *bl = find_line(text, "basins ", &n);
    if (!bl)
        return tg_error_set(TG_EINVAL, "%s: run state lacks the basin list", ckpt);
    sbuf now = {0};
    sb_printf(&now, "%d ", d->B);
    for (int i = 0; i < d->B; i++)
        sb_printf(&now, "%s%s", i ? "," : "", d->raw[i].id);
    if (now.oom) {
        free(now.p);
        return tg_error_set(TG_ENOMEM, "out of memory");
    }
    int rc = 0;
    if (strlen(now.p) != n || memcmp(now.p, bl, n) != 0) {
        /* name the first basin that differs */
        const char *a = strchr(bl, ' '), *b = strchr(now.p, ' ');
        a = a ? a + 1 : bl, b = b ? b + 1 : now.p;
        const char *end = bl + n;
        while (a < end && *b && *a == *b)
            a++, b++;
        while (a > bl && a[-1] != ',' && a[-1] != ' ')
            a--, b--;
        size_t la = strcspn(a, ",\n"), lb = strcspn(b, ",");
        if (a + la > end)
            la = (size_t)(end - a);
        rc = tg_error_set(TG_EINVAL,
                          "cannot resume from %s: the basin list changed since the run started: it had %d basins, "
                          "%s now gives %d (first difference: '%.*s' in the run, '%.*s' now) (" ALLOWED ")",
                          ckpt, atoi(bl), tg_cfg_path(cfg), d->B, (int)la, la ? a : "(end)", (int)lb,
                          lb ? b : "(end)");
    }
    free(now.p);
    if (rc)
        return rc;
    int first = tg_cfg_date(cfg, "periods.train_start"), last = tg_cfg_date(cfg, "periods.train_end");
    for (int i = 0; i < d->B; i++) {
        char prefix[TG_ID_MAX + 8];
        snprintf(prefix, sizeof prefix, "data %s ", d->raw[i].id);
        const char *h = find_line(text, prefix, &n);
        char cur[17];
        snprintf(cur, sizeof cur, "%016" PRIx64, basin_hash(&d->raw[i], first, last));
        if (!h || n != 16 || memcmp(h, cur, 16) != 0)
            return tg_error_set(TG_EINVAL,
                                "cannot resume from %s: the training-period data of basin '%s' changed since the run "
                                "started (files under %s)",
                                ckpt, d->raw[i].id, tg_cfg_str(cfg, "data.path"));
    }
    const char *h = find_line(text, "statics ", &n);
    char cur[17];
    snprintf(cur, sizeof cur, "%016" PRIx64, statics_hash(d));
    if (!h || n != 16 || memcmp(h, cur, 16) != 0)
        return tg_error_set(TG_EINVAL, "cannot resume from %s: the static attributes changed since the run started",
                            ckpt);
    return 0;
}

int tg_runstate_restore_sampler(const char *text, const char *ckpt, tg_sampler *s, uint64_t sampler_seed)
{
    size_t n;
    const char *l = find_line(text, "sampler ", &n);
    unsigned long long seed = 0, r[4];
    int epoch;
    long pos, nw;
    if (!l || sscanf(l, "%llu %d %ld %ld %llx %llx %llx %llx", &seed, &epoch, &pos, &nw, &r[0], &r[1], &r[2],
                     &r[3]) != 8)
        return tg_error_set(TG_EINVAL, "%s: run state lacks a readable sampler line", ckpt);
    if ((uint64_t)seed != sampler_seed || nw != s->n_windows)
        return tg_error_set(TG_EINVAL,
                            "cannot resume from %s: the run's sampler had seed %llu and %ld windows, this config "
                            "gives seed %llu and %ld windows",
                            ckpt, seed, nw, (unsigned long long)sampler_seed, s->n_windows);
    tg_rng saved;
    for (int i = 0; i < 4; i++)
        saved.s[i] = (uint64_t)r[i];
    int rc = tg_sampler_restore(s, epoch, pos, &saved);
    return rc ? tg_error_prefix(rc, "cannot resume from %s: ", ckpt) : 0;
}
