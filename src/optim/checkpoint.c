/* checkpoint.c — versioned binary checkpoints of parameters, optimizer state, RNG state
 * and epoch.
 *
 * Layout (little-endian):
 *   header (48 bytes): magic "TGCKPT\r\n" | u32 version | u32 bytes per scalar (4/8) |
 *     u64 payload bytes | u64 FNV-1a 64 of the payload | u32 flags (1 optimizer, 2 rng,
 *     4 extra) | u32 0 | u64 0
 *   payload: i64 epoch | u32 n_params | per parameter: u32 name length, name, u32 ndim,
 *     u32 shape[ndim], u32 frozen | u64 n_scalars, values |
 *     [optimizer: u32 kind, i64 step, f64 lr, u64 state size, state, u32 n_scal, f64 scal]
 *     [rng: u64 s[4]] [extra (version >= 2): u64 length, bytes — the caller's run state]
 * Version 1 files (no extra section) are still read.
 * "\r\n" in the magic exposes text-mode or line-ending mangling, as PNG's does.
 * Writing goes to "<path>.tmp", fsync, rename: readers see the old file or the new one,
 * never half of one. Loading validates everything before it touches the caller's state.
 * Test hook (tests/cli_resume.sh): TG_FAULT_INJECT=ckpt_before_rename makes the process
 * _exit(137) after the temp file is written and fsync'ed but before the rename, as a
 * SIGKILL there would; ckpt_partial_write after writing half of the temp file; a suffix
 * ":N" picks the N-th save of the process (default: the first). Unset, it costs a getenv. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "optim/optim_internal.h"

static const unsigned char MAGIC[8] = {'T', 'G', 'C', 'K', 'P', 'T', '\r', '\n'};
enum { HEADER = 48, F_OPT = 1, F_RNG = 2, F_EXTRA = 4 };

static uint64_t fnv1a64(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* ---------------------------------------------------------------- byte writer */
typedef struct wbuf {
    unsigned char *p;       /* NULL: only count */
    size_t n;
} wbuf;

static void put_bytes(wbuf *w, const void *src, size_t n)
{
    if (w->p)
        memcpy(w->p + w->n, src, n);
    w->n += n;
}

static void put_u64(wbuf *w, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    put_bytes(w, b, 8);
}

static void put_u32(wbuf *w, uint32_t v)
{
    unsigned char b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    put_bytes(w, b, 4);
}

static void put_f64(wbuf *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    put_u64(w, u);
}

static void put_reals(wbuf *w, const tg_real *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
#ifdef TG_DOUBLE
        put_f64(w, v[i]);
#else
        uint32_t u;
        memcpy(&u, &v[i], 4);
        put_u32(w, u);
#endif
    }
}

static void write_payload(wbuf *w, const tg_params *ps, const tg_optim *opt, const tg_rng *rng, int64_t epoch,
                          const void *extra, size_t extra_len)
{
    put_u64(w, (uint64_t)epoch);
    put_u32(w, (uint32_t)ps->count);
    for (int k = 0; k < ps->count; k++) {
        size_t len = strlen(ps->name[k]);
        put_u32(w, (uint32_t)len);
        put_bytes(w, ps->name[k], len);
        put_u32(w, (uint32_t)ps->ndim[k]);
        for (int d = 0; d < ps->ndim[k]; d++)
            put_u32(w, (uint32_t)ps->shape[k][d]);
        put_u32(w, (uint32_t)ps->frozen[k]);
    }
    put_u64(w, (uint64_t)ps->size);
    put_reals(w, ps->value, ps->size);
    if (opt) {
        put_u32(w, (uint32_t)opt->cfg.kind);
        put_u64(w, (uint64_t)opt->step);
        put_f64(w, opt->lr);
        put_u64(w, (uint64_t)opt->state_size);
        put_reals(w, opt->state, opt->state_size);
        put_u32(w, TG_OPTIM_NSCAL);
        for (int i = 0; i < TG_OPTIM_NSCAL; i++)
            put_f64(w, opt->scal[i]);
    }
    if (rng)
        for (int i = 0; i < 4; i++)
            put_u64(w, rng->s[i]);
    if (extra) {
        put_u64(w, (uint64_t)extra_len);
        put_bytes(w, extra, extra_len);
    }
}

/* The test hook named in the file comment: 1 if TG_FAULT_INJECT is `point` or
 * `point:N` and this is the process's N-th checkpoint save (saves counts the calls). */
static int saves;
static int fault_at(const char *point)
{
    const char *v = getenv("TG_FAULT_INJECT");
    size_t n = strlen(point);
    if (!v || strncmp(v, point, n) != 0)
        return 0;
    return v[n] == '\0' || (v[n] == ':' && atoi(v + n + 1) == saves);
}

int tg_checkpoint_save(const char *path, const tg_params *ps, const tg_optim *opt, const tg_rng *rng, int64_t epoch)
{
    return tg_checkpoint_save_ex(path, ps, opt, rng, epoch, NULL, 0);
}

int tg_checkpoint_save_ex(const char *path, const tg_params *ps, const tg_optim *opt, const tg_rng *rng,
                          int64_t epoch, const void *extra, size_t extra_len)
{
    if (!path || !ps)
        return tg_error_set(TG_EINVAL, "tg_checkpoint_save: no path or parameters");
    if (opt && opt->n != ps->size)
        return tg_error_set(TG_EINVAL, "checkpoint '%s': optimizer made for %zu parameters, store has %zu", path,
                            opt->n, ps->size);
    wbuf w = {NULL, 0};
    write_payload(&w, ps, opt, rng, epoch, extra, extra_len);
    const size_t payload = w.n;
    unsigned char *buf = tg_malloc(HEADER + payload);
    if (!buf)
        return tg_error_prefix(TG_ENOMEM, "checkpoint '%s': ", path);
    w.p = buf + HEADER, w.n = 0;
    write_payload(&w, ps, opt, rng, epoch, extra, extra_len);
    wbuf h = {buf, 0};
    put_bytes(&h, MAGIC, 8);
    put_u32(&h, TG_CHECKPOINT_VERSION);
    put_u32(&h, (uint32_t)sizeof(tg_real));
    put_u64(&h, (uint64_t)payload);
    put_u64(&h, fnv1a64(buf + HEADER, payload));
    put_u32(&h, (opt ? F_OPT : 0) | (rng ? F_RNG : 0) | (extra ? F_EXTRA : 0));
    put_u32(&h, 0);
    put_u64(&h, 0);

    size_t plen = strlen(path);
    char *tmp = tg_malloc(plen + 5);
    if (!tmp) {
        tg_free(buf, HEADER + payload);
        return tg_error_prefix(TG_ENOMEM, "checkpoint '%s': ", path);
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    int rc = 0;
    saves++;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        rc = tg_error_set(TG_EIO, "checkpoint '%s': cannot create '%s': %s", path, tmp, strerror(errno));
    } else {
        if (fault_at("ckpt_partial_write")) {
            fwrite(buf, 1, (HEADER + payload) / 2, f);
            fflush(f);
            _exit(137);
        }
        int ok = fwrite(buf, 1, HEADER + payload, f) == HEADER + payload;
        ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
        int err = errno;
        ok = (fclose(f) == 0) && ok;
        if (ok && fault_at("ckpt_before_rename"))
            _exit(137);
        if (!ok) {
            rc = tg_error_set(TG_EIO, "checkpoint '%s': writing '%s' failed: %s", path, tmp, strerror(err ? err : errno));
            remove(tmp);
        } else if (rename(tmp, path) != 0) {
            rc = tg_error_set(TG_EIO, "checkpoint '%s': rename from '%s' failed: %s", path, tmp, strerror(errno));
            remove(tmp);
        } else {
            /* make the rename itself durable: fsync the directory */
            char *dir = tmp;
            memcpy(dir, path, plen + 1);
            char *slash = strrchr(dir, '/');
            if (slash == dir)
                slash[1] = '\0';
            else if (slash)
                *slash = '\0';
            else
                strcpy(dir, ".");
            int fd = open(dir, O_RDONLY);
            if (fd >= 0) {
                (void)fsync(fd);
                close(fd);
            }
        }
    }
    tg_free(tmp, plen + 5);
    tg_free(buf, HEADER + payload);
    return rc;
}

/* ---------------------------------------------------------------- byte reader */
typedef struct rbuf {
    const unsigned char *p;
    size_t n, at;
    int bad;                /* read past the end */
} rbuf;

static const unsigned char *take(rbuf *r, size_t n)
{
    if (r->bad || n > r->n - r->at) {
        r->bad = 1;
        return NULL;
    }
    const unsigned char *q = r->p + r->at;
    r->at += n;
    return q;
}

static uint64_t get_u64(rbuf *r)
{
    const unsigned char *b = take(r, 8);
    uint64_t v = 0;
    for (int i = 0; b && i < 8; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static uint32_t get_u32(rbuf *r)
{
    const unsigned char *b = take(r, 4);
    uint32_t v = 0;
    for (int i = 0; b && i < 4; i++)
        v |= (uint32_t)b[i] << (8 * i);
    return v;
}

static double get_f64(rbuf *r)
{
    uint64_t u = get_u64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

/* Reads n scalars into dst (or skips them when dst is NULL). */
static void get_reals(rbuf *r, tg_real *dst, size_t n)
{
    if (n > (r->n - r->at) / sizeof(tg_real)) {
        r->bad = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
#ifdef TG_DOUBLE
        double v = get_f64(r);
#else
        uint32_t u = get_u32(r);
        float v;
        memcpy(&v, &u, 4);
#endif
        if (dst)
            dst[i] = v;
    }
}

#define TRUNC(r, path) tg_error_set(TG_EINVAL, "checkpoint '%s': payload ends early (at byte %zu)", path, (r)->at + HEADER)

/* Parses the payload; validates against ps/opt and, if apply, copies into them. ps NULL:
 * only walks the structure (to reach the run state section without a model). */
static int parse(const char *path, rbuf *r, uint32_t flags, tg_params *ps, tg_optim *opt, tg_rng *rng,
                 int64_t *epoch, int apply, const unsigned char **extra, size_t *extra_len)
{
    int64_t ep = (int64_t)get_u64(r);
    uint32_t count = get_u32(r);
    if (r->bad)
        return TRUNC(r, path);
    if (ps && count != (uint32_t)ps->count)
        return tg_error_set(TG_EINVAL, "checkpoint '%s': holds %u parameter tensors, the model has %d", path, count,
                            ps->count);
    for (uint32_t k = 0; k < count; k++) {
        uint32_t len = get_u32(r);
        const unsigned char *name = take(r, len);
        uint32_t ndim = get_u32(r);
        if (r->bad || ndim > TG_MAX_DIMS)
            return r->bad ? TRUNC(r, path)
                          : tg_error_set(TG_EINVAL, "checkpoint '%s': parameter %u has %u dimensions", path, k, ndim);
        if (ps && (len != strlen(ps->name[k]) || memcmp(name, ps->name[k], len) != 0))
            return tg_error_set(TG_EINVAL, "checkpoint '%s': parameter %u is '%.*s', the model has '%s'", path, k,
                                (int)(len < 64 ? len : 64), (const char *)name, ps->name[k]);
        int same = !ps || (int)ndim == ps->ndim[k];
        uint32_t shape[TG_MAX_DIMS] = {1, 1, 1, 1};
        for (uint32_t d = 0; d < ndim; d++) {
            shape[d] = get_u32(r);
            same = same && (!ps || shape[d] == (uint32_t)ps->shape[k][d]);
        }
        uint32_t frozen = get_u32(r);
        if (r->bad)
            return TRUNC(r, path);
        if (!same)
            return tg_error_set(TG_EINVAL,
                                "checkpoint '%s': parameter '%s' has shape (%u, %u, %u, %u) [%u dims] in the file, "
                                "(%d, %d, %d, %d) [%d dims] in the model",
                                path, ps->name[k], shape[0], shape[1], shape[2], shape[3], ndim, ps->shape[k][0],
                                ps->shape[k][1], ps->shape[k][2], ps->shape[k][3], ps->ndim[k]);
        if (apply && ps)
            ps->frozen[k] = frozen != 0;
    }
    uint64_t size = get_u64(r);
    if (r->bad)
        return TRUNC(r, path);
    if (ps && size != (uint64_t)ps->size)
        return tg_error_set(TG_EINVAL, "checkpoint '%s': %llu scalars, the model has %zu", path,
                            (unsigned long long)size, ps->size);
    if (size > (uint64_t)(r->n - r->at))
        return TRUNC(r, path);
    get_reals(r, apply && ps ? ps->value : NULL, (size_t)size);
    if (r->bad)
        return TRUNC(r, path);
    if (flags & F_OPT) {
        uint32_t kind = get_u32(r);
        int64_t step = (int64_t)get_u64(r);
        double lr = get_f64(r);
        uint64_t ssize = get_u64(r);
        if (r->bad)
            return TRUNC(r, path);
        if (opt && kind != (uint32_t)opt->cfg.kind)
            return tg_error_set(TG_EINVAL, "checkpoint '%s': optimizer is %s in the file, %s here", path,
                                tg_optim_name((tg_optim_kind)kind), tg_optim_name(opt->cfg.kind));
        if (opt && ssize != (uint64_t)opt->state_size)
            return tg_error_set(TG_EINVAL,
                                "checkpoint '%s': optimizer state has %llu scalars in the file, %zu here "
                                "(different momentum / history setting?)",
                                path, (unsigned long long)ssize, opt->state_size);
        get_reals(r, apply && opt ? opt->state : NULL, (size_t)ssize);
        uint32_t nscal = get_u32(r);
        if (r->bad || nscal > 64)
            return r->bad ? TRUNC(r, path)
                          : tg_error_set(TG_EINVAL, "checkpoint '%s': %u optimizer scalars", path, nscal);
        for (uint32_t i = 0; i < nscal; i++) {
            double v = get_f64(r);
            if (apply && opt && i < TG_OPTIM_NSCAL)
                opt->scal[i] = v;
        }
        if (r->bad)
            return TRUNC(r, path);
        if (apply && opt) {
            opt->step = step;
            opt->lr = lr;
        }
    } else if (opt) {
        return tg_error_set(TG_EINVAL, "checkpoint '%s': holds no optimizer state", path);
    }
    if (flags & F_RNG) {
        uint64_t s[4];
        for (int i = 0; i < 4; i++)
            s[i] = get_u64(r);
        if (r->bad)
            return TRUNC(r, path);
        if (apply && rng)
            memcpy(rng->s, s, sizeof s);
    } else if (rng) {
        return tg_error_set(TG_EINVAL, "checkpoint '%s': holds no random generator state", path);
    }
    if (flags & F_EXTRA) {
        uint64_t len = get_u64(r);
        const unsigned char *p = r->bad || len > r->n - r->at ? NULL : take(r, (size_t)len);
        if (!p)
            return tg_error_set(TG_EINVAL, "checkpoint '%s': run state section ends early", path);
        if (apply && extra) {
            *extra = p;
            *extra_len = (size_t)len;
        }
    }
    if (r->at != r->n)
        return tg_error_set(TG_EINVAL, "checkpoint '%s': %zu unexpected bytes after the payload", path, r->n - r->at);
    if (apply && epoch)
        *epoch = ep;
    return 0;
}

int tg_checkpoint_load(const char *path, tg_params *ps, tg_optim *opt, tg_rng *rng, int64_t *epoch)
{
    return tg_checkpoint_load_ex(path, ps, opt, rng, epoch, NULL, NULL);
}

int tg_checkpoint_load_ex(const char *path, tg_params *ps, tg_optim *opt, tg_rng *rng, int64_t *epoch,
                          void **extra, size_t *extra_len)
{
    if (extra)
        *extra = NULL;
    if (extra_len)
        *extra_len = 0;
    if (!path || (!ps && (opt || rng)))
        return tg_error_set(TG_EINVAL, "tg_checkpoint_load: no path or parameters");
    FILE *f = fopen(path, "rb");
    if (!f)
        return tg_error_set(TG_EIO, "checkpoint '%s': cannot open: %s", path, strerror(errno));
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 1 << 16;
            unsigned char *nb = tg_realloc(buf, cap, ncap);
            if (!nb) {
                rc = tg_error_prefix(TG_ENOMEM, "checkpoint '%s': ", path);
                break;
            }
            buf = nb, cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                rc = tg_error_set(TG_EIO, "checkpoint '%s': read error", path);
            break;
        }
    }
    fclose(f);
    if (!rc) {
        rbuf h = {buf, n, 0, 0};
        const unsigned char *magic = take(&h, 8);
        uint32_t version = get_u32(&h), rsize = get_u32(&h);
        uint64_t payload = get_u64(&h), sum = get_u64(&h);
        uint32_t flags = get_u32(&h);
        if (n < HEADER)
            rc = tg_error_set(TG_EINVAL, "checkpoint '%s': truncated (%zu bytes, the header alone is %d)", path, n,
                              HEADER);
        else if (memcmp(magic, MAGIC, 8) != 0)
            rc = tg_error_set(TG_EINVAL, "checkpoint '%s': not a terragrad checkpoint (bad magic)", path);
        else if (version < 1 || version > TG_CHECKPOINT_VERSION)
            rc = tg_error_set(TG_EINVAL, "checkpoint '%s': format version %u, this build reads versions 1 to %d",
                              path, version, TG_CHECKPOINT_VERSION);
        else if (version < 2 && (flags & F_EXTRA))
            rc = tg_error_set(TG_EINVAL, "checkpoint '%s': version 1 file with a run state section", path);
        else if (rsize != sizeof(tg_real))
            rc = tg_error_set(TG_EINVAL, "checkpoint '%s': precision mismatch: the file holds %s, this build uses %s",
                              path, rsize == 8 ? "double" : rsize == 4 ? "float" : "an unknown type", TG_REAL_NAME);
        else if (payload != (uint64_t)(n - HEADER))
            rc = tg_error_set(TG_EINVAL, "checkpoint '%s': %s: header says %llu payload bytes, file has %zu", path,
                              payload > (uint64_t)(n - HEADER) ? "truncated" : "trailing bytes",
                              (unsigned long long)payload, n - HEADER);
        else if (fnv1a64(buf + HEADER, (size_t)payload) != sum)
            rc = tg_error_set(TG_EINVAL, "checkpoint '%s': checksum mismatch, the file is corrupt", path);
        else {
            rbuf r = {buf + HEADER, (size_t)payload, 0, 0};
            rc = parse(path, &r, flags, ps, opt, rng, epoch, 0, NULL, NULL);
            const unsigned char *ex = NULL;
            size_t exn = 0;
            if (!rc) {
                rbuf r2 = {buf + HEADER, (size_t)payload, 0, 0};
                rc = parse(path, &r2, flags, ps, opt, rng, epoch, 1, &ex, &exn);
            }
            if (!rc && extra && ex) {
                /* plain malloc: the caller frees it with free() */
                if (!(*extra = malloc(exn + 1)))
                    rc = tg_error_set(TG_ENOMEM, "checkpoint '%s': out of memory", path);
                else {
                    memcpy(*extra, ex, exn);
                    ((char *)*extra)[exn] = '\0';
                    if (extra_len)
                        *extra_len = exn;
                }
            }
        }
    }
    tg_free(buf, cap);
    return rc;
}

int tg_checkpoint_identify(const char *path, uint64_t *checksum, int64_t *epoch)
{
    unsigned char b[HEADER + 8];
    FILE *f = fopen(path, "rb");
    if (!f)
        return tg_error_set(TG_EIO, "checkpoint '%s': cannot open: %s", path, strerror(errno));
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    if (n < sizeof b || memcmp(b, MAGIC, 8) != 0)
        return tg_error_set(TG_EINVAL, "checkpoint '%s': not a terragrad checkpoint", path);
    rbuf r = {b, n, 24, 0};
    uint64_t sum = get_u64(&r);
    r.at = HEADER;
    int64_t ep = (int64_t)get_u64(&r);
    if (checksum)
        *checksum = sum;
    if (epoch)
        *epoch = ep;
    return 0;
}
