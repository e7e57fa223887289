/* Caravan CSV (real files in ../shared/data/caravan_camels_us), the generic per-basin CSV
 * (write -> read round trip, missing codes, gaps, broken files), attributes.csv, basin
 * lists and period slices. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>

#include "test_data_util.h"

static int same(tg_real a, tg_real b) { return (isnan(a) && isnan(b)) || a == b; }

static void test_caravan(void)
{
    tg_basin b;
    int rc = tg_caravan_read(tg_test_data("caravan_camels_us"), "01031500", &b);
    CHECK(rc == 0, "%s", tg_error_message());
    if (rc) return;
    CHECK(b.start == days(1981, 1, 1) && b.T == 12418, "period %d %d", b.start, b.T);
    CHECK(b.start + b.T - 1 == days(2014, 12, 31), "ends 2014-12-31");
    CHECK(b.pet_method == TG_PET_FILE, "PET from the file");
    /* timeseries/01031500.csv line 1: 0.03,-17.78,1.54,0.49 */
    CHECK_CLOSE(b.var[TG_VAR_P][0], 0.03, TG_TEST_EPS, 0);
    CHECK_CLOSE(b.var[TG_VAR_TEMP][0], -17.78, TG_TEST_EPS, 0);
    CHECK_CLOSE(b.var[TG_VAR_PET][0], 1.54, TG_TEST_EPS, 0);
    CHECK_CLOSE(b.var[TG_VAR_Q][0], 0.49, TG_TEST_EPS, 0);
    /* line 5000: 5.3,13.19,8.99,0.17 */
    CHECK_CLOSE(b.var[TG_VAR_TEMP][4999], 13.19, TG_TEST_EPS, 0);
    CHECK_CLOSE(b.var[TG_VAR_Q][4999], 0.17, TG_TEST_EPS, 0);
    /* line 12327: 0.18,11.7,8,NA */
    CHECK(isnan(b.var[TG_VAR_Q][12326]) && b.var[TG_VAR_PET][12326] == 8, "NA -> NaN");
    /* last line 12418: 0.03,-17.49,2.24,NA */
    CHECK_CLOSE(b.var[TG_VAR_PET][12417], 2.24, TG_TEST_EPS, 0);
    CHECK(isnan(b.var[TG_VAR_Q][12417]), "last Q is NA");
    /* grep -c NA: 92 */
    CHECK(tg_basin_count_valid(&b, TG_VAR_Q) == 12418 - 92, "valid Q %d", tg_basin_count_valid(&b, TG_VAR_Q));
    CHECK(tg_basin_count_valid(&b, TG_VAR_P) == 12418, "P complete");

    /* slices: train period, and one reaching past the data (padded with NaN) */
    tg_basin s;
    rc = tg_basin_slice(&b, days(1981, 1, 1), days(1995, 12, 31), &s);
    CHECK(rc == 0 && s.T == 5478 && same(s.var[TG_VAR_Q][4999], b.var[TG_VAR_Q][4999]), "train slice");
    if (!rc) tg_basin_free(&s);
    rc = tg_basin_slice(&b, days(2014, 12, 30), days(2015, 1, 2), &s);
    CHECK(rc == 0 && s.T == 4, "slice T");
    if (!rc) {
        CHECK_CLOSE(s.var[TG_VAR_PET][1], 2.24, TG_TEST_EPS, 0);
        CHECK(isnan(s.var[TG_VAR_P][2]) && isnan(s.var[TG_VAR_P][3]), "padding");
        tg_basin_free(&s);
    }
    CHECK(tg_basin_slice(&b, 10, 5, &s) == TG_EINVAL, "reversed period");
    tg_basin_free(&b);

    rc = tg_caravan_read(tg_test_data("caravan_camels_us"), "00000000", &b);
    CHECK_ERROR(rc, TG_EIO, "00000000.csv", NULL, NULL);

    /* broken Caravan files */
    const char *p = scratch_path("c1.csv");
    write_text(p, "0.1,2,1.5,0.3\n0.2,2.5\n");
    CHECK_ERROR(tg_caravan_read_file(p, "c1", 0, &b), TG_EINVAL, "c1.csv", "line 2", "'PET'");
    write_text(p, "0.1,2,1.5,0.3\n0.2,2.5,abc,0.1\n");
    CHECK_ERROR(tg_caravan_read_file(p, "c1", 0, &b), TG_EINVAL, "c1.csv", "line 2", "'PET'");
    CHECK(strstr(tg_error_message(), "abc") != NULL, "%s", tg_error_message());
    write_text(p, "0.1,2,1.5,0.3\n-0.2,2.5,1,0.1\n");   /* negative P */
    CHECK_ERROR(tg_caravan_read_file(p, "c1", 0, &b), TG_EINVAL, "c1.csv", "line 2, basin 'c1'", "'P'");
    write_text(p, "0.1;2;1.5;0.3\n");
    CHECK_ERROR(tg_caravan_read_file(p, "c1", 0, &b), TG_EINVAL, "c1.csv", "line 1", "found ';'");
    write_text(p, "0.1,2,1.5,0.3,9\n");
    CHECK_ERROR(tg_caravan_read_file(p, "c1", 0, &b), TG_EINVAL, "c1.csv", "line 1", "wrong column count");
    write_text(p, "0.1,2,1.5,0.3\n\n0.1,2,1.5,0.3\n");
    CHECK_ERROR(tg_caravan_read_file(p, "c1", 0, &b), TG_EINVAL, "c1.csv", "line 2", "empty line");
    write_text(p, "0.1,2,1.5,0.3\r\n0.2,3,1.5,NA\r\n\n");   /* CRLF and a trailing blank line */
    rc = tg_caravan_read_file(p, "c1", 100, &b);
    CHECK(rc == 0 && b.T == 2 && b.start == 100 && isnan(b.var[TG_VAR_Q][1]), "CRLF: %s", tg_error_message());
    if (!rc) tg_basin_free(&b);
}

static void test_generic_roundtrip(void)
{
    tg_basin b, r;
    if (tg_caravan_read(tg_test_data("caravan_camels_us"), "01022500", &b)) {
        CHECK(0, "%s", tg_error_message());
        return;
    }
    tg_basin_add_var(&b, TG_VAR_SWE)[3] = (tg_real)(1.0 / 3.0);   /* a value with many digits */
    int rc = tg_csv_write(scratch_dir(), &b);
    CHECK(rc == 0, "%s", tg_error_message());
    /* first lines of the file as written */
    FILE *f = fopen(scratch_path("01022500.csv"), "r");
    char l1[128] = "", l2[128] = "";
    if (f) {
        if (!fgets(l1, sizeof l1, f) || !fgets(l2, sizeof l2, f)) l1[0] = 0;
        fclose(f);
    }
    CHECK(!strcmp(l1, "date,P,T,PET,Q,swe\n"), "header '%s'", l1);
    /* caravan_camels_us/timeseries/01022500.csv line 1 */
    CHECK(!strcmp(l2, "1981-01-01,0,-16.5,1.6,1.27,NA\n"), "row '%s'", l2);
    rc = tg_csv_read(scratch_dir(), "01022500", &r);
    CHECK(rc == 0, "%s", tg_error_message());
    if (!rc) {
        CHECK(r.start == b.start && r.T == b.T, "axis");
        int bad = 0;
        for (int v = 0; v < TG_NVAR; v++) {
            CHECK((r.var[v] == NULL) == (b.var[v] == NULL), "var %s presence", tg_var_name(v));
            if (!r.var[v] || !b.var[v]) continue;
            for (int t = 0; t < b.T; t++) bad += !same(r.var[v][t], b.var[v][t]);
        }
        CHECK(bad == 0, "%d values differ after the round trip", bad);
        CHECK(r.pet_method == TG_PET_FILE, "PET column -> FILE");
        tg_basin_free(&r);
    }
    tg_basin_free(&b);
}

static void test_generic_read(void)
{
    tg_basin b;
    const char *p = scratch_path("g1.csv");
    /* gap (01-03 absent), missing codes, extra column, lower-case names, quoted field */
    write_text(p, "Date,p,t,PET,station,Q\n"
                  "2000-01-01,1.5,2.0,0.5,x,\n"
                  "2000-01-02,NA,2.5,nan,y,3.25\n"
                  "2000-01-04,0,\"-1.5\",0.25,\"z,1\",NaN\n");
    int rc = tg_csv_read_file(p, "g1", &b);
    CHECK(rc == 0, "%s", tg_error_message());
    if (!rc) {
        CHECK(b.start == days(2000, 1, 1) && b.T == 4, "axis %d", b.T);
        CHECK(b.var[TG_VAR_P][0] == (tg_real)1.5 && isnan(b.var[TG_VAR_P][1]), "P");
        CHECK(isnan(b.var[TG_VAR_P][2]) && isnan(b.var[TG_VAR_TEMP][2]), "gap day is missing");
        CHECK(b.var[TG_VAR_TEMP][3] == (tg_real)-1.5, "quoted number");
        CHECK(isnan(b.var[TG_VAR_Q][0]) && b.var[TG_VAR_Q][1] == (tg_real)3.25 && isnan(b.var[TG_VAR_Q][3]), "Q");
        CHECK(isnan(b.var[TG_VAR_PET][1]), "nan");
        CHECK(strstr(b.note, "ignored columns: station") != NULL, "note %s", b.note);
        tg_basin_free(&b);
    }
    /* Q is optional; a caller that needs it gets an error naming the column */
    write_text(p, "date,P,T,PET\n2000-01-01,1,2,3\n");
    rc = tg_csv_read_file(p, "g1", &b);
    CHECK(rc == 0 && b.var[TG_VAR_Q] == NULL, "no Q column");
    if (!rc) {
        CHECK(tg_basin_require(&b, TG_VAR_BIT(TG_VAR_P) | TG_VAR_BIT(TG_VAR_PET), "sim") == 0, "has P, PET");
        CHECK_ERROR(tg_basin_require(&b, TG_VAR_BIT(TG_VAR_Q), "sim"), TG_EINVAL, "'Q'", NULL, NULL);
        tg_basin_free(&b);
    }
    /* broken files: each error names file, line and field */
    write_text(p, "date,P,T,PET,Q\n2000-01-01,1,2,3,4\n2000-01-02,1,2\n");
    CHECK_ERROR(tg_csv_read_file(p, "g1", &b), TG_EINVAL, "g1.csv", "line 3", "'PET'");
    CHECK(strstr(tg_error_message(), "truncated") != NULL, "%s", tg_error_message());
    write_text(p, "date,P,T,PET,Q\n2000-01-01,1,2,3,4\n2000-01-02,1,2,3,4,5\n");
    CHECK_ERROR(tg_csv_read_file(p, "g1", &b), TG_EINVAL, "g1.csv", "line 3", "wrong column count");
    write_text(p, "date,P,T,PET,Q\n2000-01-01,1,2,3,4\n2000-01-02,1,two,3,4\n");
    CHECK_ERROR(tg_csv_read_file(p, "g1", &b), TG_EINVAL, "g1.csv", "line 3", "'T'");
    write_text(p, "date,P,T,PET,Q\n2000-01-02,1,2,3,4\n2000-01-01,1,2,3,4\n");
    CHECK_ERROR(tg_csv_read_file(p, "g1", &b), TG_EINVAL, "g1.csv", "line 3", "'date'");
    CHECK(strstr(tg_error_message(), "strictly increasing") != NULL, "%s", tg_error_message());
    write_text(p, "date,P,T,PET,Q\n2000-01-01,1,2,3,4\n2000-01-01,1,2,3,4\n");
    CHECK_ERROR(tg_csv_read_file(p, "g1", &b), TG_EINVAL, "g1.csv", "line 3", "'date'");
    write_text(p, "date,P,T,PET,Q\n2000-02-30,1,2,3,4\n");
    CHECK_ERROR(tg_csv_read_file(p, "g1", &b), TG_EINVAL, "g1.csv", "line 2", "'date'");
    write_text(p, "day,P,T,PET,Q\n2000-02-01,1,2,3,4\n");
    CHECK_ERROR(tg_csv_read_file(p, "g1", &b), TG_EINVAL, "g1.csv", "line 1", "'date'");
    CHECK_ERROR(tg_csv_read(scratch_dir(), "nosuchbasin", &b), TG_EIO, "nosuchbasin.csv", NULL, NULL);
    /* a spreadsheet's UTF-8 byte-order mark is skipped */
    write_text(p, "\xEF\xBB\xBF" "date,P,T,PET,Q\n2000-01-01,1,2,3,4\n");
    rc = tg_csv_read_file(p, "g1", &b);
    CHECK(rc == 0, "BOM: %s", tg_error_message());
    if (!rc) {
        CHECK(b.var[TG_VAR_Q] && b.var[TG_VAR_Q][0] == 4, "BOM: values");
        tg_basin_free(&b);
    }
    /* another delimiter is named */
    write_text(p, "date;P;T;PET;Q\n2000-01-01;1;2;3;4\n");
    CHECK_ERROR(tg_csv_read_file(p, "g1", &b), TG_EINVAL, "g1.csv", "line 1", "found ';'");
    write_text(p, "date\tP\tT\tPET\n2000-01-01\t1\t2\t3\n");
    CHECK_ERROR(tg_csv_read_file(p, "g1", &b), TG_EINVAL, "g1.csv", "line 1", "comma-separated");
    /* values outside their variable's domain: file, line, basin and field */
    write_text(p, "date,P,T,PET,Q\n2000-01-01,1,2,3,4\n2000-01-02,-0.5,2,3,4\n");
    CHECK_ERROR(tg_csv_read_file(p, "g1", &b), TG_EINVAL, "line 3, basin 'g1', field 'P'", "P >= 0", NULL);
    write_text(p, "date,P,T,PET,Q\n2000-01-01,1,inf,3,4\n");
    CHECK_ERROR(tg_csv_read_file(p, "g1", &b), TG_EINVAL, "line 2, basin 'g1', field 'T'", "outside", NULL);
    write_text(p, "date,P,T,PET,Q\n2000-01-01,1,2,-0.2,4\n");   /* condensation: inside PET's domain */
    rc = tg_csv_read_file(p, "g1", &b);
    CHECK(rc == 0, "negative PET: %s", tg_error_message());
    if (!rc) tg_basin_free(&b);
}

static void test_attributes_csv(void)
{
    tg_attributes a;
    const char *p = scratch_path("attributes.csv");
    write_text(p, "basin_id,area,elev\n00001,12.5,300\nb2,NA,\n");
    int rc = tg_attributes_read_csv(p, &a);
    CHECK(rc == 0, "%s", tg_error_message());
    if (!rc) {
        CHECK(a.B == 2 && a.F == 2 && !strcmp(a.basin[0], "00001") && !strcmp(a.name[1], "elev"), "shape");
        CHECK(a.value[0] == (tg_real)12.5 && a.value[1] == 300 && isnan(a.value[2]) && isnan(a.value[3]), "values");
        tg_attributes_free(&a);
    }
    write_text(p, "basin_id,area,elev\n00001,12.5,300\nb2,1,high\n");
    CHECK_ERROR(tg_attributes_read_csv(p, &a), TG_EINVAL, "attributes.csv", "line 3", "'elev'");
    write_text(p, "basin_id,area,elev\n00001,12.5\n");
    CHECK_ERROR(tg_attributes_read_csv(p, &a), TG_EINVAL, "attributes.csv", "line 2", "'elev'");
    write_text(p, "id,area\n00001,12.5\n");
    CHECK_ERROR(tg_attributes_read_csv(p, &a), TG_EINVAL, "attributes.csv", "line 1", "'basin_id'");
    write_text(p, "basin_id,area\n00001,12.5\n00001,3\n");
    CHECK_ERROR(tg_attributes_read_csv(p, &a), TG_EINVAL, "attributes.csv", "line 3", "twice");
}

static void test_basin_list(void)
{
    tg_basin_list l;
    const char *p = scratch_path("basins.txt");
    write_text(p, "# train basins\n01022500\n\n  01031500  # Piscataquis\n06221400");
    int rc = tg_basin_list_read(p, &l);
    CHECK(rc == 0 && l.n == 3, "%s", tg_error_message());
    if (!rc) {
        CHECK(!strcmp(l.id[0], "01022500") && !strcmp(l.id[1], "01031500") && !strcmp(l.id[2], "06221400"), "ids");
        const char *q = scratch_path("basins2.txt");
        tg_basin_list r;
        CHECK(tg_basin_list_write(q, &l) == 0 && tg_basin_list_read(q, &r) == 0 && r.n == 3 &&
                  !strcmp(r.id[2], "06221400"),
              "round trip");
        tg_basin_list_free(&r);
        tg_basin_list_free(&l);
    }
    write_text(p, "01022500\n01031500\n01022500\n");
    CHECK_ERROR(tg_basin_list_read(p, &l), TG_EINVAL, "basins.txt", "line 3", "'basin_id'");
    CHECK_ERROR(tg_basin_list_read(scratch_path("none.txt"), &l), TG_EIO, "none.txt", NULL, NULL);
}

int main(void)
{
    test_caravan();
    test_generic_roundtrip();
    test_generic_read();
    test_attributes_csv();
    test_basin_list();
    return tg_test_summary();
}
