/*
 * pool.c - pooled blocks of memory (see pool.h). A free block holds the
 * link to the next one in its first bytes.
 */
#include "pool.h"

#include <stdlib.h>

void *pool_get(pool *p)
{
    if (p->free) {
        void *b = p->free;
        p->free = *(void **)b;
        p->nfree--;
        return b;
    }
    return malloc(p->size);
}

void pool_put(pool *p, void *block)
{
    if (p->nfree >= p->max_free) {
        free(block);
        return;
    }
    *(void **)block = p->free;
    p->free = block;
    p->nfree++;
}

void pool_drain(pool *p)
{
    while (p->free) {
        void *b = p->free;
        p->free = *(void **)b;
        free(b);
    }
    p->nfree = 0;
}
