/* linsolve.c — per-lane dense LU and tridiagonal (Thomas) solves, plain and transposed. */
#include <math.h>
#include <string.h>

#include "adjoint/linsolve.h"
#include "terragrad/adjoint.h"

size_t tg__linsolve_work(int jac, int n)
{
    return jac == TG_JAC_TRIDIAG ? (size_t)2 * (size_t)n : (size_t)n * (size_t)n;
}

int tg__dense_solve(int n, const tg_real *A, const tg_real *b, tg_real *y, int transpose,
                    tg_real *work, int *iwork)
{
    /* LU of A (or Aᵀ, copied transposed) in work, row pivots in iwork. */
    tg_real *LU = work;
    if (transpose) {
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                LU[i * n + j] = A[j * n + i];
    } else {
        memcpy(LU, A, (size_t)n * (size_t)n * sizeof *LU);
    }
    if (y != b)
        memcpy(y, b, (size_t)n * sizeof *y);
    /* Singularity threshold relative to the largest entry: a pivot below it means the
     * Newton step (or the adjoint) is meaningless. */
    tg_real amax = 0;
    for (int i = 0; i < n * n; i++)
        if (fabs((double)LU[i]) > (double)amax)
            amax = (tg_real)fabs((double)LU[i]);
    if (!(amax > 0) || !isfinite((double)amax))
        return 1;
    double tiny = (double)amax * (double)TG_EPS * n;
    for (int k = 0; k < n; k++) {
        int p = k;
        double best = fabs((double)LU[k * n + k]);
        for (int i = k + 1; i < n; i++)
            if (fabs((double)LU[i * n + k]) > best) {
                best = fabs((double)LU[i * n + k]);
                p = i;
            }
        if (!(best > tiny))
            return 1;
        iwork[k] = p;
        if (p != k) {
            for (int j = 0; j < n; j++) {
                tg_real t = LU[k * n + j];
                LU[k * n + j] = LU[p * n + j];
                LU[p * n + j] = t;
            }
            tg_real t = y[k];
            y[k] = y[p];
            y[p] = t;
        }
        tg_real inv = 1 / LU[k * n + k];
        for (int i = k + 1; i < n; i++) {
            tg_real l = LU[i * n + k] * inv;
            LU[i * n + k] = l;
            for (int j = k + 1; j < n; j++)
                LU[i * n + j] -= l * LU[k * n + j];
            y[i] -= l * y[k];
        }
    }
    for (int i = n - 1; i >= 0; i--) {
        tg_real s = y[i];
        for (int j = i + 1; j < n; j++)
            s -= LU[i * n + j] * y[j];
        y[i] = s / LU[i * n + i];
    }
    return 0;
}

int tg__tridiag_solve(int n, const tg_real *sub, const tg_real *diag, const tg_real *sup,
                      const tg_real *b, tg_real *y, int transpose, tg_real *work)
{
    /* The transpose of a tridiagonal matrix swaps the off-diagonals with a shift:
     * (Jᵀ)_{i,i-1} = J_{i-1,i} = sup[i-1], (Jᵀ)_{i,i+1} = J_{i+1,i} = sub[i+1]. */
    tg_real *cp = work, *dp = work + n;
#define LO(i) (transpose ? sup[(i) - 1] : sub[i])
#define UP(i) (transpose ? sub[(i) + 1] : sup[i])
    tg_real den = diag[0];
    if (!(den != 0) || !isfinite((double)den))
        return 1;
    cp[0] = n > 1 ? UP(0) / den : 0;
    dp[0] = b[0] / den;
    for (int i = 1; i < n; i++) {
        den = diag[i] - LO(i) * cp[i - 1];
        if (!(den != 0) || !isfinite((double)den))
            return 1;
        cp[i] = i < n - 1 ? UP(i) / den : 0;
        dp[i] = (b[i] - LO(i) * dp[i - 1]) / den;
    }
#undef LO
#undef UP
    y[n - 1] = dp[n - 1];
    for (int i = n - 2; i >= 0; i--)
        y[i] = dp[i] - cp[i] * y[i + 1];
    return 0;
}
