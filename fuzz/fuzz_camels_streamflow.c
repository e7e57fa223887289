/* fuzz_camels_streamflow.c — libFuzzer target: a CAMELS-US streamflow file
 * (<id> Year Month Day Q flag) joined onto a fixed, valid 40-day forcing file through the
 * folder layout (tg_camels_read: <root>/usgs_streamflow/<huc>/<id>_streamflow_qc.txt). */
#include <stdio.h>
#include <string.h>

#include "fuzz_common.h"

static void write_forcing(const char *path)
{
    char buf[8192];
    size_t n = (size_t)snprintf(buf, sizeof buf, "  44.60\n  55.00\n 620381000\n"
                                "Year Mnth Day Hr\tDayl(s)\tPRCP(mm/day)\tSRAD(W/m2)\tSWE(mm)\tTmax(C)\tTmin(C)\tVp(Pa)\n");
    for (int d = 1; d <= 40; d++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "1990 %02d %02d 12\t30000.0\t%.2f\t200.0\t0.00\t%.1f\t%.1f\t500.0\n",
                              d <= 31 ? 1 : 2, d <= 31 ? d : d - 31, (double)(d % 7), 5.0 + d % 5, -2.0 + d % 3);
    tg_fuzz_write_str(path, buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char root[600], path[700];
    if (!root[0]) {
        char f[700];
        tg_fuzz_path(f, sizeof f, "camels/basin_mean_forcing/daymet/01/01022500_lump_cida_forcing_leap.txt");
        write_forcing(f);
        tg_fuzz_path(path, sizeof path, "camels/usgs_streamflow/01/01022500_streamflow_qc.txt");
        tg_fuzz_path(root, sizeof root, "camels");
    }
    tg_fuzz_write(path, data, size);
    tg_camels_options o = {.pet_method = TG_PET_NONE};
    tg_basin b;
    if (tg_camels_read(root, "01022500", &o, &b) == 0) {
        (void)tg_basin_count_valid(&b, TG_VAR_Q);
        tg_basin_free(&b);
    }
    tg_fuzz_done();
    return 0;
}
