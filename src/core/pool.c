/* SPDX-License-Identifier: BSD-2-Clause */
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
        budget_add(p->b, p->size);
        return b;
    }
    void *b = malloc(p->size);
    if (b) budget_add(p->b, p->size);
    return b;
}

void pool_put(pool *p, void *block)
{
    budget_sub(p->b, p->size);
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
