/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * timer.h - timeouts by lists of equal duration.
 *
 * Every timeout of one kind (header read, body read, idle keep-alive, send,
 * lingering close) has the same duration, so a timer armed later always fires
 * later: appending to the tail keeps each list sorted by deadline. Arming,
 * disarming and re-arming are O(1), and expiry only ever looks at list heads.
 */
#ifndef HTD_TIMER_H
#define HTD_TIMER_H

#include <stdint.h>

typedef struct htd_timer {
    struct htd_timer *prev, *next; /* NULL when not armed */
    uint64_t deadline;             /* milliseconds, monotonic */
} htd_timer;

typedef struct htd_timer_list {
    htd_timer head; /* sentinel of a circular list */
    uint64_t duration;
    void (*fire)(htd_timer *t); /* for the loop that polls the list (loop.h) */
} htd_timer_list;

void htd_timer_list_init(htd_timer_list *l, uint64_t duration_ms);
/* Arms t to fire duration after now, moving it off any list it is on. */
void htd_timer_arm(htd_timer_list *l, htd_timer *t, uint64_t now);
void htd_timer_disarm(htd_timer *t);
/* The earliest armed timer of l if its deadline is <= now, else NULL. */
htd_timer *htd_timer_expired(htd_timer_list *l, uint64_t now);
/* Milliseconds until l's first deadline (0 if past), or -1 if l is empty. */
int64_t htd_timer_next(const htd_timer_list *l, uint64_t now);

#endif
