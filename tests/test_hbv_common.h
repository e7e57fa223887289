/* test_hbv_common.h — helpers shared by the HBV/routing tests (static, header-only:
 * every tests/test_*.c is its own executable). */
#ifndef TG_TEST_HBV_COMMON_H
#define TG_TEST_HBV_COMMON_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* Reads rows [row0, row0+T) of a Caravan file (P, T, PET, Q; no header) into column b of a
 * (T, B, 3) forcing array. Returns 0 or -1. */
static inline int hbvt_load_forcing(const char *rel, int row0, int T, tg_real *forcing, int B, int b)
{
    FILE *f = fopen(tg_test_data(rel), "r");
    if (!f) { fprintf(stderr, "cannot open %s\n", tg_test_data(rel)); return -1; }
    char line[256];
    int row = 0, got = 0;
    while (got < T && fgets(line, sizeof line, f)) {
        if (row++ < row0) continue;
        char *p = line, *end;
        double v[3];
        for (int k = 0; k < 3; k++) {
            v[k] = strtod(p, &end);
            if (end == p) { fclose(f); return -1; }
            p = end + 1;
        }
        for (int k = 0; k < 3; k++) forcing[((size_t)got * (size_t)B + (size_t)b) * 3 + (size_t)k] = (tg_real)v[k];
        got++;
    }
    fclose(f);
    return got == T ? 0 : -1;
}

/* Static parameters (13, L) with u uniform in [ulo, uhi], mapped to the physical ranges. */
static inline void hbvt_random_params(tg_real *ps, int L, tg_rng *r, double ulo, double uhi)
{
    for (int p = 0; p < TG_HBV_NPARAM; p++)
        for (int l = 0; l < L; l++) {
            double u = ulo + (uhi - ulo) * tg_rng_uniform(r);
            ps[p * L + l] = (tg_real)(tg_hbv_param_range[p][0] + u * (tg_hbv_param_range[p][1] - tg_hbv_param_range[p][0]));
        }
}

static inline tg_real *hbvt_alloc(size_t n)
{
    tg_real *p = calloc(n ? n : 1, sizeof(tg_real));
    if (!p) { fprintf(stderr, "out of memory\n"); exit(2); }
    return p;
}

#endif
