/* data_internal.h — helpers shared by the data readers and writers (not public API):
 * whole-file text loading with line numbers, field splitting, strict number parsing,
 * and write-to-temp-then-rename. */
#ifndef TG_DATA_INTERNAL_H
#define TG_DATA_INTERNAL_H

#include <stdio.h>
#include "terragrad.h"

#define TG_MAX_FIELDS 1024

/* A text file loaded whole (the largest inputs are ~1 MB), consumed line by line. Lines
 * are NUL-terminated in place; "\r\n" endings, a missing final newline and a leading
 * UTF-8 byte-order mark are accepted. */
typedef struct tg_text {
    const char *path;    /* for messages: every error names it */
    char *buf;
    size_t size;         /* bytes allocated for buf */
    char *cur, *end;
    int line;            /* 1-based number of the line last returned */
} tg_text;
int tg_text_open(tg_text *t, const char *path);    /* TG_EIO naming the path */
char *tg_text_next(tg_text *t);                    /* next line or NULL at end of file */
void tg_text_close(tg_text *t);
/* Lines left to read, not counting trailing blank lines (sizes arrays before parsing). */
int tg_text_count_rows(const tg_text *t);
int tg_is_blank(const char *line);
/* Shortest decimal that reads back to exactly x ("NA" for NaN). */
void tg_format_real(char *buf, size_t size, tg_real x);

/* Split in place; return the number of fields (> max means "too many", only max stored). */
int tg_split_ws(char *line, char **fields, int max);          /* runs of spaces / tabs */
int tg_split_sep(char *line, char sep, char **fields, int max); /* ',' or ';', "quotes",
                                                                   fields trimmed */
/* ';' or '\t' when a line has one of them and no comma (a CSV saved with another
 * delimiter), else 0; tg_comma_check turns that into the error naming file and line. */
int tg_foreign_sep(const char *line);
int tg_comma_check(const tg_text *t, const char *line);
/* 0 if v (read from the current line of t, field `field`, variable TG_VAR_* var) lies in
 * tg_var_domain(var); else TG_EINVAL naming file, line, basin, field and the domain. */
int tg_value_check(const tg_text *t, const char *id, const char *field, int var, double v);
/* Strict: the whole (non-empty) string is a number. 0 ok, 1 not a number. */
int tg_parse_double(const char *s, double *v);
int tg_parse_int(const char *s, int *v);
/* "", "NA", "nan" (any case) */
int tg_is_missing(const char *s);

int tg_file_exists(const char *path);
/* tg_io_tmpname, tg_io_begin, tg_io_commit: public, in terragrad/data.h */

/* Appends "; text" to b->note (truncating quietly: the note is for the log only). */
void tg_basin_note(tg_basin *b, const char *fmt, ...) TG_PRINTF(2, 3);
/* Copies an id, rejecting empty or too long ones; `what` names the source in the error. */
int tg_id_copy(char *dst, const char *id, const char *what);
/* The last path component (notes name files, not whole paths). */
const char *tg_path_base(const char *path);

/* Walks a classic NetCDF header (CDF-1/2/5) and refuses one that would make libnetcdf
 * allocate past the file or divide by zero (netcdf_header.c); 0 for other formats. */
int tg__netcdf_check_header(const char *path);

#endif
