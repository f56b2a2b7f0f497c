/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * loop.c - the reactor (see loop.h).
 *
 * Callbacks of one batch run in two passes, `first` watchers before the
 * rest. Anything a callback closes stays allocated until the batch is over
 * (loop_later), so reading a watcher's callback pointer for a later event
 * of the same batch is always safe; a forgotten watcher has it NULL.
 */
#include "loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define MAX_LISTS 16
#define MAX_LOCALS 16

typedef struct later {
    void (*fn)(void *);
    void *arg;
} later;

struct loop {
    int epfd;
    uint64_t now;
    htd_timer_list lists[MAX_LISTS];
    size_t nlists;
    later *laters;
    size_t nlaters, cap_laters;
    watcher post_w; /* the eventfd that posts ring */
    pthread_mutex_t post_mu;
    posted *post_head, *post_tail;
    struct {
        const void *key;
        void *val;
    } locals[MAX_LOCALS];
    void (*wake)(void *);
    void *wake_arg;
    soon soons;       /* the queue's sentinel: works for coming turns, in order */
    uint64_t turn_us; /* when the current turn began */
};

static atomic_int sharing_fds;

uint64_t loop_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_posts(watcher *w, uint32_t events);

loop *loop_new(void)
{
    loop *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&l->post_mu, NULL);
    if (l->epfd < 0 || efd < 0 || loop_watch(l, &l->post_w, efd, EPOLLIN, on_posts) < 0) {
        int e = errno;
        if (efd >= 0) close(efd);
        l->post_w.fd = -1;
        loop_free(l);
        errno = e;
        return NULL;
    }
    l->now = loop_clock();
    l->soons.next = l->soons.prev = &l->soons;
    return l;
}

void loop_free(loop *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->nlaters; i++)
        l->laters[i].fn(l->laters[i].arg);
    free(l->laters);
    if (l->post_w.cb) close(l->post_w.fd);
    if (l->epfd >= 0) close(l->epfd);
    pthread_mutex_destroy(&l->post_mu);
    free(l);
}

int loop_watch(loop *l, watcher *w, int fd, uint32_t events, watch_fn cb)
{
    w->fd = fd;
    w->cb = cb;
    struct epoll_event ev = {.events = events, .data.ptr = w};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) == 0) return 0;
    w->cb = NULL;
    return -1;
}

int loop_rewatch(loop *l, watcher *w, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev);
}

void loop_unwatch(loop *l, watcher *w)
{
    if (!w->cb) return;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    w->cb = NULL;
}

void loop_forget(loop *l, watcher *w)
{
    if (!w->cb) return;
    /* A copy of the descriptor in a child being spawned (until its exec
     * closes it) keeps the epoll entry alive past our close: epoll would
     * report the descriptor for an owner freed by then. */
    if (atomic_load_explicit(&sharing_fds, memory_order_relaxed))
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    w->cb = NULL;
}

void loop_sharing_fds(void)
{
    atomic_store(&sharing_fds, 1);
}

htd_timer_list *loop_timers(loop *l, uint64_t duration_ms, timer_fn fire)
{
    if (l->nlists == MAX_LISTS) return NULL;
    htd_timer_list *tl = &l->lists[l->nlists++];
    htd_timer_list_init(tl, duration_ms);
    tl->fire = fire;
    return tl;
}

uint64_t loop_now(const loop *l)
{
    return l->now;
}

static uint64_t clock_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t loop_turn_us(const loop *l)
{
    return clock_us() - l->turn_us;
}

void loop_soon(loop *l, soon *s, void (*fn)(soon *s))
{
    if (s->next) return;
    s->fn = fn;
    s->prev = l->soons.prev;
    s->next = &l->soons;
    l->soons.prev->next = s;
    l->soons.prev = s;
}

void loop_soon_cancel(soon *s)
{
    if (!s->next) return;
    s->prev->next = s->next;
    s->next->prev = s->prev;
    s->next = s->prev = NULL;
}

/* The queued works, in order, until the turn's budget is spent; those
 * queued meanwhile (a work's next piece) are at the end, after the ones
 * that waited. */
static void run_soons(loop *l)
{
    soon *end = l->soons.prev; /* the last queued before this turn's works ran */
    if (end == &l->soons) return;
    for (;;) {
        soon *s = l->soons.next;
        loop_soon_cancel(s);
        s->fn(s);
        if (s == end || l->soons.next == &l->soons || loop_turn_us(l) >= LOOP_SOON_BUDGET_US)
            return;
    }
}

int loop_later(loop *l, void (*fn)(void *), void *arg)
{
    if (l->nlaters == l->cap_laters) {
        size_t cap = l->cap_laters ? 2 * l->cap_laters : 64;
        later *nl = realloc(l->laters, cap * sizeof *nl);
        if (!nl) return -1;
        l->laters = nl;
        l->cap_laters = cap;
    }
    l->laters[l->nlaters++] = (later){fn, arg};
    return 0;
}

void loop_post(loop *l, posted *p)
{
    p->next = NULL;
    pthread_mutex_lock(&l->post_mu);
    int was_empty = l->post_head == NULL;
    if (l->post_tail)
        l->post_tail->next = p;
    else
        l->post_head = p;
    l->post_tail = p;
    pthread_mutex_unlock(&l->post_mu);
    if (was_empty) loop_wakeup(l);
}

void loop_wakeup(loop *l)
{
    uint64_t one = 1;
    ssize_t n = write(l->post_w.fd, &one, sizeof one);
    (void)n; /* the counter cannot overflow: it is read on every drain */
}

static void on_posts(watcher *w, uint32_t events)
{
    (void)events;
    loop *l = (loop *)((char *)w - offsetof(loop, post_w));
    uint64_t v;
    ssize_t n = read(w->fd, &v, sizeof v);
    (void)n;
    pthread_mutex_lock(&l->post_mu);
    posted *p = l->post_head;
    l->post_head = l->post_tail = NULL;
    pthread_mutex_unlock(&l->post_mu);
    while (p) {
        posted *next = p->next;
        p->fn(p);
        p = next;
    }
}

void **loop_local(loop *l, const void *key)
{
    for (size_t i = 0; i < MAX_LOCALS; i++) {
        if (l->locals[i].key == key) return &l->locals[i].val;
        if (!l->locals[i].key) {
            l->locals[i].key = key;
            return &l->locals[i].val;
        }
    }
    return NULL;
}

void loop_on_wake(loop *l, void (*fn)(void *), void *arg)
{
    l->wake = fn;
    l->wake_arg = arg;
}

int loop_fd(const loop *l)
{
    return l->epfd;
}

int loop_timeout(const loop *l)
{
    int64_t best = -1;
    for (size_t k = 0; k < l->nlists; k++) {
        int64_t t = htd_timer_next(&l->lists[k], l->now);
        if (t >= 0 && (best < 0 || t < best)) best = t;
    }
    if (l->nlaters || l->soons.next != &l->soons) best = 0;
    return (int)best;
}

static void run_laters(loop *l)
{
    /* A later may leave more for later: those run in this pass too. */
    for (size_t i = 0; i < l->nlaters; i++)
        l->laters[i].fn(l->laters[i].arg);
    l->nlaters = 0;
}

int loop_run_once(loop *l, int max_wait_ms)
{
    struct epoll_event evs[MAX_EVENTS];
    int wait = loop_timeout(l);
    if (max_wait_ms >= 0 && (wait < 0 || wait > max_wait_ms)) wait = max_wait_ms;
    int n = epoll_wait(l->epfd, evs, MAX_EVENTS, wait);
    int e = errno;
    l->now = loop_clock();
    l->turn_us = clock_us();
    if (l->wake) l->wake(l->wake_arg);
    for (int i = 0; i < n; i++) {
        watcher *w = evs[i].data.ptr;
        if (w->first && w->cb) w->cb(w, evs[i].events);
    }
    for (int i = 0; i < n; i++) {
        watcher *w = evs[i].data.ptr;
        if (!w->first && w->cb) w->cb(w, evs[i].events);
    }
    run_soons(l);
    for (size_t k = 0; k < l->nlists; k++) {
        htd_timer *t;
        while ((t = htd_timer_expired(&l->lists[k], l->now)))
            l->lists[k].fire(t);
    }
    run_laters(l);
    errno = e;
    return n;
}
