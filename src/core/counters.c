/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * counters.c - the set of a server's counter blocks (counters.h).
 */
#include "counters.h"

#include <string.h>

void counter_set_init(counter_set *s)
{
    pthread_mutex_init(&s->mu, NULL);
    s->head = NULL;
}

void counter_set_fini(counter_set *s)
{
    pthread_mutex_destroy(&s->mu);
    s->head = NULL;
}

void counters_join(counter_set *s, counters *k)
{
    pthread_mutex_lock(&s->mu);
    k->next = s->head;
    s->head = k;
    pthread_mutex_unlock(&s->mu);
}

void counters_leave(counter_set *s, counters *k)
{
    pthread_mutex_lock(&s->mu);
    for (counters **p = &s->head; *p; p = &(*p)->next)
        if (*p == k) {
            *p = k->next;
            break;
        }
    pthread_mutex_unlock(&s->mu);
}

void counters_sum(counter_set *s, uint64_t out[COUNTERS_MAX])
{
    memset(out, 0, COUNTERS_MAX * sizeof *out);
    pthread_mutex_lock(&s->mu);
    for (const counters *k = s->head; k; k = k->next)
        for (int i = 0; i < COUNTERS_MAX; i++)
            out[i] += counter_read(k, i);
    pthread_mutex_unlock(&s->mu);
}
