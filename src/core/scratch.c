/* scratch.c — per-context kernel scratch (see scratch.h) and the context's allocator. */
#include "internal.h"

static _Thread_local tg_ctx *running;

tg_ctx *tg__ctx_enter(tg_ctx *ctx)
{
    tg_ctx *prev = running;
    running = ctx;
    return prev;
}

void tg__ctx_leave(tg_ctx *prev) { running = prev; }

void *tg__ctx_realloc(tg_ctx *ctx, void *p, size_t old_size, size_t new_size)
{
    if (!ctx->alloc)
        return tg_realloc(p, old_size, new_size);
    void *q = ctx->alloc(ctx->alloc_ud, p, old_size, new_size);
    if (!q && new_size)
        tg_error_set(TG_ENOMEM, "out of memory (asked the context's allocator for %zu bytes)", new_size);
    return q;
}

void *tg__scratch_get(int slot, size_t bytes)
{
    if (!bytes)
        bytes = 1;
    tg_ctx *ctx = running;
    if (!ctx)
        return tg_malloc(bytes);
    if (ctx->scratch[slot].cap < bytes) {
        /* grow once to the size asked for; the old contents are not needed */
        tg__ctx_realloc(ctx, ctx->scratch[slot].p, ctx->scratch[slot].cap, 0);
        ctx->scratch[slot].cap = 0;
        ctx->scratch[slot].p = tg__ctx_realloc(ctx, NULL, 0, bytes);
        if (!ctx->scratch[slot].p)
            return NULL;
        ctx->scratch[slot].cap = bytes;
    }
    return ctx->scratch[slot].p;
}

void tg__scratch_put(int slot, void *p, size_t bytes)
{
    tg_ctx *ctx = running;
    if (ctx && p == ctx->scratch[slot].p)
        return;
    tg_free(p, bytes ? bytes : 1);
}
