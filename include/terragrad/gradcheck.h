/* terragrad/gradcheck.h — the gradient check of every built-in op, as `terragrad gradcheck`
 * runs it: one or more finite-difference (or exact) cases per op, several shapes and
 * broadcasting variants each (src/check/gradcheck_suite.c; docs/autodiff.md). For checking
 * a gradient of your own, use tg_gradcheck (terragrad/core.h).
 * Part of libterragrad (the engine). Included by <terragrad.h>. */
#ifndef TERRAGRAD_GRADCHECK_H
#define TERRAGRAD_GRADCHECK_H

#include <stdio.h>

#include "terragrad/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runs every case and prints the table to out (NULL: quiet). tol is the relative-error
 * threshold of the finite-difference cases; seed 0 = the fixed default inputs. Returns the
 * number of failures: cases that did not pass plus built-in ops no case covers. */
TG_API int tg_gradcheck_suite(FILE *out, double tol, unsigned long seed);
/* The default tol: 1e-6 in the double build, looser in float where differences are noisy. */
TG_API double tg_gradcheck_suite_tol(void);

#ifdef __cplusplus
}
#endif
#endif
