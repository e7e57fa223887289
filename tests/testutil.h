/* testutil.h — a tiny test harness: checks count, failures print where and why, and the
 * run ends with the plain line "N passed, N failed" (non-zero exit on any failure). */
#ifndef TG_TESTUTIL_H
#define TG_TESTUTIL_H
#include <math.h>
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
/* CHECK_CLOSE(a, b, rtol, atol): passes when |a-b| <= rtol * max(|a|, |b|) + atol; NaN fails.
 * rtol is relative: the precision the computation can reach (a few TG_EPS for one rounding
 * to tg_real, a solver's or finite difference's error otherwise). atol is an explicit absolute
 * floor in the units of a, chosen at each call from the magnitude of what is compared: 0 when
 * the expected value is well away from zero (then a zero or a sign flip always fails), or a
 * value far below the expected one (so that a zero result still fails). Never max(1, ...). */
#define CHECK_CLOSE(a, b, rtol, atol)                                                          \
    do {                                                                                       \
        double tg_a_ = (double)(a), tg_b_ = (double)(b), tg_r_ = (double)(rtol), tg_t_ = (double)(atol); \
        if (tg_test_close(tg_a_, tg_b_, tg_r_, tg_t_, __FILE__, __LINE__)) tg_test_passed++;   \
        else {                                                                                 \
            tg_test_failed++;                                                                  \
            fprintf(stderr, "FAIL %s:%d: CHECK_CLOSE: %s = %.10g, %s = %.10g: |diff| %.3g > %.3g " \
                    "(rtol %g, atol %g)\n", __FILE__, __LINE__, #a, tg_a_, #b, tg_b_,          \
                    fabs(tg_a_ - tg_b_), tg_test_bound(tg_a_, tg_b_, tg_r_, tg_t_), tg_r_, tg_t_); \
        }                                                                                      \
    } while (0)
/* IS_CLOSE: the same test as a value, for CHECK with a message of one's own. */
#define IS_CLOSE(a, b, rtol, atol) \
    tg_test_close((double)(a), (double)(b), (double)(rtol), (double)(atol), __FILE__, __LINE__)
/* CHECK_EXACT(a, b): bitwise-equal values (after conversion to double) — for numbers that
 * are read or computed without rounding (integers, exact binary fractions). */
#define CHECK_EXACT(a, b) CHECK_CLOSE(a, b, 0, 0)
/* Unit roundoff of tg_real as a double: rtol = k * TG_TEST_EPS says "k roundings". */
#define TG_TEST_EPS ((double)TG_EPS)
/* With TG_TEST_CLOSE_LOG set in the environment every CHECK_CLOSE prints its margin
 * (file:line, |diff|, bound): how tight a tolerance is, and where it could be tighter. */
int tg_test_close(double a, double b, double rtol, double atol, const char *file, int line);
double tg_test_bound(double a, double b, double rtol, double atol); /* rtol*max(|a|,|b|)+atol */
int tg_test_summary(void); /* prints "N passed, N failed"; returns the exit status */
/* Path into ../shared/data (CI has it there). */
const char *tg_test_data(const char *rel);
#endif
