/* fuzz_basin_list.c — libFuzzer target: basin list files (tg_basin_list_read: one id per line, # comments). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[600];
    if (!path[0]) tg_fuzz_path(path, sizeof path, "basins.txt");
    tg_fuzz_write(path, data, size);
    tg_basin_list l;
    if (tg_basin_list_read(path, &l) == 0) tg_basin_list_free(&l);
    tg_fuzz_done();
    return 0;
}
