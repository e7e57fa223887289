/* implicit_tape.c — the implicit-step op and a whole implicit run as single tape nodes
 * (tg_custom), so they compose with every other op: parameters from a network, losses
 * built from library ops, one tg_backward for all of it.
 *
 * What a node keeps: tg_implicit_step nothing beyond its input and output tensors;
 * tg_implicit_run the trajectory's stored states (every state, or every k-th with the
 * checkpointing of implicit_traj.c), in the step arena so tg_ctx_reset frees them. */
#include <string.h>

#include "adjoint/implicit_internal.h"
#include "core/internal.h"

/* ------------------------------------------------------------------ shared */
/* Checks x (B, n), theta (B, P) or NULL, u (lead..., B, U) or NULL; returns B or -1. */
static int check_inputs(tg_ctx *ctx, const tg_implicit_fns *f, const char *who, tg_tensor *x,
                        tg_tensor *theta, tg_tensor *u, size_t u_lanes_per)
{
    if (!x)
        return -1; /* sticky status already set by whoever produced NULL */
    int B = x->ndim == 2 ? x->shape[0] : -1;
    if (B < 1 || x->shape[1] != f->n) {
        tg__fail(ctx, TG_ESHAPE, "%s '%s': x must be (B, %d)", who, f->name ? f->name : "?", f->n);
        return -1;
    }
    if (f->P > 0 && (!theta || theta->n != (size_t)B * (size_t)f->P)) {
        tg__fail(ctx, TG_ESHAPE, "%s '%s': theta must be (B, P) = (%d, %d)", who,
                     f->name ? f->name : "?", B, f->P);
        return -1;
    }
    if (f->U > 0 && (!u || u->n != u_lanes_per * (size_t)B * (size_t)f->U)) {
        tg__fail(ctx, TG_ESHAPE, "%s '%s': u must hold %zu x (B, U) = (%d, %d) values", who,
                     f->name ? f->name : "?", u_lanes_per, B, f->U);
        return -1;
    }
    return B;
}

/* ------------------------------------------------------------------ one step */
typedef struct {
    const tg_implicit_fns *f;
    void *ud;
    int step, B, i_theta, i_u;
    tg_newton_opts o;
    tg_newton_report *rep; /* forward only */
} step_node;

static int step_forward(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out)
{
    step_node *s = ud;
    (void)n_in, (void)n_out;
    return tg_implicit_solve(s->f, s->ud, s->B, s->step, in[0]->data,
                             s->i_theta >= 0 ? in[s->i_theta]->data : NULL,
                             s->i_u >= 0 ? in[s->i_u]->data : NULL, out[0]->data, NULL, &s->o,
                             s->rep);
}

static int step_backward(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out,
                         int n_out, const tg_real *const *grad_out, tg_real *const *grad_in)
{
    step_node *s = ud;
    (void)n_in, (void)n_out;
    return tg_implicit_step_adjoint(s->f, s->ud, s->B, s->step, in[0]->data,
                                    s->i_theta >= 0 ? in[s->i_theta]->data : NULL,
                                    s->i_u >= 0 ? in[s->i_u]->data : NULL, out[0]->data,
                                    grad_out[0], grad_in[0],
                                    s->i_theta >= 0 ? grad_in[s->i_theta] : NULL,
                                    s->i_u >= 0 ? grad_in[s->i_u] : NULL);
}

static const tg_custom_op step_op = {"implicit_step", step_forward, step_backward};

tg_tensor *tg_implicit_step(tg_ctx *ctx, const tg_implicit_fns *f, void *ud, int step,
                            tg_tensor *x, tg_tensor *theta, tg_tensor *u,
                            const tg_newton_opts *o, tg_newton_report *rep)
{
    if (!ctx || !f)
        return NULL;
    if (tg_ctx_status(ctx))
        return NULL;
    int B = check_inputs(ctx, f, "tg_implicit_step", x, theta, u, 1);
    if (B < 0)
        return NULL;
    step_node *s = tg_ctx_alloc(ctx, sizeof *s);
    if (!s)
        return NULL;
    s->f = f, s->ud = ud, s->step = step, s->B = B, s->rep = rep;
    s->o = o ? *o : tg_newton_defaults();
    tg_tensor *in[3] = {x, NULL, NULL};
    int n_in = 1;
    s->i_theta = f->P > 0 ? n_in : -1;
    if (f->P > 0)
        in[n_in++] = theta;
    s->i_u = f->U > 0 ? n_in : -1;
    if (f->U > 0)
        in[n_in++] = u;
    int nd[1] = {2}, sh[1][TG_MAX_DIMS] = {{B, f->n, 1, 1}};
    tg_tensor *out = NULL;
    if (tg_custom(ctx, &step_op, s, in, n_in, 1, nd, (const int(*)[TG_MAX_DIMS])sh, &out))
        return NULL;
    return out;
}

/* ------------------------------------------------------------------ a whole run */
typedef struct {
    const tg_implicit_fns *f;
    void *ud;
    tg_ctx *ctx;
    int T, B, i_theta, i_u, ckpt, need_grad;
    tg_newton_opts o;
    tg_newton_report *rep;
    int n_out;
    int *out_steps;         /* (n_out) */
    tg_implicit_traj *traj; /* set by forward when a gradient is needed */
    tg_real *y;             /* forward: the output being filled */
    const tg_real *gy;      /* backward: its gradient */
} run_node;

static void *arena_alloc(void *actx, size_t bytes)
{
    void *p = tg_ctx_alloc(actx, bytes);
    if (!p)
        tg_error_set(TG_ENOMEM, "implicit run: out of arena memory (%zu bytes)", bytes);
    return p;
}

static int run_observe(void *ud, int t, const tg_real *x)
{
    run_node *r = ud;
    const size_t Bn = (size_t)r->B * (size_t)r->f->n;
    for (int k = 0; k < r->n_out; k++)
        if (r->out_steps[k] == t)
            memcpy(r->y + (size_t)k * Bn, x, Bn * sizeof *x);
    return 0;
}

static int run_loss_grad(void *ud, int t, const tg_real *x, tg_real *x_bar, tg_real *theta_bar)
{
    run_node *r = ud;
    const size_t Bn = (size_t)r->B * (size_t)r->f->n;
    (void)x, (void)theta_bar;
    for (int k = 0; k < r->n_out; k++)
        if (r->out_steps[k] == t)
            for (size_t i = 0; i < Bn; i++)
                x_bar[i] += r->gy[(size_t)k * Bn + i];
    return 0;
}

static int run_forward(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out, int n_out)
{
    run_node *r = ud;
    (void)n_in, (void)n_out;
    tg__traj_alloc al = {arena_alloc, NULL, r->ctx};
    r->y = out[0]->data;
    return tg__traj_forward(&al, r->f, r->ud, r->B, r->T, in[0]->data,
                            r->i_theta >= 0 ? in[r->i_theta]->data : NULL,
                            r->i_u >= 0 ? in[r->i_u]->data : NULL, &r->o, r->ckpt, run_observe,
                            r, r->need_grad ? &r->traj : NULL, r->rep);
}

static int run_backward(void *ud, tg_tensor *const *in, int n_in, tg_tensor *const *out,
                        int n_out, const tg_real *const *grad_out, tg_real *const *grad_in)
{
    run_node *r = ud;
    (void)in, (void)n_in, (void)out, (void)n_out;
    if (!r->traj)
        return tg_error_set(TG_ESTATE, "implicit run '%s': no stored trajectory",
                            r->f->name ? r->f->name : "?");
    r->gy = grad_out[0];
    return tg_implicit_traj_backward(r->traj, run_loss_grad, r, grad_in[0],
                                     r->i_theta >= 0 ? grad_in[r->i_theta] : NULL,
                                     r->i_u >= 0 ? grad_in[r->i_u] : NULL);
}

static const tg_custom_op run_op = {"implicit_run", run_forward, run_backward};

tg_tensor *tg_implicit_run(tg_ctx *ctx, const tg_implicit_fns *f, void *ud, int T, tg_tensor *x0,
                           tg_tensor *theta, tg_tensor *u, int n_out, const int *out_steps,
                           const tg_newton_opts *o, int ckpt_every, tg_newton_report *rep)
{
    if (!ctx || !f)
        return NULL;
    if (tg_ctx_status(ctx))
        return NULL;
    int B = check_inputs(ctx, f, "tg_implicit_run", x0, theta, u, (size_t)(T > 0 ? T : 0));
    if (B < 0 || T < 0 || n_out < 1 || !out_steps || ckpt_every < -1) {
        if (B >= 0)
            tg__fail(ctx, TG_EINVAL, "tg_implicit_run '%s': need T >= 0, n_out >= 1 and "
                                    "ckpt_every >= -1", f->name ? f->name : "?");
        return NULL;
    }
    for (int k = 0; k < n_out; k++)
        if (out_steps[k] < 0 || out_steps[k] > T)
            return tg__fail(ctx, TG_EINVAL, "tg_implicit_run '%s': out_steps[%d] = %d outside 0..%d",
                            f->name ? f->name : "?", k, out_steps[k], T);
    run_node *r = tg_ctx_alloc(ctx, sizeof *r);
    int *steps = tg_ctx_alloc(ctx, (size_t)n_out * sizeof *steps);
    if (!r || !steps)
        return NULL;
    memset(r, 0, sizeof *r);
    memcpy(steps, out_steps, (size_t)n_out * sizeof *steps);
    r->f = f, r->ud = ud, r->ctx = ctx, r->T = T, r->B = B, r->ckpt = ckpt_every, r->rep = rep;
    r->o = o ? *o : tg_newton_defaults();
    r->n_out = n_out, r->out_steps = steps;
    tg_tensor *in[3] = {x0, NULL, NULL};
    int n_in = 1;
    r->i_theta = f->P > 0 ? n_in : -1;
    if (f->P > 0)
        in[n_in++] = theta;
    r->i_u = f->U > 0 ? n_in : -1;
    if (f->U > 0)
        in[n_in++] = u;
    /* Store states only when the node will be recorded. */
    for (int i = 0; i < n_in; i++)
        r->need_grad |= in[i]->requires_grad;
    r->need_grad &= tg_ctx_grad_enabled(ctx);
    int nd[1] = {3}, sh[1][TG_MAX_DIMS] = {{n_out, B, f->n, 1}};
    tg_tensor *out = NULL;
    if (tg_custom(ctx, &run_op, r, in, n_in, 1, nd, (const int(*)[TG_MAX_DIMS])sh, &out))
        return NULL;
    return out;
}
