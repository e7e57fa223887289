/* implicit_internal.h — what the trajectory driver shares with the tape wrappers. */
#ifndef TG_ADJOINT_IMPLICIT_INTERNAL_H
#define TG_ADJOINT_IMPLICIT_INTERNAL_H
#include "terragrad/adjoint.h"

/* Where a trajectory keeps its states: the heap (raw API) or a step arena (tape ops, so
 * tg_ctx_reset releases it). alloc returns NULL on failure with the error set. */
typedef struct tg__traj_alloc {
    void *(*alloc)(void *actx, size_t bytes);
    void (*release)(void *actx, void *p, size_t bytes); /* NULL: memory dies with actx */
    void *actx;
} tg__traj_alloc;

int tg__traj_forward(const tg__traj_alloc *al, const tg_implicit_fns *f, void *ud, int B, int T,
                     const tg_real *x0, const tg_real *theta, const tg_real *u,
                     const tg_newton_opts *o, int ckpt_every, tg_implicit_observe_fn observe,
                     void *obs_ud, tg_implicit_traj **out, tg_newton_report *rep);
#endif
