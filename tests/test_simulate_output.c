/* test_simulate_output.c — what `terragrad simulate` and `terragrad sensitivity` write:
 *  - full precision: every number of OUT/<basin>.csv, read back with strtod, is the value
 *    the same run computes in-process (tg_hbv_simulate_basin on the same inputs), exactly:
 *    TG_REAL_FMT_CSV (%.9g float, %.17g double) round-trips, so a double run compares with
 *    another tool at 1e-15 (with the old %.7g this fails at ~1e-8);
 *  - component labels: sensitivity.csv echoes the numbers of PARAMS.csv's component column
 *    (0..1 stays 0..1, 1..2 stays 1..2; it used to print m + 1).
 * The CLI runs as a child process (TG_BINARY_DIR/terragrad). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

enum { NDAY = 400, WARM = 100 };
#define WORK TG_BINARY_DIR "/test_simulate_output.work"
#define CLI TG_BINARY_DIR "/terragrad"

/* One basin in the generic CSV layout with numbers that need all their digits. */
static void write_inputs(void)
{
    tg_rng r;
    tg_rng_seed(&r, 11);
    FILE *f = fopen(WORK "/data/X1.csv", "w");
    CHECK(f != NULL, "cannot write " WORK "/data/X1.csv");
    if (!f)
        return;
    fprintf(f, "date,P,T,PET,Q\n");
    char date[16];
    int d0 = tg_date_from_ymd(2001, 1, 1);
    for (int t = 0; t < NDAY; t++) {
        double u = tg_rng_uniform(&r);
        double p = u < 0.6 ? 0 : 20 * (u - 0.6), temp = 8 + 12 * sin(t / 58.1) + 3 * tg_rng_uniform(&r);
        double pet = 1.5 + 1.2 * sin(t / 58.1) + 0.1 * tg_rng_uniform(&r);
        fprintf(f, "%s,%.17g,%.17g,%.17g,%.17g\n", tg_date_format(d0 + t, date), p, temp, pet, 1 + tg_rng_uniform(&r));
    }
    fclose(f);
}

static void write_params(const char *path, int first)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    if (!f)
        return;
    fprintf(f, "basin,component,BETA,FC,K0,K1,K2,LP,PERC,UZL,TT,CFMAX,CFR,CWH,BETAET\n");
    /* the second component first: labels are numbers, not row order */
    fprintf(f, "X1,%d,1.8123456789,350.123456789,0.2123456789,0.0512345,0.0512345,0.5123,1.0123,40.123,-0.5123,"
               "2.5123,0.05123,0.1123,1.0123\n", first + 1);
    fprintf(f, "X1,%d,2.5123456789,250.987654321,0.3123456789,0.1123456,0.0212345,0.7123,2.0123,20.123,0.0123,"
               "3.5123,0.05123,0.1123,1.5123\n", first);
    fclose(f);
}

static int run(const char *cmd)
{
    int rc = system(cmd);
    CHECK(rc == 0, "'%s' exited with %d", cmd, rc);
    return rc;
}

/* OUT/X1.csv against tg_hbv_simulate_basin on the same inputs (read by the same readers). */
static void test_round_trip(void)
{
    if (run(CLI " simulate --model hbv --data " WORK "/data --params " WORK "/params0.csv --routing " WORK
                "/route.csv --warmup 100 --out " WORK "/out > " WORK "/sim.log 2>&1"))
        return;
    tg_basin bs;
    tg_hbv_param_table pt;
    tg_route_table rt;
    int rc = tg_csv_read(WORK "/data", "X1", &bs);
    rc = rc ? rc : tg_hbv_params_read(WORK "/params0.csv", &pt);
    rc = rc ? rc : tg_route_read(WORK "/route.csv", &rt);
    CHECK(rc == 0, "%s", tg_error_message());
    if (rc)
        return;
    static tg_real forcing[NDAY * 3], out[(NDAY - WARM) * TG_SIM_NOUT];
    for (int t = 0; t < NDAY; t++) {
        forcing[t * 3 + 0] = bs.var[TG_VAR_P][t];
        forcing[t * 3 + 1] = bs.var[TG_VAR_TEMP][t];
        forcing[t * 3 + 2] = bs.var[TG_VAR_PET][t];
    }
    CHECK(bs.T == NDAY && pt.B == 1 && pt.M == 2, "inputs: T %d B %d M %d", bs.T, pt.B, pt.M);
    rc = tg_hbv_simulate_basin(out, forcing, NDAY, WARM, pt.value, pt.M, rt.a[0], rt.theta[0]);
    CHECK(rc == 0, "%s", tg_error_message());
    FILE *f = fopen(WORK "/out/X1.csv", "r");
    CHECK(f != NULL, "no " WORK "/out/X1.csv");
    if (!rc && f) {
        char line[4096];
        int rows = 0, differ = 0;
        double worst = 0;
        CHECK(fgets(line, sizeof line, f) && !strncmp(line, "date,Q,", 7), "header");
        while (fgets(line, sizeof line, f) && rows < NDAY - WARM) {
            char *s = strchr(line, ',');
            for (int k = 0; s && k < TG_SIM_NOUT; k++) {
                char *end;
                double v = strtod(s + 1, &end), want = (double)out[(size_t)rows * TG_SIM_NOUT + k];
                if ((tg_real)v != out[(size_t)rows * TG_SIM_NOUT + k] && !(isnan(v) && isnan(want)))
                    differ++;
                if (want != 0) /* the value read back, as tg_real (float: 9 digits name one float) */
                    worst = fmax(worst, fabs((double)(tg_real)v - want) / fabs(want));
                s = *end == ',' ? end : NULL;
            }
            rows++;
        }
        printf("simulate CSV vs in-process values: %d rows, %d numbers differ after strtod, worst rel %.3g\n", rows,
               differ, worst);
        CHECK(rows == NDAY - WARM, "%d rows", rows);
        CHECK(differ == 0, "%d numbers do not round-trip", differ);
        CHECK(worst <= 1e-15, "worst relative difference %.3g", worst);
    }
    if (f)
        fclose(f);
    tg_basin_free(&bs);
    tg_hbv_params_free(&pt);
    tg_route_free(&rt);
}

/* sensitivity.csv: column 2 holds the labels of PARAMS.csv (or 'route'). */
static void check_labels(const char *params, int first)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             CLI " sensitivity --model hbv --data " WORK "/data --params %s --warmup 100 --loss mse --out " WORK
                 "/sens%d > " WORK "/sens%d.log 2>&1",
             params, first, first);
    if (run(cmd))
        return;
    char path[512], line[1024];
    snprintf(path, sizeof path, WORK "/sens%d/sensitivity.csv", first);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "no %s", path);
    if (!f)
        return;
    int count[2] = {0, 0}, other = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "basin,", 6))
            continue;
        char *c = strchr(line, ',');
        int m = c ? atoi(c + 1) - first : -1;
        if (m == 0 || m == 1)
            count[m]++;
        else
            other++;
    }
    fclose(f);
    CHECK(count[0] == TG_HBV_NPARAM && count[1] == TG_HBV_NPARAM && other == 0,
          "%s: labels %d and %d on %d and %d rows, %d rows with another label", path, first, first + 1, count[0],
          count[1], other);
}

int main(void)
{
    int rc = system("rm -rf '" WORK "' && mkdir -p '" WORK "/data'");
    CHECK(rc == 0, "cannot create " WORK);
    write_inputs();
    write_params(WORK "/params0.csv", 0);
    write_params(WORK "/params1.csv", 1);
    FILE *f = fopen(WORK "/route.csv", "w");
    if (f) {
        fprintf(f, "basin,a,theta\nX1,2.123456789,1.987654321\n");
        fclose(f);
    }
    test_round_trip();
    check_labels(WORK "/params0.csv", 0);
    check_labels(WORK "/params1.csv", 1);
    return tg_test_summary();
}
