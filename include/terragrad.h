/* terragrad.h — differentiable modelling for the geosciences, in C.
 *
 * ============================================================== overview (5 minutes)
 * terragrad computes exact gradients through process-based models, neural networks and
 * their combinations, so physics and learning train together end to end.
 *
 *  - tg_ctx: one per training step. It owns a growable arena that holds every tensor,
 *    tape node and saved intermediate of the step; tg_ctx_reset() frees them all in O(1).
 *  - tg_params: persistent trainable tensors in one flat value buffer and one flat
 *    gradient buffer (optimizers, checkpoints and MPI allreduce each touch one array).
 *  - ops (tg_add, tg_matmul, tg_tanh, ...) run their forward immediately and record a
 *    node on the tape when a gradient is needed (define-by-run).
 *  - tg_backward(ctx, loss) sweeps the tape once in reverse; parameter gradients
 *    accumulate in tg_params.grad.
 *  - tg_custom() turns a whole model run, an LSTM sequence or an implicit solver step into
 *    ONE tape node with a hand-written backward (adjoint): the fast path and the way to
 *    differentiate through iterative solvers.
 *  - Errors: failing calls return a status (or NULL) and tg_error_message() says why,
 *    naming file, line and field for bad input. The library never exits.
 *  - tg_real is float by default, double with -DTG_DOUBLE=ON (gradient checks).
 *
 * ============================================================== worked example
 * Fit y = a*x + b by gradient descent:
 *
 *     tg_params *ps = tg_params_create();
 *     int ia = tg_params_add(ps, "a", TG_SHAPE(1)), ib = tg_params_add(ps, "b", TG_SHAPE(1));
 *     tg_ctx *ctx = tg_ctx_create();
 *     for (int it = 0; it < 200; it++) {
 *         tg_tensor *x = tg_from(ctx, TG_SHAPE(4), xs), *y = tg_from(ctx, TG_SHAPE(4), ys);
 *         tg_tensor *pred = tg_add(ctx, tg_mul(ctx, tg_param(ctx, ps, ia), x),
 *                                  tg_param(ctx, ps, ib));          // broadcasts (1) to (4)
 *         tg_tensor *d = tg_sub(ctx, pred, y);
 *         tg_tensor *loss = tg_mean(ctx, tg_mul(ctx, d, d));
 *         if (!loss || tg_backward(ctx, loss)) { fprintf(stderr, "%s\n", tg_error_message()); break; }
 *         for (size_t i = 0; i < ps->size; i++) ps->value[i] -= 0.1f * ps->grad[i];
 *         tg_params_zero_grad(ps);
 *         tg_ctx_reset(ctx);                                        // O(1): step memory reused
 *     }
 *     tg_ctx_free(&ctx); tg_params_free(&ps);
 *
 * ============================================================== modules
 * libterragrad (the engine; BLAS, OpenMP, libm):
 *   terragrad/core.h   scalar type, errors, context, parameters, tensors, ops, custom ops,
 *                      backward, gradient check, PRNG
 *   terragrad/nn.h     layers (linear, MLP, fused LSTM), optimizers, schedules, checkpoints
 *   terragrad/lbfgs.h  L-BFGS line search for noisy (float) losses (approximate Wolfe)
 *   terragrad/models.h process models (HBV, routing) with hand-written backward
 *   terragrad/adjoint.h implicit-step op (Newton + adjoint), Richards equation
 *   terragrad/hbv_implicit.h, terragrad/hybrid.h  implicit and hybrid (MLP-in-HBV) HBV
 *   terragrad/ude.h    universal differential equations
 *   terragrad/pinn.h   physics-informed networks (Taylor-mode input derivatives)
 *   terragrad/gradcheck.h  the gradient check of every built-in op
 * libterragrad-hydro (the application; the engine, NetCDF, libyaml, MPI when built):
 *   terragrad/data.h   catchment data (CAMELS-US, Caravan, generic CSV, NetCDF), sampling
 *   terragrad/eval.h   hydrological skill metrics (NSE, KGE, FHV, FLV, ...)
 *   terragrad/config.h YAML run configs checked against a schema
 *   terragrad/richards.h   Richards soil columns from YAML, soil parameter fits
 *   terragrad/pinn_run.h   the YAML-driven PINN trainer, reference solutions
 *   terragrad/dist.h   data-parallel training across processes (MPI), serial fallback
 *   terragrad/calibrate.h  SCE-UA and gradient-based per-basin calibration
 *   terragrad/surrogate.h  black-box models, surrogate data, training and use
 *   terragrad/simulate.h   HBV with known parameters, sensitivities
 *   terragrad/stepper.h    a trained lstm / dhbv run stepped one day at a time (BMI)
 * Link the engine alone (-lterragrad) when you use only its headers; docs/library.md.
 * Each module header is self-contained and included here; include only this file.
 */
#ifndef TERRAGRAD_H
#define TERRAGRAD_H

#include "terragrad/core.h"
#if __has_include("terragrad/nn.h")
#include "terragrad/nn.h"
#endif
#if __has_include("terragrad/lbfgs.h")
#include "terragrad/lbfgs.h"
#endif
#if __has_include("terragrad/data.h")
#include "terragrad/data.h"
#endif
#if __has_include("terragrad/eval.h")
#include "terragrad/eval.h"
#endif
#if __has_include("terragrad/models.h")
#include "terragrad/models.h"
#endif
#if __has_include("terragrad/adjoint.h")
#include "terragrad/adjoint.h"
#endif
#if __has_include("terragrad/config.h")
#include "terragrad/config.h"
#endif
#if __has_include("terragrad/simulate.h")
#include "terragrad/simulate.h"
#endif
#if __has_include("terragrad/dist.h")
#include "terragrad/dist.h"
#endif
#if __has_include("terragrad/calibrate.h")
#include "terragrad/calibrate.h"
#endif
#if __has_include("terragrad/surrogate.h")
#include "terragrad/surrogate.h"
#endif
#if __has_include("terragrad/pinn.h")
#include "terragrad/pinn.h"
#endif
#if __has_include("terragrad/hbv_implicit.h")
#include "terragrad/hbv_implicit.h"
#endif
#if __has_include("terragrad/hybrid.h")
#include "terragrad/hybrid.h"
#endif
#if __has_include("terragrad/run.h")
#include "terragrad/run.h"
#endif
#if __has_include("terragrad/stepper.h")
#include "terragrad/stepper.h"
#endif
#if __has_include("terragrad/ude.h")
#include "terragrad/ude.h"
#endif
#if __has_include("terragrad/gradcheck.h")
#include "terragrad/gradcheck.h"
#endif
#if __has_include("terragrad/richards.h")
#include "terragrad/richards.h"
#endif
#if __has_include("terragrad/pinn_run.h")
#include "terragrad/pinn_run.h"
#endif
#if __has_include("terragrad/checkpointing.h")
#include "terragrad/checkpointing.h"
#endif

#endif
