/* optim_internal.h — the optimizer handle, shared by the update rules, L-BFGS and the
 * checkpoint writer. All state is in ONE flat buffer (one fwrite for a checkpoint). */
#ifndef TG_OPTIM_INTERNAL_H
#define TG_OPTIM_INTERNAL_H

#include "terragrad/nn.h"

/* L-BFGS scalars kept in tg_optim.scal (saved in checkpoints). */
enum { LB_T = 0, LB_HDIAG, LB_PREV_LOSS, LB_N_ITER, LB_COUNT, LB_HEAD, LB_FUNC_EVALS, TG_OPTIM_NSCAL = 8 };

struct tg_optim {
    tg_optim_config cfg;    /* with defaults filled in */
    size_t n;               /* scalars in the parameter store it was made for */
    int64_t step;           /* completed steps */
    double lr;              /* current learning rate (schedules change it) */
    size_t state_size;      /* scalars in state */
    tg_real *state;         /* SGD: buf (n) | Adam(W): m (n), v (n) | Adadelta: sq (n), acc (n) |
                               L-BFGS, as doubles: x (n), d (n), prev_g (n), S (m n), Y (m n), ro (m) */
    double scal[TG_OPTIM_NSCAL];
    double approx_wolfe;    /* L-BFGS line search noise band (terragrad/lbfgs.h); 0 = off */
};

#ifdef TG_DOUBLE
#define sqrt_r sqrt
#else
#define sqrt_r sqrtf
#endif

/* Scalar range [lo, hi) of parameter k; 0 if it is frozen (skip it). */
static inline int tg_active_range(const tg_params *ps, int k, size_t *lo, size_t *hi)
{
    *lo = ps->offset[k];
    *hi = *lo + tg_params_numel(ps, k);
    return !ps->frozen[k];
}

void tg_sgd_update(tg_optim *o, tg_params *ps);
void tg_adam_update(tg_optim *o, tg_params *ps);
void tg_adadelta_update(tg_optim *o, tg_params *ps);
int tg_lbfgs_run(tg_optim *o, tg_params *ps, tg_closure_fn f, void *ud, double *loss);
size_t tg_optim_state_size(const tg_optim_config *cfg, size_t n);

#endif
