/* terragrad/config.h — YAML run configs checked against a schema.
 * A schema lists every allowed key (dotted path), its type, whether it is required, its
 * default and a one-line doc (docs/config.md is generated from the same table by
 * `terragrad train --print-schema`). Loading fails with "FILE:LINE: ..." for unknown keys,
 * wrong types and missing required keys; getters then never fail. */
#ifndef TERRAGRAD_CONFIG_H
#define TERRAGRAD_CONFIG_H

#include <stdio.h>

#include "terragrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TG_CFG_STR,      /* any scalar */
    TG_CFG_INT,
    TG_CFG_FLOAT,
    TG_CFG_BOOL,     /* true/false/yes/no/on/off */
    TG_CFG_DATE,     /* YYYY-MM-DD */
    TG_CFG_LIST,     /* a sequence of scalars, or a single scalar (a list of one) */
    TG_CFG_FLOATS,   /* a sequence of numbers */
    TG_CFG_PATH      /* a file or folder: relative values resolve against the config file's folder */
} tg_cfg_type;

typedef struct tg_cfg_key {
    const char *path;        /* "training.epochs" */
    tg_cfg_type type;
    int required;
    const char *def;         /* default as text (NULL: none) */
    const char *doc;
    const char *choices;     /* "|"-separated allowed values for TG_CFG_STR, or NULL */
} tg_cfg_key;

typedef struct tg_cfg tg_cfg;
/* Parses and validates; NULL with the error message on failure. */
TG_API tg_cfg *tg_cfg_load(const char *path, const tg_cfg_key *schema, int nkeys);
/* As tg_cfg_load, then applies command-line overrides "key=value" (value a scalar, or a list
 * "[a, b]"), each checked against the schema like a line of the file and named in errors as
 * "--set key=value". In every value "${VAR}" and "${VAR:-default}" expand from the environment
 * (an unset VAR without default is an error naming file, line and key); then relative
 * TG_CFG_PATH values from the file resolve against the absolute folder of the file, relative
 * ones from --set against the current directory. */
TG_API tg_cfg *tg_cfg_load_with(const char *path, const tg_cfg_key *schema, int nkeys,
                                const char *const *sets, int n_set);
/* Writes the effective config (every key given in the file or by --set, after expansion and
 * path resolution) as YAML that tg_cfg_load reads back to the same values; atomic
 * (temporary file + rename). The header comment names the source file and the overrides. */
TG_API int tg_cfg_save(const tg_cfg *cfg, const char *path);
TG_API tg_cfg *tg_cfg_parse_string(const char *text, const char *name, const tg_cfg_key *schema, int nkeys);
TG_API void tg_cfg_free(tg_cfg **cfg);
TG_API const char *tg_cfg_path(const tg_cfg *cfg);
TG_API int tg_cfg_has(const tg_cfg *cfg, const char *key);           /* given in the file */
TG_API const char *tg_cfg_str(const tg_cfg *cfg, const char *key);   /* value or default (NULL) */
TG_API long tg_cfg_int(const tg_cfg *cfg, const char *key);
TG_API double tg_cfg_float(const tg_cfg *cfg, const char *key);
TG_API int tg_cfg_bool(const tg_cfg *cfg, const char *key);
TG_API int tg_cfg_date(const tg_cfg *cfg, const char *key);         /* day number, or INT_MIN */
TG_API int tg_cfg_list_len(const tg_cfg *cfg, const char *key);
TG_API const char *tg_cfg_list_item(const tg_cfg *cfg, const char *key, int i);
TG_API int tg_cfg_line(const tg_cfg *cfg, const char *key);         /* 0 if not given */
/* Markdown table of a schema (for docs/config.md). */
TG_API void tg_cfg_schema_markdown(FILE *out, const tg_cfg_key *schema, int nkeys);

#ifdef __cplusplus
}
#endif
#endif
