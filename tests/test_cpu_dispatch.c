/* test_cpu_dispatch.c — the run-time choice of vector kernels (src/core/cpu.c):
 *   - TG_CPU caps the level (baseline / avx2 / auto) and a misspelt value is refused;
 *   - HBV on real forcing: the baseline kernels (TG_CPU=baseline) give the vector
 *     kernels' outputs, final stores and parameter gradients to float rounding;
 *   - the two runs really took different code where the CPU has a vector level (else a
 *     dispatch that ignores TG_CPU would pass the comparison trivially);
 *   - the LSTM cell: scalar libm vs glibc's vector expf/tanhf.
 * Mutations that must fail here: a baseline kernel that computes something else (e.g.
 * Q2 doubled in hbv_kernels_impl.h for the base variant only), a select function that
 * ignores tg_cpu_level(), tg_cpu_level() ignoring TG_CPU. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"
#include "terragrad/models.h"
#include "test_hbv_common.h"

/* |a-b| <= rtol max(|a|,|b|) + atol */
static int close_rel(double a, double b, double rtol, double atol)
{
    return fabs(a - b) <= rtol * fmax(fabs(a), fabs(b)) + atol;
}

static void set_cpu(const char *v)
{
    if (v)
        setenv("TG_CPU", v, 1);
    else
        unsetenv("TG_CPU");
}

static void test_levels(void)
{
    const int hw = tg_cpu_hw_level();
    CHECK(hw >= TG_CPU_BASELINE && hw <= TG_CPU_AVX512, "hardware level %d", hw);
#if !defined(__x86_64__)
    CHECK(hw == TG_CPU_BASELINE, "no vector variants outside x86-64, got %d", hw);
#endif
    set_cpu(NULL);
    CHECK(tg_cpu_level() == hw, "unset: %d, hardware %d", tg_cpu_level(), hw);
    set_cpu("auto");
    CHECK(tg_cpu_level() == hw, "auto: %d, hardware %d", tg_cpu_level(), hw);
    set_cpu("baseline");
    CHECK(tg_cpu_level() == TG_CPU_BASELINE, "baseline: %d", tg_cpu_level());
    CHECK(tg_cpu_check_env() == TG_OK, "baseline accepted");
    set_cpu("scalar");
    CHECK(tg_cpu_level() == TG_CPU_BASELINE, "scalar: %d", tg_cpu_level());
    set_cpu("avx2");
    CHECK(tg_cpu_level() == (hw < TG_CPU_AVX2 ? hw : TG_CPU_AVX2), "avx2 cap: %d (hardware %d)", tg_cpu_level(), hw);
    set_cpu("avx-2");
    CHECK(tg_cpu_check_env() == TG_EINVAL && strstr(tg_error_message(), "TG_CPU"), "misspelt TG_CPU refused: %s",
          tg_error_message());
    CHECK(tg_cpu_level() == TG_CPU_BASELINE, "misspelt TG_CPU falls back to the baseline");
    CHECK(!strcmp(tg_cpu_level_name(TG_CPU_BASELINE), "baseline") && !strcmp(tg_cpu_level_name(TG_CPU_AVX2), "avx2") &&
              !strcmp(tg_cpu_level_name(TG_CPU_AVX512), "avx512"),
          "level names");
    set_cpu(NULL);
}

/* One HBV run (forward with every output, backward of a Q-weighted loss). */
typedef struct hbv_run {
    tg_real *ob, *ol, *sf, *hist, *gp;
} hbv_run;

static void run_hbv(hbv_run *r, const tg_hbv_config *c, const tg_real *forcing, const tg_real *ps, const tg_real *g)
{
    const size_t L = (size_t)c->B * (size_t)c->M, no = (size_t)(c->T - c->warmup) * TG_HBV_NOUT;
    r->ob = hbvt_alloc(no * (size_t)c->B), r->ol = hbvt_alloc(no * L), r->sf = hbvt_alloc(TG_HBV_NSTATE * L);
    r->hist = hbvt_alloc(tg_hbv_hist_size(c)), r->gp = hbvt_alloc(TG_HBV_NPARAM * L);
    CHECK(tg_hbv_forward(r->ob, r->ol, r->sf, r->hist, forcing, ps, NULL, NULL, c) == 0, "forward: %s",
          tg_error_message());
    CHECK(tg_hbv_backward(r->gp, NULL, NULL, NULL, g, NULL, NULL, r->hist, forcing, ps, NULL, c) == 0, "backward: %s",
          tg_error_message());
}

static void free_run(hbv_run *r)
{
    free(r->ob), free(r->ol), free(r->sf), free(r->hist), free(r->gp);
}

/* Compares rows of n values each; row r holds variable r % nvar (an output at one step, a
 * store, a parameter). Tolerance: rtol relative, plus an absolute floor of `floor_ulps`
 * float ulps of the largest |value| the variable takes in the run: a value near zero
 * comes out of differences of terms of the variable's size (a store drained by
 * percolation and outflow, a smoothed flux exp(-70) that is physically zero) and carries
 * their rounding, not its own. Returns the worst relative difference among values of at
 * least 1e-3 of the variable's scale; *used gets the largest |a-b| / tolerance (<= 1). */
static double compare_rows(const char *what, const tg_real *a, const tg_real *b, int rows, int nvar, size_t n,
                           double rtol, double floor_ulps, long *ndiff, double *used)
{
    double worst = 0, scale[64] = {0};
    int bad = 0;
    for (int r = 0; r < rows; r++)
        for (size_t i = 0; i < n; i++)
            scale[r % nvar] = fmax(scale[r % nvar], fmax(fabs((double)a[r * n + i]), fabs((double)b[r * n + i])));
    for (int r = 0; r < rows; r++) {
        const double atol = floor_ulps * (double)FLT_EPSILON * scale[r % nvar];
        for (size_t i = 0; i < n; i++) {
            const double x = (double)a[r * n + i], y = (double)b[r * n + i];
            if (x != y)
                (*ndiff)++;
            const double m = fmax(fabs(x), fabs(y));
            if (m >= 1e-3 * scale[r % nvar] && m > 0)
                worst = fmax(worst, fabs(x - y) / m);
            if (x != y)
                *used = fmax(*used, fabs(x - y) / (rtol * m + atol));
            if (!close_rel(x, y, rtol, atol) && bad++ < 5)
                CHECK(0, "%s row %d (variable %d) [%zu]: vector %.9g, baseline %.9g (rtol %g, atol %g)", what, r,
                      r % nvar, i, x, y, rtol, atol);
        }
    }
    CHECK(bad == 0, "%s: %d values differ beyond tolerance", what, bad);
    return worst;
}

static void test_hbv_paths(int smooth)
{
    /* 4 basins, 3 years after a 1-year warm-up, 4 components: 16 lanes, so the AVX-512
     * loop runs full vectors and the baseline one its own (SSE2) width. */
    const char *basins[] = {"01022500", "01031500", "01047000", "01057000"};
    const int B = 4, M = 4, W = 365, T = W + 3 * 365, L = B * M;
    tg_hbv_config c;
    tg_hbv_config_init(&c, T, W, B, M);
    if (smooth)
        c.smooth_temp = TG_R(0.5), c.smooth_store = TG_R(1.0);
    tg_real *forcing = hbvt_alloc((size_t)T * B * 3);
    for (int b = 0; b < B; b++) {
        char rel[128];
        snprintf(rel, sizeof rel, "caravan_camels_us/timeseries/%s.csv", basins[b]);
        CHECK(hbvt_load_forcing(rel, 365 * 10, T, forcing, B, b) == 0, "forcing %s", rel);
    }
    tg_real *ps = hbvt_alloc((size_t)TG_HBV_NPARAM * L);
    tg_rng rng;
    tg_rng_seed(&rng, 16);
    hbvt_random_params(ps, L, &rng, 0.05, 0.95);
    const size_t nt = (size_t)(T - W);
    tg_real *g = hbvt_alloc(nt * TG_HBV_NOUT * (size_t)B);   /* loss = sum of weighted Q */
    for (size_t t = 0; t < nt; t++)
        for (int b = 0; b < B; b++)
            g[(t * TG_HBV_NOUT + TG_HBV_Q) * (size_t)B + (size_t)b] = (tg_real)(1.0 + 0.25 * b);

    hbv_run vec, base;
    set_cpu(NULL);
    const int level = tg_cpu_level();
    run_hbv(&vec, &c, forcing, ps, g);
    set_cpu("baseline");
    run_hbv(&base, &c, forcing, ps, g);
    set_cpu(NULL);

    /* Outputs and final stores: 1e-6 relative (the bar) plus a floor of 8 ulp of
     * the variable's largest value in the run. The two paths differ only in rounding (the
     * vector exp/log use FMA, the x86-64 baseline cannot); measured on 4 CAMELS basins:
     * at most 3.3e-6 relative, on values below 1e-2 of their scale (a store drained to a
     * remainder), i.e. within the floor; 0.17 of the tolerance used. Gradients sum 1095
     * step adjoints with cancellation: 1e-4 relative (measured 5.4e-5), floor 8 ulp of the
     * parameter's largest gradient. Lane outputs (T-W, NOUT, L): rows per step and output. */
    long ndiff = 0;
    double used = 0, gused = 0;
    const int NO = TG_HBV_NOUT, rows = (int)nt * NO;
    double w1 = compare_rows("lane outputs", vec.ol, base.ol, rows, NO, (size_t)L, 1e-6, 8, &ndiff, &used);
    double w2 = compare_rows("basin outputs", vec.ob, base.ob, rows, NO, (size_t)B, 1e-6, 8, &ndiff, &used);
    double w3 = compare_rows("final stores", vec.sf, base.sf, TG_HBV_NSTATE, TG_HBV_NSTATE, (size_t)L, 1e-6, 8, &ndiff, &used);
    long ndiff_out = ndiff;
    double w4 = compare_rows("parameter gradients", vec.gp, base.gp, TG_HBV_NPARAM, TG_HBV_NPARAM, (size_t)L, 1e-4, 8,
                             &ndiff, &gused);
    printf("hbv %s: vector level %s vs baseline: worst rel diff (values >= 1e-3 of their scale) outputs %.3g, "
           "basin %.3g, stores %.3g, gradients %.3g; tolerance used %.2f (outputs), %.2f (gradients); %ld values "
           "differ in their bits\n",
           smooth ? "smooth" : "hard", tg_cpu_level_name(level), w1, w2, w3, w4, used, gused, ndiff);
    /* The vector variants use FMA, the x86-64 baseline cannot: different code gives
     * different bits somewhere in 10^5 values. Identical bits would mean the dispatch
     * ran the same kernels twice. */
    if (level > TG_CPU_BASELINE)
        CHECK(ndiff_out > 0, "vector (%s) and baseline outputs identical bit for bit: TG_CPU not honoured?",
              tg_cpu_level_name(level));
    double gsum = 0;
    for (size_t i = 0; i < TG_HBV_NPARAM * (size_t)L; i++)
        gsum += fabs((double)base.gp[i]);
    CHECK(gsum > 0, "zero gradient");
    free_run(&vec), free_run(&base);
    free(forcing), free(ps), free(g);
}

/* LSTM cell: vector expf/tanhf (libmvec, <= 4 ulp) against scalar libm. H = 37: the vector
 * loops take 32 or 16+16 columns and the scalar tail the rest. */
static void test_lstm_cell_paths(void)
{
    enum { R = 3, H = 37, G = 4 * H };
    static tg_real a0[R * G], a1[R * G], a2[R * G], bih[G], bhh[G], cp[R * H];
    static tg_real c1[R * H], h1[R * H], c2[R * H], h2[R * H];
    tg_rng rng;
    tg_rng_seed(&rng, 7);
    for (int i = 0; i < R * G; i++)
        a0[i] = (tg_real)(3.0 * tg_rng_normal(&rng));
    for (int i = 0; i < G; i++)
        bih[i] = (tg_real)(0.3 * tg_rng_normal(&rng)), bhh[i] = (tg_real)(0.3 * tg_rng_normal(&rng));
    for (int i = 0; i < R * H; i++)
        cp[i] = (tg_real)(2.0 * tg_rng_normal(&rng));
    memcpy(a1, a0, sizeof a0), memcpy(a2, a0, sizeof a0);
    set_cpu(NULL);
    tg_lstm_cell_forward(a1, c1, h1, cp, bih, bhh, R, H);
    set_cpu("baseline");
    tg_lstm_cell_forward(a2, c2, h2, cp, bih, bhh, R, H);
    set_cpu(NULL);
    /* gates in (0,1) or (-1,1), c and h of order 1: 16 ulp relative (two 4-ulp functions
     * chained), absolute floor 4 ulp of 1 for values near 0 (tanh of ~0) */
    int bad = 0;
    double worst = 0;
    for (int i = 0; i < R * H; i++) {
        const double rt = 16 * (double)FLT_EPSILON, at = 4 * (double)FLT_EPSILON;
        bad += !close_rel((double)h1[i], (double)h2[i], rt, at) + !close_rel((double)c1[i], (double)c2[i], rt, at);
        worst = fmax(worst, fabs((double)h1[i] - (double)h2[i]));
    }
    for (int i = 0; i < R * G; i++)
        bad += !close_rel((double)a1[i], (double)a2[i], 16 * (double)FLT_EPSILON, 4 * (double)FLT_EPSILON);
    printf("lstm cell: worst |h vector - h scalar| %.3g\n", worst);
    CHECK(bad == 0, "LSTM cell: %d values differ between the vector and scalar paths", bad);
}

int main(void)
{
    printf("cpu: hardware level %s, TG_CPU=%s\n", tg_cpu_level_name(tg_cpu_hw_level()),
           getenv("TG_CPU") ? getenv("TG_CPU") : "(unset)");
    test_levels();
    test_hbv_paths(0);
    test_hbv_paths(1);
    test_lstm_cell_paths();
    return tg_test_summary();
}
