/* Normalisation (hand-computed statistics, log transform, inverse, save/load, broken
 * stats file) and the minibatch sampler (window validity against brute force, every
 * window once per epoch, seeded determinism, time-major gather). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>

#include "test_data_util.h"

#define TOL (sizeof(tg_real) == sizeof(double) ? 1e-12 : 1e-5)

static void test_norm(void)
{
    tg_norm nm = {0};
    tg_real x[5] = {1, 2, 3, 4, (tg_real)NAN};
    int k = tg_norm_add(&nm, "x", 0, 0);
    tg_norm_update(&nm, k, x, 5, 1);
    /* by hand: mean 2.5; sample variance (2.25 + 0.25 + 0.25 + 2.25) / 3 = 5/3 */
    int l = tg_norm_add(&nm, "Q", 1, 1.0);
    tg_real q[3] = {0, 1, 9};
    tg_norm_update(&nm, l, q, 3, 1);
    int c = tg_norm_add(&nm, "const", 0, 0);
    tg_real k3[3] = {7, 7, 7};
    tg_norm_update(&nm, c, k3, 3, 1);
    CHECK(tg_norm_finish(&nm) == 0, "%s", tg_error_message());
    CHECK_CLOSE(nm.f[k].mean, 2.5, 1e-15, 0);
    CHECK_CLOSE(nm.f[k].std, sqrt(5.0 / 3.0), 1e-15, 0);
    /* log(x + 1): 0, log 2, log 10 */
    double m = (log(2.0) + log(10.0)) / 3.0;
    double var = (m * m + pow(log(2.0) - m, 2) + pow(log(10.0) - m, 2)) / 2.0;
    CHECK_CLOSE(nm.f[l].mean, m, 1e-14, 0);
    CHECK_CLOSE(nm.f[l].std, sqrt(var), 1e-14, 0);
    CHECK(nm.f[c].std == 1.0 && nm.f[c].mean == 7.0, "constant feature");
    tg_real y[5];
    memcpy(y, x, sizeof y);
    tg_norm_apply(&nm, k, y, 5, 1);
    CHECK_CLOSE(y[0], (1 - 2.5) / sqrt(5.0 / 3.0), TOL, 0);
    CHECK(isnan(y[4]), "NaN stays NaN");
    tg_norm_invert(&nm, k, y, 5, 1);
    for (int i = 0; i < 4; i++) CHECK_CLOSE(y[i], x[i], TOL, 0);
    tg_real z[3] = {0, 1, 9};
    tg_norm_apply(&nm, l, z, 3, 1);
    CHECK_CLOSE(z[2], (log(10.0) - m) / sqrt(var), TOL, 0);
    tg_norm_invert(&nm, l, z, 3, 1);
    CHECK_CLOSE(z[2], 9.0, TOL * 10, 0);
    /* exp(log(0 + 1)) - 1: zero up to the roundoff of a number of size 1 */
    CHECK_CLOSE(z[0], 0.0, 0, 8 * TG_TEST_EPS);

    /* save / load: identical statistics */
    const char *p = scratch_path("norm.txt");
    CHECK(tg_norm_save(&nm, p) == 0, "%s", tg_error_message());
    tg_norm ld;
    int rc = tg_norm_load(&ld, p);
    CHECK(rc == 0 && ld.F == 3, "%s", tg_error_message());
    if (!rc) {
        for (int i = 0; i < 3; i++)
            CHECK(!strcmp(ld.f[i].name, nm.f[i].name) && ld.f[i].log == nm.f[i].log && ld.f[i].eps == nm.f[i].eps &&
                      ld.f[i].mean == nm.f[i].mean && ld.f[i].std == nm.f[i].std,
                  "feature %d", i);
        tg_norm_free(&ld);
    }
    CHECK(tg_norm_add(&nm, "bad name", 0, 0) < 0 && tg_norm_add(&nm, "Pl", 1, 0.0) < 0, "invalid features");
    tg_norm_free(&nm);

    write_text(p, "# stats\nP 1 0.1 0.5 1.2 100\nT 0 0 abc 3 10\n");
    CHECK_ERROR(tg_norm_load(&ld, p), TG_EINVAL, "norm.txt", "line 3", "'mean'");
    write_text(p, "P 1 0.1 0.5\n");
    CHECK_ERROR(tg_norm_load(&ld, p), TG_EINVAL, "norm.txt", "line 1", "'std'");
    write_text(p, "P 1 0.1 0.5 0 5\n");
    CHECK_ERROR(tg_norm_load(&ld, p), TG_EINVAL, "norm.txt", "line 1", "'std'");
    CHECK_ERROR(tg_norm_load(&ld, scratch_path("nostats.txt")), TG_EIO, "nostats.txt", NULL, NULL);
}

static void test_norm_basins(void)
{
    tg_basin b[2];
    const char *ids[2] = {"01022500", "01031500"};
    for (int i = 0; i < 2; i++)
        if (tg_caravan_read(tg_test_data("caravan_camels_us"), ids[i], &b[i])) {
            CHECK(0, "%s", tg_error_message());
            return;
        }
    int first = days(1981, 1, 1), last = days(1995, 12, 31);
    tg_norm nm = {0};
    int rc = tg_norm_fit_basins(&nm, "Q", 1, 0.01, b, 2, TG_VAR_Q, first, last);
    rc |= tg_norm_fit_basins(&nm, "P", 0, 0, b, 2, TG_VAR_P, first, last);
    rc |= tg_norm_finish(&nm);
    CHECK(rc == 0, "%s", tg_error_message());
    /* two-pass reference over the same days */
    double s = 0, ss = 0, n = 0;
    for (int i = 0; i < 2; i++)
        for (int t = first - b[i].start; t <= last - b[i].start; t++) {
            double v = (double)b[i].var[TG_VAR_P][t];
            s += v;
            n++;
        }
    double mean = s / n;
    for (int i = 0; i < 2; i++)
        for (int t = first - b[i].start; t <= last - b[i].start; t++) ss += pow((double)b[i].var[TG_VAR_P][t] - mean, 2);
    int kp = tg_norm_find(&nm, "P");
    CHECK(kp == 1 && nm.f[kp].n == 2 * 5478, "count %g", kp >= 0 ? nm.f[kp].n : -1.0);
    CHECK_CLOSE(nm.f[kp].mean, mean, 1e-10, 0);
    CHECK_CLOSE(nm.f[kp].std, sqrt(ss / (n - 1)), 1e-10, 0);
    rc = tg_norm_apply_basins(&nm, "P", b, 2, TG_VAR_P);
    CHECK(rc == 0, "%s", tg_error_message());
    double zs = 0;
    for (int i = 0; i < 2; i++)
        for (int t = first - b[i].start; t <= last - b[i].start; t++) zs += (double)b[i].var[TG_VAR_P][t];
    /* z-scores of the fitting period average to 0: zero up to the roundoff of ~1e4 values of
     * size ~1 stored as tg_real (|z| < 10; TOL is 1e-5 in float, 1e-12 in double) */
    CHECK_CLOSE(zs / n, 0.0, 0, TOL);
    CHECK_ERROR(tg_norm_apply_basins(&nm, "PET", b, 2, TG_VAR_PET), TG_EINVAL, "'PET'", NULL, NULL);
    tg_norm_free(&nm);
    for (int i = 0; i < 2; i++) tg_basin_free(&b[i]);
}

/* Brute force: is window (b, o) valid? */
static int valid(const tg_basin *b, int o, int warmup, int horizon, int first, int last)
{
    int L = warmup + horizon;
    if (o < 0 || o + L > b->T || b->start + o < first || b->start + o + L - 1 > last) return 0;
    int obs = 0;
    for (int t = o; t < o + L; t++) {
        if (isnan(b->var[TG_VAR_P][t]) || isnan(b->var[TG_VAR_TEMP][t])) return 0;
        if (t >= o + warmup) obs += !isnan(b->var[TG_VAR_Q][t]);
    }
    return obs > 0;
}

static void test_sampler(void)
{
    tg_basin b[2];
    tg_basin_init(&b[0], "a", 100, 30);
    tg_basin_init(&b[1], "b", 110, 25);   /* different start and length */
    for (int i = 0; i < 2; i++) {
        tg_real *p = tg_basin_add_var(&b[i], TG_VAR_P), *t = tg_basin_add_var(&b[i], TG_VAR_TEMP),
                *q = tg_basin_add_var(&b[i], TG_VAR_Q);
        for (int d = 0; d < b[i].T; d++) {
            p[d] = (tg_real)(1000 * i + d);
            t[d] = (tg_real)(-d);
            q[d] = (d % 7 == 3 || d % 7 == 4) ? (tg_real)(d) : (tg_real)NAN;   /* sparse targets */
        }
    }
    b[0].var[TG_VAR_P][12] = (tg_real)NAN;       /* a missing input */
    const int vars[2] = {TG_VAR_P, TG_VAR_TEMP};
    int warmup = 4, horizon = 2, first = 102, last = 130;
    long expect = 0;
    for (int i = 0; i < 2; i++)
        for (int o = 0; o < b[i].T; o++) expect += valid(&b[i], o, warmup, horizon, first, last);
    tg_sampler s;
    int rc = tg_sampler_init(&s, b, 2, vars, 2, TG_VAR_Q, first, last, warmup, horizon, 42);
    CHECK(rc == 0, "%s", tg_error_message());
    if (rc) return;
    CHECK(s.n_windows == expect && expect > 5, "windows %ld, brute force %ld", s.n_windows, expect);
    /* one epoch: every window once, each valid; batches of 4 */
    int seen[2][32] = {{0}};
    int bi[4], off[4], total = 0, n, first_order[64], fo = 0;
    while ((n = tg_sampler_next(&s, 4, bi, off)) == 4 || (n > 0 && total + n == s.n_windows)) {
        for (int k = 0; k < n; k++) {
            CHECK(valid(&b[bi[k]], off[k], warmup, horizon, first, last), "window %d/%d invalid", bi[k], off[k]);
            seen[bi[k]][off[k]]++;
            if (fo < 64) first_order[fo++] = bi[k] * 100 + off[k];
        }
        total += n;
        if (total == s.n_windows) break;
    }
    int dup = 0;
    for (int i = 0; i < 2; i++)
        for (int o = 0; o < 32; o++) dup += seen[i][o] > 1;
    CHECK(total == s.n_windows && dup == 0 && s.epoch == 0, "epoch covered %d of %ld, %d repeated", total, s.n_windows, dup);
    /* next call starts epoch 1 in a new order */
    n = tg_sampler_next(&s, 4, bi, off);
    CHECK(s.epoch == 1 && n == 4, "new epoch");
    int differs = 0;
    for (int k = 0; k < 4; k++) differs |= bi[k] * 100 + off[k] != first_order[k];
    CHECK(differs, "epoch 1 is reshuffled");
    tg_sampler_free(&s);

    /* determinism: same seed, same order; another seed, another order */
    tg_sampler s1, s2, s3;
    tg_sampler_init(&s1, b, 2, vars, 2, TG_VAR_Q, first, last, warmup, horizon, 7);
    tg_sampler_init(&s2, b, 2, vars, 2, TG_VAR_Q, first, last, warmup, horizon, 7);
    tg_sampler_init(&s3, b, 2, vars, 2, TG_VAR_Q, first, last, warmup, horizon, 8);
    int eq12 = 1, eq13 = 1;
    for (long i = 0; i < s1.n_windows; i++) {
        eq12 &= s1.basin[i] == s2.basin[i] && s1.offset[i] == s2.offset[i];
        eq13 &= s1.basin[i] == s3.basin[i] && s1.offset[i] == s3.offset[i];
    }
    CHECK(eq12 && !eq13, "seeded order");
    tg_sampler_free(&s1);
    tg_sampler_free(&s2);
    tg_sampler_free(&s3);

    /* gather: x (L, nb, F + S) time-major, statics appended */
    int gb[2] = {1, 0}, go[2] = {3, 5};
    tg_real stat[2 * 2] = {10, 11, 20, 21};   /* (B, S) */
    const int L = 6, W = 3 + 2;
    tg_real x[6 * 2 * 5];
    const int gv[3] = {TG_VAR_P, TG_VAR_TEMP, TG_VAR_PET};   /* PET absent -> NaN */
    tg_batch_gather(b, gb, go, 2, L, gv, 3, stat, 2, x);
    CHECK(x[(2 * 2 + 0) * W + 0] == 1000 + 3 + 2, "x[t=2][k=0] P of basin b at 5");
    CHECK(x[(4 * 2 + 1) * W + 1] == -(5 + 4), "x[t=4][k=1] T of basin a at 9");
    CHECK(isnan(x[(0 * 2 + 1) * W + 2]), "absent variable");
    CHECK(x[(5 * 2 + 0) * W + 3] == 20 && x[(5 * 2 + 1) * W + 4] == 11, "statics");

    /* errors: no valid window, missing variable */
    CHECK_ERROR(tg_sampler_init(&s, b, 2, vars, 2, TG_VAR_Q, first, first + 3, warmup, horizon, 1), TG_EINVAL,
                "no window", NULL, NULL);
    const int bad[1] = {TG_VAR_PET};
    CHECK_ERROR(tg_sampler_init(&s, b, 2, bad, 1, TG_VAR_Q, first, last, warmup, horizon, 1), TG_EINVAL, "'PET'",
                "'a'", NULL);
    for (int i = 0; i < 2; i++) tg_basin_free(&b[i]);
}

static void test_sampler_real(void)
{
    /* 3 Caravan basins, train period, 365-day warm-up + 1 prediction day (the LSTM setup):
     * windows = days whose Q is observed, from 1982-01-01 on (365 days of warm-up) */
    const char *ids[3] = {"01022500", "01031500", "01047000"};
    tg_basin b[3];
    for (int i = 0; i < 3; i++)
        if (tg_caravan_read(tg_test_data("caravan_camels_us"), ids[i], &b[i])) {
            CHECK(0, "%s", tg_error_message());
            return;
        }
    int first = days(1981, 1, 1), last = days(1995, 12, 31);
    long expect = 0;
    for (int i = 0; i < 3; i++)
        for (int d = first + 365; d <= last; d++) expect += !isnan(b[i].var[TG_VAR_Q][d - b[i].start]);
    const int vars[3] = {TG_VAR_P, TG_VAR_TEMP, TG_VAR_PET};
    tg_sampler s;
    int rc = tg_sampler_init(&s, b, 3, vars, 3, TG_VAR_Q, first, last, 365, 1, 123);
    CHECK(rc == 0 && s.n_windows == expect, "windows %ld vs %ld", rc ? 0L : s.n_windows, expect);
    if (!rc) tg_sampler_free(&s);
    for (int i = 0; i < 3; i++) tg_basin_free(&b[i]);
}

int main(void)
{
    test_norm();
    test_norm_basins();
    test_sampler();
    test_sampler_real();
    return tg_test_summary();
}
