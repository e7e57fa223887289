/* fuzz_camels_forcing.c — libFuzzer target: a CAMELS-US basin-mean forcing file (3 header
 * numbers, a column header, daily rows) read through the folder layout
 * (tg_camels_read: <root>/basin_mean_forcing/daymet/<huc>/<id>_lump_cida_forcing_leap.txt),
 * with no streamflow file (allowed) and PET computed from the header's latitude. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char root[600], path[700];
    if (!root[0]) {
        tg_fuzz_path(path, sizeof path, "camels/basin_mean_forcing/daymet/01/01022500_lump_cida_forcing_leap.txt");
        tg_fuzz_path(root, sizeof root, "camels");
    }
    tg_fuzz_write(path, data, size);
    tg_camels_options o = {.allow_missing_streamflow = 1};
    tg_basin b;
    if (tg_camels_read(root, "01022500", &o, &b) == 0) {
        (void)tg_basin_equal_tminmax_fraction(&b);
        tg_basin_free(&b);
    }
    tg_fuzz_done();
    return 0;
}
