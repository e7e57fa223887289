/* fuzz_attributes_csv.c — libFuzzer target: generic attributes.csv (tg_attributes_read_csv), then lookups by basin and column. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[600];
    if (!path[0]) tg_fuzz_path(path, sizeof path, "attributes.csv");
    tg_fuzz_write(path, data, size);
    tg_attributes a;
    if (tg_attributes_read_csv(path, &a) == 0) {
        if (a.B > 0) {
            (void)tg_attributes_basin(&a, a.basin[a.B - 1]);
            tg_real *row = tg_malloc((size_t)(a.F ? a.F : 1) * sizeof(tg_real));
            if (row) (void)tg_attributes_gather(&a, (const char (*)[TG_ID_MAX])a.basin, 1, row);
            tg_free(row, (size_t)(a.F ? a.F : 1) * sizeof(tg_real));
        }
        if (a.F > 0) (void)tg_attributes_column(&a, a.name[0]);
        tg_attributes_free(&a);
    }
    tg_fuzz_done();
    return 0;
}
