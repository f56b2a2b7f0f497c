/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pool.h - pooled blocks of memory: a free list of equal-sized blocks, one
 * per loop and size, so that buffers taken and given back per request cost
 * no malloc in the steady state. Not thread-safe: a pool is its loop's.
 */
#ifndef HTD_POOL_H
#define HTD_POOL_H

#include <stddef.h>

#include "budget.h"

typedef struct pool {
    void *free;
    size_t size;
    size_t nfree, max_free; /* blocks beyond max_free go back to malloc */
    budget *b;              /* counts the blocks in use, or NULL */
} pool;

/* A block of p->size bytes, or NULL when out of memory. */
void *pool_get(pool *p);
void pool_put(pool *p, void *block);
/* Frees the blocks kept. */
void pool_drain(pool *p);

#endif
