/* config_write.c — a run's config.yaml: the config as it was run (overrides applied, ${VAR}s
 * expanded, paths absolute), so the run folder can be tested or resumed from anywhere and
 * says exactly what it did. tg_cfg_load of the written file gives back the same values. */
#include <stdio.h>
#include <string.h>

#include "config/config_internal.h"

/* Plain YAML scalar if it cannot be misread, else double-quoted with \ and " escaped. */
static void put_scalar(FILE *f, const char *v)
{
    /* letters, digits and _ . / + - only; a leading '-' only before a digit (a number) */
    int plain = *v != '\0' && (v[0] != '-' || (v[1] >= '0' && v[1] <= '9'));
    for (const char *p = v; *p && plain; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                strchr("_./+-", *p) != NULL;
    if (plain) {
        fputs(v, f);
        return;
    }
    fputc('"', f);
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            fputc('\\', f);
        if (*p == '\n')
            fputs("\\n", f);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void put_entry(FILE *f, const entry *e)
{
    if (!e->is_list) {
        put_scalar(f, e->items[0]);
        return;
    }
    fputc('[', f);
    for (int j = 0; j < e->n; j++) {
        if (j)
            fputs(", ", f);
        put_scalar(f, e->items[j]);
    }
    fputc(']', f);
}

/* Every entry under prefix (length np), grouped by its next key component in order of first
 * appearance, so an override that adds a key to an existing group lands inside that group. */
static void put_group(FILE *f, const tg_cfg *c, const char *prefix, size_t np, int depth)
{
    for (int i = 0; i < c->n; i++) {
        const char *k = c->e[i].key;
        if (strncmp(k, prefix, np))
            continue;
        const char *comp = k + np, *dot = strchr(comp, '.');
        size_t cl = dot ? (size_t)(dot - comp) : strlen(comp);
        int seen = 0; /* this component already written by an earlier entry? */
        for (int j = 0; j < i && !seen; j++)
            seen = !strncmp(c->e[j].key, prefix, np) && !strncmp(c->e[j].key + np, comp, cl) &&
                   (c->e[j].key[np + cl] == '.' || c->e[j].key[np + cl] == '\0');
        if (seen)
            continue;
        fprintf(f, "%*s%.*s:", 2 * depth, "", (int)cl, comp);
        if (!dot) {
            fputc(' ', f);
            put_entry(f, &c->e[i]);
            fputc('\n', f);
        } else {
            fputc('\n', f);
            char sub[300];
            snprintf(sub, sizeof sub, "%.*s", (int)(np + cl + 1), k);
            put_group(f, c, sub, np + cl + 1, depth + 1);
        }
    }
}

int tg_cfg_save(const tg_cfg *c, const char *path)
{
    char tmp[4300];
    FILE *f;
    int rc = tg_io_begin(path, tmp, sizeof tmp, &f);
    if (rc)
        return rc;
    fprintf(f, "# The config of this run as it was run, written by terragrad from %s%s%s.\n", c->name,
             c->base ? " in " : "", c->base ? c->base : "");
    fprintf(f, "# ${VAR}s are expanded and relative paths made absolute (against the config's folder).\n");
    for (int i = 0; i < c->n_set; i++)
        fprintf(f, "# --set %s\n", c->sets[i]);
    put_group(f, c, "", 0, 0);
    return tg_io_commit(f, tmp, path);
}
