#include "testutil.h"
#include <math.h>
#include <stdlib.h>

int tg_test_passed, tg_test_failed;

int tg_test_close(double a, double b, double tol)
{
    double s = fmax(1.0, fmax(fabs(a), fabs(b)));
    return fabs(a - b) <= tol * s;
}

int tg_test_summary(void)
{
    printf("%d passed, %d failed\n", tg_test_passed, tg_test_failed);
    return tg_test_failed ? 1 : 0;
}

const char *tg_test_data(const char *rel)
{
    static _Thread_local char buf[4096];
    const char *root = getenv("TG_SHARED_DATA");
    snprintf(buf, sizeof buf, "%s/%s", root ? root : TG_SHARED_DATA, rel);
    return buf;
}
