/* Every data reader and writer under a failing allocator: the n-th allocation fails, for
 * n = 0, 1, 2, ... until the call succeeds. Each failure must return TG_ENOMEM (never
 * crash), and after freeing, the bytes outstanding must be exactly 0 — which also proves
 * that every tg_free names the size its tg_malloc asked for. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>

#include "test_data_util.h"

static long budget;          /* allocations left before one fails; < 0 = unlimited */
static long long outstanding; /* bytes allocated and not yet freed */
static int size_mismatch;

static void *counting_alloc(void *ud, void *ptr, size_t old_size, size_t new_size)
{
    (void)ud;
    if (new_size == 0) {
        free(ptr);
        outstanding -= (long long)old_size;
        return NULL;
    }
    if (budget == 0) return NULL;
    if (budget > 0) budget--;
    void *q = realloc(ptr, new_size);
    if (q) outstanding += (long long)new_size - (long long)old_size;
    return q;
}

typedef int (*op_fn)(void);
static tg_basin g_basin;

static int op_caravan(void)
{
    int rc = tg_caravan_read(tg_test_data("caravan_camels_us"), "01022500", &g_basin);
    if (!rc) tg_basin_free(&g_basin);
    return rc;
}

static int op_camels(void)
{
    tg_camels_options o = {.product = "daymet"};
    int rc = tg_camels_read(tg_test_data("camels_us"), "01547700", &o, &g_basin);
    if (!rc) tg_basin_free(&g_basin);
    return rc;
}

static int op_attributes(void)
{
    tg_attributes a;
    int rc = tg_camels_attributes_read(tg_test_data("camels_us/camels_attributes_v2.0"), NULL, &a);
    if (!rc) {
        if (a.B != 671) rc = -1;
        tg_attributes_free(&a);
    }
    return rc;
}

static tg_basin small[2];

static int op_csv(void)
{
    int rc = tg_csv_write(scratch_dir(), &small[0]);
    if (!rc) rc = tg_csv_read(scratch_dir(), small[0].id, &g_basin);
    if (!rc) tg_basin_free(&g_basin);
    return rc;
}

static int op_netcdf(void)
{
    const char *p = scratch_path("alloc.nc");
    int rc = tg_netcdf_write(p, small, 2);
    tg_basin *bs = NULL;
    int B = 0;
    if (!rc) rc = tg_netcdf_read(p, &bs, &B);
    if (!rc) tg_basin_array_free(&bs, B);
    return rc;
}

static int op_norm_sampler(void)
{
    tg_norm nm = {0};
    int rc = tg_norm_fit_basins(&nm, "P", 1, 0.1, small, 2, TG_VAR_P, 0, 1000);
    if (!rc) rc = tg_norm_finish(&nm);
    if (!rc) rc = tg_norm_save(&nm, scratch_path("n.txt"));
    tg_norm_free(&nm);
    if (!rc) rc = tg_norm_load(&nm, scratch_path("n.txt"));
    tg_norm_free(&nm);
    tg_sampler s;
    const int v[1] = {TG_VAR_P};
    if (!rc) rc = tg_sampler_init(&s, small, 2, v, 1, TG_VAR_Q, 0, 1000, 3, 2, 5);
    if (!rc) tg_sampler_free(&s);
    tg_basin_list l;
    write_text(scratch_path("list.txt"), "a\nb\nc\n");
    if (!rc) rc = tg_basin_list_read(scratch_path("list.txt"), &l);
    if (!rc) tg_basin_list_free(&l);
    return rc;
}

static void run(const char *name, op_fn op)
{
    int n, rc = TG_ENOMEM, wrong = 0, leaks = 0;
    for (n = 0; n < 100000 && rc == TG_ENOMEM; n++) {
        budget = n;
        outstanding = 0;
        tg_set_allocator(counting_alloc, NULL);
        rc = op();
        tg_set_allocator(NULL, NULL);
        if (rc != 0 && rc != TG_ENOMEM) wrong++;
        if (outstanding != 0) {
            leaks++;
            fprintf(stderr, "%s: budget %d: %lld bytes outstanding (rc %d)\n", name, n, outstanding, rc);
        }
    }
    CHECK(rc == 0, "%s never succeeded: %s", name, tg_error_message());
    CHECK(wrong == 0 && leaks == 0, "%s: %d wrong codes, %d leaks", name, wrong, leaks);
    CHECK(n > 1, "%s allocated nothing?", name);
}

int main(void)
{
    for (int i = 0; i < 2; i++) {
        tg_basin_init(&small[i], i ? "s2" : "s1", 10 * i, 40);
        tg_real *p = tg_basin_add_var(&small[i], TG_VAR_P), *q = tg_basin_add_var(&small[i], TG_VAR_Q);
        for (int t = 0; t < 40; t++) {
            p[t] = (tg_real)(t % 5);
            q[t] = t % 3 ? (tg_real)t : (tg_real)NAN;
        }
    }
    run("caravan", op_caravan);
    run("camels", op_camels);
    run("attributes", op_attributes);
    run("csv", op_csv);
    run("netcdf", op_netcdf);
    run("norm+sampler+list", op_norm_sampler);
    (void)size_mismatch;
    for (int i = 0; i < 2; i++) tg_basin_free(&small[i]);
    return tg_test_summary();
}
