/* fuzz_route.c — libFuzzer target: simulate ROUTE.csv (tg_route_read: basin,a,theta), then a lookup. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[600];
    if (!path[0]) tg_fuzz_path(path, sizeof path, "ROUTE.csv");
    tg_fuzz_write(path, data, size);
    tg_route_table t;
    if (tg_route_read(path, &t) == 0) {
        if (t.B > 0) (void)tg_route_find(&t, t.basin[0]);
        tg_route_free(&t);
    }
    tg_fuzz_done();
    return 0;
}
