/* fuzz_camels_attributes.c — libFuzzer target: the CAMELS-US attribute folder
 * (tg_camels_attributes_read: camels_{clim,geol,hydro,name,soil,topo,vege}.txt, ';'-separated,
 * joined on gauge_id, text columns one-hot encoded or coded). The input is split at
 * lines "=====" into the seven files in that order (missing parts are empty files); the
 * first byte picks the options (include_hydro, categorical mode, a column selection). */
#include <stdio.h>
#include <string.h>

#include "fuzz_common.h"

static const char *files[7] = {"clim", "geol", "hydro", "name", "soil", "topo", "vege"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dir[600];
    if (!dir[0]) {
        char p[700];
        tg_fuzz_path(p, sizeof p, "attr/camels_attributes_v2.0/x");
        tg_fuzz_path(dir, sizeof dir, "attr");
    }
    if (size < 1) return 0;
    const uint8_t mode = data[0];
    const uint8_t *p = data + 1, *end = data + size;
    for (int k = 0; k < 7; k++) {
        const uint8_t *q = p;
        static const char sep[] = "\n=====\n";
        while (q < end && !((size_t)(end - q) >= 7 && !memcmp(q, sep, 7))) q++;
        char path[800];
        snprintf(path, sizeof path, "%s/camels_attributes_v2.0/camels_%s.txt", dir, files[k]);
        tg_fuzz_write(path, p, (size_t)(q - p));
        p = q < end ? q + 7 : end;
    }
    static const char *const cols[2] = {"p_mean", "geol_1st_class"};
    tg_attr_options o = {.include_hydro = mode & 1, .categorical = (mode >> 1) % 3,
                         .columns = (mode & 8) ? cols : NULL, .n_columns = (mode & 8) ? 2 : 0};
    tg_attributes a;
    if (tg_camels_attributes_read(dir, &o, &a) == 0) {
        if (a.B > 0) (void)tg_attributes_basin(&a, a.basin[0]);
        tg_attributes_free(&a);
    }
    tg_fuzz_done();
    return 0;
}
