/* pinn_schema.c — every key of a `terragrad pinn` config (docs/pinn.md lists them). */
#include "pinn/pinn_train_internal.h"

static const tg_cfg_key schema[] = {
    {"case", TG_CFG_STR, 1, NULL, "the PDE problem", "burgers|reaction|poisson1d"},
    {"seed", TG_CFG_INT, 0, "1", "random seed (weights, points)", NULL},
    {"threads", TG_CFG_INT, 0, "0", "OpenMP threads (0 = OMP_NUM_THREADS or all cores)", NULL},
    {"network.layers", TG_CFG_FLOATS, 0, NULL, "all widths, inputs to outputs (overrides hidden/width)", NULL},
    {"network.hidden", TG_CFG_INT, 0, "8", "hidden layers", NULL},
    {"network.width", TG_CFG_INT, 0, "20", "units per hidden layer", NULL},
    {"network.activation", TG_CFG_STR, 0, "tanh", "hidden activation", "tanh|sin|sigmoid|softplus"},
    {"pde.inverse", TG_CFG_LIST, 0, NULL, "PDE coefficients to learn (burgers: lambda1, lambda2; reaction: D, kf; poisson1d: k)", NULL},
    {"pde.log", TG_CFG_LIST, 0, NULL, "learned coefficients parametrised as exp(raw) (keeps them positive)", NULL},
    {"pde.lambda1", TG_CFG_FLOAT, 0, NULL, "burgers: advection coefficient (fixed value, or start if learned)", NULL},
    {"pde.lambda2", TG_CFG_FLOAT, 0, NULL, "burgers: viscosity (default 0.01/pi)", NULL},
    {"pde.D", TG_CFG_FLOAT, 0, NULL, "reaction: diffusivity (default 2e-3)", NULL},
    {"pde.kf", TG_CFG_FLOAT, 0, NULL, "reaction: rate constant (default 0.1)", NULL},
    {"pde.k", TG_CFG_FLOAT, 0, NULL, "poisson1d: source amplitude (default 1)", NULL},
    {"bc.left", TG_CFG_STR, 0, "dirichlet", "condition at x = lo", "dirichlet|neumann"},
    {"bc.right", TG_CFG_STR, 0, "dirichlet", "condition at x = hi", "dirichlet|neumann"},
    {"sampling.method", TG_CFG_STR, 0, "lhs", "collocation points", "uniform|lhs|sobol"},
    {"sampling.collocation", TG_CFG_INT, 0, "10000", "residual (collocation) points", NULL},
    {"sampling.initial", TG_CFG_INT, 0, "50", "initial-condition points (time cases)", NULL},
    {"sampling.boundary", TG_CFG_INT, 0, "50", "boundary points (split over both sides)", NULL},
    {"sampling.resample_every", TG_CFG_INT, 0, "0", "redraw collocation points every N Adam iterations (0 = never)", NULL},
    {"sampling.collocation_at_data", TG_CFG_BOOL, 0, "false", "also put residual points at the data points (Raissi's inverse setup)", NULL},
    {"data.reference", TG_CFG_STR, 0, NULL, "reference solution file (default: the case's file in the shared data)", NULL},
    {"data.points", TG_CFG_INT, 0, "0", "observations drawn from the reference (inverse problems)", NULL},
    {"data.noise", TG_CFG_FLOAT, 0, "0", "Gaussian noise on observations, as a fraction of their standard deviation", NULL},
    {"weights.residual", TG_CFG_FLOAT, 0, "1", "weight of the residual loss", NULL},
    {"weights.initial", TG_CFG_FLOAT, 0, "1", "weight of the initial-condition loss", NULL},
    {"weights.boundary", TG_CFG_FLOAT, 0, "1", "weight of the boundary loss", NULL},
    {"weights.data", TG_CFG_FLOAT, 0, "1", "weight of the data loss", NULL},
    {"weights.adaptive", TG_CFG_STR, 0, "none", "grad_norm: learning-rate annealing of Wang, Teng & Perdikaris (2021)", "none|grad_norm"},
    {"weights.adapt_every", TG_CFG_INT, 0, "10", "Adam iterations between weight updates", NULL},
    {"weights.alpha", TG_CFG_FLOAT, 0, "0.1", "weight of the new estimate in the moving average (w <- (1-alpha) w + alpha w_hat)", NULL},
    {"train.adam_iters", TG_CFG_INT, 0, "1000", "Adam iterations", NULL},
    {"train.adam_lr", TG_CFG_FLOAT, 0, "0.001", "Adam learning rate", NULL},
    {"train.lbfgs_iters", TG_CFG_INT, 0, "0", "L-BFGS iterations after Adam (strong Wolfe line search)", NULL},
    {"train.lbfgs_history", TG_CFG_INT, 0, "50", "L-BFGS memory", NULL},
    {"train.print_every", TG_CFG_INT, 0, "100", "iterations between progress lines", NULL},
    {"output.plots", TG_CFG_BOOL, 0, "true", "draw PNG figures with gnuplot (if installed)", NULL},
};

const tg_cfg_key *tg_pinn_schema(int *n)
{
    *n = (int)(sizeof schema / sizeof schema[0]);
    return schema;
}
