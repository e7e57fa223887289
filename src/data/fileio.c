/* fileio.c — file existence, whole-file reads with a size limit, and atomic writes:
 * write a temporary file next to the target, then rename, so a crash or a concurrent
 * reader never sees half a file. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/data_internal.h"

int tg_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int tg_io_tmpname(const char *path, char *tmp, size_t tmpsize)
{
    int n = snprintf(tmp, tmpsize, "%s.tmp%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= tmpsize) return tg_error_set(TG_EINVAL, "%s: path too long", path);
    return 0;
}

int tg_io_begin(const char *path, char *tmp, size_t tmpsize, FILE **f)
{
    int rc = tg_io_tmpname(path, tmp, tmpsize);
    if (rc) return rc;
    *f = fopen(tmp, "wb");
    if (!*f) return tg_error_set(TG_EIO, "%s: cannot create (%s)", tmp, strerror(errno));
    return 0;
}

int tg_io_commit(FILE *f, const char *tmp, const char *path)
{
    int bad = ferror(f);
    if (fclose(f) != 0) bad = 1;
    if (bad) {
        remove(tmp);
        return tg_error_set(TG_EIO, "%s: write error (disk full?)", tmp);
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return tg_error_set(TG_EIO, "%s: cannot rename to %s (%s)", tmp, path, strerror(e));
    }
    return 0;
}

char *tg_file_read_all(const char *path, size_t max_bytes, size_t *len)
{
    if (len) *len = 0;
    if (max_bytes > SIZE_MAX - 2) max_bytes = SIZE_MAX - 2;
    FILE *f = fopen(path, "rb");
    if (!f) {
        tg_error_set(TG_EIO, "%s: cannot open (%s)", path, strerror(errno));
        return NULL;
    }
    /* the buffer grows to at most max_bytes + 2: room for one byte past the limit (to
     * tell "exactly at the limit" from "over it") and the NUL */
    size_t cap = max_bytes + 2 < ((size_t)1 << 16) ? max_bytes + 2 : (size_t)1 << 16, n = 0;
    char *buf = tg_mem_alloc(cap);
    while (buf) {
        if (n == cap - 1) {
            size_t ncap = cap > (max_bytes + 2) / 2 ? max_bytes + 2 : cap * 2;
            char *nb = tg_mem_realloc(buf, ncap);
            if (!nb) {
                tg_error_prefix(TG_ENOMEM, "%s: ", path);
                break;
            }
            buf = nb, cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (n > max_bytes) {
            tg_error_set(TG_EINVAL, "%s: longer than %zu bytes, the limit for this file; not read", path,
                         max_bytes);
            break;
        }
        if (got == 0) {
            if (ferror(f)) {
                tg_error_set(TG_EIO, "%s: read error", path);
                break;
            }
            fclose(f);
            buf[n] = '\0';
            if (len) *len = n;
            return buf;
        }
    }
    fclose(f);
    tg_mem_free(buf);
    return NULL;
}

void tg_basin_note(tg_basin *b, const char *fmt, ...)
{
    size_t n = strlen(b->note);
    if (n + 3 >= sizeof b->note) return;
    if (n) {
        b->note[n++] = ';';
        b->note[n++] = ' ';
        b->note[n] = '\0';
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->note + n, sizeof b->note - n, fmt, ap);
    va_end(ap);
}

int tg_id_copy(char *dst, const char *id, const char *what)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n >= TG_ID_MAX)
        return tg_error_set(TG_EINVAL, "%s: basin id '%s' is empty or longer than %d characters",
                            what, id ? id : "", TG_ID_MAX - 1);
    memcpy(dst, id, n + 1);
    return 0;
}

const char *tg_path_base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}
