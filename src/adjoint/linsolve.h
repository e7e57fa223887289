/* linsolve.h — the small per-lane linear solves behind the implicit-step op: dense LU with
 * partial pivoting and the Thomas algorithm, each also for the transposed system (the
 * adjoint solves Jᵀ λ = x̄ with the same J the forward solved J dx = −F with). */
#ifndef TG_ADJOINT_LINSOLVE_H
#define TG_ADJOINT_LINSOLVE_H
#include "terragrad/core.h"

/* Solves A y = b (transpose = 0) or Aᵀ y = b (transpose = 1) for one dense n×n A
 * (row-major, left untouched); y may alias b. work: n*n reals, iwork: n ints.
 * Returns 0, or 1 if A is singular to working precision. */
int tg__dense_solve(int n, const tg_real *A, const tg_real *b, tg_real *y, int transpose,
                    tg_real *work, int *iwork);

/* Solves the tridiagonal system with rows sub/diag/super (J layout of TG_JAC_TRIDIAG),
 * or its transpose, by the Thomas algorithm (no pivoting: meant for the diagonally
 * dominant Jacobians of diffusion problems). y may alias b. work: 2n reals.
 * Returns 0, or 1 on a zero or non-finite pivot. */
int tg__tridiag_solve(int n, const tg_real *sub, const tg_real *diag, const tg_real *sup,
                      const tg_real *b, tg_real *y, int transpose, tg_real *work);

/* Reals of workspace the solvers above need for an n-unknown lane of this kind. */
size_t tg__linsolve_work(int jac, int n);
#endif
