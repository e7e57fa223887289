/* fuzz_norm.c — libFuzzer target: the normalisation file of a run (tg_norm_load: name log eps mean std count). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[600];
    if (!path[0]) tg_fuzz_path(path, sizeof path, "normalisation.txt");
    tg_fuzz_write(path, data, size);
    tg_norm nm;
    (void)tg_norm_load(&nm, path);   /* frees on error itself */
    tg_norm_free(&nm);
    tg_fuzz_done();
    return 0;
}
