/* pinn_data.c — reference solutions for PINN cases: CSV point tables ("x,t,u") and arrays
 * from uncompressed NumPy .npz archives (a ZIP of .npy files, as np.savez writes them). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "terragrad/core.h"
#include "terragrad/pinn.h"
#include "terragrad/pinn_run.h"

void tg_pinn_ref_free(tg_pinn_ref *r)
{
    if (!r)
        return;
    tg_free(r->x, r->x ? (size_t)r->n * r->dim * sizeof *r->x : 0);
    tg_free(r->u, r->u ? (size_t)r->n * r->f * sizeof *r->u : 0);
    memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------------ CSV */
/* Header names dim coordinate columns then f value columns; every row numeric. */
int tg_pinn_ref_read_csv(const char *path, int dim, tg_pinn_ref *r)
{
    memset(r, 0, sizeof *r);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return tg_error_set(TG_EIO, "%s: cannot open: %s", path, strerror(errno));
    char line[4096];
    int rc = 0, lineno = 1, cols = 1, cap = 0;
    if (!fgets(line, sizeof line, fp)) {
        fclose(fp);
        return tg_error_set(TG_EIO, "%s: empty file", path);
    }
    for (const char *c = line; *c; c++)
        cols += *c == ',';
    if (cols <= dim || cols - dim > 8) {
        fclose(fp);
        return tg_error_set(TG_EINVAL, "%s: line 1: %d columns, need %d coordinates and 1..8 values", path, cols, dim);
    }
    r->dim = dim, r->f = cols - dim;
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        if (line[0] == '\n' || line[0] == '\r' || line[0] == 0)
            continue;
        if (r->n == cap) {
            int nc = cap ? 2 * cap : 4096;
            double *nx = tg_realloc(r->x, (size_t)cap * dim * sizeof *nx, (size_t)nc * dim * sizeof *nx);
            if (nx)
                r->x = nx;
            double *nu = nx ? tg_realloc(r->u, (size_t)cap * r->f * sizeof *nu, (size_t)nc * r->f * sizeof *nu) : NULL;
            if (nu)
                r->u = nu;
            if (!nx || !nu) {
                rc = tg_error_set(TG_ENOMEM, "%s: out of memory", path);
                break;
            }
            cap = nc;
        }
        char *p = line, *end;
        for (int c = 0; c < cols; c++) {
            errno = 0;
            double v = strtod(p, &end);
            if (end == p || errno) {
                rc = tg_error_set(TG_EINVAL, "%s: line %d, column %d: not a number", path, lineno, c + 1);
                break;
            }
            if (c < dim)
                r->x[(size_t)r->n * dim + c] = v;
            else
                r->u[(size_t)r->n * r->f + c - dim] = v;
            p = end;
            while (*p == ' ')
                p++;
            if (c + 1 < cols) {
                if (*p != ',') {
                    rc = tg_error_set(TG_EINVAL, "%s: line %d: %d columns expected", path, lineno, cols);
                    break;
                }
                p++;
            }
        }
        if (rc)
            break;
        r->n++;
    }
    fclose(fp);
    if (!rc && r->n == 0)
        rc = tg_error_set(TG_EINVAL, "%s: no data rows", path);
    if (rc) { /* keep the allocation sizes right for tg_free */
        tg_free(r->x, (size_t)cap * dim * sizeof *r->x);
        tg_free(r->u, (size_t)cap * (r->f ? r->f : 1) * sizeof *r->u);
        memset(r, 0, sizeof *r);
        return rc;
    }
    /* shrink to n so tg_pinn_ref_free knows the sizes */
    r->x = tg_realloc(r->x, (size_t)cap * dim * sizeof *r->x, (size_t)r->n * dim * sizeof *r->x);
    r->u = tg_realloc(r->u, (size_t)cap * r->f * sizeof *r->u, (size_t)r->n * r->f * sizeof *r->u);
    return 0;
}

/* ------------------------------------------------------------------ npz */
static uint32_t le32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint64_t le64(const unsigned char *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

/* Parses a .npy header at buf (len bytes): little-endian float64, C order. */
static int npy_parse(const char *path, const char *name, const unsigned char *buf, uint64_t len, double **out,
                     int *ndim, int *shape)
{
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6))
        return tg_error_set(TG_EINVAL, "%s: member '%s' is not a .npy array", path, name);
    uint64_t hl = buf[6] == 1 ? le16(buf + 8) : le32(buf + 8), h0 = buf[6] == 1 ? 10 : 12;
    if (h0 + hl > len)
        return tg_error_set(TG_EINVAL, "%s: member '%s': truncated .npy header", path, name);
    char hdr[1024];
    size_t n = hl < sizeof hdr - 1 ? hl : sizeof hdr - 1;
    memcpy(hdr, buf + h0, n);
    hdr[n] = 0;
    if (!strstr(hdr, "'descr': '<f8'"))
        return tg_error_set(TG_EINVAL, "%s: member '%s': only little-endian float64 arrays are supported", path, name);
    const int fortran = strstr(hdr, "'fortran_order': True") != NULL;
    const char *s = strstr(hdr, "'shape': (");
    if (!s)
        return tg_error_set(TG_EINVAL, "%s: member '%s': no shape in the .npy header", path, name);
    s += 10;
    *ndim = 0;
    size_t count = 1;
    while (*s && *s != ')') {
        char *e;
        long v = strtol(s, &e, 10);
        if (e == s)
            break;
        if (*ndim == 4 || v < 0)
            return tg_error_set(TG_EINVAL, "%s: member '%s': unsupported shape", path, name);
        shape[(*ndim)++] = (int)v;
        count *= (size_t)v;
        s = e;
        while (*s == ',' || *s == ' ')
            s++;
    }
    if (h0 + hl + count * 8 > len)
        return tg_error_set(TG_EINVAL, "%s: member '%s': data shorter than its shape", path, name);
    double *d = tg_malloc(count * sizeof *d);
    if (!d)
        return tg_error_set(TG_ENOMEM, "%s: out of memory", path);
    const unsigned char *p = buf + h0 + hl;
    for (size_t k = 0; k < count; k++) {
        /* C order k = ((i0 s1 + i1) s2 + i2)...; Fortran stores i0 + s0 (i1 + s1 (i2 ...)) */
        size_t src = k;
        if (fortran) {
            size_t rem = k, idx[4] = {0}, stride = 1;
            for (int a = *ndim - 1; a >= 0; a--)
                idx[a] = rem % (size_t)shape[a], rem /= (size_t)shape[a];
            src = 0;
            for (int a = 0; a < *ndim; a++)
                src += idx[a] * stride, stride *= (size_t)shape[a];
        }
        uint64_t bits = le64(p + 8 * src);
        memcpy(d + k, &bits, 8);
    }
    *out = d;
    return 0;
}

int tg_npz_read(const char *path, const char *name, double **data, int *ndim, int shape[4])
{
    *data = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return tg_error_set(TG_EIO, "%s: cannot open: %s", path, strerror(errno));
    char want[256];
    snprintf(want, sizeof want, "%s.npy", name);
    unsigned char h[30];
    int rc = -1;
    while (fread(h, 1, 30, fp) == 30 && le32(h) == 0x04034b50u) {
        uint16_t flags = le16(h + 6), method = le16(h + 8), nlen = le16(h + 26), xlen = le16(h + 28);
        uint64_t csize = le32(h + 18), usize = le32(h + 22);
        char fname[256] = {0};
        unsigned char extra[512];
        if (nlen >= sizeof fname || xlen > sizeof extra || fread(fname, 1, nlen, fp) != nlen ||
            fread(extra, 1, xlen, fp) != xlen) {
            rc = tg_error_set(TG_EINVAL, "%s: malformed ZIP header", path);
            break;
        }
        for (unsigned k = 0; k + 4 <= xlen;) { /* ZIP64 sizes */
            uint16_t id = le16(extra + k), sz = le16(extra + k + 2);
            if (id == 1 && sz >= 16 && k + 4 + 16 <= xlen)
                usize = le64(extra + k + 4), csize = le64(extra + k + 12);
            k += 4u + sz;
        }
        if (flags & 8) {
            rc = tg_error_set(TG_EINVAL, "%s: streamed ZIP members are not supported", path);
            break;
        }
        if (strcmp(fname, want)) {
            if (fseek(fp, (long)csize, SEEK_CUR)) {
                rc = tg_error_set(TG_EIO, "%s: seek failed", path);
                break;
            }
            continue;
        }
        if (method != 0 || csize != usize) {
            rc = tg_error_set(TG_EINVAL, "%s: member '%s' is compressed (use np.savez, not savez_compressed)", path, want);
            break;
        }
        unsigned char *buf = tg_malloc(usize ? usize : 1);
        if (!buf) {
            rc = tg_error_set(TG_ENOMEM, "%s: out of memory", path);
            break;
        }
        if (fread(buf, 1, usize, fp) != usize)
            rc = tg_error_set(TG_EIO, "%s: member '%s' truncated", path, want);
        else
            rc = npy_parse(path, want, buf, usize, data, ndim, shape);
        tg_free(buf, usize ? usize : 1);
        break;
    }
    fclose(fp);
    if (rc == -1)
        rc = tg_error_set(TG_EINVAL, "%s: no array '%s' in the archive", path, name);
    return rc;
}
