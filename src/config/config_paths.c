/* config_paths.c — what makes a config travel: command-line overrides (--set key=value),
 * ${VAR} expansion from the environment, and relative paths resolved against the config
 * file's own folder (not the current directory). Conventions: docs/config.md. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_internal.h"

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) { /* a quoted item */
        s[n - 1] = '\0';
        s++;
    }
    return s;
}

/* One override "key=value": replaces the file's entry for key (or adds one). "[a, b]" sets a
 * list; anything else one value taken verbatim (no YAML parsing: the shell already quoted it). */
static int apply_set(tg_cfg *c, const char *set)
{
    const char *eq = strchr(set, '=');
    if (!eq || eq == set)
        return tg_error_set(TG_EINVAL, "--set %s: expected KEY=VALUE (e.g. --set training.epochs=3)", set);
    char key[256], where[600];
    snprintf(where, sizeof where, "--set %s", set);
    if ((size_t)(eq - set) >= sizeof key)
        return tg_error_set(TG_EINVAL, "%s: key too long", where);
    memcpy(key, set, (size_t)(eq - set));
    key[eq - set] = '\0';
    if (!tg_cfg_schema_find(c, key))
        return tg_cfg_unknown_key_error(c, where, key);
    char *own = tg_cfg_dupstr(set);
    char **sets = own ? tg_realloc(c->sets, (size_t)c->n_set * sizeof(char *), (size_t)(c->n_set + 1) * sizeof(char *))
                      : NULL;
    if (!sets) {
        if (own)
            tg_free(own, strlen(own) + 1);
        return tg_error_set(TG_ENOMEM, "%s: out of memory", where);
    }
    c->sets = sets;
    c->sets[c->n_set++] = own;

    entry *e = tg_cfg_find(c, key);
    if (e) { /* drop the file's value, keep the slot (and so the key's place in the file) */
        tg_cfg_free_entry(e);
        memset(e, 0, sizeof *e);
        if (!(e->key = tg_cfg_dupstr(key)))
            return TG_ENOMEM;
    } else if (!(e = tg_cfg_add_entry(c, key, 0)))
        return TG_ENOMEM;
    e->line = 0;
    e->set = own;
    const char *v = eq + 1;
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '[' && v[n - 1] == ']') {
        e->is_list = 1;
        char *body = tg_cfg_dupstr(v + 1);
        if (!body)
            return TG_ENOMEM;
        body[n - 2] = '\0';
        int rc = 0;
        if (*trim(body)) { /* "[]" is an empty list */
            for (char *p = body, *q; !rc && p; p = q) {
                q = strchr(p, ',');
                if (q)
                    *q++ = '\0';
                rc = tg_cfg_push_item(e, trim(p));
            }
        }
        tg_free(body, n); /* strlen(v + 1) + 1 bytes, as tg_cfg_dupstr allocated */
        return rc;
    }
    return tg_cfg_push_item(e, v);
}

int tg_cfg_apply_sets(tg_cfg *c, const char *const *sets, int n_set)
{
    for (int i = 0; i < n_set; i++) {
        int rc = apply_set(c, sets[i]);
        if (rc)
            return rc;
    }
    return 0;
}

/* "${NAME}" or "${NAME:-default}" in v, expanded into out; a lone '$' stays as it is. */
static int expand_one(const tg_cfg *c, const entry *e, const char *v, char *out, size_t size)
{
    char at[4200];
    size_t o = 0;
    for (const char *p = v; *p;) {
        const char *piece = p, *add = NULL;
        size_t len = 1;
        char name[128];
        if (p[0] == '$' && p[1] == '{') {
            const char *close = strchr(p + 2, '}');
            tg_cfg_where(c, e, at, sizeof at);
            if (!close)
                return tg_error_set(TG_EINVAL, "%s: key '%s': '${' without a closing '}' in '%s'", at, e->key, v);
            const char *colon = strstr(p + 2, ":-");
            const char *name_end = colon && colon < close ? colon : close;
            size_t nl = (size_t)(name_end - (p + 2));
            if (nl == 0 || nl >= sizeof name)
                return tg_error_set(TG_EINVAL, "%s: key '%s': bad variable name in '%s'", at, e->key, v);
            memcpy(name, p + 2, nl);
            name[nl] = '\0';
            add = getenv(name);
            if (add && !*add)
                add = NULL; /* set but empty counts as unset, as the shell's ${VAR:-x} */
            if (add)
                len = strlen(add);
            else if (name_end == colon) {
                add = colon + 2;
                len = (size_t)(close - add);
            } else
                return tg_error_set(TG_EINVAL,
                                    "%s: key '%s': environment variable %s is not set (set it, or give a default "
                                    "as ${%s:-VALUE})",
                                    at, e->key, name, name);
            piece = add;
            p = close + 1;
        } else
            p++;
        if (o + len >= size) {
            tg_cfg_where(c, e, at, sizeof at);
            return tg_error_set(TG_EINVAL, "%s: key '%s': value longer than %zu characters after expansion", at,
                                e->key, size - 1);
        }
        memcpy(out + o, piece, len);
        o += len;
    }
    out[o] = '\0';
    return 0;
}

int tg_cfg_expand_env(tg_cfg *c)
{
    char buf[PATH_MAX];
    for (int i = 0; i < c->n; i++) {
        entry *e = &c->e[i];
        for (int j = 0; j < e->n; j++) {
            if (!strstr(e->items[j], "${"))
                continue;
            int rc = expand_one(c, e, e->items[j], buf, sizeof buf);
            if (rc)
                return rc;
            char *d = tg_cfg_dupstr(buf);
            if (!d)
                return TG_ENOMEM;
            tg_free(e->items[j], strlen(e->items[j]) + 1);
            e->items[j] = d;
        }
    }
    return 0;
}

/* Absolute folder of the file `path` (its parent made absolute; the file need not be there). */
static int folder_of(const char *path, char *out, size_t size)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    char *r = realpath(dir, NULL);
    if (!r)
        return tg_error_set(TG_EIO, "%s: cannot find the config's folder %s: %s", path, dir, strerror(errno));
    int ok = snprintf(out, size, "%s", r) < (int)size;
    free(r);
    return ok ? 0 : tg_error_set(TG_EINVAL, "%s: folder name too long", path);
}

/* base + "/" + rel with "." and "name/.." segments removed (lexically, as a reader would:
 * the path need not exist yet, e.g. output.dir), so the run's config.yaml reads naturally. */
static int join(const char *base, const char *rel, char *out, size_t size)
{
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s/%s", base, rel);
    if (n < 0 || (size_t)n >= sizeof tmp || size < 2)
        return -1;
    size_t o = 0; /* out holds "/seg/seg" (no trailing slash) */
    char *save = NULL;
    for (char *seg = strtok_r(tmp, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
        if (!strcmp(seg, "."))
            continue;
        if (!strcmp(seg, "..")) {
            while (o > 0 && out[--o] != '/')
                ;
            continue;
        }
        size_t l = strlen(seg);
        if (o + 1 + l >= size)
            return -1;
        out[o++] = '/';
        memcpy(out + o, seg, l);
        o += l;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    return 0;
}

int tg_cfg_resolve_paths(tg_cfg *c, const char *config_path)
{
    char base[PATH_MAX], buf[PATH_MAX];
    if (config_path) {
        int rc = folder_of(config_path, base, sizeof base);
        if (rc)
            return rc;
        if (!(c->base = tg_cfg_dupstr(base)))
            return TG_ENOMEM;
    }
    for (int i = 0; i < c->n; i++) {
        entry *e = &c->e[i];
        const tg_cfg_key *k = tg_cfg_schema_find(c, e->key);
        /* a --set path is typed on the command line: relative to where it was typed, as any
         * command-line path; a string parsed from memory has no folder and stays as given */
        if (!k || k->type != TG_CFG_PATH || e->n != 1 || e->items[0][0] == '/' || !e->items[0][0] ||
            (!e->set && !c->base))
            continue;
        const char *from = c->base;
        char cwd[PATH_MAX];
        if (e->set) {
            if (!getcwd(cwd, sizeof cwd))
                return tg_error_set(TG_EIO, "--set %s: cannot read the current directory: %s", e->set,
                                    strerror(errno));
            from = cwd;
        }
        if (join(from, e->items[0], buf, sizeof buf)) {
            char at[4200];
            tg_cfg_where(c, e, at, sizeof at);
            return tg_error_set(TG_EINVAL, "%s: key '%s': path too long", at, e->key);
        }
        char *d = tg_cfg_dupstr(buf);
        if (!d)
            return TG_ENOMEM;
        tg_free(e->items[0], strlen(e->items[0]) + 1);
        e->items[0] = d;
    }
    return 0;
}
