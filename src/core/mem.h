/* mem.h — malloc-shaped allocation through the allocator hook, for code that does not keep
 * the size of what it frees (grown buffers, tables filled line by line). The block carries
 * its size in a small header, so tg__mem_free can tell the hook (Lua-style) how large it
 * was. A block from tg__mem_* must be freed by tg__mem_free and by nothing else. */
#ifndef TG_CORE_MEM_H
#define TG_CORE_MEM_H

#include <stddef.h>

void *tg__mem_alloc(size_t n);                 /* NULL with TG_ENOMEM set */
void *tg__mem_calloc(size_t count, size_t size);
void *tg__mem_realloc(void *p, size_t n);      /* p NULL: alloc; contents kept */
void tg__mem_free(void *p);                    /* p NULL: nothing */

#endif
