/* netcdf_header.c — a walk over a classic NetCDF header (CDF-1, CDF-2, CDF-5) before
 * libnetcdf sees the file. libnetcdf 4.9 trusts two things a corrupt file can break:
 *  - names and attributes are allocated at the length the header declares before it
 *    checks that the file holds them (a 1 kB file can ask for 4 GB);
 *  - NC_check_vlen divides by the running product of a variable's element size and its
 *    dimension lengths, so a shape whose product wraps to 0 (or an unknown type, size 0)
 *    kills the process with SIGFPE inside nc_open.
 * Both were found by fuzzing (tests/fuzz_regressions/netcdf/). A file that passes this walk
 * is handed to libnetcdf; one that does not is "corrupt or truncated", with the reason.
 * NetCDF-4 (HDF5) files are left to libhdf5. Format: NetCDF classic format specification
 * (header = magic numrecs dim_list gatt_list var_list, big-endian). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

typedef struct hdr {
    const uint8_t *p;
    size_t n, at;
    int v5;               /* CDF-5: 64-bit counts */
    const char *why;      /* first problem found */
} hdr;

static const int type_size[12] = {0, 1, 1, 2, 4, 4, 8, 1, 2, 4, 8, 8}; /* NC_BYTE .. NC_UINT64 */

static int get(hdr *h, int bytes, uint64_t *v)
{
    if (h->n - h->at < (size_t)bytes) {
        h->why = "the header ends early";
        return 0;
    }
    *v = 0;
    for (int i = 0; i < bytes; i++)
        *v = (*v << 8) | h->p[h->at++];
    return 1;
}
static int count(hdr *h, uint64_t *v) { return get(h, h->v5 ? 8 : 4, v); }

/* len items of `size` bytes, padded to 4, must fit in what is left of the header */
static int skip(hdr *h, uint64_t len, uint64_t size)
{
    uint64_t b = size ? len * size : 0;
    if ((size && len > (h->n - h->at) / size) || ((b + 3) & ~(uint64_t)3) > h->n - h->at) {
        h->why = "a name or attribute is longer than the file";
        return 0;
    }
    h->at += (size_t)((b + 3) & ~(uint64_t)3);
    return 1;
}
static int name(hdr *h)
{
    uint64_t len;
    return count(h, &len) && skip(h, len, 1);
}
static int list_head(hdr *h, uint64_t *nelems)
{
    uint64_t tag;
    if (!get(h, 4, &tag) || !count(h, nelems))
        return 0;
    if (*nelems > (h->n - h->at) / 4) {
        h->why = "a list declares more entries than the file holds";
        return 0;
    }
    return 1;
}
static int atts(hdr *h)
{
    uint64_t na, type, nv;
    if (!list_head(h, &na))
        return 0;
    for (uint64_t i = 0; i < na; i++) {
        if (!name(h) || !get(h, 4, &type))
            return 0;
        if (type < 1 || type > 11) {
            h->why = "an attribute has an unknown type";
            return 0;
        }
        if (!count(h, &nv) || !skip(h, nv, (uint64_t)type_size[type]))
            return 0;
    }
    return 1;
}

static int walk(hdr *h)
{
    enum { MAX_DIMS = 1024 };
    uint64_t v, nd, nv, *len = NULL;
    int ok = count(h, &v) && list_head(h, &nd);      /* numrecs, dimensions */
    if (ok && nd > MAX_DIMS) {
        h->why = "more than 1024 dimensions";
        ok = 0;
    }
    if (ok && !(len = tg_mem_calloc(nd ? nd : 1, sizeof *len))) {
        h->why = "out of memory";
        ok = 0;
    }
    for (uint64_t i = 0; ok && i < nd; i++)
        ok = name(h) && count(h, &len[i]);
    ok = ok && atts(h) && list_head(h, &nv);            /* global attributes, variables */
    for (uint64_t i = 0; ok && i < nv; i++) {
        uint64_t ndim, type, prod = 1, id;
        ok = name(h) && count(h, &ndim);
        if (ok && ndim > MAX_DIMS) {
            h->why = "a variable has more than 1024 dimensions";
            ok = 0;
        }
        for (uint64_t k = 0; ok && k < ndim; k++) {
            ok = count(h, &id);
            if (ok && id >= nd) {
                h->why = "a variable uses a dimension that does not exist";
                ok = 0;
            } else if (ok && len[id] && prod > UINT64_MAX / len[id]) {
                h->why = "a variable's size overflows";
                ok = 0;
            } else if (ok && len[id])
                prod *= len[id];
        }
        ok = ok && atts(h) && get(h, 4, &type);
        if (ok && (type < 1 || type > 11)) {
            h->why = "a variable has an unknown type";
            ok = 0;
        }
        if (ok && prod > UINT64_MAX / 8 / (uint64_t)type_size[type]) {
            h->why = "a variable's size overflows";
            ok = 0;
        }
        ok = ok && count(h, &v) && get(h, h->p[3] == 1 ? 4 : 8, &v);   /* vsize, begin */
    }
    tg_mem_free(len);
    return ok;
}

int tg__netcdf_check_header(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return tg_error_set(TG_EIO, "%s: cannot open", path);
    /* the header is at the start; 64 MiB is far more than any basin file's header */
    enum { MAX_HEADER = 64 << 20 };
    uint8_t magic[4];
    size_t got = fread(magic, 1, 4, f);
    if (got < 4 || memcmp(magic, "CDF", 3) || (magic[3] != 1 && magic[3] != 2 && magic[3] != 5)) {
        fclose(f);
        return 0; /* not classic NetCDF: HDF5-based or not NetCDF at all, libnetcdf decides */
    }
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    size_t cap = size < 4 ? 4 : size > MAX_HEADER ? MAX_HEADER : (size_t)size;
    uint8_t *buf = tg_mem_alloc(cap);
    if (!buf || fseek(f, 4, SEEK_SET) != 0) {
        tg_mem_free(buf);
        fclose(f);
        return buf ? tg_error_set(TG_EIO, "%s: cannot read", path) : tg_error_set(TG_ENOMEM, "%s: out of memory", path);
    }
    memcpy(buf, magic, 4);
    size_t n = 4 + fread(buf + 4, 1, cap - 4, f);
    fclose(f);
    hdr h = {buf, n, 4, magic[3] == 5, NULL};
    int ok = walk(&h);
    tg_mem_free(buf);
    if (!ok)
        return tg_error_set(TG_EINVAL, "%s: corrupt or truncated NetCDF file (header: %s)", path,
                            h.why ? h.why : "malformed");
    return 0;
}
