/* implicit_adjoint.c — the discrete adjoint of one converged implicit step.
 *
 * F(x⁺(x, θ, u), x, θ, u) = 0 for all inputs, so differentiating,
 *   ∂F/∂x⁺ · dx⁺/dx = −∂F/∂x   (likewise for θ, u).
 * For a loss L with x̄⁺ = dL/dx⁺:  x̄ = (dx⁺/dx)ᵀ x̄⁺ = −(∂F/∂x)ᵀ (∂F/∂x⁺)⁻ᵀ x̄⁺.
 * So one transposed solve (∂F/∂x⁺)ᵀ λ = x̄⁺ per lane, then the user's adjoint callback
 * with mu = −λ gives all three products. Nothing from the Newton iterations is needed:
 * only x, x⁺ and the inputs, which is why memory does not depend on the iteration count. */
#include <math.h>
#include <string.h>

#include "adjoint/linsolve.h"
#include "terragrad/adjoint.h"

int tg_implicit_step_adjoint(const tg_implicit_fns *f, void *ud, int B, int step,
                             const tg_real *x, const tg_real *theta, const tg_real *u,
                             const tg_real *xn, const tg_real *xn_bar, tg_real *x_bar,
                             tg_real *theta_bar, tg_real *u_bar)
{
    if (!f || !f->jacobian || !f->adjoint || B <= 0 || !x || !xn || !xn_bar)
        return tg_error_set(TG_EINVAL, "tg_implicit_step_adjoint: bad arguments");
    const int n = f->n;
    const size_t Bn = (size_t)B * (size_t)n;
    const size_t jsz = f->jac == TG_JAC_TRIDIAG ? 3 * (size_t)n : (size_t)n * (size_t)n;
    const size_t nreal = Bn + (size_t)B * jsz + tg__linsolve_work(f->jac, n);
    const size_t bytes = nreal * sizeof(tg_real) + (size_t)n * sizeof(int) + (size_t)B;
    void *mem = tg_malloc(bytes);
    if (!mem)
        return tg_error_prefix(TG_ENOMEM, "adjoint of implicit step '%s': ",
                               f->name ? f->name : "?");
    tg_real *mu = mem, *J = mu + Bn, *lwork = J + (size_t)B * jsz;
    int *iwork = (int *)(lwork + tg__linsolve_work(f->jac, n));
    unsigned char *mask = (unsigned char *)(iwork + n);

    /* Lanes with x̄⁺ = 0 have λ = 0: skip their Jacobian and solve. */
    int any = 0;
    for (int b = 0; b < B; b++) {
        mask[b] = 0;
        for (int i = 0; i < n; i++)
            if (xn_bar[(size_t)b * n + i] != 0) {
                mask[b] = 1;
                any = 1;
                break;
            }
    }
    int status = 0, rc;
    memset(mu, 0, Bn * sizeof *mu);
    if (!any)
        goto done;
    tg_implicit_args a = {B, step, xn, x, theta, u, mask};
    if ((rc = f->jacobian(ud, &a, J))) {
        status = tg_error_set(TG_EEXTERNAL, "adjoint of implicit step '%s': jacobian callback "
                                            "returned %d at step %d", f->name ? f->name : "?",
                              rc, step);
        goto done;
    }
    for (int b = 0; b < B; b++) {
        if (!mask[b])
            continue;
        tg_real *mub = mu + (size_t)b * n;
        int sing;
        if (f->jac == TG_JAC_TRIDIAG) {
            const tg_real *Jb = J + (size_t)b * jsz;
            sing = tg__tridiag_solve(n, Jb, Jb + n, Jb + 2 * n, xn_bar + (size_t)b * n, mub, 1,
                                     lwork);
        } else {
            sing = tg__dense_solve(n, J + (size_t)b * jsz, xn_bar + (size_t)b * n, mub, 1, lwork,
                                   iwork);
        }
        if (sing) {
            status = tg_error_set(TG_ECONVERGE, "adjoint of implicit step '%s': singular "
                                                "Jacobian in lane %d at step %d",
                                  f->name ? f->name : "?", b, step);
            goto done;
        }
        for (int i = 0; i < n; i++)
            mub[i] = -mub[i];
    }
    /* a.active still masks the lanes with mu != 0: the callback may skip the others. */
    if ((rc = f->adjoint(ud, &a, mu, x_bar, theta_bar, u_bar)))
        status = tg_error_set(TG_EEXTERNAL, "adjoint of implicit step '%s': adjoint callback "
                                            "returned %d at step %d", f->name ? f->name : "?",
                              rc, step);
done:
    tg_free(mem, bytes);
    return status;
}
