/* gradcheck_suite.h — the cases of the finite-difference check of every built-in op, for
 * the tests (the whole suite is public: terragrad/gradcheck.h). Above ops in the engine's
 * layers (it calls every op), so not in src/core. */
#ifndef TG_GRADCHECK_SUITE_H
#define TG_GRADCHECK_SUITE_H
#include <stdio.h>

#include "terragrad/gradcheck.h"

typedef struct tg_suite_result {
    const char *op;      /* built-in op name (TG_BUILTIN_OPS) */
    const char *variant; /* which shapes / broadcasting */
    double max_abs_err, max_rel_err;
    double worst_ratio;  /* worst error / allowed error over the case's elements (pass: <= 1) */
    int exact;           /* 0: finite differences, 1: some inputs exact, 2: all inputs exact */
    int pass, status;
} tg_suite_result;

int tg_suite_case_count(void);
/* Runs case i; tol is the relative-error threshold for pass. */
int tg_suite_run_case(int i, double tol, tg_suite_result *r);
/* Number of built-in ops and the name of op k. */
int tg_builtin_op_count(void);
const char *tg_builtin_op_name(int k);
/* tg_gradcheck_suite and tg_gradcheck_suite_tol: public, terragrad/gradcheck.h. */
/* Mutation check of the checker itself: runs the check on an op whose backward is wrong
 * by a relative `perturb` in one element (kind 0: a nonlinear op, finite-difference
 * reference; kind 1: a matrix product, exact reference). A sound checker fails it. */
int tg_suite_run_mutant(int kind, double perturb, tg_suite_result *r);
#endif
