/* fuzz_caravan.c — libFuzzer target: Caravan CSV (tg_caravan_read_file: no header, P,T,PET,Q per day). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[600];
    if (!path[0]) tg_fuzz_path(path, sizeof path, "caravan.csv");
    tg_fuzz_write(path, data, size);
    tg_basin b;
    if (tg_caravan_read_file(path, "fuzz", TG_CARAVAN_START, &b) == 0) {
        for (int v = 0; v < TG_NVAR; v++) (void)tg_basin_count_valid(&b, v);
        tg_basin_free(&b);
    }
    tg_fuzz_done();
    return 0;
}
