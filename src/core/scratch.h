/* scratch.h — kernel scratch that lives in the context, so a training step after the first
 * allocates nothing (docs/autodiff.md, tests/test_alloc_steps.c).
 *
 * The fused kernels (HBV, LSTM, the split-K GEMM, routing) need temporary arrays whose size
 * depends only on the shapes. When such a kernel runs inside an op of a context — a custom
 * op's forward (tg_custom) or any node's backward in the reverse sweep — it takes its
 * array from that context's slot, grown to the largest size ever asked for and kept across
 * tg_ctx_reset. Called directly (tg_hbv_forward, tg_lstm_forward, ... on raw arrays, with
 * no op running), the same call allocates and frees the array through the process-wide
 * hook, as before.
 *
 * The running context is a thread-local set by tg__ctx_enter around the callbacks; OpenMP
 * worker threads never see it, so every get/put must happen on the thread that called the
 * kernel, outside parallel regions (all current users do). One slot per call site: a
 * kernel holding slot k must not call another user of slot k. */
#ifndef TG_CORE_SCRATCH_H
#define TG_CORE_SCRATCH_H

#include <stddef.h>

#include "terragrad/core.h"

enum {
    TG__SCRATCH_HBV_FW,      /* hbv_forward.c: per-thread block stores */
    TG__SCRATCH_HBV_BW,      /* hbv_backward.c: per-thread block adjoints */
    TG__SCRATCH_LSTM_SEG,    /* lstm.c: one checkpointed segment (forward or backward) */
    TG__SCRATCH_LSTM_WHHT,   /* lstm_kernels.c: [W_ih^T; W_hh^T] or [W_ih, W_hh] packed */
    TG__SCRATCH_LSTM_XH,     /* lstm_kernels.c: rows [x_t, h_{t-1}] (forward step, backward dW) */
    TG__SCRATCH_LSTM_REC,    /* lstm_kernels.c: recurrent and carried gradients */
    TG__SCRATCH_LSTM_DBIAS,  /* lstm_kernels.c: per-chunk bias sums (double) */
    TG__SCRATCH_GEMM_PART,   /* nn_gemm.c: split-K partial products */
    TG__SCRATCH_ROUTING,     /* routing_op.c: ordinate gradients */
    TG__SCRATCH_COUNT
};

/* At least `bytes` bytes (malloc alignment), uninitialised; NULL with TG_ENOMEM set. */
void *tg__scratch_get(int slot, size_t bytes);
/* Gives p back: frees it when it was allocated for this call (no context running). */
void tg__scratch_put(int slot, void *p, size_t bytes);
/* Makes ctx the running context of this thread; returns the previous one for leave. */
tg_ctx *tg__ctx_enter(tg_ctx *ctx);
void tg__ctx_leave(tg_ctx *prev);

#endif
