/* testutil.h — a tiny test harness: checks count, failures print where and why, and the
 * run ends with the plain line "N passed, N failed" (non-zero exit on any failure). */
#ifndef TG_TESTUTIL_H
#define TG_TESTUTIL_H
#include <stdio.h>
#include "terragrad.h"

extern int tg_test_passed, tg_test_failed;
#define CHECK(cond, ...)                                                             \
    do {                                                                             \
        if (cond) tg_test_passed++;                                                  \
        else {                                                                       \
            tg_test_failed++;                                                        \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);          \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
        }                                                                            \
    } while (0)
/* |a-b| <= tol * max(1, |a|, |b|) */
#define CHECK_CLOSE(a, b, tol) \
    CHECK(tg_test_close((double)(a), (double)(b), (tol)), "%s = %.10g, %s = %.10g (tol %g)", #a, (double)(a), #b, (double)(b), (double)(tol))
int tg_test_close(double a, double b, double tol);
int tg_test_summary(void); /* prints "N passed, N failed"; returns the exit status */
/* Path into ../shared/data (CI has it there). */
const char *tg_test_data(const char *rel);
#endif
