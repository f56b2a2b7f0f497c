/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * timer.c - timeouts by lists of equal duration; see timer.h for why a list
 * per duration stays sorted without any sorting.
 */
#include "timer.h"

#include <stddef.h>

void htd_timer_list_init(htd_timer_list *l, uint64_t duration_ms)
{
    l->head.prev = l->head.next = &l->head;
    l->duration = duration_ms;
}

void htd_timer_disarm(htd_timer *t)
{
    if (!t->next) return;
    t->prev->next = t->next;
    t->next->prev = t->prev;
    t->prev = t->next = NULL;
}

void htd_timer_arm(htd_timer_list *l, htd_timer *t, uint64_t now)
{
    htd_timer_disarm(t);
    t->deadline = now + l->duration;
    t->prev = l->head.prev;
    t->next = &l->head;
    l->head.prev->next = t;
    l->head.prev = t;
}

htd_timer *htd_timer_expired(htd_timer_list *l, uint64_t now)
{
    htd_timer *t = l->head.next;
    if (t == &l->head || t->deadline > now) return NULL;
    return t;
}

int64_t htd_timer_next(const htd_timer_list *l, uint64_t now)
{
    const htd_timer *t = l->head.next;
    if (t == &l->head) return -1;
    return t->deadline > now ? (int64_t)(t->deadline - now) : 0;
}
