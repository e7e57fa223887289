/* textfile.c — load a text file whole and hand it out line by line with line numbers,
 * split lines into fields, parse numbers strictly. Readers build their error messages
 * ("FILE: line N, field 'NAME': ...") from t->path and t->line. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

int tg_text_open(tg_text *t, const char *path)
{
    memset(t, 0, sizeof *t);
    t->path = path;
    FILE *f = fopen(path, "rb");
    if (!f) return tg_error_set(TG_EIO, "%s: cannot open (%s)", path, strerror(errno));
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return tg_error_set(TG_EIO, "%s: cannot determine the file size", path);
    }
    t->size = (size_t)n + 1;
    t->buf = tg_malloc(t->size);
    if (!t->buf) {
        fclose(f);
        return tg_error_prefix(TG_ENOMEM, "%s: ", path);
    }
    size_t got = fread(t->buf, 1, (size_t)n, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != (size_t)n) {
        tg_text_close(t);
        return tg_error_set(TG_EIO, "%s: read error", path);
    }
    t->buf[n] = '\0';
    t->cur = t->buf;
    /* a UTF-8 byte-order mark (spreadsheets save one) is not part of the first field */
    if (n >= 3 && !memcmp(t->buf, "\xEF\xBB\xBF", 3)) t->cur += 3;
    t->end = t->buf + n;
    return 0;
}

char *tg_text_next(tg_text *t)
{
    if (!t->cur || t->cur >= t->end) return NULL;
    char *s = t->cur;
    char *nl = memchr(s, '\n', (size_t)(t->end - s));
    if (nl) {
        *nl = '\0';
        t->cur = nl + 1;
    } else {
        nl = t->end;   /* last line without a newline: buf[n] is already NUL */
        t->cur = t->end;
    }
    if (nl > s && nl[-1] == '\r') nl[-1] = '\0';
    t->line++;
    return s;
}

void tg_text_close(tg_text *t)
{
    tg_free(t->buf, t->size);
    t->buf = t->cur = t->end = NULL;
    t->size = 0;
}

/* ---------------------------------------------------------------- splitting */
static int is_blank(char c) { return c == ' ' || c == '\t'; }

int tg_split_ws(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        while (is_blank(*p)) p++;
        if (!*p) break;
        if (n < max) fields[n] = p;
        n++;
        while (*p && !is_blank(*p)) p++;
        if (!*p) break;
        *p++ = '\0';
    }
    return n;
}

static char *trim(char *s)
{
    while (is_blank(*s)) s++;
    size_t n = strlen(s);
    while (n && is_blank(s[n - 1])) s[--n] = '\0';
    return s;
}

int tg_split_sep(char *line, char sep, char **fields, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        while (is_blank(*p)) p++;
        char *field = p, *end;
        if (*p == '"') {
            /* quoted: "" inside is one quote; the separator inside is text */
            char *w = p;
            p++;
            while (*p) {
                if (*p == '"') {
                    if (p[1] == '"') {
                        *w++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                *w++ = *p++;
            }
            end = w;
            while (*p && *p != sep) p++;   /* text after the closing quote is dropped */
        } else {
            while (*p && *p != sep) p++;
            end = p;
        }
        int last = (*p == '\0');
        if (!last) p++;
        *end = '\0';
        if (n < max) fields[n] = trim(field);
        n++;
        if (last) break;
    }
    return n;
}

int tg_foreign_sep(const char *line)
{
    if (strchr(line, ',')) return 0;
    if (strchr(line, ';')) return ';';
    if (strchr(line, '\t')) return '\t';
    return 0;
}

int tg_comma_check(const tg_text *t, const char *line)
{
    int c = tg_foreign_sep(line);
    if (!c) return 0;
    return tg_error_set(TG_EINVAL, "%s: line %d: found '%s' \xE2\x80\x94 files must be comma-separated", t->path,
                        t->line, c == ';' ? ";" : "\\t");
}

int tg_value_check(const tg_text *t, const char *id, const char *field, int var, double v)
{
    const tg_domain *d = tg_var_domain(var);
    if (tg_domain_contains(d, v)) {
        if (isfinite((double)(tg_real)v)) return 0;
        return tg_error_set(TG_EINVAL, "%s: line %d, basin '%s', field '%s': %g does not fit this build's %s numbers",
                            t->path, t->line, id, field, v, TG_REAL_NAME);
    }
    char dom[96];
    return tg_error_set(TG_EINVAL, "%s: line %d, basin '%s', field '%s': %g is outside the valid domain %s (%s)",
                        t->path, t->line, id, field, v, tg_domain_format(d, tg_var_name(var), dom, sizeof dom),
                        d->why);
}

/* ---------------------------------------------------------------- numbers */
int tg_parse_double(const char *s, double *v)
{
    if (!s || !*s) return 1;
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end != '\0') return 1;
    /* underflow to a tiny number is fine; overflow to inf is not a data value */
    if (errno == ERANGE && isinf(x)) return 1;
    *v = x;
    return 0;
}

int tg_parse_int(const char *s, int *v)
{
    if (!s || !*s) return 1;
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE || x < INT_MIN || x > INT_MAX) return 1;
    *v = (int)x;
    return 0;
}

static int lower(char c) { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; }

int tg_is_missing(const char *s)
{
    if (!*s) return 1;
    if (s[0] == 'N' && s[1] == 'A' && s[2] == '\0') return 1;
    return lower(s[0]) == 'n' && lower(s[1]) == 'a' && lower(s[2]) == 'n' && s[3] == '\0';
}

int tg_text_count_rows(const tg_text *t)
{
    int n = 0, last = 0;
    const char *p = t->cur;
    while (p && p < t->end) {
        const char *nl = memchr(p, '\n', (size_t)(t->end - p));
        const char *e = nl ? nl : t->end;
        n++;
        /* blank as tg_text_next + tg_is_blank see it: only the '\r' just before the
         * newline is stripped, so any other '\r' makes the line a row (readers size their
         * arrays with this count: it must never be lower than the rows they find) */
        if (e > p && e[-1] == '\r') e--;
        for (const char *q = p; q < e; q++)
            if (!is_blank(*q)) {
                last = n;
                break;
            }
        p = nl ? nl + 1 : t->end;
    }
    return last;
}

int tg_is_blank(const char *line)
{
    while (is_blank(*line)) line++;
    return *line == '\0';
}

void tg_format_real(char *buf, size_t size, tg_real x)
{
    char tmp[40] = "NA";
    if (!isnan(x)) {
        int maxp = sizeof(tg_real) == sizeof(float) ? 9 : 17;
        for (int p = 1; p <= maxp; p++) {
            snprintf(tmp, sizeof tmp, "%.*g", p, (double)x);
            if ((tg_real)strtod(tmp, NULL) == x) break;
        }
    }
    size_t n = strlen(tmp);
    if (n >= size) n = size - 1;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
}
