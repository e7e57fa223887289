/* test_blackbox.c — the black-box interface on the legacy Fortran bucket model:
 *  - the three kinds (C function = independent C port, Fortran shared library, Fortran
 *    executable) give the same outputs on real Caravan forcing (library vs executable
 *    bit for bit; vs the C port to 1e-12);
 *  - the water balance of the model closes (so the C port itself is checked);
 *  - a failing / crashing / hanging / lying executable gives TG_EEXTERNAL naming the model,
 *    the parameter set and the reason, marks just that sample failed, and the batch goes on;
 *  - temp dirs are cleaned up; results do not depend on the number of workers. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "terragrad/surrogate.h"
#include "test_surrogate_bucket.h"
#include "testutil.h"

#define LIB TG_BINARY_DIR "/fortran/libtg_bucket.so"
#define EXE TG_BINARY_DIR "/fortran/bucket_model"
#define T_DAYS 730

static double forcing[T_DAYS * 3];

static int load_forcing(void)
{
    tg_basin b;
    if (tg_caravan_read(tg_test_data("caravan_camels_us"), "01022500", &b)) {
        fprintf(stderr, "%s\n", tg_error_message());
        return 1;
    }
    const int o = tg_date_from_ymd(1990, 10, 1) - b.start;   /* a snowy winter in Maine */
    for (int t = 0; t < T_DAYS; t++) {
        forcing[t * 3] = (double)b.var[TG_VAR_P][o + t];
        forcing[t * 3 + 1] = (double)b.var[TG_VAR_TEMP][o + t];
        forcing[t * 3 + 2] = (double)b.var[TG_VAR_PET][o + t];
    }
    tg_basin_free(&b);
    return 0;
}

static tg_blackbox_options bucket_opts(const char *name)
{
    tg_blackbox_options o = {.name = name, .np = BK_NP, .nf = 3, .nout = 4, .param_names = bk_names};
    return o;
}

static double max_rel_diff(const double *a, const double *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]) / fmax(1e-12, fmax(fabs(a[i]), fabs(b[i])));
        if (!(d <= m)) m = d;   /* NaN counts as infinitely different */
    }
    return m;
}

/* ---------------------------------------------------------------- kinds agree */
static const double P_SETS[3][BK_NP] = {
    {0.0, 3.0, 200, 2.0, 0.3, 0.2, 0.05},
    {-1.5, 5.5, 60, 4.5, 0.7, 0.45, 0.14},     /* small soil, flashy */
    {1.8, 1.2, 480, 1.1, 0.08, 0.06, 0.011},   /* big soil, slow */
};

static void test_kinds_agree(tg_blackbox *fn, tg_blackbox *lib, tg_blackbox *exe)
{
    static double a[T_DAYS * 4], b[T_DAYS * 4], c[T_DAYS * 4];
    for (int s = 0; s < 3; s++) {
        int ra = -1, rb = -1, rc = -1;
        CHECK(tg_blackbox_run(fn, T_DAYS, forcing, P_SETS[s], a, &ra) == 0 && ra == TG_BB_OK, "fn: %s",
              tg_error_message());
        CHECK(tg_blackbox_run(lib, T_DAYS, forcing, P_SETS[s], b, &rb) == 0 && rb == TG_BB_OK, "lib: %s",
              tg_error_message());
        CHECK(tg_blackbox_run(exe, T_DAYS, forcing, P_SETS[s], c, &rc) == 0 && rc == TG_BB_OK, "exe: %s",
              tg_error_message());
        /* The file path round-trips 17 significant digits both ways: bit-identical. */
        CHECK(memcmp(b, c, sizeof b) == 0, "set %d: library and executable differ (max rel %g)", s,
              max_rel_diff(b, c, T_DAYS * 4));
        double d = max_rel_diff(a, b, T_DAYS * 4);
        CHECK(d < 1e-12, "set %d: C port vs Fortran library max rel diff %g", s, d);
        /* The model does something: flow varies, snow builds up in the Maine winter. */
        double qmin = 1e300, qmax = 0, swe_max = 0;
        for (int t = 0; t < T_DAYS; t++) {
            qmin = fmin(qmin, b[t * 4]);
            qmax = fmax(qmax, b[t * 4]);
            swe_max = fmax(swe_max, b[t * 4 + 2]);
        }
        CHECK(qmax > 2 * qmin + 0.1 && swe_max > 10, "set %d: Q in [%g, %g], max SWE %g", s, qmin, qmax, swe_max);
    }
}

/* Water balance of the C port over the window: P = Q + ET + change of storage. */
static void test_water_balance(void)
{
    static double out[T_DAYS * 4];
    for (int s = 0; s < 3; s++) {
        double et = 0, p = 0, q = 0;
        CHECK(bk_run(T_DAYS, 3, forcing, BK_NP, P_SETS[s], 4, out, &et) == 0, "bk_run");
        for (int t = 0; t < T_DAYS; t++) {
            p += fmax(forcing[t * 3], 0);
            q += out[t * 4];
        }
        const double *e = out + (T_DAYS - 1) * 4;
        double ds = (e[1] + e[2] + e[3]) - (0.5 * P_SETS[s][BK_FC] + 0 + 10);
        CHECK_CLOSE(p, q + et + ds, 1e-13, 0);
    }
}

/* ---------------------------------------------------------------- failures */
static char workdir[512];
static char script[600];

static int write_script(void)
{
    snprintf(workdir, sizeof workdir, "/tmp/tg_test_blackbox_XXXXXX");
    if (!mkdtemp(workdir)) return 1;
    snprintf(script, sizeof script, "%s/faulty_model.sh", workdir);
    FILE *f = fopen(script, "w");
    if (!f) return 1;
    /* The first parameter selects a misbehaviour; anything else runs the real model. */
    fprintf(f,
            "#!/bin/sh\n"
            "p0=$(sed -n 3p \"$1\" | awk '{print $1}')\n"
            "T=$(sed -n 2p \"$1\" | awk '{print $1}')\n"
            "case \"$p0\" in\n"
            "  -100) kill -SEGV $$ ;;\n"
            "  -200) sleep 120 ;;\n"
            "  -300) echo 'boom: solver did not converge' >&2; exit 3 ;;\n"
            "  -400) printf 'tg_blackbox_output 1\\n%%s 4\\n1 2 3 4\\nnot numbers\\n' \"$T\" > \"$2\"; exit 0 ;;\n"
            "  -500) exit 0 ;;\n"
            "  -600) { echo 'tg_blackbox_output 1'; echo \"$T 4\";"
            " awk -v T=\"$T\" 'BEGIN { for (i = 0; i < T; i++) print \"1 2 nan 4\" }'; } > \"$2\"; exit 0 ;;\n"
            "esac\n"
            "exec '%s' \"$@\"\n",
            EXE);
    fclose(f);
    return chmod(script, 0755);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d) closedir(d);
    return n;
}

static void test_failures(tg_blackbox *lib)
{
    tg_blackbox_options o = bucket_opts("faulty");
    /* 5 s: long enough that a good run never times out on a loaded CI machine (a 1 s limit
     * did), far below the hung run's 120 s sleep */
    o.timeout = 5.0;
    o.workers = 3;
    o.workdir = workdir;
    tg_blackbox *bb = tg_blackbox_exec(script, &o);
    CHECK(bb != NULL, "%s", tg_error_message());
    if (!bb) return;

    /* 9 samples: 6 misbehaving, 3 good (interleaved, so good ones run alongside bad). */
    enum { N = 9 };
    const double sentinel[N] = {0, -100, -200, 0.5, -300, -400, -500, -600, -1.0};
    const int want[N] = {TG_BB_OK, TG_BB_SIGNAL, TG_BB_TIMEOUT, TG_BB_OK, TG_BB_EXIT,
                         TG_BB_MALFORMED, TG_BB_MALFORMED, TG_BB_NONFINITE, TG_BB_OK};
    const char *words[N] = {NULL, "signal 11", "timed out", NULL, "boom: solver did not converge",
                            "line 4", "no output file", "non-finite", NULL};
    static double params[N * BK_NP], out[N * T_DAYS * 4], ref[T_DAYS * 4];
    static char msg[N][TG_BB_MSG_MAX];
    int reason[N], nfail = -1;
    for (int i = 0; i < N; i++) {
        memcpy(params + i * BK_NP, P_SETS[0], sizeof P_SETS[0]);
        params[i * BK_NP] = sentinel[i];
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = tg_blackbox_run_batch(bb, N, T_DAYS, forcing, 0, params, out, reason, msg, &nfail);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double secs = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
    CHECK(rc == 0, "batch returned %d: %s", rc, tg_error_message());
    CHECK(nfail == 6, "n_failed = %d", nfail);
    CHECK(secs < 60, "batch took %.1f s (timeout 5 s: the hung run was not killed?)", secs);
    CHECK(strstr(tg_error_message(), "6 of 9 samples failed") != NULL, "batch message: %s", tg_error_message());
    for (int i = 0; i < N; i++) {
        CHECK(reason[i] == want[i], "sample %d: reason %s, want %s (%s)", i, tg_bb_reason_name(reason[i]),
              tg_bb_reason_name(want[i]), msg[i]);
        if (want[i] == TG_BB_OK) {
            CHECK(tg_blackbox_run(lib, T_DAYS, forcing, params + i * BK_NP, ref, NULL) == 0, "%s", tg_error_message());
            CHECK(memcmp(ref, out + (size_t)i * T_DAYS * 4, sizeof ref) == 0, "sample %d differs from the library", i);
            CHECK(msg[i][0] == '\0', "sample %d has a message: %s", i, msg[i]);
        } else {
            CHECK(isnan(out[(size_t)i * T_DAYS * 4]) && isnan(out[(size_t)(i + 1) * T_DAYS * 4 - 1]),
                  "sample %d: failed outputs are not NaN", i);
            char want_p[64], want_s[32];
            snprintf(want_p, sizeof want_p, "TT=%g, DDF=3", sentinel[i]);
            snprintf(want_s, sizeof want_s, "sample %d,", i);
            CHECK(strstr(msg[i], "blackbox 'faulty'") && strstr(msg[i], want_p) && strstr(msg[i], want_s) &&
                      strstr(msg[i], words[i]),
                  "sample %d message lacks model/params/reason '%s': %s", i, words[i], msg[i]);
        }
    }
    /* Only the script is left in the work dir: every temp dir was removed. */
    CHECK(count_entries(workdir) == 1, "%d entries left in %s", count_entries(workdir), workdir);

    /* A single failing run: TG_EEXTERNAL and the message. */
    int why = -1;
    rc = tg_blackbox_run(bb, T_DAYS, forcing, params + 1 * BK_NP, out, &why);
    CHECK(rc == TG_EEXTERNAL && why == TG_BB_SIGNAL, "single crash: rc %d reason %d", rc, why);
    CHECK(strstr(tg_error_message(), "faulty_model.sh") && strstr(tg_error_message(), "TT=-100") &&
              strstr(tg_error_message(), "Segmentation fault") && !strstr(tg_error_message(), "sample"),
          "single-run message: %s", tg_error_message());
    tg_blackbox_free(&bb);
    CHECK(bb == NULL, "free must NULL the handle");
}

/* The legacy model's own error paths through each kind. */
static void test_model_errors(tg_blackbox *fn, tg_blackbox *lib, tg_blackbox *exe)
{
    static double out[T_DAYS * 4];
    double bad[BK_NP];
    memcpy(bad, P_SETS[0], sizeof bad);
    bad[BK_FC] = -5;   /* outside the physical domain: the model refuses */
    int why = -1;
    CHECK(tg_blackbox_run(lib, T_DAYS, forcing, bad, out, &why) == TG_EEXTERNAL && why == TG_BB_RETURN,
          "library: reason %d", why);
    CHECK(strstr(tg_error_message(), "error code 2") && strstr(tg_error_message(), "FC=-5"), "%s",
          tg_error_message());
    CHECK(isnan(out[0]) && isnan(out[T_DAYS * 4 - 1]), "failed run must leave NaN");
    CHECK(tg_blackbox_run(exe, T_DAYS, forcing, bad, out, &why) == TG_EEXTERNAL && why == TG_BB_EXIT,
          "exe: reason %d", why);
    CHECK(strstr(tg_error_message(), "exit status 12") && strstr(tg_error_message(), "model error 2"), "%s",
          tg_error_message());
    CHECK(tg_blackbox_run(fn, T_DAYS, forcing, bad, out, &why) == TG_EEXTERNAL && why == TG_BB_RETURN,
          "function: reason %d", why);

    /* Missing forcing reaches the model as NaN: it must fail, not produce garbage. */
    static double f2[T_DAYS * 3];
    memcpy(f2, forcing, sizeof f2);
    f2[100 * 3] = NAN;
    CHECK(tg_blackbox_run(lib, T_DAYS, f2, P_SETS[0], out, &why) == TG_EEXTERNAL && why == TG_BB_RETURN,
          "NaN forcing: reason %d", why);
    CHECK(strstr(tg_error_message(), "error code 3") != NULL, "%s", tg_error_message());
}

/* ---------------------------------------------------------------- construction errors */
static int nan_fn(void *ud, int T, int nf, const double *f, int np, const double *p, int nout, double *out)
{
    (void)ud, (void)nf, (void)f, (void)np;
    for (int i = 0; i < T * nout; i++) out[i] = p[0] > 0 ? 1.0 : (double)NAN;
    return 0;
}
static int lazy_fn(void *ud, int T, int nf, const double *f, int np, const double *p, int nout, double *out)
{
    (void)ud, (void)nf, (void)f, (void)np, (void)p;
    for (int i = 0; i < T * nout - 1; i++) out[i] = 1.0;   /* forgets the last value */
    return 0;
}

static void test_construction(void)
{
    tg_blackbox_options o = bucket_opts("x");
    o.symbol = "no_such_symbol";
    CHECK(tg_blackbox_library(LIB, &o) == NULL && strstr(tg_error_message(), "no_such_symbol"), "%s",
          tg_error_message());
    o.symbol = NULL;
    CHECK(tg_blackbox_library("/nonexistent/libx.so", &o) == NULL && tg_error_code() == TG_EIO, "%s",
          tg_error_message());
    char plain[] = "/tmp/tg_test_bb_plain_XXXXXX";
    int fd = mkstemp(plain);   /* mode 0600: not executable, even for root */
    if (fd >= 0) close(fd);
    CHECK(fd >= 0 && tg_blackbox_exec(plain, &o) == NULL && strstr(tg_error_message(), "not executable"), "%s",
          tg_error_message());
    unlink(plain);
    o.np = 0;
    CHECK(tg_blackbox_function(bk_fn, NULL, &o) == NULL && tg_error_code() == TG_EINVAL, "%s", tg_error_message());

    tg_blackbox_options o1 = {.name = "nan", .np = 1, .nf = 3, .nout = 2};
    tg_blackbox *bb = tg_blackbox_function(nan_fn, NULL, &o1);
    double p[3] = {1, -1, 2}, out[3 * 5 * 2];
    int reason[3], nfail = 0;
    CHECK(tg_blackbox_run_batch(bb, 3, 5, forcing, 0, p, out, reason, NULL, &nfail) == 0 && nfail == 1 &&
              reason[0] == TG_BB_OK && reason[1] == TG_BB_NONFINITE && reason[2] == TG_BB_OK,
          "nan batch: nfail %d reasons %d %d %d", nfail, reason[0], reason[1], reason[2]);
    tg_blackbox_free(&bb);
    bb = tg_blackbox_function(lazy_fn, NULL, &o1);
    int why = -1;
    CHECK(tg_blackbox_run(bb, 5, forcing, p, out, &why) == TG_EEXTERNAL && why == TG_BB_NONFINITE &&
              strstr(tg_error_message(), "day 4, output 1"),
          "an unwritten output must be caught: %s", tg_error_message());
    tg_blackbox_free(&bb);
}

/* ---------------------------------------------------------------- parallel batches */
static void test_workers(void)
{
    enum { N = 40 };
    static double params[N * BK_NP], o1[N * T_DAYS * 4], o2[N * T_DAYS * 4], o3[N * 365 * 4];
    tg_rng r;
    tg_rng_seed(&r, 3);
    double u[N * BK_NP];
    tg_lhs(&r, N, BK_NP, u);
    tg_lhs_scale(u, N, BK_NP, bk_lo, bk_hi, params);
    tg_blackbox_options o = bucket_opts("bucket");
    o.workers = 1;
    tg_blackbox *l1 = tg_blackbox_library(LIB, &o);
    o.workers = 2;
    tg_blackbox *l2 = tg_blackbox_library(LIB, &o);
    tg_blackbox *e2 = tg_blackbox_exec(EXE, &o);
    int nf1 = -1, nf2 = -1, nf3 = -1;
    CHECK(l1 && l2 && e2, "%s", tg_error_message());
    if (!l1 || !l2 || !e2) return;
    tg_blackbox_run_batch(l1, N, T_DAYS, forcing, 0, params, o1, NULL, NULL, &nf1);
    tg_blackbox_run_batch(l2, N, T_DAYS, forcing, 0, params, o2, NULL, NULL, &nf2);
    CHECK(nf1 == 0 && nf2 == 0 && memcmp(o1, o2, sizeof o1) == 0, "1 vs 2 threads differ (failed %d %d)", nf1, nf2);
    /* Per-sample forcing (stride): sample i reads its own 365-day slice. */
    tg_blackbox_run_batch(e2, N, 365, forcing, 0, params, o3, NULL, NULL, &nf3);
    int same = nf3 == 0;
    static double one[365 * 4];
    for (int i = 0; i < N && same; i += 13) {
        tg_blackbox_run(l1, 365, forcing, params + i * BK_NP, one, NULL);
        same = memcmp(one, o3 + (size_t)i * 365 * 4, sizeof one) == 0;
    }
    CHECK(same, "exec pool vs library differ");
    static double fs[3 * 365 * 3], os[3 * 365 * 4];
    for (int i = 0; i < 3; i++) memcpy(fs + i * 365 * 3, forcing + i * 100 * 3, 365 * 3 * sizeof(double));
    tg_blackbox_run_batch(l2, 3, 365, fs, 365 * 3, params, os, NULL, NULL, &nf3);
    tg_blackbox_run(l1, 365, forcing + 2 * 100 * 3, params + 2 * BK_NP, one, NULL);
    CHECK(nf3 == 0 && memcmp(one, os + 2 * 365 * 4, sizeof one) == 0, "strided forcing: sample 2 differs");
    tg_blackbox_free(&l1);
    tg_blackbox_free(&l2);
    tg_blackbox_free(&e2);
}

int main(void)
{
    if (access(LIB, R_OK) || access(EXE, X_OK)) {
        fprintf(stderr, "FAIL: the Fortran bucket model is not built (%s, %s): add include(cmake/fortran.cmake) "
                        "to CMakeLists.txt\n", LIB, EXE);
        return 1;
    }
    if (load_forcing()) return 1;
    tg_blackbox_options o = bucket_opts("bucket");
    tg_blackbox *fn = tg_blackbox_function(bk_fn, NULL, &o);
    tg_blackbox *lib = tg_blackbox_library(LIB, &o);
    tg_blackbox *exe = tg_blackbox_exec(EXE, &o);
    CHECK(fn && lib && exe, "construction: %s", tg_error_message());
    if (!fn || !lib || !exe) return tg_test_summary();
    CHECK(tg_blackbox_kind(lib) == TG_BB_LIBRARY && tg_blackbox_kind(exe) == TG_BB_EXEC &&
              !strcmp(tg_blackbox_name(lib), "bucket"), "kind/name accessors");
    test_kinds_agree(fn, lib, exe);
    test_water_balance();
    test_model_errors(fn, lib, exe);
    test_construction();
    if (write_script() == 0) {
        test_failures(lib);
        unlink(script);
        rmdir(workdir);
    } else {
        CHECK(0, "cannot write the faulty-model script");
    }
    test_workers();
    tg_blackbox_free(&fn);
    tg_blackbox_free(&lib);
    tg_blackbox_free(&exe);
    return tg_test_summary();
}
