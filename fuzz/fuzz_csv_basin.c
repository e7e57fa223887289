/* fuzz_csv_basin.c — libFuzzer target: the generic basin CSV (tg_csv_read_file: header with a date column and named variables). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[600];
    if (!path[0]) tg_fuzz_path(path, sizeof path, "basin.csv");
    tg_fuzz_write(path, data, size);
    tg_basin b;
    if (tg_csv_read_file(path, "fuzz", &b) == 0) {
        (void)tg_basin_require(&b, 1u << TG_VAR_P, "fuzz");
        for (int v = 0; v < TG_NVAR; v++) (void)tg_basin_count_valid(&b, v);
        tg_basin_free(&b);
    }
    tg_fuzz_done();
    return 0;
}
