/* arena.c — the step arena: a list of chunks, bump allocation, O(1) reset.
 * Why chunks and not realloc: tensors hold raw pointers into the arena, so memory must
 * never move; a new chunk is added when the current one is full and kept for reuse. */
#include <stdint.h>
#include <string.h>

#include "internal.h"

#define TG_ALIGN 64
#define TG_CHUNK_MIN ((size_t)1 << 20)

void tg_arena_init(tg_arena *a, tg_ctx *ctx)
{
    memset(a, 0, sizeof *a);
    a->ctx = ctx;
}

/* Chunks come from the context's allocator, which promises no alignment beyond malloc's:
 * TG_ALIGN - 1 bytes more, and mem is the first aligned address inside. */
static tg_chunk *chunk_new(tg_arena *a, size_t size)
{
    tg_chunk *c = tg__ctx_realloc(a->ctx, NULL, 0, sizeof *c);
    if (!c)
        return NULL;
    c->raw = size <= SIZE_MAX - TG_ALIGN ? tg__ctx_realloc(a->ctx, NULL, 0, size + TG_ALIGN - 1) : NULL;
    if (!c->raw) {
        tg__ctx_realloc(a->ctx, c, sizeof *c, 0);
        tg_error_set(TG_ENOMEM, "arena: out of memory (chunk of %zu bytes)", size);
        return NULL;
    }
    c->mem = (unsigned char *)(((uintptr_t)c->raw + TG_ALIGN - 1) & ~(uintptr_t)(TG_ALIGN - 1));
    c->size = size;
    c->used = 0;
    c->next = NULL;
    return c;
}

void *tg_arena_alloc(tg_arena *a, size_t bytes)
{
    size_t need = (bytes + TG_ALIGN - 1) & ~(size_t)(TG_ALIGN - 1);
    if (need == 0)
        need = TG_ALIGN;
    /* Move forward through kept chunks; allocate a new one at the end if none fits. */
    while (a->cur && a->cur->used + need > a->cur->size) {
        if (!a->cur->next)
            break;
        a->cur = a->cur->next;
        a->cur->used = 0;
    }
    if (!a->cur || a->cur->used + need > a->cur->size) {
        size_t size = TG_CHUNK_MIN;
        if (a->reserved > size)
            size = a->reserved; /* geometric growth: each new chunk doubles the total */
        if (need > size)
            size = need;
        tg_chunk *c = chunk_new(a, size);
        if (!c)
            return NULL;
        if (!a->head)
            a->head = c;
        else {
            /* insert after cur (chunks after cur are too small and stay for later) */
            c->next = a->cur->next;
            a->cur->next = c;
        }
        a->cur = c;
        a->reserved += size;
    }
    void *p = a->cur->mem + a->cur->used;
    a->cur->used += need;
    a->used_total += need;
    if (a->used_total > a->peak)
        a->peak = a->used_total;
    return p;
}

void tg_arena_reset(tg_arena *a)
{
    a->cur = a->head;
    if (a->cur)
        a->cur->used = 0;
    a->used_total = 0;
}

void tg_arena_free(tg_arena *a)
{
    tg_chunk *c = a->head;
    while (c) {
        tg_chunk *n = c->next;
        tg__ctx_realloc(a->ctx, c->raw, c->size + TG_ALIGN - 1, 0);
        tg__ctx_realloc(a->ctx, c, sizeof *c, 0);
        c = n;
    }
    tg_arena_init(a, a->ctx);
}
