/* context.c — the per-step context: arena, tape, gradient mode, sticky status. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

tg_ctx *tg_ctx_create(void) { return tg_ctx_create_with_allocator(NULL, NULL); }

tg_ctx *tg_ctx_create_with_allocator(tg_alloc_fn fn, void *ud)
{
    tg_ctx tmp = {.alloc = fn, .alloc_ud = ud};
    tg_ctx *ctx = tg__ctx_realloc(&tmp, NULL, 0, sizeof *ctx);
    if (!ctx)
        return NULL;
    memset(ctx, 0, sizeof *ctx);
    ctx->alloc = fn;
    ctx->alloc_ud = ud;
    tg_arena_init(&ctx->arena, ctx);
    ctx->grad_enabled = 1;
    return ctx;
}

void tg_ctx_free(tg_ctx **pctx)
{
    if (!pctx || !*pctx)
        return;
    tg_ctx *ctx = *pctx;
    tg_arena_free(&ctx->arena);
    if (ctx->tape)
        tg__ctx_realloc(ctx, ctx->tape, ctx->tape_cap * sizeof *ctx->tape, 0);
    for (int k = 0; k < TG__SCRATCH_COUNT; k++)
        if (ctx->scratch[k].p)
            tg__ctx_realloc(ctx, ctx->scratch[k].p, ctx->scratch[k].cap, 0);
    tg_ctx tmp = *ctx;
    tg__ctx_realloc(&tmp, ctx, sizeof *ctx, 0);
    *pctx = NULL;
}

void tg_ctx_reset(tg_ctx *ctx)
{
    tg_arena_reset(&ctx->arena);
    ctx->tape_len = 0;
    ctx->swept = 0;
    ctx->status = 0;
}

void *tg_ctx_alloc(tg_ctx *ctx, size_t bytes)
{
    void *p = tg_arena_alloc(&ctx->arena, bytes);
    if (!p && !ctx->status)
        ctx->status = TG_ENOMEM;
    return p;
}

size_t tg_ctx_arena_bytes(const tg_ctx *ctx) { return ctx->arena.reserved; }
size_t tg_ctx_arena_peak(const tg_ctx *ctx) { return ctx->arena.peak; }
size_t tg_ctx_tape_length(const tg_ctx *ctx) { return ctx->tape_len; }

int tg_ctx_set_grad(tg_ctx *ctx, int enabled)
{
    int old = ctx->grad_enabled;
    ctx->grad_enabled = enabled != 0;
    return old;
}

int tg_ctx_grad_enabled(const tg_ctx *ctx) { return ctx->grad_enabled; }
int tg_ctx_status(const tg_ctx *ctx) { return ctx->status; }
void tg_ctx_clear_status(tg_ctx *ctx) { ctx->status = 0; }

tg_tensor *tg__fail(tg_ctx *ctx, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* Keep the first failure: later ones are usually its consequences. */
    if (!ctx->status) {
        ctx->status = code;
        tg_error_set(code, "%s", msg);
    }
    return NULL;
}
