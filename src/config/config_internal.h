/* config_internal.h — the flat entry table behind tg_cfg, shared by the parser (config.c),
 * the command-line overrides, ${VAR} expansion and path resolution (config_paths.c) and the
 * writer of a run's effective config (config_write.c). */
#ifndef TG_CONFIG_INTERNAL_H
#define TG_CONFIG_INTERNAL_H

#include <stddef.h>

#include "terragrad.h"

typedef struct {
    char *key;
    int line;         /* line in the file; 0 for a --set override */
    int is_list;
    int n;            /* items (1 for a scalar) */
    char **items;
    const char *set;  /* the "key=value" text of the override that set it, or NULL */
} entry;

struct tg_cfg {
    char *name;       /* file name as given (error messages) */
    char *base;       /* absolute folder of the file: relative TG_CFG_PATH values resolve here */
    entry *e;
    int n, cap;
    const tg_cfg_key *schema;
    int nkeys;
    char **sets;      /* the overrides applied, in order (recorded in the run's config) */
    int n_set;
};

char *tg_cfg_dupstr(const char *s);
void tg_cfg_free_entry(entry *e);
entry *tg_cfg_add_entry(tg_cfg *c, const char *key, int line);
int tg_cfg_push_item(entry *e, const char *v);
entry *tg_cfg_find(const tg_cfg *c, const char *key);
const tg_cfg_key *tg_cfg_schema_find(const tg_cfg *c, const char *key);
int tg_cfg_schema_is_group(const tg_cfg *c, const char *prefix);
int tg_cfg_unknown_key_error(const tg_cfg *c, const char *where, const char *key);
/* "FILE:LINE" or "--set KEY=VALUE": where an entry came from, for messages. */
void tg_cfg_where(const tg_cfg *c, const entry *e, char *buf, size_t size);

/* config_paths.c */
int tg_cfg_apply_sets(tg_cfg *c, const char *const *sets, int n_set);
int tg_cfg_expand_env(tg_cfg *c);
int tg_cfg_resolve_paths(tg_cfg *c, const char *config_path);

#endif
