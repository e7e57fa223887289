#include "testutil.h"
#include <math.h>
#include <stdlib.h>

int tg_test_passed, tg_test_failed;

double tg_test_bound(double a, double b, double rtol, double atol)
{
    return rtol * fmax(fabs(a), fabs(b)) + atol;
}

int tg_test_close(double a, double b, double rtol, double atol, const char *file, int line)
{
    double d = fabs(a - b), bound = tg_test_bound(a, b, rtol, atol);
    if (getenv("TG_TEST_CLOSE_LOG"))
        fprintf(stderr, "CLOSE %s:%d |diff| %.3g bound %.3g (%.3g of it) rel %.3g\n", file, line, d, bound,
                bound > 0 ? d / bound : (d > 0 ? HUGE_VAL : 0.0), d / fmax(fmax(fabs(a), fabs(b)), 1e-300));
    return d <= bound; /* false for NaN */
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
