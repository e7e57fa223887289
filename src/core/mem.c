/* mem.c — sized blocks through the allocator hook (see mem.h). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/mem.h"
#include "terragrad.h"

/* the header keeps the block's payload at malloc's alignment */
typedef union mem_head {
    size_t size;
    max_align_t align;
} mem_head;

void *tg__mem_alloc(size_t n) { return tg__mem_realloc(NULL, n); }

void *tg__mem_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) {
        tg_error_set(TG_ENOMEM, "allocation size overflow (%zu x %zu)", count, size);
        return NULL;
    }
    void *p = tg__mem_alloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void *tg__mem_realloc(void *p, size_t n)
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

void tg__mem_free(void *p)
{
    if (!p)
        return;
    mem_head *h = (mem_head *)p - 1;
    tg_free(h, sizeof *h + h->size);
}
