/* Every built-in op's tape gradient against a reference that does not use the backward
 * code: exact one-hot probes of the forward for inputs the loss is affine in, Richardson-
 * extrapolated central differences otherwise (the suite fails when an op in
 * TG_BUILTIN_OPS has no case). Then the checker itself is mutation-tested: a backward
 * wrong by 1e-4 relative (double build) in a single element must be reported. */
#include <string.h>

#include "check/gradcheck_suite.h"
#include "testutil.h"

int main(void)
{
    double tol = tg_gradcheck_suite_tol();
    for (int i = 0; i < tg_suite_case_count(); i++) {
        tg_suite_result r;
        int rc = tg_suite_run_case(i, tol, &r);
        CHECK(rc == 0 && r.pass, "%s [%s]: rel err %.3e abs err %.3e err/allowed %.3g status %d %s", r.op, r.variant,
              r.max_rel_err, r.max_abs_err, r.worst_ratio, rc, rc ? tg_error_message() : "");
    }
    /* coverage: every built-in op has at least one case */
    for (int k = 0; k < tg_builtin_op_count(); k++) {
        int covered = 0;
        for (int i = 0; i < tg_suite_case_count(); i++) {
            tg_suite_result r;
            /* the name is all we need; run_case fills it cheaply enough */
            tg_suite_run_case(i, tol, &r);
            if (!strcmp(r.op, tg_builtin_op_name(k))) {
                covered = 1;
                break;
            }
        }
        CHECK(covered, "op '%s' has no gradient-check case", tg_builtin_op_name(k));
    }
    /* the whole table path used by `terragrad gradcheck` */
    CHECK(tg_gradcheck_suite(NULL, tol, 0) == 0, "suite reports failures");

    /* The checker can fail: one wrong gradient element, through the finite-difference
     * path (kind 0) and through the exact path (kind 1). The double build is the strict
     * check (1e-4 relative); float differences resolve errors of a few per cent. */
#ifdef TG_DOUBLE
    const double perturb = 1e-4;
#else
    const double perturb = 3e-2;
#endif
    for (int kind = 0; kind < 2; kind++) {
        tg_suite_result r;
        int rc = tg_suite_run_mutant(kind, 0, &r);
        CHECK(rc == 0 && r.pass, "%s unperturbed must pass: err/allowed %.3g", r.op, r.worst_ratio);
        rc = tg_suite_run_mutant(kind, perturb, &r);
        CHECK(rc == 0 && !r.pass, "%s off by %g relative must fail: err/allowed %.3g", r.op, perturb, r.worst_ratio);
        printf("%s [%s] off by %g: err/allowed %.3g (%s)\n", r.op, r.variant, perturb, r.worst_ratio,
               r.pass ? "MISSED" : "caught");
    }
    return tg_test_summary();
}
