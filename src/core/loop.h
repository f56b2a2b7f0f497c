/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * loop.h - the reactor: one per worker thread, over epoll. It knows nothing
 * of what it serves.
 *
 * - Watchers: {fd, callback} and the events asked for, embedded in their owner. A watcher's
 *   callback runs for each event epoll reports; one marked `first` runs
 *   before the others of its batch (file-change events, so that no request
 *   in the batch sees a stale file).
 * - Timer lists (timer.h), each with its callback, polled for their heads.
 * - Work for after the batch (loop_later): owners closed during a batch are
 *   freed there, since events further down the batch may still point at
 *   them. An unwatched watcher gets no more callbacks, even within its batch.
 * - Posts from any thread (loop_post), run on the loop's own thread.
 * - Slots of per-loop state for the modules above (loop_local), so that the
 *   loop needs no field of theirs.
 *
 * loop_run_once is one turn: wait, run callbacks, expire timers, run the
 * work for after the batch. A program with its own event loop can drive it:
 * watch loop_fd for readability, wait at most loop_timeout, call
 * loop_run_once(l, 0).
 */
#ifndef HTD_LOOP_H
#define HTD_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "timer.h"

typedef struct loop loop;
typedef struct watcher watcher;
typedef void (*watch_fn)(watcher *w, uint32_t events);

struct watcher {
    watch_fn cb; /* NULL while not watched */
    int fd;
    uint8_t first; /* runs before the other callbacks of its batch */
};

/* A callback run on the loop's thread on behalf of another. */
typedef struct posted posted;
struct posted {
    posted *next; /* private */
    void (*fn)(posted *p);
};

typedef void (*timer_fn)(htd_timer *t);

/* Work for a coming turn (loop_soon), embedded in its owner. */
typedef struct soon soon;
struct soon {
    soon *next, *prev; /* private: NULL while not queued */
    void (*fn)(soon *s);
};

loop *loop_new(void);
void loop_free(loop *l);

/* epoll: add, modify, remove. 0 or -1 with errno. */
int loop_watch(loop *l, watcher *w, int fd, uint32_t events, watch_fn cb);
int loop_rewatch(loop *l, watcher *w, uint32_t events);
void loop_unwatch(loop *l, watcher *w);
/* The watcher's descriptor is about to be closed: no more callbacks. The
 * epoll entry goes with the close, unless a child being spawned may hold a
 * copy of the descriptor (loop_sharing_fds), which would keep it alive. */
void loop_forget(loop *l, watcher *w);
/* From now on descriptors may be copied into child processes for a moment
 * (posix_spawn): every loop unwatches before closing. Process-wide. */
void loop_sharing_fds(void);

/* A list of timers of one duration whose expiry calls fire. The loop owns
 * it; NULL when out of memory or lists. */
htd_timer_list *loop_timers(loop *l, uint64_t duration_ms, timer_fn fire);
/* Monotonic milliseconds, read once per turn. */
uint64_t loop_now(const loop *l);
/* The same clock, read now. */
uint64_t loop_clock(void);

/* Runs fn(arg) after the current batch of events (or the next one). -1 when
 * out of memory. */
int loop_later(loop *l, void (*fn)(void *), void *arg);

/* Long work in pieces: s->fn(s) runs on a coming turn, after that turn's
 * events, and the loop does not wait meanwhile. Each turn runs the queued
 * works in order until LOOP_SOON_BUDGET_US have gone since the turn began
 * (at least one), leaving the rest, in order, for the next; so a turn
 * never grows with the number of long works, and the events of other
 * connections are served between their pieces. Queuing a queued s does
 * nothing. */
#define LOOP_SOON_BUDGET_US 1000
void loop_soon(loop *l, soon *s, void (*fn)(soon *s));
/* Takes s out of the queue (its owner is closing); nothing if not queued. */
void loop_soon_cancel(soon *s);
/* Microseconds since the current turn began (a fresh clock reading): what
 * a long work asks to know whether its turn's budget is spent. */
uint64_t loop_turn_us(const loop *l);

/* Runs p->fn on l's thread soon. Thread-safe; async-signal-unsafe. */
void loop_post(loop *l, posted *p);
/* Makes l take a turn soon (its wake callback runs). Async-signal-safe. */
void loop_wakeup(loop *l);

/* The slot of per-loop state named by key (the address of something of the
 * caller's); NULL when the slots are full. */
void **loop_local(loop *l, const void *key);

/* Called on each turn after the wait and before any callback (a worker's
 * clock and dates). */
void loop_on_wake(loop *l, void (*fn)(void *), void *arg);

/* One turn: waits at most max_wait_ms (-1: until an event or a timer), runs
 * the callbacks, expires timers, runs what was left for after the batch.
 * The number of events, or -1 with errno (EINTR included). */
int loop_run_once(loop *l, int max_wait_ms);

/* For a program that drives the loop from its own: the descriptor that
 * becomes readable when there is work, and how long it may wait
 * (milliseconds from the start of the last turn, -1 for no limit). */
int loop_fd(const loop *l);
int loop_timeout(const loop *l);

#endif
