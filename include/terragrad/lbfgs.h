/* lbfgs.h — L-BFGS line-search option for noisy (float) losses. */
#ifndef TERRAGRAD_LBFGS_H
#define TERRAGRAD_LBFGS_H

#include "terragrad/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Approximate Wolfe conditions (Hager & Zhang 2005) in the strong-Wolfe line search of an
 * L-BFGS optimizer: a trial step whose loss lies within eps |f(0)| of the starting loss
 * passes the sufficient-decrease test if its slope does, phi'(t) <= (2 c1 - 1) phi'(0),
 * and the bracket keeps it as its low end when phi'(t) < 0. Near a minimum the decrease
 * f(x) - f(x + t d) falls below the rounding noise of a float loss while the slope is still
 * resolved; plain Armijo then rejects every step and L-BFGS stalls. eps = 0 (the default)
 * is the plain strong-Wolfe search. TG_EINVAL unless opt is L-BFGS and 0 <= eps < 1. */
TG_API int tg_lbfgs_set_approx_wolfe(tg_optim *opt, double eps);

#ifdef __cplusplus
}
#endif

#endif
