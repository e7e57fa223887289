/* Every built-in op against central finite differences (the suite fails when an op in
 * TG_BUILTIN_OPS has no case). In the double build the tolerance is 1e-6 relative. */
#include <string.h>

#include "core/gradcheck_suite.h"
#include "testutil.h"

int main(void)
{
    double tol = tg_suite_default_tol();
    for (int i = 0; i < tg_suite_case_count(); i++) {
        tg_suite_result r;
        int rc = tg_suite_run_case(i, tol, &r);
        CHECK(rc == 0 && r.pass, "%s [%s]: rel err %.3e abs err %.3e status %d %s", r.op, r.variant, r.max_rel_err,
              r.max_abs_err, rc, rc ? tg_error_message() : "");
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
    CHECK(tg_suite_run_all(NULL, tol, 0) == 0, "suite reports failures");
    return tg_test_summary();
}
