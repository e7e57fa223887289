/* fuzz_netcdf.c — libFuzzer target: a NetCDF basin file read by tg_netcdf_read
 * (src/data/netcdf_io.c: time axis, basin ids, per-basin metadata, (basin, time) or
 * (time, basin) variables, units, packing, fill values).
 *
 * Only the classic formats (CDF-1/2/5) are fed through by default: the code under test is
 * the same for netCDF-4 files, but parsing HDF5 happens in libhdf5, which is not
 * instrumented here and is known to crash on malformed files — findings there are not
 * ours to fix. TG_FUZZ_NETCDF_HDF5=1 lets HDF5 inputs through as well. Classic inputs go
 * through whole: the library walks their header before libnetcdf sees it
 * (src/data/netcdf_header.c), which this target fuzzes too. The same input also goes to
 * the Caravan NetCDF reader (src/data/caravan_netcdf.c: `date` axis, one variable per
 * column) with the default columns. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[600];
    static int hdf5 = -1;
    if (!path[0]) tg_fuzz_path(path, sizeof path, "basins.nc");
    if (hdf5 < 0) hdf5 = getenv("TG_FUZZ_NETCDF_HDF5") && !strcmp(getenv("TG_FUZZ_NETCDF_HDF5"), "1");
    if ((size < 4 || memcmp(data, "CDF", 3)) && !hdf5)
        return 0;
    tg_fuzz_write(path, data, size);
    tg_basin *bs = NULL;
    int B = 0;
    if (tg_netcdf_read(path, &bs, &B) == 0) {
        for (int b = 0; b < B; b++) (void)tg_basin_count_valid(&bs[b], TG_VAR_Q);
        tg_basin_array_free(&bs, B);
    }
    tg_basin one;
    if (tg_caravan_netcdf_read_file(path, "src_1", NULL, &one) == 0) {
        (void)tg_basin_count_valid(&one, TG_VAR_Q);
        tg_basin_free(&one);
    }
    tg_fuzz_done();
    return 0;
}
