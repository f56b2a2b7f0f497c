/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * counters.h - counts a loop keeps of its own work, for monitoring, and the
 * set of a server's blocks of them, summed when someone asks.
 *
 * A block belongs to one loop: only that loop's thread changes it, with
 * counter_add, which is a load, an add and a relaxed atomic store. That is
 * an ordinary store on x86 and arm64 (no locked instruction, no cache line
 * shared with another writer), so counting costs the hot path next to
 * nothing, yet a reader on another thread (counter_read, a relaxed load)
 * never sees a torn value, only one a moment old. What the slots mean is
 * the owner's business (the worker's are named in context.h); gauges go up
 * and down on the same loop, so a block's gauges never go below 0.
 *
 * Blocks join their server's set when their loop starts and leave it when
 * it ends, under the set's mutex: never on the hot path.
 */
#ifndef HTD_COUNTERS_H
#define HTD_COUNTERS_H

#include <pthread.h>
#include <stdint.h>

#define COUNTERS_MAX 16

typedef struct counters {
    uint64_t v[COUNTERS_MAX];
    struct counters *next; /* in its set, under the set's mutex */
} counters;

typedef struct counter_set {
    pthread_mutex_t mu;
    counters *head;
} counter_set;

/* By the block's own loop only. */
static inline void counter_add(counters *k, int id, uint64_t n)
{
    __atomic_store_n(&k->v[id], k->v[id] + n, __ATOMIC_RELAXED);
}

static inline void counter_sub(counters *k, int id, uint64_t n)
{
    __atomic_store_n(&k->v[id], k->v[id] - n, __ATOMIC_RELAXED);
}

/* From any thread. */
static inline uint64_t counter_read(const counters *k, int id)
{
    return __atomic_load_n(&k->v[id], __ATOMIC_RELAXED);
}

void counter_set_init(counter_set *s);
void counter_set_fini(counter_set *s); /* the blocks are their owners' */
void counters_join(counter_set *s, counters *k);
/* k leaves s; nothing if it is not in it. */
void counters_leave(counter_set *s, counters *k);
/* out[0..COUNTERS_MAX): each slot summed over the blocks of s. */
void counters_sum(counter_set *s, uint64_t out[COUNTERS_MAX]);

#endif
