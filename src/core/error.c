/* error.c — thread-local error messages and the allocator hook.
 * Why thread-local: data readers run per basin in OpenMP loops; each thread keeps its own
 * message, and the caller reports the first failure after the loop. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "terragrad/core.h"

#define TG_ERRBUF 2048
static _Thread_local char errbuf[TG_ERRBUF];
static _Thread_local int errcode;

int tg_error_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    errcode = code;
    return code;
}

int tg_error_prefix(int code, const char *fmt, ...)
{
    char prefix[TG_ERRBUF], old[TG_ERRBUF];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, errbuf, sizeof old);
    size_t np = strlen(prefix), no = strlen(old);
    if (np > TG_ERRBUF - 1)
        np = TG_ERRBUF - 1;
    if (np + no > TG_ERRBUF - 1)
        no = TG_ERRBUF - 1 - np;
    memcpy(errbuf, prefix, np);
    memcpy(errbuf + np, old, no);
    errbuf[np + no] = '\0';
    errcode = code;
    return code;
}

const char *tg_error_message(void) { return errcode ? errbuf : ""; }
int tg_error_code(void) { return errcode; }
void tg_error_clear(void)
{
    errcode = 0;
    errbuf[0] = '\0';
}

/* ---------------------------------------------------------------- allocator hook */
static tg_alloc_fn alloc_fn;
static void *alloc_ud;

void tg_set_allocator(tg_alloc_fn fn, void *ud)
{
    alloc_fn = fn;
    alloc_ud = ud;
}

void *tg_realloc(void *p, size_t old_size, size_t new_size)
{
    void *q;
    if (alloc_fn)
        q = alloc_fn(alloc_ud, p, old_size, new_size);
    else if (new_size == 0) {
        free(p);
        return NULL;
    } else
        q = realloc(p, new_size);
    if (!q && new_size)
        tg_error_set(TG_ENOMEM, "out of memory (asked for %zu bytes)", new_size);
    return q;
}

void *tg_malloc(size_t n) { return tg_realloc(NULL, 0, n ? n : 1); }

void *tg_calloc(size_t count, size_t size)
{
    if (size && count > (size_t)-1 / size) {
        tg_error_set(TG_ENOMEM, "allocation size overflow (%zu x %zu)", count, size);
        return NULL;
    }
    void *p = tg_malloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void tg_free(void *p, size_t size)
{
    if (p)
        tg_realloc(p, size, 0);
}
