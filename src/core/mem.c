/* mem.c — sized blocks through the allocator hook (terragrad/core.h: tg_mem_*). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "terragrad/core.h"

/* the header keeps the block's payload at malloc's alignment */
typedef union mem_head {
    size_t size;
    max_align_t align;
} mem_head;

void *tg_mem_alloc(size_t n) { return tg_mem_realloc(NULL, n); }

void *tg_mem_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) {
        tg_error_set(TG_ENOMEM, "allocation size overflow (%zu x %zu)", count, size);
        return NULL;
    }
    void *p = tg_mem_alloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void *tg_mem_realloc(void *p, size_t n)
{
    if (n > SIZE_MAX - sizeof(mem_head)) {
        tg_error_set(TG_ENOMEM, "allocation size overflow (%zu bytes)", n);
        return NULL;
    }
    mem_head *h = p ? (mem_head *)p - 1 : NULL;
    const size_t old = h ? sizeof *h + h->size : 0;
    mem_head *q = tg_realloc(h, old, sizeof *q + n);
    if (!q)
        return NULL;
    q->size = n;
    return q + 1;
}

void tg_mem_free(void *p)
{
    if (!p)
        return;
    mem_head *h = (mem_head *)p - 1;
    tg_free(h, sizeof *h + h->size);
}
