/* test_surrogate_data.c — surrogate training sets:
 *  - Latin hypercube: every parameter's N strata hit exactly once, reproducible by seed,
 *    different seeds differ, scaling to ranges;
 *  - generation on real Caravan basins: each sample's forcing equals the basin's record at
 *    its start day, windows inside the period, outputs equal a direct run of the model;
 *  - failed samples are marked and the rest of the set is intact;
 *  - NetCDF round trip is exact. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "terragrad/surrogate.h"
#include "test_surrogate_bucket.h"
#include "testutil.h"

static void test_lhs(void)
{
    const int Ns[3] = {1, 7, 500}, P = 5;
    for (int c = 0; c < 3; c++) {
        const int N = Ns[c];
        double *u = malloc(sizeof(double) * (size_t)(N * P)), *v = malloc(sizeof(double) * (size_t)(N * P));
        int *hit = calloc((size_t)N, sizeof(int));
        tg_rng r;
        tg_rng_seed(&r, 11);
        CHECK(tg_lhs(&r, N, P, u) == 0, "lhs: %s", tg_error_message());
        int strata_ok = 1;
        for (int p = 0; p < P; p++) {
            memset(hit, 0, sizeof(int) * (size_t)N);
            for (int i = 0; i < N; i++) {
                double x = u[i * P + p];
                int k = (int)floor(x * N);
                if (!(x >= 0 && x < 1) || k < 0 || k >= N) strata_ok = 0;
                else hit[k]++;
            }
            for (int k = 0; k < N; k++) strata_ok &= hit[k] == 1;
        }
        CHECK(strata_ok, "N=%d: some stratum not hit exactly once", N);
        tg_rng_seed(&r, 11);
        tg_lhs(&r, N, P, v);
        CHECK(memcmp(u, v, sizeof(double) * (size_t)(N * P)) == 0, "N=%d: same seed, different design", N);
        if (N > 1) {
            tg_rng_seed(&r, 12);
            tg_lhs(&r, N, P, v);
            CHECK(memcmp(u, v, sizeof(double) * (size_t)(N * P)) != 0, "N=%d: seed has no effect", N);
            /* Columns are permuted independently: not the same ordering in every column. */
            int same_order = 1;
            for (int i = 0; i < N; i++) same_order &= (int)floor(u[i * P] * N) == (int)floor(u[i * P + 1] * N);
            CHECK(!same_order, "N=%d: columns share one permutation", N);
        }
        free(u);
        free(v);
        free(hit);
    }
    double u[2 * 2] = {0, 0.5, 0.25, 0.999}, lo[2] = {-2, 10}, hi[2] = {2, 20}, x[4];
    tg_lhs_scale(u, 2, 2, lo, hi, x);
    CHECK(x[0] == -2 && x[1] == 15 && x[2] == -1 && fabs(x[3] - 19.99) < 1e-12, "scale: %g %g %g %g", x[0], x[1],
          x[2], x[3]);
    tg_rng r;
    tg_rng_seed(&r, 1);
    CHECK(tg_lhs(&r, 0, 3, u) == TG_EINVAL, "N = 0 must be rejected");
}

/* The bucket C port, failing on purpose for TT > 1.5 (a "crash" region of the legacy code). */
static int picky_fn(void *ud, int T, int nf, const double *f, int np, const double *p, int nout, double *out)
{
    (void)ud;
    if (p[BK_TT] > 1.5) return 99;
    return bk_run(T, nf, f, np, p, nout, out, NULL);
}

static void test_generate(void)
{
    const char *ids[3] = {"01022500", "01031500", "06885500"};
    tg_basin b[3];
    int ok = 1;
    for (int i = 0; i < 3; i++) {
        if (tg_caravan_read(tg_test_data("caravan_camels_us"), ids[i], &b[i])) {
            fprintf(stderr, "%s\n", tg_error_message());
            ok = 0;
        }
    }
    CHECK(ok, "reading Caravan basins");
    if (!ok) return;
    tg_blackbox_options o = {.name = "bucket-c", .np = BK_NP, .nf = 3, .nout = 4, .param_names = bk_names,
                             .workers = 2};
    tg_blackbox *bb = tg_blackbox_function(picky_fn, NULL, &o);
    const int first = tg_date_from_ymd(1985, 1, 1), last = tg_date_from_ymd(1989, 12, 31);
    tg_surr_design d = {.n_samples = 200, .window = 120, .first = first, .last = last, .seed = 5, .lo = bk_lo,
                        .hi = bk_hi, .param_names = bk_names};
    tg_surr_data s, s2, r;
    CHECK(tg_surr_generate(bb, b, 3, &d, &s) == 0, "generate: %s", tg_error_message());
    CHECK(s.N == 200 && s.T == 120 && s.nf == 3 && s.np == BK_NP && s.nout == 4, "sizes");
    CHECK(!strcmp(s.param_name[2], "FC") && !strcmp(s.forcing_name[1], "T") && !strcmp(s.model, "bucket-c"),
          "names: %s %s %s", s.param_name[2], s.forcing_name[1], s.model);

    /* Failed samples: exactly those with TT > 1.5 (LHS: 1/8 of the range = 25 of 200). */
    int nbad = 0, marked_right = 1, in_period = 1, forcing_ok = 1, out_ok = 1, in_range = 1, used[3] = {0};
    static double one[120 * 4];
    for (int i = 0; i < s.N; i++) {
        const double *p = s.params + (size_t)i * BK_NP;
        int should_fail = p[BK_TT] > 1.5;
        nbad += should_fail;
        marked_right &= (s.status[i] == TG_BB_RETURN) == should_fail && (s.status[i] == TG_BB_OK) == !should_fail;
        for (int k = 0; k < BK_NP; k++) in_range &= p[k] >= bk_lo[k] && p[k] < bk_hi[k];
        in_period &= s.start[i] >= first && s.start[i] + s.T - 1 <= last;
        int bi = -1;
        for (int j = 0; j < 3; j++)
            if (!strcmp(s.basin[i], ids[j])) bi = j;
        if (bi < 0) {
            forcing_ok = 0;
            continue;
        }
        used[bi]++;
        const int off = s.start[i] - b[bi].start;
        const double *f = s.forcing + (size_t)i * 120 * 3;
        for (int t = 0; t < 120; t += 17)
            forcing_ok &= f[t * 3] == (double)b[bi].var[TG_VAR_P][off + t] &&
                          f[t * 3 + 1] == (double)b[bi].var[TG_VAR_TEMP][off + t] &&
                          f[t * 3 + 2] == (double)b[bi].var[TG_VAR_PET][off + t];
        if (!should_fail && i % 10 == 0) {
            bk_run(120, 3, f, BK_NP, p, 4, one, NULL);
            out_ok &= memcmp(one, s.out + (size_t)i * 120 * 4, sizeof one) == 0;
        } else if (should_fail) {
            out_ok &= isnan(s.out[(size_t)i * 120 * 4]);
        }
    }
    CHECK(nbad == 25 && s.n_failed == 25, "failed samples: %d in the design, %d marked", nbad, s.n_failed);
    CHECK(marked_right, "status does not match the failing region");
    CHECK(in_range && in_period, "parameters in range %d, windows in period %d", in_range, in_period);
    CHECK(forcing_ok, "sample forcing differs from the basin record");
    CHECK(out_ok, "stored outputs differ from a direct run");
    CHECK(used[0] > 40 && used[1] > 40 && used[2] > 40, "basins drawn %d %d %d", used[0], used[1], used[2]);

    /* Same seed, same set. */
    CHECK(tg_surr_generate(bb, b, 3, &d, &s2) == 0 && memcmp(s.params, s2.params, sizeof(double) * 200 * BK_NP) == 0 &&
              memcmp(s.start, s2.start, sizeof(int) * 200) == 0,
          "generation is not reproducible");
    tg_surr_data_free(&s2);

    /* NetCDF round trip. */
    char path[] = "/tmp/tg_test_surr_XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    CHECK(tg_surr_data_write(path, &s) == 0, "write: %s", tg_error_message());
    CHECK(tg_surr_data_read(path, &r) == 0, "read: %s", tg_error_message());
    if (r.N == s.N) {
        const size_t n = (size_t)s.N;
        CHECK(memcmp(r.params, s.params, n * BK_NP * sizeof(double)) == 0 &&
                  memcmp(r.forcing, s.forcing, n * 120 * 3 * sizeof(double)) == 0 &&
                  memcmp(r.status, s.status, n * sizeof(int)) == 0 && memcmp(r.start, s.start, n * sizeof(int)) == 0 &&
                  memcmp(r.lo, s.lo, BK_NP * sizeof(double)) == 0 && memcmp(r.hi, s.hi, BK_NP * sizeof(double)) == 0,
              "round trip differs");
        int out_same = 1;   /* NaN != NaN: compare bit patterns through isnan */
        for (size_t k = 0; k < n * 120 * 4; k++)
            out_same &= (isnan(r.out[k]) && isnan(s.out[k])) || r.out[k] == s.out[k];
        CHECK(out_same, "outputs differ after the round trip");
        CHECK(!strcmp(r.basin[7], s.basin[7]) && !strcmp(r.param_name[6], "K2") && !strcmp(r.forcing_name[2], "PET") &&
                  r.seed == 5 && r.n_failed == 25 && !strcmp(r.model, "bucket-c"),
              "metadata after round trip: %s %s %llu %d", r.basin[7], r.param_name[6], (unsigned long long)r.seed,
              r.n_failed);
        tg_surr_data_free(&r);
    }
    unlink(path);
    CHECK(tg_surr_data_read("/nonexistent/x.nc", &r) == TG_EIO && strstr(tg_error_message(), "/nonexistent/x.nc"),
          "%s", tg_error_message());

    /* A period with no complete window is a clear error. */
    tg_surr_design d2 = d;
    d2.first = last;
    CHECK(tg_surr_generate(bb, b, 3, &d2, &s2) == TG_EINVAL && strstr(tg_error_message(), "120-day window"), "%s",
          tg_error_message());
    tg_surr_data_free(&s);
    tg_blackbox_free(&bb);
    for (int i = 0; i < 3; i++) tg_basin_free(&b[i]);
}

int main(void)
{
    test_lhs();
    test_generate();
    return tg_test_summary();
}
