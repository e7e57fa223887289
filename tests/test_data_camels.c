/* CAMELS-US readers on the real files in ../shared/data/camels_us: values spot-checked
 * against lines of the files (sed -n), cfs -> mm/day, join on date with a file cut by
 * line number, PET (Hargreaves vs a hand computation, NLDAS detection -> Oudin),
 * attributes (join, categorical columns, selection, hydro excluded), and broken files
 * (truncated line, non-numeric field, missing file, wrong date order). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>

#include "test_data_util.h"

#define CFS 0.028316846592

static void test_dates(void)
{
    /* reference day numbers from Python: (date(y,m,d) - date(1970,1,1)).days */
    CHECK(days(1970, 1, 1) == 0, "epoch");
    CHECK(days(1981, 1, 1) == 4018 && TG_CARAVAN_START == 4018, "1981-01-01");
    CHECK(days(2000, 2, 29) == 11016, "leap day 2000");
    CHECK(days(1900, 3, 1) == -25508, "1900 is not a leap year");
    CHECK(days(1600, 1, 1) == -135140, "before 1970");
    int bad = 0;
    for (int d = -150000; d <= 50000; d += 7) {
        int y, m, dd;
        tg_date_to_ymd(d, &y, &m, &dd);
        bad += !tg_date_is_valid(y, m, dd) || days(y, m, dd) != d;
    }
    CHECK(bad == 0, "%d round trips failed", bad);
    int d;
    char buf[11];
    CHECK(tg_date_parse("2013-10-03", &d) == 0 && d == 15981, "parse");
    CHECK(strcmp(tg_date_format(15981, buf), "2013-10-03") == 0, "format %s", buf);
    CHECK(strcmp(tg_date_format(-135140, buf), "1600-01-01") == 0, "format %s", buf);
    CHECK(tg_date_doy(days(2000, 12, 31)) == 366 && tg_date_doy(days(2001, 3, 1)) == 60, "doy");
    CHECK(tg_date_parse("2001-02-29", &d) == TG_EINVAL, "not a leap year");
    CHECK(tg_date_parse("2001-2-28", &d) == TG_EINVAL, "format");
    CHECK(tg_date_parse("2001-02-28x", &d) == TG_EINVAL, "trailing text");
}

static void test_pet_formulas(void)
{
    /* FAO-56 Example 8: 20 deg S, 3 September (J = 246): Ra = 32.2 MJ m-2 day-1 */
    CHECK_CLOSE(tg_extraterrestrial_radiation(-20.0, 246), 32.2, 0.002, 0);
    /* Hargreaves by hand with Ra = 32.2, Tmax 30, Tmin 15:
     * 0.0023 * (22.5 + 17.8) * sqrt(15) * 0.408 * 32.2
     * = 0.0023 * 40.3 * 3.8729833 * 13.1376 = 4.716227 mm/day */
    CHECK_CLOSE(tg_pet_hargreaves(30.0, 15.0, 32.2), 4.716227, 1e-6, 0);
    /* Oudin by hand: 32.2 / 2.45 * (20 + 5) / 100 = 3.2857143 mm/day; 0 below -5 degC */
    CHECK_CLOSE(tg_pet_oudin(20.0, 32.2), 3.2857143, 1e-7, 0);
    CHECK(tg_pet_oudin(-6.0, 32.2) == 0.0, "Oudin cold");
    CHECK(tg_pet_hargreaves(-30.0, -40.0, 10.0) == 0.0, "Hargreaves clamps at 0");
    CHECK(isnan(tg_pet_hargreaves(NAN, 1.0, 10.0)), "NaN propagates");
    /* polar night: no radiation at 80 N in December */
    CHECK(tg_extraterrestrial_radiation(80.0, 355) == 0.0, "polar night");
}

static void test_forcing_daymet(void)
{
    tg_basin b;
    const char *root = tg_test_data("camels_us");
    tg_camels_options o = {0};
    o.allow_missing_streamflow = 1;   /* 01031500 has forcing only */
    int rc = tg_camels_read(root, "01022500", &o, &b);
    CHECK(rc == 0, "%s", tg_error_message());
    if (rc) return;
    /* header lines 1-3 of basin_mean_forcing/daymet/01/01022500_lump_cida_forcing_leap.txt */
    CHECK_CLOSE(b.lat, 44.82, 1e-15, 0);
    CHECK_CLOSE(b.elev_m, 133.0, 1e-15, 0);
    CHECK_CLOSE(b.area_km2, 587.675987, 1e-15, 0);
    CHECK(b.start == days(2000, 1, 1) && b.T == 1461, "daymet period %d %d", b.start, b.T);
    /* line 500: 2001 05 10 12 51862.39 0.00 522.72 0.00 19.55 3.00 701.33 */
    int t = days(2001, 5, 10) - b.start;
    CHECK_CLOSE(b.var[TG_VAR_DAYL][t], 51862.39, TG_TEST_EPS, 0);
    CHECK_EXACT(b.var[TG_VAR_P][t], 0.0);
    CHECK_CLOSE(b.var[TG_VAR_SRAD][t], 522.72, TG_TEST_EPS, 0);
    CHECK_CLOSE(b.var[TG_VAR_TMAX][t], 19.55, TG_TEST_EPS, 0);
    CHECK_EXACT(b.var[TG_VAR_TMIN][t], 3.00);
    CHECK_CLOSE(b.var[TG_VAR_TEMP][t], 11.275, TG_TEST_EPS, 0);
    CHECK_CLOSE(b.var[TG_VAR_VP][t], 701.33, TG_TEST_EPS, 0);
    /* last line 1464 (no final newline): 2003 12 30 ... tmax 9.08 tmin -4.00 */
    CHECK_EXACT(b.var[TG_VAR_TMIN][b.T - 2], -4.00);
    CHECK_CLOSE(b.var[TG_VAR_VP][b.T - 1], 574.94, TG_TEST_EPS, 0);
    /* Daymet has a real range: Hargreaves, equal to the formula on that day */
    CHECK(b.pet_method == TG_PET_HARGREAVES, "method %s", tg_pet_method_name(b.pet_method));
    CHECK(strstr(b.note, "Hargreaves") != NULL, "note: %s", b.note);
    double ra = tg_extraterrestrial_radiation(44.82, tg_date_doy(days(2001, 5, 10)));
    CHECK_CLOSE(b.var[TG_VAR_PET][t], tg_pet_hargreaves(19.55, 3.00, ra), 4 * TG_TEST_EPS, 0);
    CHECK(b.var[TG_VAR_PET][t] > TG_R(3.0) && b.var[TG_VAR_PET][t] < TG_R(6.0), "May PET plausible");
    /* streamflow for 01022500 covers all days: 2000..2003 has no -999 */
    CHECK(tg_basin_count_valid(&b, TG_VAR_Q) == 1461, "Q days %d", tg_basin_count_valid(&b, TG_VAR_Q));
    tg_basin_free(&b);

    /* full-length Daymet, no streamflow file: Q all missing, allowed by the option */
    rc = tg_camels_read(root, "01031500", &o, &b);
    CHECK(rc == 0, "%s", tg_error_message());
    if (!rc) {
        CHECK(b.T == 12784 && b.start == days(1980, 1, 1), "T %d", b.T);
        CHECK(tg_basin_count_valid(&b, TG_VAR_Q) == 0, "no Q");
        tg_basin_free(&b);
    }
    o.allow_missing_streamflow = 0;
    rc = tg_camels_read(root, "01031500", &o, &b);
    CHECK_ERROR(rc, TG_EIO, "01031500_streamflow_qc.txt", NULL, NULL);
}

static void test_nldas_streamflow(void)
{
    tg_basin b;
    const char *root = tg_test_data("camels_us");
    tg_camels_options o = {.product = "nldas"};
    int rc = tg_camels_read(root, "01022500", &o, &b);
    CHECK(rc == 0, "%s", tg_error_message());
    if (rc) return;
    CHECK(b.T == 12784, "T %d", b.T);
    /* NLDAS: tmax == tmin on every day -> Oudin, and the note says why */
    CHECK_EXACT(tg_basin_equal_tminmax_fraction(&b), 1.0);
    CHECK(b.pet_method == TG_PET_OUDIN, "method %s", tg_pet_method_name(b.pet_method));
    CHECK(strstr(b.note, "Oudin") && strstr(b.note, "tmax == tmin"), "note: %s", b.note);
    /* nldas line 5000: 1993 09 04 ... tmax = tmin = 18.71 */
    int t = days(1993, 9, 4) - b.start;
    double ra = tg_extraterrestrial_radiation(44.82, tg_date_doy(days(1993, 9, 4)));
    CHECK_CLOSE(b.var[TG_VAR_PET][t], ra / 2.45 * (18.71 + 5) / 100, 4 * TG_TEST_EPS, 0);
    CHECK(b.var[TG_VAR_PET][t] > TG_R(1.0), "Oudin PET is not zero with tmax == tmin");
    /* usgs_streamflow/01/01022500_streamflow_qc.txt line 1: 1980 01 01 395.00 cfs; area
     * 587675987 m2 (forcing line 3): 395 * 0.028316846592 * 86400 * 1000 / 587675987 */
    CHECK_CLOSE(b.var[TG_VAR_Q][0], 395 * CFS * 86400 * 1000 / 587675987.0, 4 * TG_TEST_EPS, 0);
    CHECK_CLOSE(b.var[TG_VAR_Q][0], 1.6444390478, 1e-10 + 4 * TG_TEST_EPS, 0); /* the literal has 11 digits */
    /* line 4000: 1990 12 13 450.00 A:e -> 1.87341 mm/day; the Caravan file (another
     * source) has 1.87 on that day (caravan_camels_us/timeseries/01022500.csv row 3634) */
    t = days(1990, 12, 13) - b.start;
    CHECK_CLOSE(b.var[TG_VAR_Q][t], 1.8734115735, 1e-10 + 4 * TG_TEST_EPS, 0); /* the literal has 11 digits */
    CHECK_CLOSE(b.var[TG_VAR_Q][t], 1.87, 3e-3, 0);
    /* the file has 92 rows of -999.00 (flag M): NaN */
    CHECK(tg_basin_count_valid(&b, TG_VAR_Q) == 12784 - 92, "valid Q %d", tg_basin_count_valid(&b, TG_VAR_Q));
    CHECK(isnan(b.var[TG_VAR_Q][b.T - 1]), "2014-12-31 is -999");
    tg_basin_free(&b);

    /* area override (area_gages2 = 573.6 km2 in camels_topo.txt) scales Q by the ratio */
    o.area_km2 = 573.6;
    rc = tg_camels_read(root, "01022500", &o, &b);
    CHECK(rc == 0, "%s", tg_error_message());
    if (!rc) {
        CHECK_CLOSE(b.var[TG_VAR_Q][0], 395 * CFS * 86400 * 1000 / 573.6e6, 4 * TG_TEST_EPS, 0);
        tg_basin_free(&b);
    }

    /* Maurer also stores the mean in both columns; maurer_extended has a real range */
    tg_camels_options m = {.product = "maurer"};
    rc = tg_camels_read(root, "01547700", &m, &b);
    CHECK(rc == 0 && b.pet_method == TG_PET_OUDIN, "maurer: %s", rc ? tg_error_message() : b.note);
    if (!rc) tg_basin_free(&b);
    m.product = "maurer_extended";
    rc = tg_camels_read(root, "01547700", &m, &b);
    CHECK(rc == 0 && b.pet_method == TG_PET_HARGREAVES, "maurer_extended: %s", rc ? tg_error_message() : b.note);
    if (!rc) {
        /* tab separated, month/day not zero padded: line 5 is 2000 1 1 */
        CHECK(b.start == days(2000, 1, 1) && b.T == 1096, "T %d", b.T);
        tg_basin_free(&b);
    }
}

static void test_join_cut_file(void)
{
    /* 06221400: forcing 1993-09-29..2013-10-03, streamflow 2002-06-30..2014-12-31 (the
     * NWC sample cut both files at the same LINE numbers) */
    tg_basin b;
    tg_camels_options o = {.product = "nldas"};
    int rc = tg_camels_read(tg_test_data("camels_us"), "06221400", &o, &b);
    CHECK(rc == 0, "%s", tg_error_message());
    if (rc) return;
    CHECK(b.start == days(1993, 9, 29) && b.T == 7310, "forcing period");
    /* pairing by row would put 495 cfs on 1993-09-29; by date that day has no flow */
    CHECK(isnan(b.var[TG_VAR_Q][0]), "no flow before 2002-06-30");
    int t = days(2002, 6, 30) - b.start;
    /* streamflow line 1: 2002 06 30 495.00, area 228339304 m2 */
    CHECK_CLOSE(b.var[TG_VAR_Q][t], 495 * CFS * 86400 * 1000 / 228339304.0, 4 * TG_TEST_EPS, 0);
    CHECK(isnan(b.var[TG_VAR_Q][t - 1]), "day before the first flow row");
    /* line 3000: 2010 09 15 81.00 */
    CHECK_CLOSE(b.var[TG_VAR_Q][days(2010, 9, 15) - b.start], 81 * CFS * 86400 * 1000 / 228339304.0, 4 * TG_TEST_EPS, 0);
    /* awk: 4114 streamflow rows up to 2013-10-03, none missing; 454 rows later dropped */
    CHECK(tg_basin_count_valid(&b, TG_VAR_Q) == 4114, "valid %d", tg_basin_count_valid(&b, TG_VAR_Q));
    CHECK(strstr(b.note, "454 outside") != NULL, "note: %s", b.note);
    tg_basin_free(&b);

    /* 01013500: streamflow ends 2013-10-01, forcing 2013-10-03 */
    rc = tg_camels_read(tg_test_data("camels_us"), "01013500", &o, &b);
    CHECK(rc == 0, "%s", tg_error_message());
    if (rc) return;
    CHECK_CLOSE(b.var[TG_VAR_Q][b.T - 3], 710 * CFS * 86400 * 1000 / 2260093113.0, 4 * TG_TEST_EPS, 0);
    CHECK(isnan(b.var[TG_VAR_Q][b.T - 2]) && isnan(b.var[TG_VAR_Q][b.T - 1]), "last two days");
    tg_basin_free(&b);
}

static void test_attributes(void)
{
    tg_attributes a;
    const char *dir = tg_test_data("camels_us/camels_attributes_v2.0");
    int rc = tg_camels_attributes_read(dir, NULL, &a);
    CHECK(rc == 0, "%s", tg_error_message());
    if (rc) return;
    CHECK(a.B == 671, "B %d", a.B);
    int i = tg_attributes_basin(&a, "01022500");
    int j = tg_attributes_column(&a, "area_gages2");
    CHECK(i == 1 && j >= 0, "row %d col %d", i, j);
    /* camels_topo.txt line 3: 01022500;44.60797;-67.93524;92.68;17.79072;573.6;620.38 */
    CHECK_CLOSE(a.value[i * a.F + j], 573.6, TG_TEST_EPS, 0);
    /* camels_clim.txt line 3: high_prec_timing son, low_prec_timing jja */
    j = tg_attributes_column(&a, "high_prec_timing=son");
    CHECK(j >= 0 && a.value[i * a.F + j] == 1, "one-hot son");
    j = tg_attributes_column(&a, "high_prec_timing=djf");
    CHECK(j >= 0 && a.value[i * a.F + j] == 0, "one-hot djf");
    /* dom_land_cover "    Mixed Forests": trimmed, space -> '_' */
    j = tg_attributes_column(&a, "dom_land_cover=Mixed_Forests");
    CHECK(j >= 0 && a.value[i * a.F + j] == 1, "land cover one-hot");
    /* camels_vege.txt line 2: 01013500 root_depth_50 NA */
    j = tg_attributes_column(&a, "root_depth_50");
    CHECK(j >= 0 && isnan(a.value[0 * a.F + j]), "NA -> NaN");
    CHECK(tg_attributes_column(&a, "q_mean") < 0, "camels_hydro.txt excluded by default");
    CHECK(tg_attributes_column(&a, "gauge_name") < 0, "free text dropped");
    j = tg_attributes_column(&a, "huc_02");
    CHECK(j >= 0 && a.value[i * a.F + j] == 1, "huc_02 numeric");
    tg_attributes_free(&a);

    /* codes, hydro included, selection with a categorical base name */
    const char *cols[] = {"p_mean", "high_prec_timing", "q_mean"};
    tg_attr_options o = {.columns = cols, .n_columns = 3, .include_hydro = 1, .categorical = TG_CAT_CODE};
    rc = tg_camels_attributes_read(dir, &o, &a);
    CHECK(rc == 0, "%s", tg_error_message());
    if (!rc) {
        CHECK(a.F == 3 && !strcmp(a.name[1], "high_prec_timing"), "F %d", a.F);
        i = tg_attributes_basin(&a, "01022500");
        /* camels_clim line 3 p_mean 3.60812594113621; camels_hydro line 3 q_mean 2.17306214800791 */
        CHECK_CLOSE(a.value[i * 3 + 0], 3.60812594113621, TG_TEST_EPS, 0);
        CHECK_EXACT(a.value[i * 3 + 1], 3);   /* sorted levels djf jja mam son: son = 3 */
        CHECK_CLOSE(a.value[i * 3 + 2], 2.17306214800791, TG_TEST_EPS, 0);
        tg_real row[3];
        const char ids[1][TG_ID_MAX] = {"01022500"};
        CHECK(tg_attributes_gather(&a, ids, 1, row) == 0 && row[2] == a.value[i * 3 + 2], "gather");
        const char bad[1][TG_ID_MAX] = {"99999999"};
        CHECK_ERROR(tg_attributes_gather(&a, bad, 1, row), TG_EINVAL, "99999999", NULL, NULL);
        tg_attributes_free(&a);
    }
    const char *cols2[] = {"dom_land_cover", "area_gages2"};
    tg_attr_options o2 = {.columns = cols2, .n_columns = 2};
    rc = tg_camels_attributes_read(dir, &o2, &a);
    CHECK(rc == 0 && a.F > 3 && !strcmp(a.name[a.F - 1], "area_gages2"), "one-hot selection F %d", a.F);
    if (!rc) tg_attributes_free(&a);
    const char *cols3[] = {"q_mean"};
    tg_attr_options o3 = {.columns = cols3, .n_columns = 1};
    CHECK_ERROR(tg_camels_attributes_read(dir, &o3, &a), TG_EINVAL, "q_mean", NULL, NULL);
}

/* A small CAMELS tree in the scratch dir with one broken file at a time. */
static const char *forcing_ok =
    "  44.82\n 133.00\n 587675987\n"
    "Year Mnth Day Hr dayl(s) prcp(mm/day) srad(W/m2) swe(mm) tmax(C) tmin(C) vp(Pa)\n"
    "2000 01 01 12\t31185.97\t0.00\t189.56\t0.00\t-2.36\t-14.36\t202.51\n"
    "2000 01 02 12\t31302.05\t0.00\t200.48\t0.00\t4.81\t-8.61\t319.42\n"
    "2000 01 03 12\t31421.77\t0.00\t183.56\t0.00\t3.91\t-5.50\t398.84\n";

static int read_broken(const char *forcing, const char *flow, tg_basin *b)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/basin_mean_forcing/daymet/01", scratch_dir());
    write_text(scratch_path("f.txt"), "");   /* make sure the scratch dir exists */
    const char *parts[] = {"basin_mean_forcing", "basin_mean_forcing/daymet",
                           "basin_mean_forcing/daymet/01", "usgs_streamflow", "usgs_streamflow/01"};
    for (int k = 0; k < 5; k++) {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "%s/%s", scratch_dir(), parts[k]);
        mkdir(cmd, 0755);
    }
    char p[700];
    snprintf(p, sizeof p, "%s/01099999_lump_cida_forcing_leap.txt", dir);
    remove(p);
    if (forcing) write_text(p, forcing);
    snprintf(p, sizeof p, "%s/usgs_streamflow/01/01099999_streamflow_qc.txt", scratch_dir());
    remove(p);
    if (flow) write_text(p, flow);
    tg_error_clear();
    return tg_camels_read(scratch_dir(), "01099999", NULL, b);
}

static void test_broken_files(void)
{
    tg_basin b;
    const char *flow_ok = "01099999 2000 01 01   395.00 A\n01099999 2000 01 02   -999.00 M\n"
                          "01099999 2000 01 03   310.00 A\n";
    int rc = read_broken(forcing_ok, flow_ok, &b);
    CHECK(rc == 0, "the good copy reads: %s", tg_error_message());
    if (!rc) {
        CHECK(b.T == 3 && isnan(b.var[TG_VAR_Q][1]) && b.var[TG_VAR_Q][2] > 0, "small tree");
        tg_basin_free(&b);
    }
    const char *fname = "01099999_lump_cida_forcing_leap.txt";
    /* truncated last line: the file stops after the srad value */
    char text[2048];
    snprintf(text, sizeof text, "%s2000 01 04 12\t31500.00\t1.20\t180.00", forcing_ok);
    rc = read_broken(text, flow_ok, &b);
    CHECK_ERROR(rc, TG_EINVAL, fname, "line 8", "'swe(mm)'");
    CHECK(strstr(tg_error_message(), "truncated") != NULL, "%s", tg_error_message());
    /* non-numeric field */
    snprintf(text, sizeof text, "%s2000 01 04 12\t31500.00\t1.2O\t180.00\t0.00\t1.00\t-3.00\t400.00\n", forcing_ok);
    rc = read_broken(text, flow_ok, &b);
    CHECK_ERROR(rc, TG_EINVAL, fname, "line 8", "'prcp(mm/day)'");
    CHECK(strstr(tg_error_message(), "1.2O") != NULL, "%s", tg_error_message());
    /* wrong date order: a repeated day */
    snprintf(text, sizeof text, "%s2000 01 03 12\t31500.00\t1.20\t180.00\t0.00\t1.00\t-3.00\t400.00\n", forcing_ok);
    rc = read_broken(text, flow_ok, &b);
    CHECK_ERROR(rc, TG_EINVAL, fname, "line 8", "'Day'");
    CHECK(strstr(tg_error_message(), "strictly increasing") != NULL, "%s", tg_error_message());
    /* too many columns */
    snprintf(text, sizeof text, "%s2000 01 04 12\t31500.00\t1.20\t180.00\t0.00\t1.00\t-3.00\t400.00\t7\n", forcing_ok);
    rc = read_broken(text, flow_ok, &b);
    CHECK_ERROR(rc, TG_EINVAL, fname, "line 8", "wrong column count");
    /* bad header number */
    rc = read_broken("  44.82\n abc\n 5\n", flow_ok, &b);
    CHECK_ERROR(rc, TG_EINVAL, fname, "line 2", "'elevation'");
    /* missing forcing file */
    rc = read_broken(NULL, flow_ok, &b);
    CHECK_ERROR(rc, TG_EIO, fname, NULL, NULL);

    const char *qname = "01099999_streamflow_qc.txt";
    /* streamflow: non-numeric Q, wrong order, truncated, wrong gauge */
    rc = read_broken(forcing_ok, "01099999 2000 01 01   395.00 A\n01099999 2000 01 02   x5 A\n", &b);
    CHECK_ERROR(rc, TG_EINVAL, qname, "line 2", "'Q'");
    rc = read_broken(forcing_ok, "01099999 2000 01 02   395.00 A\n01099999 2000 01 01   5 A\n", &b);
    CHECK_ERROR(rc, TG_EINVAL, qname, "line 2", "'Day'");
    rc = read_broken(forcing_ok, "01099999 2000 01 01   395.00 A\n01099999 2000 01\n", &b);
    CHECK_ERROR(rc, TG_EINVAL, qname, "line 2", "'Day'");
    CHECK(strstr(tg_error_message(), "truncated") != NULL, "%s", tg_error_message());
    rc = read_broken(forcing_ok, "01099998 2000 01 01   395.00 A\n", &b);
    CHECK_ERROR(rc, TG_EINVAL, qname, "line 1", "'gauge_id'");
    rc = read_broken(forcing_ok, NULL, &b);
    CHECK_ERROR(rc, TG_EIO, qname, NULL, NULL);
}

int main(void)
{
    test_dates();
    test_pet_formulas();
    test_forcing_daymet();
    test_nldas_streamflow();
    test_join_cut_file();
    test_attributes();
    test_broken_files();
    return tg_test_summary();
}
