/* fuzz_hbv_params.c — libFuzzer target: simulate PARAMS.csv (tg_hbv_params_read: basin,component,<13 HBV parameters>). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[600];
    if (!path[0]) tg_fuzz_path(path, sizeof path, "PARAMS.csv");
    tg_fuzz_write(path, data, size);
    tg_hbv_param_table t;
    if (tg_hbv_params_read(path, &t) == 0) tg_hbv_params_free(&t);
    tg_fuzz_done();
    return 0;
}
