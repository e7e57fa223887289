/* implicit_traj.c — T implicit steps forward, and their adjoint backward, with optional
 * checkpointing.
 *
 * Forward keeps x_0, x_k, x_2k, ... (every state when k = 1). Backward walks segments
 * [s·k, min((s+1)·k, T)] from the last: it re-solves the segment's steps from its
 * checkpoint (the same arithmetic as forward, so the same states bit for bit), then runs
 * the step adjoints in reverse. States held at once: T/k + 1 checkpoints + k + 1 in the
 * segment, minimal near k = √T. */
#include <math.h>
#include <string.h>

#include "adjoint/implicit_internal.h"

struct tg_implicit_traj {
    tg__traj_alloc al;
    const tg_implicit_fns *f;
    void *ud;
    int B, T, k;
    const tg_real *theta, *u;
    tg_newton_opts o;
    tg_real *ckpt; /* (n_ckpt, B, n) */
    int n_ckpt;
    size_t ckpt_bytes, peak_bytes;
};

static void *heap_alloc(void *actx, size_t bytes)
{
    (void)actx;
    return tg_malloc(bytes);
}
static void heap_release(void *actx, void *p, size_t bytes)
{
    (void)actx;
    tg_free(p, bytes);
}
static const tg__traj_alloc heap = {heap_alloc, heap_release, NULL};

static const tg_real *step_u(const tg_implicit_traj *tr, int t)
{
    return tr->u ? tr->u + (size_t)t * (size_t)tr->B * (size_t)tr->f->U : NULL;
}

int tg__traj_forward(const tg__traj_alloc *al, const tg_implicit_fns *f, void *ud, int B, int T,
                     const tg_real *x0, const tg_real *theta, const tg_real *u,
                     const tg_newton_opts *o, int ckpt_every, tg_implicit_observe_fn observe,
                     void *obs_ud, tg_implicit_traj **out, tg_newton_report *rep)
{
    if (out)
        *out = NULL;
    if (!f || B <= 0 || T < 0 || !x0 || (f->U > 0 && T > 0 && !u) || ckpt_every < -1)
        return tg_error_set(TG_EINVAL, "tg_implicit_traj_forward: bad arguments");
    tg_newton_opts defaults = tg_newton_defaults();
    if (!o)
        o = &defaults;
    const size_t Bn = (size_t)B * (size_t)f->n, sbytes = Bn * sizeof(tg_real);
    int k = ckpt_every == -1 ? (int)ceil(sqrt((double)(T > 0 ? T : 1))) : ckpt_every;
    if (k < 1)
        k = 1;

    tg_implicit_traj *tr = NULL;
    if (out) {
        tr = al->alloc(al->actx, sizeof *tr);
        if (!tr)
            return TG_ENOMEM;
        memset(tr, 0, sizeof *tr);
        tr->al = *al;
        tr->f = f, tr->ud = ud, tr->B = B, tr->T = T, tr->k = k;
        tr->theta = theta, tr->u = u, tr->o = *o;
        tr->n_ckpt = T / k + 1;
        tr->ckpt_bytes = (size_t)tr->n_ckpt * sbytes;
        tr->ckpt = al->alloc(al->actx, tr->ckpt_bytes);
        if (!tr->ckpt) {
            if (al->release)
                al->release(al->actx, tr, sizeof *tr);
            return TG_ENOMEM;
        }
        tr->peak_bytes = tr->ckpt_bytes;
        memcpy(tr->ckpt, x0, sbytes);
    }
    /* Two rolling buffers unless every state is stored (then we step in place). */
    tg_real *work = NULL;
    if (!tr || k > 1) {
        work = tg_malloc(2 * sbytes);
        if (!work) {
            tg_implicit_traj_free(&tr);
            return TG_ENOMEM;
        }
        memcpy(work, x0, sbytes);
    }
    int status = 0, rc;
    if (observe && (rc = observe(obs_ud, 0, x0))) {
        status = tg_error_set(TG_EEXTERNAL, "implicit run '%s': observe callback returned %d at "
                                            "t = 0", f->name ? f->name : "?", rc);
        goto fail;
    }
    for (int t = 0; t < T; t++) {
        const tg_real *xc;
        tg_real *xnext;
        if (work) {
            xc = work + (size_t)(t & 1) * Bn;
            xnext = work + (size_t)((t + 1) & 1) * Bn;
        } else {
            xc = tr->ckpt + (size_t)t * Bn;
            xnext = tr->ckpt + (size_t)(t + 1) * Bn;
        }
        const tg_real *ut = u ? u + (size_t)t * (size_t)B * (size_t)f->U : NULL;
        if ((status = tg_implicit_solve(f, ud, B, t, xc, theta, ut, xnext, NULL, o, rep)))
            goto fail;
        if (tr && work && (t + 1) % k == 0)
            memcpy(tr->ckpt + (size_t)((t + 1) / k) * Bn, xnext, sbytes);
        if (observe && (rc = observe(obs_ud, t + 1, xnext))) {
            status = tg_error_set(TG_EEXTERNAL, "implicit run '%s': observe callback returned "
                                                "%d at t = %d", f->name ? f->name : "?", rc,
                                  t + 1);
            goto fail;
        }
    }
    tg_free(work, 2 * sbytes);
    if (out)
        *out = tr;
    return 0;
fail:
    tg_free(work, 2 * sbytes);
    tg_implicit_traj_free(&tr);
    return status;
}

int tg_implicit_traj_forward(const tg_implicit_fns *f, void *ud, int B, int T, const tg_real *x0,
                             const tg_real *theta, const tg_real *u, const tg_newton_opts *o,
                             int ckpt_every, tg_implicit_observe_fn observe, void *obs_ud,
                             tg_implicit_traj **out, tg_newton_report *rep)
{
    return tg__traj_forward(&heap, f, ud, B, T, x0, theta, u, o, ckpt_every, observe, obs_ud,
                            out, rep);
}

const tg_real *tg_implicit_traj_state(const tg_implicit_traj *tr, int t)
{
    if (!tr || t < 0 || t > tr->T || t % tr->k)
        return NULL;
    return tr->ckpt + (size_t)(t / tr->k) * (size_t)tr->B * (size_t)tr->f->n;
}

size_t tg_implicit_traj_peak_bytes(const tg_implicit_traj *tr) { return tr ? tr->peak_bytes : 0; }

void tg_implicit_traj_free(tg_implicit_traj **ptr)
{
    if (!ptr || !*ptr)
        return;
    tg_implicit_traj *tr = *ptr;
    if (tr->al.release) {
        tr->al.release(tr->al.actx, tr->ckpt, tr->ckpt_bytes);
        tr->al.release(tr->al.actx, tr, sizeof *tr);
    }
    *ptr = NULL;
}

int tg_implicit_traj_backward(tg_implicit_traj *tr, tg_implicit_loss_grad_fn loss_grad,
                              void *grad_ud, tg_real *x0_bar, tg_real *theta_bar, tg_real *u_bar)
{
    if (!tr)
        return tg_error_set(TG_EINVAL, "tg_implicit_traj_backward: no trajectory");
    const tg_implicit_fns *f = tr->f;
    const int B = tr->B, T = tr->T, k = tr->k, U = f->U;
    const size_t Bn = (size_t)B * (size_t)f->n, sbytes = Bn * sizeof(tg_real);
    const char *name = f->name ? f->name : "?";
    /* seg: the states of one segment, x_{t0} .. x_{t0+k} (only when recomputing). */
    const size_t seg_bytes = k > 1 ? (size_t)(k + 1) * sbytes : 0;
    const size_t bytes = 2 * sbytes + seg_bytes;
    /* from the trajectory's allocator: in a step arena (tape ops) it is then part of the
     * arena's high-water mark, which is what memory benchmarks read */
    tg_real *mem = tr->al.alloc(tr->al.actx, bytes);
    if (!mem)
        return TG_ENOMEM;
    tg_real *xbar = mem, *pbar = mem + Bn, *seg = k > 1 ? mem + 2 * Bn : NULL;
    if (tr->ckpt_bytes + seg_bytes > tr->peak_bytes)
        tr->peak_bytes = tr->ckpt_bytes + seg_bytes;

    int status = 0, rc;
    memset(xbar, 0, sbytes);
    for (int s = (T - 1) / k; T > 0 && s >= 0; s--) {
        const int t0 = s * k, t1 = t0 + k < T ? t0 + k : T;
        if (k > 1) {
            memcpy(seg, tr->ckpt + (size_t)s * Bn, sbytes);
            for (int t = t0; t < t1; t++) {
                tg_real *xc = seg + (size_t)(t - t0) * Bn, *xnext = xc + Bn;
                status = tg_implicit_solve(f, tr->ud, B, t, xc, tr->theta, step_u(tr, t), xnext,
                                           NULL, &tr->o, NULL);
                if (status) {
                    tg_error_prefix(status, "recomputing a checkpointed segment: ");
                    goto done;
                }
            }
        }
#define STATE(t) (k > 1 ? seg + (size_t)((t) - t0) * Bn : tr->ckpt + (size_t)(t) * Bn)
        if (t1 == T) {
            if (loss_grad && (rc = loss_grad(grad_ud, T, STATE(T), xbar, theta_bar))) {
                status = tg_error_set(TG_EEXTERNAL, "implicit run '%s': loss_grad returned %d "
                                                    "at t = %d", name, rc, T);
                goto done;
            }
        }
        for (int t = t1; t > t0; t--) {
            const tg_real *xprev = STATE(t - 1), *xt = STATE(t);
            memset(pbar, 0, sbytes);
            if (loss_grad && (rc = loss_grad(grad_ud, t - 1, xprev, pbar, theta_bar))) {
                status = tg_error_set(TG_EEXTERNAL, "implicit run '%s': loss_grad returned %d "
                                                    "at t = %d", name, rc, t - 1);
                goto done;
            }
            status = tg_implicit_step_adjoint(f, tr->ud, B, t - 1, xprev, tr->theta,
                                              step_u(tr, t - 1), xt, xbar, pbar, theta_bar,
                                              u_bar ? u_bar + (size_t)(t - 1) * (size_t)B * (size_t)U : NULL);
            if (status)
                goto done;
            memcpy(xbar, pbar, sbytes);
        }
#undef STATE
    }
    if (T == 0 && loss_grad && (rc = loss_grad(grad_ud, 0, tr->ckpt, xbar, theta_bar))) {
        status = tg_error_set(TG_EEXTERNAL, "implicit run '%s': loss_grad returned %d at t = 0",
                              name, rc);
        goto done;
    }
    if (x0_bar)
        for (size_t i = 0; i < Bn; i++)
            x0_bar[i] += xbar[i];
done:
    if (tr->al.release)
        tr->al.release(tr->al.actx, mem, bytes);
    return status;
}
