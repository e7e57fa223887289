/* optim.c — optimizer handle: defaults, creation, the step entry points, names. */
#include <string.h>

#include "optim/optim_internal.h"

tg_optim_config tg_optim_defaults(const tg_optim_config *in)
{
    tg_optim_config c;
    if (in)
        c = *in;
    else
        memset(&c, 0, sizeof c);
    /* PyTorch's defaults (SGD has none for lr there; 1e-2 here). */
    if (c.lr == 0.0)
        c.lr = c.kind == TG_OPTIM_SGD ? 1e-2 : (c.kind == TG_OPTIM_ADADELTA || c.kind == TG_OPTIM_LBFGS) ? 1.0 : 1e-3;
    if (c.beta1 == 0.0)
        c.beta1 = 0.9;
    if (c.beta2 == 0.0)
        c.beta2 = 0.999;
    if (c.eps == 0.0)
        c.eps = c.kind == TG_OPTIM_ADADELTA ? 1e-6 : 1e-8;
    if (c.rho == 0.0)
        c.rho = 0.9;
    if (c.history == 0)
        c.history = 100;
    if (c.max_iter == 0)
        c.max_iter = 20;
    if (c.max_eval == 0)
        c.max_eval = c.max_iter * 5 / 4;
    if (c.tol_grad == 0.0)
        c.tol_grad = 1e-7;
    if (c.tol_change == 0.0)
        c.tol_change = 1e-9;
    return c;
}

size_t tg_optim_state_size(const tg_optim_config *c, size_t n)
{
    switch (c->kind) {
    case TG_OPTIM_SGD: return c->momentum != 0.0 ? n : 0;
    case TG_OPTIM_ADAM:
    case TG_OPTIM_ADAMW:
    case TG_OPTIM_ADADELTA: return 2 * n;
    case TG_OPTIM_LBFGS: /* doubles in every build (lbfgs.c): x, d, prev_g (n each), S, Y (m n), ro (m) */
        return ((3 + 2 * (size_t)c->history) * n + (size_t)c->history) * (sizeof(double) / sizeof(tg_real));
    }
    return 0;
}

static int check_config(const tg_optim_config *c)
{
    if ((unsigned)c->kind > TG_OPTIM_LBFGS)
        return tg_error_set(TG_EINVAL, "optimizer: unknown kind %d", (int)c->kind);
    const char *name = tg_optim_name(c->kind);
    if (!(c->lr > 0.0))
        return tg_error_set(TG_EINVAL, "optimizer %s: learning rate %g must be > 0", name, c->lr);
    if (c->weight_decay < 0.0 || c->momentum < 0.0 || c->momentum >= 1.0)
        return tg_error_set(TG_EINVAL, "optimizer %s: weight_decay %g, momentum %g out of range", name,
                            c->weight_decay, c->momentum);
    if (c->nesterov && c->momentum <= 0.0)
        return tg_error_set(TG_EINVAL, "optimizer %s: Nesterov needs momentum > 0", name);
    if (!(c->beta1 >= 0.0 && c->beta1 < 1.0 && c->beta2 >= 0.0 && c->beta2 < 1.0 && c->rho >= 0.0 && c->rho < 1.0))
        return tg_error_set(TG_EINVAL, "optimizer %s: betas (%g, %g) and rho %g must be in [0, 1)", name, c->beta1,
                            c->beta2, c->rho);
    if (c->eps <= 0.0 || c->history < 1 || c->max_iter < 1 || c->max_eval < 1)
        return tg_error_set(TG_EINVAL, "optimizer %s: eps %g, history %d, max_iter %d, max_eval %d invalid", name,
                            c->eps, c->history, c->max_iter, c->max_eval);
    return 0;
}

tg_optim *tg_optim_create(const tg_optim_config *cfg, const tg_params *ps)
{
    tg_optim_config c = tg_optim_defaults(cfg);
    if (!ps) {
        tg_error_set(TG_EINVAL, "tg_optim_create: no parameters");
        return NULL;
    }
    if (check_config(&c))
        return NULL;
    tg_optim *o = tg_calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->cfg = c;
    o->n = ps->size;
    o->lr = c.lr;
    o->state_size = tg_optim_state_size(&c, ps->size);
    if (o->state_size) {
        o->state = tg_calloc(o->state_size, sizeof(tg_real));
        if (!o->state) {
            tg_free(o, sizeof *o);
            return NULL;
        }
    }
    tg_optim_reset(o);
    return o;
}

void tg_optim_free(tg_optim **po)
{
    if (!po || !*po)
        return;
    tg_free((*po)->state, (*po)->state_size * sizeof(tg_real));
    tg_free(*po, sizeof **po);
    *po = NULL;
}

void tg_optim_reset(tg_optim *o)
{
    if (o->state_size)
        memset(o->state, 0, o->state_size * sizeof(tg_real));
    memset(o->scal, 0, sizeof o->scal);
    o->scal[LB_HDIAG] = 1.0;
    o->step = 0;
}

static int check_params(const tg_optim *o, const tg_params *ps)
{
    if (!ps || ps->size != o->n)
        return tg_error_set(TG_EINVAL, "optimizer %s was created for %zu parameters, called with %zu",
                            tg_optim_name(o->cfg.kind), o->n, ps ? ps->size : (size_t)0);
    return 0;
}

int tg_optim_step(tg_optim *o, tg_params *ps)
{
    if (!o)
        return tg_error_set(TG_EINVAL, "tg_optim_step: no optimizer");
    int rc = check_params(o, ps);
    if (rc)
        return rc;
    switch (o->cfg.kind) {
    case TG_OPTIM_SGD: tg_sgd_update(o, ps); break;
    case TG_OPTIM_ADAM:
    case TG_OPTIM_ADAMW: tg_adam_update(o, ps); break;
    case TG_OPTIM_ADADELTA: tg_adadelta_update(o, ps); break;
    case TG_OPTIM_LBFGS:
        return tg_error_set(TG_ESTATE, "L-BFGS needs a closure: use tg_optim_step_closure");
    }
    o->step++;
    tg_params_zero_grad(ps);
    return 0;
}

int tg_optim_step_closure(tg_optim *o, tg_params *ps, tg_closure_fn f, void *ud, double *loss)
{
    if (!o || !f)
        return tg_error_set(TG_EINVAL, "tg_optim_step_closure: no optimizer or closure");
    int rc = check_params(o, ps);
    if (rc)
        return rc;
    if (o->cfg.kind == TG_OPTIM_LBFGS)
        return tg_lbfgs_run(o, ps, f, ud, loss);
    double l = 0.0;
    tg_params_zero_grad(ps);
    tg_error_clear();
    rc = f(ud, ps, &l);
    if (rc)
        return tg_error_code()
                   ? tg_error_prefix(TG_EEXTERNAL, "optimizer %s: closure returned %d: ", tg_optim_name(o->cfg.kind), rc)
                   : tg_error_set(TG_EEXTERNAL, "optimizer %s: closure returned %d", tg_optim_name(o->cfg.kind), rc);
    if (loss)
        *loss = l;
    return tg_optim_step(o, ps);
}

void tg_optim_set_lr(tg_optim *o, double lr) { o->lr = lr; }
double tg_optim_get_lr(const tg_optim *o) { return o->lr; }
int64_t tg_optim_step_count(const tg_optim *o) { return o->step; }
tg_optim_kind tg_optim_get_kind(const tg_optim *o) { return o->cfg.kind; }
const tg_optim_config *tg_optim_get_config(const tg_optim *o) { return &o->cfg; }

static const char *const optim_names[] = {"adam", "sgd", "adamw", "adadelta", "lbfgs"};

const char *tg_optim_name(tg_optim_kind k)
{
    return (unsigned)k < sizeof optim_names / sizeof *optim_names ? optim_names[k] : "?";
}

int tg_optim_parse(const char *name, tg_optim_kind *k)
{
    for (int i = 0; name && i < (int)(sizeof optim_names / sizeof *optim_names); i++)
        if (!strcmp(name, optim_names[i])) {
            *k = (tg_optim_kind)i;
            return 0;
        }
    if (name && !strcmp(name, "l-bfgs")) {
        *k = TG_OPTIM_LBFGS;
        return 0;
    }
    return tg_error_set(TG_EINVAL, "unknown optimizer '%s' (adam, adamw, sgd, adadelta, lbfgs)", name ? name : "");
}
