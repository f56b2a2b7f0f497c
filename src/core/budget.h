/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * budget.h - a worker's share of the memory budget (--memory-budget): the
 * bytes its requests hold in pooled blocks (read buffers, request objects,
 * out queues), request bodies, uploads' buffers, compressors and cached
 * file contents. One per worker, so counting needs no atomics: the server's
 * budget is split evenly between its workers.
 *
 * Nothing fails because of it by itself: the places that start new work
 * (a new request, a body, an upload, a script, a compressor, a cached copy)
 * ask budget_over first and refuse (503) or do without when it says so,
 * while work already under way finishes.
 */
#ifndef HTD_BUDGET_H
#define HTD_BUDGET_H

#include <stddef.h>

typedef struct budget {
    size_t used;
    size_t limit; /* 0: no budget */
} budget;

static inline void budget_add(budget *b, size_t n)
{
    if (b) b->used += n;
}

static inline void budget_sub(budget *b, size_t n)
{
    if (b) b->used -= n;
}

/* Whether n more bytes would go over the budget. */
static inline int budget_over(const budget *b, size_t n)
{
    return b && b->limit && b->used + n > b->limit;
}

#endif
