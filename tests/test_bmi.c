/* test_bmi.c — libterragrad_bmi loaded the way NOAA NextGen loads a C module: dlopen,
 * register_bmi_terragrad, then initialize / set inputs / update / get outputs / finalize,
 * over two years (1982-1983, warm-up 1981) on the three shared Caravan basins.
 *   - HBV with given parameters (2 components, routed) equals `terragrad simulate` day by
 *     day on every output simulate writes (relative 1e-12 in double; float: the same
 *     float, since both run the same kernel on the same numbers);
 *   - stopping after year one, saving every state__ variable with get_value, restoring them
 *     with set_value into a fresh instance and running year two gives exactly the series
 *     of the uninterrupted run;
 *   - a trained LSTM run and a trained δHBV run (tiny ones trained here from the CI configs
 *     of tests/cli_train*.sh, test period 1991-1992) equal `terragrad test` predictions day
 *     by day: bit for bit when the BLAS gives each row of a product the same bits whatever
 *     the row count (probed: blas_rows_invariant), and always within the tolerance,
 *     purely relative (float 1e-5, double 1e-12, no absolute floor); the same restart check
 *     holds for both (exact) — restarts are checked for all three kinds;
 *   - the public run stepper (terragrad/stepper.h) behind the network kinds: its flat state
 *     restores a run exactly, buffers of the wrong size are refused;
 *   - every BMI function is called, with the error paths: update before initialize, a bad
 *     config, unknown variable, indices out of range, a wrong count (two values of a scalar),
 *     setting a computed output, a non-finite value, a time that is not a whole number of
 *     steps, unknown grids and the grid functions that do not apply to scalar / vector grids.
 *     Coverage (each of the 41 function pointers of bmi.h is called here; checked with
 *       for f in $(grep -o '(\*[a-z_]*)' bmi/bmi.h | tr -d '(*)'); do
 *         grep -c -- "->$f(\|\.$f(" tests/test_bmi.c; done   — no 0):
 *       initialize update update_until finalize get_component_name get_input_item_count
 *       get_output_item_count get_input_var_names get_output_var_names get_var_grid
 *       get_var_type get_var_units get_var_itemsize get_var_nbytes get_var_location
 *       get_current_time get_start_time get_end_time get_time_units get_time_step get_value
 *       get_value_ptr get_value_at_indices set_value set_value_at_indices get_grid_rank
 *       get_grid_size get_grid_type get_grid_shape get_grid_spacing get_grid_origin get_grid_x
 *       get_grid_y get_grid_z get_grid_node_count get_grid_edge_count get_grid_face_count
 *       get_grid_edge_nodes get_grid_face_edges get_grid_face_nodes get_grid_nodes_per_face. */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cblas.h>

#include "../bmi/bmi.h"
#include "testutil.h"

#define WORK TG_BINARY_DIR "/tests/test_bmi.work"
#define LIB TG_BMI_LIB   /* the module CMake built (libterragrad_bmi[-double].so) */
#define NB 3
#define NDAYS 730 /* 1982-01-01 .. 1983-12-31 */
static const char *basins[NB] = {"01022500", "01031500", "01047000"};

static const char *V_P = "atmosphere_water__liquid_equivalent_precipitation_rate";
static const char *V_T = "land_surface_air__temperature";
static const char *V_PET = "land_surface_water__potential_evaporation_volume_flux";
static const char *V_Q = "land_surface_water__runoff_volume_flux";

/* BMI outputs compared with simulate's columns (TG_SIM_*) */
static const struct { const char *name; int col; } compared[] = {
    {"land_surface_water__runoff_volume_flux", TG_SIM_Q},
    {"land_surface_water__evapotranspiration_volume_flux", TG_SIM_ET},
    {"snowpack__liquid-equivalent_depth", TG_SIM_SWE},
    {"hbv__soil_moisture_depth", TG_SIM_SM},
    {"hbv__upper_zone_storage_depth", TG_SIM_SUZ},
    {"hbv__lower_zone_storage_depth", TG_SIM_SLZ},
    {"hbv__unrouted_runoff_volume_flux", TG_SIM_Q_UNROUTED},
    {"hbv__quick_flow_volume_flux", TG_SIM_Q0},
    {"hbv__interflow_volume_flux", TG_SIM_Q1},
    {"hbv__baseflow_volume_flux", TG_SIM_Q2},
};
enum { NCMP = (int)(sizeof compared / sizeof compared[0]) };

static Bmi *(*reg)(Bmi *);

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return 1;
    fputs(text, f);
    return fclose(f);
}

/* forcing of 1982-1983 (NDAYS, 3) from the generic CSV written below */
static int read_forcing(const char *id, double *forc)
{
    tg_basin b;
    if (tg_csv_read(WORK "/data", id, &b))
        return 1;
    int off = tg_date_from_ymd(1982, 1, 1) - b.start, v[3] = {TG_VAR_P, TG_VAR_TEMP, TG_VAR_PET};
    for (int t = 0; t < NDAYS; t++)
        for (int k = 0; k < 3; k++)
            forc[t * 3 + k] = (double)b.var[v[k]][off + t];
    tg_basin_free(&b);
    return 0;
}

/* simulate's OUT/<id>.csv: (NDAYS, TG_SIM_NOUT) */
static int read_sim(const char *id, double *out)
{
    char path[512], line[4096];
    snprintf(path, sizeof path, WORK "/sim/%s.csv", id);
    FILE *f = fopen(path, "r");
    if (!f || !fgets(line, sizeof line, f))
        return 1;
    int t = 0;
    while (t < NDAYS && fgets(line, sizeof line, f)) {
        char *p = strchr(line, ',');
        for (int k = 0; k < TG_SIM_NOUT && p; k++) {
            out[t * TG_SIM_NOUT + k] = strtod(p + 1, &p);
        }
        t++;
    }
    fclose(f);
    return t != NDAYS;
}

static void config_hbv(const char *path, const char *id, const char *start, const char *policy)
{
    char text[2048];
    snprintf(text, sizeof text,
             "model: hbv\nbasin: '%s'\nstart: %s\nend: 1983-12-31\nwarmup:\n  policy: %s\n  days: 365\n"
             "data_file: data/%s.csv\nhbv:\n  params_file: params.csv\n  routing_file: route.csv\n",
             id, start, policy, id);
    write_file(path, text);
}

static Bmi *open_model(const char *config)
{
    Bmi *m = calloc(1, sizeof *m);
    if (reg(m) != m || m->initialize(m, config) != BMI_SUCCESS) {
        free(m);
        return NULL;
    }
    return m;
}

static void close_model(Bmi *m)
{
    if (m) {
        CHECK(m->finalize(m) == BMI_SUCCESS, "finalize");
        free(m);
    }
}

/* Steps n days from forcing row t0, storing the compared outputs in out (n, NCMP). */
static int run_days(Bmi *m, const double *forc, int t0, int n, double *out)
{
    for (int t = t0; t < t0 + n; t++) {
        double p = forc[t * 3], temp = forc[t * 3 + 1], pet = forc[t * 3 + 2];
        if (m->set_value(m, V_P, &p) || m->set_value(m, V_T, &temp) || m->set_value(m, V_PET, &pet) || m->update(m))
            return 1;
        for (int k = 0; k < NCMP; k++)
            if (m->get_value(m, compared[k].name, &out[(size_t)(t - t0) * NCMP + k]))
                return 1;
    }
    return 0;
}

static const char *state_vars[] = {"state__hbv_snowpack", "state__hbv_meltwater", "state__hbv_soil_moisture",
                                   "state__hbv_upper_zone", "state__hbv_lower_zone", "state__routing_runoff_history",
                                   "state__routing_quick_flow_history", "state__routing_interflow_history",
                                   "state__routing_baseflow_history"};
enum { NSV = (int)(sizeof state_vars / sizeof state_vars[0]) };

static void test_hbv_basin(const char *id)
{
    double *forc = malloc(NDAYS * 3 * sizeof(double)), *sim = malloc(NDAYS * TG_SIM_NOUT * sizeof(double));
    double *full = malloc(NDAYS * NCMP * sizeof(double)), *part = malloc(NDAYS * NCMP * sizeof(double));
    CHECK(!read_forcing(id, forc) && !read_sim(id, sim), "%s: data / simulate output", id);
    char cfg1[512], cfg2[512];
    snprintf(cfg1, sizeof cfg1, WORK "/%s.yaml", id);
    snprintf(cfg2, sizeof cfg2, WORK "/%s_restart.yaml", id);
    config_hbv(cfg1, id, "1982-01-01", "data");
    config_hbv(cfg2, id, "1983-01-01", "none");

    /* the uninterrupted run against simulate */
    Bmi *m = open_model(cfg1);
    CHECK(m != NULL, "%s: initialize", id);
    if (!m)
        goto out;
    CHECK(!run_days(m, forc, 0, NDAYS, full), "%s: run", id);
    close_model(m);
    const double rtol = sizeof(tg_real) == 8 ? 1e-12 : 0;
    int bad = 0;
    for (int t = 0; t < NDAYS && bad < 5; t++)
        for (int k = 0; k < NCMP; k++) {
            double a = full[t * NCMP + k], b = sim[t * TG_SIM_NOUT + compared[k].col];
            /* float: simulate printed the float with 9 digits, which reads back to it exactly */
            if (sizeof(tg_real) == 4) {
                a = (double)(float)a;
                b = (double)(float)b;
            }
            if (!IS_CLOSE(a, b, rtol, 0)) {
                CHECK(0, "%s day %d %s: bmi %.17g, simulate %.17g", id, t, compared[k].name, a, b);
                bad++;
            } else
                tg_test_passed++;
        }

    /* year one, save the states, restore them into a fresh instance, year two */
    m = open_model(cfg1);
    CHECK(m && !run_days(m, forc, 0, 365, part), "%s: year one", id);
    double *saved[NSV] = {0};
    int nbytes[NSV] = {0};
    for (int s = 0; m && s < NSV; s++) {
        CHECK(m->get_var_nbytes(m, state_vars[s], &nbytes[s]) == BMI_SUCCESS && nbytes[s] > 0, "nbytes %s", state_vars[s]);
        saved[s] = malloc((size_t)nbytes[s]);
        CHECK(m->get_value(m, state_vars[s], saved[s]) == BMI_SUCCESS, "save %s", state_vars[s]);
    }
    close_model(m);
    m = open_model(cfg2);
    CHECK(m != NULL, "%s: initialize the restart", id);
    for (int s = 0; m && s < NSV; s++)
        CHECK(m->set_value(m, state_vars[s], saved[s]) == BMI_SUCCESS, "restore %s", state_vars[s]);
    CHECK(m && !run_days(m, forc, 365, NDAYS - 365, part + 365 * NCMP), "%s: year two", id);
    close_model(m);
    int same = 1;
    for (int i = 365 * NCMP; i < NDAYS * NCMP; i++)
        same &= part[i] == full[i];
    CHECK(same, "%s: year two after a restart differs from the uninterrupted run", id);
    for (int s = 0; s < NSV; s++)
        free(saved[s]);
out:
    free(forc);
    free(sim);
    free(full);
    free(part);
}

/* ---------------------------------------------------------------- trained runs */
#define NNET 731 /* 1991-01-01 .. 1992-12-31 */
/* columns of predictions_test/<id>.csv after the date: Q_obs, Q, PET, Q0, Q1, Q2, ET, rain,
 * snow, melt, SWE, MELTWATER, SM, SUZ, SLZ, ... */
static const struct { const char *name; int col; } net_compared[] = {
    {"land_surface_water__runoff_volume_flux", 1},
    {"land_surface_water__evapotranspiration_volume_flux", 6},
    {"snowpack__liquid-equivalent_depth", 10},
    {"hbv__snow_liquid_water_depth", 11},
    {"hbv__soil_moisture_depth", 12},
    {"hbv__upper_zone_storage_depth", 13},
    {"hbv__lower_zone_storage_depth", 14},
};

static void config_net(const char *path, const char *kind, const char *id, const char *start, const char *policy)
{
    char text[2048];
    snprintf(text, sizeof text, "model: %s\nbasin: '%s'\nstart: %s\nend: 1992-12-31\nwarmup:\n  policy: %s\n"
                                "run_dir: run_%s\n", kind, id, start, policy, kind);
    write_file(path, text);
}

static int run_net(Bmi *m, const tg_basin *b, int t0, int n, int ncmp, double *out)
{
    int off = tg_date_from_ymd(1991, 1, 1) - b->start;
    for (int t = t0; t < t0 + n; t++) {
        double p = (double)b->var[TG_VAR_P][off + t], temp = (double)b->var[TG_VAR_TEMP][off + t],
               pet = (double)b->var[TG_VAR_PET][off + t];
        if (m->set_value(m, V_P, &p) || m->set_value(m, V_T, &temp) || m->set_value(m, V_PET, &pet) || m->update(m))
            return 1;
        for (int k = 0; k < ncmp; k++)
            if (m->get_value(m, net_compared[k].name, &out[(size_t)(t - t0) * ncmp + k]))
                return 1;
    }
    return 0;
}

/* Does the BLAS give row r of C = A op(B) + beta C the same bits in one M-row call as in a
 * one-row call? The module steps one basin and one day at a time, `terragrad test` one
 * call over basins x days: the series are bit-identical exactly when this holds for the
 * products involved (OpenBLAS float kernels Haswell, Sandybridge, Zen, SkylakeX: yes; the
 * double Haswell/Zen dgemm kernels: no, measured — rows differ by an ulp). */
static int rows_invariant(int M, int N, int K, int trans_b, int beta_one)
{
    const size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
    tg_real *buf = malloc(sizeof(tg_real) * (na + nb + 2 * nc)), *A = buf, *Bm = A + na, *C1 = Bm + nb, *C2 = C1 + nc;
    if (!buf)
        return 0;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < na + nb + nc; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (tg_real)((double)(x >> 11) * 0x1.0p-53 - 0.5);
    }
    memcpy(C2, C1, sizeof(tg_real) * nc);
    const int ldb = trans_b ? K : N;
#ifdef TG_DOUBLE
#define GEMM cblas_dgemm
#else
#define GEMM cblas_sgemm
#endif
    GEMM(CblasRowMajor, CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K, 1, A, K, Bm, ldb, beta_one, C1, N);
    for (int r = 0; r < M; r++)
        GEMM(CblasRowMajor, CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, 1, N, K, 1, A + (size_t)r * K, K, Bm,
             ldb, beta_one, C2 + (size_t)r * N, N);
#undef GEMM
    const int same = !memcmp(C1, C2, sizeof(tg_real) * nc);
    free(buf);
    return same;
}

/* The products of the test's runs (3 basins, hidden 16, 3 + 4 inputs, warm-up 90, horizon
 * 180, test period 731 days; δHBV: 2 components, 2 dynamic parameters): the LSTM's step
 * (tg_lstm_forward: [x_t, h_{t-1}] [W_ih^T; W_hh^T], x_t W_ih^T alone on the first day from
 * zeros), the head (tg_linear: streamflow; δHBV: every column on the last day, each dynamic
 * parameter's columns). */
static int blas_rows_invariant(void)
{
    const int nb = 3, H = 16, in = 7, G = 4 * H, Llstm = 90 + 180;
    return rows_invariant(nb, G, in + H, 0, 0) && rows_invariant(nb, G, in, 0, 0) &&
           rows_invariant(Llstm * nb, 1, H, 1, 1) &&
           rows_invariant(nb, 2 * 13 + 2, H, 1, 1) && rows_invariant(731 * nb, 2, H, 1, 1);
}

static void test_net_basin(const char *kind, const char *id)
{
    const int ncmp = strcmp(kind, "lstm") ? (int)(sizeof net_compared / sizeof net_compared[0]) : 1;
    char path[512], line[8192];
    double *pred = malloc((size_t)NNET * 16 * sizeof(double)), *full = malloc((size_t)NNET * ncmp * sizeof(double));
    double *part = malloc((size_t)NNET * ncmp * sizeof(double));
    /* terragrad test's predictions */
    snprintf(path, sizeof path, WORK "/run_%s/predictions_test/%s.csv", kind, id);
    FILE *f = fopen(path, "r");
    int n = 0;
    if (f && fgets(line, sizeof line, f))
        while (n < NNET && fgets(line, sizeof line, f)) {
            char *p = strchr(line, ',');
            for (int k = 0; k < 15 && p; k++) {
                pred[n * 16 + k] = strncmp(p + 1, "NA", 2) ? strtod(p + 1, &p) : (double)NAN;
                if (isnan(pred[n * 16 + k]))
                    p = strchr(p + 1, ',');
            }
            n++;
        }
    if (f)
        fclose(f);
    CHECK(n == NNET, "%s: %d prediction rows", path, n);
    tg_basin b;
    int rc = tg_caravan_read(tg_test_data("caravan_camels_us"), id, &b);
    CHECK(!rc, "caravan %s", id);
    char cfg1[512], cfg2[512];
    snprintf(cfg1, sizeof cfg1, WORK "/%s_%s.yaml", kind, id);
    snprintf(cfg2, sizeof cfg2, WORK "/%s_%s_restart.yaml", kind, id);
    config_net(cfg1, kind, id, "1991-01-01", "data");
    config_net(cfg2, kind, id, "1992-01-01", "none");
    Bmi *m = rc || n != NNET ? NULL : open_model(cfg1);
    CHECK(m != NULL, "%s %s: initialize", kind, id);
    if (!m)
        goto out;
    CHECK(!run_net(m, &b, 0, NNET, ncmp, full), "%s %s: run", kind, id);
    /* the network grids: the LSTM state has the run's hidden size (16) */
    int grid = -1, size = 0, rank = 0, shape = 0;
    char type[BMI_MAX_TYPE_NAME] = "";
    CHECK(m->get_var_grid(m, "state__lstm_hidden", &grid) == BMI_SUCCESS && m->get_grid_size(m, grid, &size) == 0 &&
              size == 16 && m->get_grid_rank(m, grid, &rank) == 0 && rank == 1 &&
              m->get_grid_shape(m, grid, &shape) == 0 && shape == 16 && m->get_grid_type(m, grid, type) == 0 &&
              !strcmp(type, "vector"),
          "%s: LSTM state grid %d size %d type %s", kind, grid, size, type);
    close_model(m);
    /* The tolerance, purely relative (no absolute floor): float 1e-5, double 1e-12.
     * And bit for bit where the BLAS allows it (blas_rows_invariant): the CSV's %.9g (float)
     * / %.17g (double) text reads back to the very tg_real test computed, and the stepper
     * runs the batch evaluation's kernels in its order (src/train/stepper.c). */
    const double rtol = sizeof(tg_real) == 8 ? 1e-12 : 1e-5;
    static int exact = -1;
    if (exact < 0) {
        exact = blas_rows_invariant();
        printf("%s\n", exact ? "BLAS rows invariant to the row count: the module must equal terragrad test bit for bit"
                             : "BLAS rows differ with the row count: relative tolerance only");
    }
    for (int k = 0; k < ncmp; k++) {
        int bad = 0, differ = 0;
        double worst = 0;
        for (int t = 0; t < NNET; t++) {
            double a = full[t * ncmp + k], e = pred[t * 16 + net_compared[k].col];
            double r = a == e ? 0 : fabs(a - e) / fmax(fabs(a), fabs(e));
            worst = r > worst ? r : worst;
            if (!IS_CLOSE(a, e, rtol, 0) && bad++ < 3)
                CHECK(0, "%s %s day %d %s: bmi %.17g, terragrad test %.17g", kind, id, t, net_compared[k].name, a, e);
            differ += (tg_real)a != (tg_real)e;
        }
        CHECK(bad == 0, "%s %s %s: %d days differ by more than %g relative", kind, id, net_compared[k].name, bad, rtol);
        CHECK(!exact || differ == 0,
              "%s %s %s: %d days not bit-identical to terragrad test (largest relative difference %.3g)", kind, id,
              net_compared[k].name, differ, worst);
        if (differ)
            printf("%s %s %s: %d of %d days differ, largest relative difference %.3g\n", kind, id,
                   net_compared[k].name, differ, NNET, worst);
    }
    /* restart after 1991 */
    const char *lstm_states[] = {"state__lstm_hidden", "state__lstm_cell", "state__lstm_input_history",
                                 "state__lstm_window_day"};
    const char *dhbv_states[] = {"state__lstm_hidden", "state__lstm_cell", "state__dhbv_static_parameters",
                                 "state__dhbv_routing_parameters", "state__hbv_snowpack", "state__hbv_meltwater",
                                 "state__hbv_soil_moisture", "state__hbv_upper_zone", "state__hbv_lower_zone",
                                 "state__routing_runoff_history", "state__routing_quick_flow_history",
                                 "state__routing_interflow_history", "state__routing_baseflow_history"};
    const int is_lstm = !strcmp(kind, "lstm"), ns = is_lstm ? 4 : 13;
    const char *const *sv = is_lstm ? lstm_states : dhbv_states;
    double *saved[13] = {0};
    m = open_model(cfg1);
    CHECK(m && !run_net(m, &b, 0, 365, ncmp, part), "%s %s: year one", kind, id);
    for (int s = 0; m && s < ns; s++) {
        int nb = 0;
        CHECK(m->get_var_nbytes(m, sv[s], &nb) == BMI_SUCCESS && nb > 0, "nbytes %s", sv[s]);
        saved[s] = malloc((size_t)nb);
        CHECK(m->get_value(m, sv[s], saved[s]) == BMI_SUCCESS, "save %s", sv[s]);
    }
    /* after saving: bad states are refused at the next update (within the end time) */
    if (m) {
        if (strcmp(kind, "lstm")) { /* δHBV: 13 parameters x 2 components; a bad value is refused at update */
            CHECK(m->get_var_grid(m, "state__dhbv_static_parameters", &grid) == BMI_SUCCESS &&
                      m->get_grid_size(m, grid, &size) == 0 && size == 26, "static parameter grid size %d", size);
            int fc = TG_HBV_FC * 2;
            double zero = 0, keep = 0, one = 1, z = 0;
            m->get_value_at_indices(m, "state__dhbv_static_parameters", &keep, &fc, 1);
            CHECK(m->set_value_at_indices(m, "state__dhbv_static_parameters", &fc, 1, &zero) == BMI_SUCCESS &&
                      m->set_value(m, V_P, &one) == 0 && m->set_value(m, V_T, &one) == 0 && m->set_value(m, V_PET, &z) == 0 &&
                      m->update(m) == BMI_FAILURE, "FC = 0 refused");
            CHECK(m->set_value_at_indices(m, "state__dhbv_static_parameters", &fc, 1, &keep) == BMI_SUCCESS &&
                      m->update(m) == BMI_SUCCESS, "FC restored: the update runs");
        } else {
            double half = 0.5;
            CHECK(m->set_value(m, "state__lstm_window_day", &half) == BMI_SUCCESS && m->update(m) == BMI_FAILURE,
                  "window day 0.5 refused");
            CHECK(m->set_value(m, "state__lstm_window_day", saved[3]) == BMI_SUCCESS && m->update(m) == BMI_SUCCESS,
                  "window day restored: the update runs");
        }
    }
    close_model(m);
    m = open_model(cfg2);
    CHECK(m != NULL, "%s %s: initialize the restart", kind, id);
    for (int s = 0; m && s < ns; s++)
        CHECK(m->set_value(m, sv[s], saved[s]) == BMI_SUCCESS, "restore %s", sv[s]);
    CHECK(m && !run_net(m, &b, 365, NNET - 365, ncmp, part + 365 * ncmp), "%s %s: year two", kind, id);
    close_model(m);
    int same = 1;
    for (int i = 365 * ncmp; i < NNET * ncmp; i++)
        same &= part[i] == full[i];
    CHECK(same, "%s %s: year two after a restart differs from the uninterrupted run", kind, id);
    for (int s = 0; s < ns; s++)
        free(saved[s]);
out:
    if (!rc)
        tg_basin_free(&b);
    free(pred);
    free(full);
    free(part);
}

/* dhbv_static: warmup takes the static parameters from the head on the day before start,
 * where the LSTM state kept for stepping is: same hidden state as the `end` mode (which
 * runs the same days first), parameters within their ranges, different from the `end` ones
 * (which saw two more years), and no `end` needed. */
static void test_dhbv_static_warmup(void)
{
    write_file(WORK "/dhbv_warmup.yaml", "model: dhbv\nbasin: '01031500'\nstart: 1991-01-01\ndhbv_static: warmup\n"
                                         "run_dir: run_dhbv\n");
    config_net(WORK "/dhbv_end.yaml", "dhbv", "01031500", "1991-01-01", "data");
    Bmi *a = open_model(WORK "/dhbv_warmup.yaml"), *b = open_model(WORK "/dhbv_end.yaml");
    CHECK(a && b, "initialize dhbv_static warmup / end");
    if (a && b) {
        double ha[16], hb[16], pa[26], pb[26];
        a->get_value(a, "state__lstm_hidden", ha);
        b->get_value(b, "state__lstm_hidden", hb);
        a->get_value(a, "state__dhbv_static_parameters", pa);
        b->get_value(b, "state__dhbv_static_parameters", pb);
        for (int j = 0; j < 16; j++)
            CHECK_CLOSE(ha[j], hb[j], 1e-6, 1e-6); /* h in (-1, 1): absolute floor at the rounding level */
        int differ = 0;
        for (int k = 0; k < 26; k++) {
            int p = k / 2;
            CHECK(pa[k] >= tg_hbv_param_range[p][0] && pa[k] <= tg_hbv_param_range[p][1], "%s = %g out of range",
                  tg_hbv_param_names[p], pa[k]);
            differ += pa[k] != pb[k];
        }
        CHECK(differ > 20, "static parameters of the warmup and end modes differ in %d of 26", differ);
        double t1 = 0;
        CHECK(a->get_end_time(a, &t1) == BMI_SUCCESS && t1 > 1e300, "no end needed");
    }
    close_model(a);
    close_model(b);
    write_file(WORK "/dhbv_noend.yaml", "model: dhbv\nbasin: '01031500'\nstart: 1991-01-01\nrun_dir: run_dhbv\n");
    Bmi *c = calloc(1, sizeof *c);
    reg(c);
    CHECK(c->initialize(c, WORK "/dhbv_noend.yaml") == BMI_FAILURE, "dhbv_static: end without an end day refused");
    c->finalize(c);
    free(c);
    write_file(WORK "/lstm_wrongkind.yaml", "model: lstm\nbasin: '01031500'\nstart: 1991-01-01\nrun_dir: run_dhbv\n");
    write_file(WORK "/lstm_wrongbasin.yaml", "model: lstm\nbasin: '99999999'\nstart: 1991-01-01\nrun_dir: run_lstm\n");
    Bmi d;
    reg(&d);
    CHECK(d.initialize(&d, WORK "/lstm_wrongkind.yaml") == BMI_FAILURE, "run of another model type refused");
    CHECK(d.initialize(&d, WORK "/lstm_wrongbasin.yaml") == BMI_FAILURE, "basin outside the run refused");
    d.finalize(&d);
}

/* The public run stepper (terragrad/stepper.h) directly: the whole state as one flat array.
 * A stepper run for 200 days, its flat state copied into a fresh one (opened without
 * warm-up) gives the next 300 days exactly as the first one continues; a buffer one value
 * short is refused; so is a window day that is not whole. Both kinds. */
static void test_stepper_flat_state(const char *kind)
{
    char dir[512];
    snprintf(dir, sizeof dir, WORK "/run_%s", kind);
    tg_basin b;
    if (tg_caravan_read(tg_test_data("caravan_camels_us"), "01047000", &b)) {
        CHECK(0, "caravan 01047000: %s", tg_error_message());
        return;
    }
    const int d0 = tg_date_from_ymd(1991, 1, 1);
    tg_stepper_options o = {.run_dir = dir, .basin = "01047000", .start_day = d0, .end_day = d0 + 730,
                            .warmup_from_data = 1, .static_from_end = 1};
    tg_stepper *a = NULL, *c = NULL;
    int rc = tg_stepper_open(&o, &a);
    CHECK(rc == 0, "%s: open the stepper: %s", kind, rc ? tg_error_message() : "");
    o.warmup_from_data = 0;
    o.start_day = d0 + 200;
    if (!rc)
        rc = tg_stepper_open(&o, &c);
    CHECK(rc == 0, "%s: open a second stepper", kind);
    if (!rc) {
        const tg_stepper_info *info = tg_stepper_get_info(a);
        CHECK(info->dhbv == !strcmp(kind, "dhbv") && info->hidden == 16 && info->inputs == 3 && info->statics == 4 &&
                  info->warmup == 90 && info->horizon == 180,
              "%s: info", kind);
        tg_real *oa = malloc((size_t)info->n_out * sizeof(tg_real)), *oc = malloc((size_t)info->n_out * sizeof(tg_real));
        const int n = tg_stepper_state_size(a);
        double *st = malloc(((size_t)n + 1) * sizeof(double));
        int off = d0 - b.start, same = 1;
        for (int t = 0; t < 200 && !rc; t++) {
            tg_real f[3] = {b.var[TG_VAR_P][off + t], b.var[TG_VAR_TEMP][off + t], b.var[TG_VAR_PET][off + t]};
            rc = tg_stepper_step(a, f, oa);
        }
        CHECK(n == tg_stepper_state_size(c) && n > 32, "%s: state size %d", kind, n);
        CHECK(tg_stepper_state_get(a, st, n - 1) == TG_EINVAL, "%s: get with a buffer one short refused", kind);
        CHECK(tg_stepper_state_set(c, st, n + 1) == TG_EINVAL, "%s: set with a buffer one too long refused", kind);
        CHECK(!rc && tg_stepper_state_get(a, st, n) == 0 && tg_stepper_state_set(c, st, n) == 0, "%s: copy state",
              kind);
        for (int t = 200; t < 500 && !rc; t++) {
            tg_real f[3] = {b.var[TG_VAR_P][off + t], b.var[TG_VAR_TEMP][off + t], b.var[TG_VAR_PET][off + t]};
            rc = tg_stepper_step(a, f, oa) || tg_stepper_step(c, f, oc);
            for (int k = 0; k < info->n_out && !rc; k++)
                same &= oa[k] == oc[k];
        }
        CHECK(!rc && same, "%s: 300 days after a flat-state copy equal the continued run", kind);
        if (!info->dhbv) {
            int sz = 0;
            double *wd = tg_stepper_state(c, TG_STEPPER_WINDOW_DAY, &sz), keep = wd ? *wd : 0;
            tg_real f[3] = {1, 1, 1};
            CHECK(wd && sz == 1, "window day part");
            if (wd) {
                *wd = 2.5;
                CHECK(tg_stepper_step(c, f, oc) == TG_EINVAL, "window day 2.5 refused");
                *wd = keep;
            }
        }
        free(oa);
        free(oc);
        free(st);
    }
    tg_stepper_free(&a);
    tg_stepper_free(&c);
    tg_basin_free(&b);
}

/* Trains the tiny runs (seconds) and scores them with terragrad test. */
static int train_runs(void)
{
    const char *kinds[2] = {"lstm", "dhbv"};
    char caravan[1024], attrs[1024]; /* tg_test_data returns one static buffer */
    snprintf(caravan, sizeof caravan, "%s", tg_test_data("caravan_camels_us"));
    snprintf(attrs, sizeof attrs, "%s", tg_test_data("camels_us/camels_attributes_v2.0"));
    for (int i = 0; i < 2; i++) {
        char text[4096], path[512], cmd[2048];
        snprintf(text, sizeof text,
                 "seed: 3\noutput:\n  dir: %s/run_%s\ndata:\n  source: caravan\n  path: %s\n"
                 "  basins: ['01022500', '01031500', '01047000']\n  attributes: %s\n"
                 "  attribute_names: [p_mean, aridity, frac_snow, elev_mean]\nperiods:\n  train_start: 1981-01-01\n"
                 "  train_end: 1990-12-31\n  test_start: 1991-01-01\n  test_end: 1992-12-31\nmodel:\n  type: %s\n"
                 "  hidden: 16\n%straining:\n  epochs: 1\n  iterations: 4\n  batch: 4\n  warmup: 90\n"
                 "  horizon: 180\n%s",
                 WORK, kinds[i], caravan, attrs, kinds[i], i ? "" : "  dropout: 0.0\n", i ? "hbv:\n  components: 2\n  dynamic: [BETA, BETAET]\n  routing: true\n" : "");
        snprintf(path, sizeof path, WORK "/train_%s.yaml", kinds[i]);
        write_file(path, text);
        snprintf(cmd, sizeof cmd,
                 "'%s/terragrad' train '%s' --overwrite > '%s/train_%s.log' 2>&1 && "
                 "'%s/terragrad' test '%s/run_%s' >> '%s/train_%s.log' 2>&1",
                 TG_BINARY_DIR, path, WORK, kinds[i], TG_BINARY_DIR, WORK, kinds[i], WORK, kinds[i]);
        if (system(cmd))
            return fprintf(stderr, "training %s failed: see %s/train_%s.log\n", kinds[i], WORK, kinds[i]), 1;
    }
    return 0;
}

/* Every remaining BMI function, and the error paths. */
static void test_surface(void)
{
    Bmi b;
    CHECK(reg(&b) == &b, "register");
    CHECK(reg(NULL) == NULL, "register(NULL)");
    double x = 1;
    char s[BMI_MAX_VAR_NAME];
    CHECK(b.update(&b) == BMI_FAILURE, "update before initialize");
    CHECK(b.update_until(&b, 86400.0) == BMI_FAILURE, "update_until before initialize");
    CHECK(b.get_value(&b, V_Q, &x) == BMI_FAILURE, "get_value before initialize");
    CHECK(b.get_current_time(&b, &x) == BMI_FAILURE, "time before initialize");
    CHECK(b.get_component_name(&b, s) == BMI_SUCCESS && strstr(s, "terragrad"), "component name '%s'", s);
    /* bad configs: unknown key, missing file, parameters and file both missing */
    write_file(WORK "/bad1.yaml", "model: hbv\nbasin: '01022500'\nstart: 1982-01-01\nwarmup:\n  polcy: none\n");
    CHECK(b.initialize(&b, WORK "/bad1.yaml") == BMI_FAILURE, "unknown config key");
    CHECK(b.initialize(&b, WORK "/missing.yaml") == BMI_FAILURE, "missing config");
    write_file(WORK "/bad2.yaml", "model: hbv\nbasin: '01022500'\nstart: 1982-01-01\nwarmup:\n  policy: none\n");
    CHECK(b.initialize(&b, WORK "/bad2.yaml") == BMI_FAILURE, "no parameters");
    write_file(WORK "/bad3.yaml", "model: hbv\nbasin: '01022500'\nstart: 1982-01-01\ndata_file: data/01022500.csv\n"
                                  "warmup:\n  days: 100000\nhbv:\n  params_file: params.csv\n");
    CHECK(b.initialize(&b, WORK "/bad3.yaml") == BMI_FAILURE, "warm-up longer than the data");
    /* a valid config with inline parameters (one component), no routing, mm/h */
    write_file(WORK "/inline.yaml",
               "model: hbv\nbasin: '01022500'\nstart: 1982-01-01\nunits: mm/h\nwarmup:\n  policy: none\n"
               "hbv:\n  parameters:\n    BETA: [2.5]\n    FC: [250]\n    K0: [0.3]\n    K1: [0.1]\n    K2: [0.02]\n"
               "    LP: [0.7]\n    PERC: [2]\n    UZL: [20]\n    TT: [0]\n    CFMAX: [3.5]\n    CFR: [0.05]\n"
               "    CWH: [0.1]\n    BETAET: [1.5]\n");
    CHECK(b.initialize(&b, WORK "/inline.yaml") == BMI_SUCCESS, "initialize inline");
    CHECK(b.initialize(&b, WORK "/inline.yaml") == BMI_FAILURE, "initialize twice");
    int n_in = 0, n_out = 0;
    CHECK(b.get_input_item_count(&b, &n_in) == BMI_SUCCESS && n_in == 3, "input count %d", n_in);
    CHECK(b.get_output_item_count(&b, &n_out) == BMI_SUCCESS && n_out == 20, "output count %d", n_out);
    char *names[32];
    for (int i = 0; i < 32; i++)
        names[i] = malloc(BMI_MAX_VAR_NAME);
    CHECK(b.get_input_var_names(&b, names) == BMI_SUCCESS && !strcmp(names[0], V_P) && !strcmp(names[2], V_PET),
          "input names");
    CHECK(b.get_output_var_names(&b, names) == BMI_SUCCESS && !strcmp(names[0], V_Q), "output names");
    /* every output: metadata consistent with its grid */
    for (int i = 0; i < n_out; i++) {
        int grid = -1, size = 0, item = 0, nb = 0, rank = -1;
        char type[BMI_MAX_TYPE_NAME], units[BMI_MAX_UNITS_NAME], loc[BMI_MAX_LOCATION_NAME];
        CHECK(b.get_var_grid(&b, names[i], &grid) == BMI_SUCCESS && b.get_grid_size(&b, grid, &size) == BMI_SUCCESS &&
                  b.get_var_itemsize(&b, names[i], &item) == BMI_SUCCESS &&
                  b.get_var_nbytes(&b, names[i], &nb) == BMI_SUCCESS && nb == item * size && item == 8 &&
                  b.get_var_type(&b, names[i], type) == BMI_SUCCESS && !strcmp(type, "double") &&
                  b.get_var_units(&b, names[i], units) == BMI_SUCCESS &&
                  b.get_var_location(&b, names[i], loc) == BMI_SUCCESS && !strcmp(loc, "node") &&
                  b.get_grid_rank(&b, grid, &rank) == BMI_SUCCESS && rank == (grid ? 1 : 0),
              "metadata of %s (grid %d size %d nbytes %d)", names[i], grid, size, nb);
    }
    char units[BMI_MAX_UNITS_NAME];
    CHECK(b.get_var_units(&b, V_Q, units) == BMI_SUCCESS && !strcmp(units, "mm h-1"), "flux units %s", units);
    CHECK(b.get_var_units(&b, V_T, units) == BMI_SUCCESS && !strcmp(units, "degC"), "T units %s", units);
    CHECK(b.get_var_units(&b, "state__hbv_soil_moisture", units) == BMI_SUCCESS && !strcmp(units, "mm"), "SM units");
    /* unknown variable on every variable function */
    int iv;
    CHECK(b.get_var_grid(&b, "no_such_var", &iv) == BMI_FAILURE, "unknown var grid");
    CHECK(b.get_var_type(&b, "no_such_var", s) == BMI_FAILURE, "unknown var type");
    CHECK(b.get_var_units(&b, "no_such_var", s) == BMI_FAILURE, "unknown var units");
    CHECK(b.get_var_itemsize(&b, "no_such_var", &iv) == BMI_FAILURE, "unknown var itemsize");
    CHECK(b.get_var_nbytes(&b, "no_such_var", &iv) == BMI_FAILURE, "unknown var nbytes");
    CHECK(b.get_var_location(&b, "no_such_var", s) == BMI_FAILURE, "unknown var location");
    CHECK(b.get_value(&b, "no_such_var", &x) == BMI_FAILURE, "unknown var get_value");
    CHECK(b.set_value(&b, "no_such_var", &x) == BMI_FAILURE, "unknown var set_value");
    /* time */
    double t0 = -1, t1 = -1, dt = 0, now = -1;
    CHECK(b.get_start_time(&b, &t0) == BMI_SUCCESS && t0 == 0, "start time");
    CHECK(b.get_end_time(&b, &t1) == BMI_SUCCESS && t1 > 1e300, "end time without an end: %g", t1);
    CHECK(b.get_time_step(&b, &dt) == BMI_SUCCESS && dt == 86400, "time step");
    CHECK(b.get_time_units(&b, s) == BMI_SUCCESS && !strcmp(s, "s"), "time units");
    /* an update without inputs is refused (they are NaN until set) */
    CHECK(b.update(&b) == BMI_FAILURE, "update with unset inputs");
    /* mm/h: 1 mm/h of rain on a warm day is 24 mm/d to the model; the pointer is the storage */
    void *pp = NULL, *pt = NULL, *pe = NULL;
    CHECK(b.get_value_ptr(&b, V_P, &pp) == BMI_SUCCESS && b.get_value_ptr(&b, V_T, &pt) == BMI_SUCCESS &&
              b.get_value_ptr(&b, V_PET, &pe) == BMI_SUCCESS, "get_value_ptr");
    *(double *)pp = 1.0;
    *(double *)pt = 15.0;
    *(double *)pe = 0.1;
    double sm0 = 0, sm1 = 0, et = 0, q = 0, q_unr = 0, q0 = 0, q1 = 0, q2 = 0;
    CHECK(b.get_value(&b, "state__hbv_soil_moisture", &sm0) == BMI_SUCCESS, "SM before");
    CHECK(b.update_until(&b, 86400.0) == BMI_SUCCESS, "update_until one day");
    CHECK(b.get_current_time(&b, &now) == BMI_SUCCESS && now == 86400.0, "current time %g", now);
    b.get_value(&b, "state__hbv_soil_moisture", &sm1);
    b.get_value(&b, "land_surface_water__evapotranspiration_volume_flux", &et);
    b.get_value(&b, V_Q, &q);
    b.get_value(&b, "hbv__unrouted_runoff_volume_flux", &q_unr);
    b.get_value(&b, "hbv__quick_flow_volume_flux", &q0);
    b.get_value(&b, "hbv__interflow_volume_flux", &q1);
    b.get_value(&b, "hbv__baseflow_volume_flux", &q2);
    double suz = 0, slz = 0, swe = 0, mw = 0;
    b.get_value(&b, "state__hbv_upper_zone", &suz);
    b.get_value(&b, "state__hbv_lower_zone", &slz);
    b.get_value(&b, "state__hbv_snowpack", &swe);
    b.get_value(&b, "state__hbv_meltwater", &mw);
    /* water balance of the day in mm: 24 mm in = (ET + Q) * 24 h + change of storage (all
     * stores started at 0.001 mm); no routing configured, so Q = unrouted Q */
    double stored = sm1 + suz + slz + swe + mw - 5 * 0.001;
    CHECK_CLOSE(24.0, (et + q_unr) * 24.0 + stored, 1e-5, 0);
    CHECK(q == q_unr, "no routing: Q %g = unrouted %g", q, q_unr);
    CHECK_CLOSE(q_unr, q0 + q1 + q2, 1e-5, 0);
    CHECK(b.update_until(&b, 86400.0 * 1.5) == BMI_FAILURE, "update_until half a day");
    CHECK(b.update_until(&b, 0.0) == BMI_FAILURE, "update_until the past");
    CHECK(b.update_until(&b, 86400.0 * 3) == BMI_SUCCESS && b.get_current_time(&b, &now) == BMI_SUCCESS &&
              now == 86400.0 * 3, "update_until 3 days: %g", now);
    /* indices */
    int inds[2] = {0, 14}, bad_inds[1] = {15};
    double two[2] = {0, 0}, hist[15];
    CHECK(b.get_value(&b, "state__routing_runoff_history", hist) == BMI_SUCCESS, "history");
    CHECK(b.get_value_at_indices(&b, "state__routing_runoff_history", two, inds, 2) == BMI_SUCCESS && two[0] == hist[0] &&
              two[1] == hist[14], "get_value_at_indices");
    CHECK(b.get_value_at_indices(&b, "state__routing_runoff_history", two, bad_inds, 1) == BMI_FAILURE,
          "index past the end");
    CHECK(b.get_value_at_indices(&b, V_Q, two, inds, 2) == BMI_FAILURE, "two values of a scalar");
    CHECK(b.get_value_at_indices(&b, "no_such_var", two, inds, 1) == BMI_FAILURE, "unknown var at indices");
    double vals[2] = {3.5, 4.5};
    CHECK(b.set_value_at_indices(&b, "state__routing_runoff_history", inds, 2, vals) == BMI_SUCCESS &&
              b.get_value(&b, "state__routing_runoff_history", hist) == BMI_SUCCESS && hist[0] == 3.5 && hist[14] == 4.5,
          "set_value_at_indices");
    CHECK(b.set_value_at_indices(&b, "state__routing_runoff_history", bad_inds, 1, vals) == BMI_FAILURE,
          "set index past the end");
    CHECK(b.set_value_at_indices(&b, V_Q, inds, 1, vals) == BMI_FAILURE, "set a computed output at indices");
    CHECK(b.set_value(&b, V_Q, vals) == BMI_FAILURE, "set a computed output");
    double nan = (double)NAN, keep = 0;
    b.get_value(&b, "state__hbv_lower_zone", &keep);
    CHECK(b.set_value(&b, "state__hbv_lower_zone", &nan) == BMI_FAILURE, "NaN state refused");
    CHECK(b.get_value(&b, "state__hbv_lower_zone", &x) == BMI_SUCCESS && x == keep, "state left as it was");
    double neg = -1;
    CHECK(b.set_value(&b, V_P, &neg) == BMI_SUCCESS && b.update(&b) == BMI_FAILURE, "negative P refused at update");
    /* grids: 0 scalar, 1 components, 2 routing history; 3 is not used by hbv */
    int rank = -1, size = 0, shape[1] = {0}, cnt = -1;
    double dd[4];
    CHECK(b.get_grid_type(&b, 0, s) == BMI_SUCCESS && !strcmp(s, "scalar"), "grid 0 type %s", s);
    CHECK(b.get_grid_type(&b, 2, s) == BMI_SUCCESS && !strcmp(s, "vector"), "grid 2 type %s", s);
    CHECK(b.get_grid_rank(&b, 1, &rank) == BMI_SUCCESS && rank == 1, "grid 1 rank");
    CHECK(b.get_grid_size(&b, 1, &size) == BMI_SUCCESS && size == 1, "grid 1 size %d (one component)", size);
    CHECK(b.get_grid_shape(&b, 2, shape) == BMI_SUCCESS && shape[0] == 15, "grid 2 shape %d", shape[0]);
    CHECK(b.get_grid_shape(&b, 0, shape) == BMI_FAILURE, "scalar grid has no shape");
    CHECK(b.get_grid_node_count(&b, 2, &cnt) == BMI_SUCCESS && cnt == 15, "node count %d", cnt);
    CHECK(b.get_grid_rank(&b, 3, &rank) == BMI_FAILURE && b.get_grid_size(&b, 7, &size) == BMI_FAILURE &&
              b.get_grid_type(&b, -1, s) == BMI_FAILURE, "unknown grids");
    CHECK(b.get_grid_spacing(&b, 0, dd) == BMI_FAILURE && b.get_grid_origin(&b, 0, dd) == BMI_FAILURE &&
              b.get_grid_x(&b, 0, dd) == BMI_FAILURE && b.get_grid_y(&b, 1, dd) == BMI_FAILURE &&
              b.get_grid_z(&b, 2, dd) == BMI_FAILURE,
          "no spacing, origin or coordinates");
    CHECK(b.get_grid_edge_count(&b, 1, &cnt) == BMI_FAILURE && b.get_grid_face_count(&b, 1, &cnt) == BMI_FAILURE &&
              b.get_grid_edge_nodes(&b, 1, shape) == BMI_FAILURE && b.get_grid_face_edges(&b, 1, shape) == BMI_FAILURE &&
              b.get_grid_face_nodes(&b, 1, shape) == BMI_FAILURE &&
              b.get_grid_nodes_per_face(&b, 1, shape) == BMI_FAILURE,
          "no edges or faces");
    for (int i = 0; i < 32; i++)
        free(names[i]);
    CHECK(b.finalize(&b) == BMI_SUCCESS && b.data == NULL, "finalize");
    CHECK(b.update(&b) == BMI_FAILURE && b.finalize(&b) == BMI_FAILURE, "after finalize");
    /* the end time stops the stepping */
    Bmi *e = open_model(WORK "/01022500_restart.yaml");
    CHECK(e && e->get_end_time(e, &t1) == BMI_SUCCESS && t1 == 365 * 86400.0, "end time %g", t1);
    double one = 1, ten = 10, z = 0;
    if (e) {
        e->set_value(e, V_P, &one);
        e->set_value(e, V_T, &ten);
        e->set_value(e, V_PET, &z);
        CHECK(e->update_until(e, t1) == BMI_SUCCESS && e->update(e) == BMI_FAILURE, "no step past the end");
    }
    close_model(e);
}

static int setup(void)
{
    mkdir(WORK, 0755);
    mkdir(WORK "/data", 0755);
    for (int i = 0; i < NB; i++) {
        tg_basin b, s;
        if (tg_caravan_read(tg_test_data("caravan_camels_us"), basins[i], &b))
            return fprintf(stderr, "%s\n", tg_error_message()), 1;
        int rc = tg_basin_slice(&b, tg_date_from_ymd(1981, 1, 1), tg_date_from_ymd(1983, 12, 31), &s);
        if (!rc)
            rc = tg_csv_write(WORK "/data", &s);
        tg_basin_free(&b);
        tg_basin_free(&s);
        if (rc)
            return fprintf(stderr, "%s\n", tg_error_message()), 1;
    }
    write_file(WORK "/params.csv", "basin,component,BETA,FC,K0,K1,K2,LP,PERC,UZL,TT,CFMAX,CFR,CWH,BETAET\n"
                                   "01022500,1,2.5,250,0.3,0.1,0.02,0.7,2.0,20,0.0,3.5,0.05,0.1,1.5\n"
                                   "01022500,2,1.8,350,0.2,0.05,0.05,0.5,1.0,40,-0.5,2.5,0.05,0.1,1.0\n"
                                   "01031500,1,3.0,220,0.4,0.08,0.01,0.8,3.0,10,0.5,4.0,0.05,0.1,2.0\n"
                                   "01031500,2,2.0,300,0.25,0.12,0.03,0.6,1.5,30,-0.5,3.0,0.05,0.1,1.2\n"
                                   "01047000,1,1.5,180,0.35,0.15,0.04,0.6,2.5,15,1.0,3.0,0.05,0.1,1.0\n"
                                   "01047000,2,4.0,400,0.15,0.06,0.02,0.9,0.8,50,-1.0,2.0,0.05,0.1,2.5\n");
    write_file(WORK "/route.csv", "basin,a,theta\n01022500,2.5,1.5\n01031500,1.5,2.0\n01047000,3.0,0.8\n");
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "'%s/terragrad' simulate --model hbv --data '%s/data' --params '%s/params.csv' --routing '%s/route.csv' "
             "--warmup 365 --out '%s/sim' > '%s/sim.log' 2>&1",
             TG_BINARY_DIR, WORK, WORK, WORK, WORK, WORK);
    if (system(cmd))
        return fprintf(stderr, "terragrad simulate failed: see %s/sim.log\n", WORK), 1;
    return 0;
}

int main(void)
{
    void *lib = dlopen(LIB, RTLD_NOW | RTLD_LOCAL);
    CHECK(lib != NULL, "dlopen %s: %s", LIB, dlerror());
    if (!lib)
        return tg_test_summary();
    *(void **)&reg = dlsym(lib, "register_bmi_terragrad");
    CHECK(reg != NULL, "dlsym register_bmi_terragrad");
    CHECK(dlsym(lib, "tg_hbv_forward") == NULL, "the module exports terragrad's own symbols");
    if (!reg || setup())
        return tg_test_summary();
    for (int i = 0; i < NB; i++)
        test_hbv_basin(basins[i]);
    test_surface();
    CHECK(!train_runs(), "train the LSTM and δHBV runs");
    for (int i = 0; i < NB; i++) {
        test_net_basin("lstm", basins[i]);
        test_net_basin("dhbv", basins[i]);
    }
    test_dhbv_static_warmup();
    test_stepper_flat_state("lstm");
    test_stepper_flat_state("dhbv");
    /* No dlclose, as frameworks keep a module loaded for the life of the process: OpenBLAS
     * keeps one buffer (2 kB, allocated once, not per instance) that LeakSanitizer reports
     * as lost once the module's code is unmapped. Every instance's memory is freed by
     * finalize (the ASan build reports no other allocation). */
    (void)lib;
    return tg_test_summary();
}
