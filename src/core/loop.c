/*
 * loop.c - a worker's event loop: epoll_wait, accept, connection events,
 * timers, the cached dates, and the graceful stop.
 *
 * Listeners are level-triggered and accept in batches of up to 64 per
 * wakeup, so one busy listener cannot starve the connections; connections
 * are edge-triggered and registered once for both directions, so serving a
 * keep-alive request needs no epoll_ctl at all.
 */
#include "loop.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "cache.h"
#include "cgi.h"
#include "gzip.h"
#include "conn.h"
#include "log.h"

#define ACCEPT_BATCH 64
#define MAX_EVENTS 256
#define LINGER_MS 2000
#define ACCEPT_PAUSE_MS 100
#define CACHE_BYTES (64u << 20) /* per loop */

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

static void pool_drain(pool *p)
{
    while (p->free) {
        void *b = p->free;
        p->free = *(void **)b;
        free(b);
    }
    p->nfree = 0;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Once per iteration: the clock, and the date strings when the second changed. */
static void tick(loop *l)
{
    l->now = now_ms();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    if (ts.tv_sec == l->date_sec) return;
    l->date_sec = ts.tv_sec;
    htd_date_format(ts.tv_sec, l->date);
    /* The log date reuses the fields of the IMF-fixdate just made:
     * "Sun, 06 Nov 1994 08:49:37 GMT" -> "[06/Nov/1994:08:49:37 +0000]" */
    const char *d = l->date;
    snprintf(l->log_date, sizeof l->log_date, "[%.2s/%.3s/%.4s:%.8s +0000]", d + 5, d + 8,
             d + 12, d + 17);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(l->iso_date, sizeof l->iso_date, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
    log_flush(l, l->site);
}

static void free_caches(loop *l, loop_cache *lc, size_t n)
{
    for (size_t i = 0; lc && i < n; i++) {
        /* Unwatched first: a script being spawned may hold a copy of the
         * descriptor for a moment, and closing alone would not unwatch it. */
        if (lc[i].c) epoll_ctl(l->epfd, EPOLL_CTL_DEL, cache_fd(lc[i].c), NULL);
        cache_free(lc[i].c);
    }
    free(lc);
}

/* Lets go of the site and caches left behind by the last adopt_site. */
static void retire(loop *l)
{
    if (!l->old_site) return;
    free_caches(l, l->old_caches, l->old_site->nvhosts);
    site_release(l->srv, l->old_site);
    l->old_site = NULL;
    l->old_caches = NULL;
}

/* Moves to the server's current site if it changed. The old site and its
 * caches are kept until the end of the iteration: events already fetched
 * may point at them. */
static void adopt_site(loop *l)
{
    htd_server *s = l->srv;
    unsigned gen = atomic_load_explicit(&s->site_gen, memory_order_acquire);
    if (l->site && gen == l->site_gen) return;
    site *st = site_acquire(s);
    loop_cache *caches = calloc(st->nvhosts, sizeof *caches);
    if (!caches) { /* try again next time */
        site_release(s, st);
        return;
    }
    retire(l);
    if (l->site) log_flush(l, l->site);
    l->old_site = l->site;
    l->old_caches = l->caches;
    l->site = st;
    l->site_gen = gen;
    l->caches = caches;
    for (size_t i = 0; i < st->nvhosts; i++) l->caches[i].kind = EV_CACHE;
}

cache *loop_cache_for(loop *l, const vhost *vh)
{
    loop_cache *lc = &l->caches[vh->idx];
    if (lc->c || lc->tried || vh->root_fd < 0) return lc->c;
    lc->tried = 1;
    if (!(lc->c = cache_new(vh->root, vh->root_fd, CACHE_BYTES))) return NULL;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = lc};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, cache_fd(lc->c), &ev) < 0) {
        cache_free(lc->c);
        lc->c = NULL;
    }
    return lc->c;
}

/* Reads pending file events of every cache of this loop. */
static void caches_on_event(loop *l)
{
    for (size_t i = 0; l->site && i < l->site->nvhosts; i++)
        if (l->caches[i].c) cache_on_event(l->caches[i].c);
}

void loop_wake(loop *l)
{
    uint64_t one = 1;
    ssize_t n = write(l->jret.efd, &one, sizeof one);
    (void)n;
}

loop *loop_new(htd_server *srv, int id, char *err, size_t errlen)
{
    loop *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->srv = srv;
    l->id = id;
    l->stop_kind = EV_STOP;
    l->jobs_kind = EV_JOBS;
    l->jret.efd = -1;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->epfd < 0 || l->stop_fd < 0) {
        snprintf(err, errlen, "cannot create an epoll instance: %s", strerror(errno));
        goto fail;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &l->stop_kind};
    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stop_fd, &ev);

    l->nlisteners = srv->naddrs;
    l->listeners = calloc(l->nlisteners, sizeof *l->listeners);
    if (!l->listeners) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < l->nlisteners; i++) {
        ev_listener *ls = &l->listeners[i];
        ls->kind = EV_LISTENER;
        ls->fd = srv->lfds[(size_t)id * srv->naddrs + i];
        ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = ls};
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, ls->fd, &ev) < 0) {
            snprintf(err, errlen, "cannot watch a listening socket: %s", strerror(errno));
            goto fail;
        }
    }
    if (job_return_init(&l->jret) < 0) {
        snprintf(err, errlen, "cannot create an eventfd: %s", strerror(errno));
        goto fail;
    }
    ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = &l->jobs_kind};
    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->jret.efd, &ev);
    if (!(l->auth_cache = auth_cache_new())) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    const htd_config *cfg = &srv->cfg;
    htd_timer_list_init(&l->timers[T_HEADER], cfg->header_timeout_ms);
    htd_timer_list_init(&l->timers[T_BODY], cfg->body_timeout_ms);
    htd_timer_list_init(&l->timers[T_IDLE], cfg->idle_timeout_ms);
    htd_timer_list_init(&l->timers[T_SEND], cfg->send_timeout_ms);
    htd_timer_list_init(&l->timers[T_LINGER], LINGER_MS);
    htd_timer_list_init(&l->timers[T_CGI], cfg->cgi_timeout_ms);
    l->rbufs = (pool){.size = RBUF_SIZE, .max_free = 256};
    l->outqs = (pool){.size = OUTQ_SIZE, .max_free = 256};
    adopt_site(l);
    if (!l->site) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    tick(l);
    return l;
fail:
    loop_free(l);
    return NULL;
}

void loop_free(loop *l)
{
    if (!l) return;
    if (l->epfd >= 0) close(l->epfd);
    if (l->stop_fd >= 0) close(l->stop_fd);
    free(l->listeners);
    retire(l);
    if (l->site) {
        log_flush(l, l->site);
        free_caches(l, l->caches, l->site->nvhosts);
        site_release(l->srv, l->site);
    }
    auth_cache_free(l->auth_cache);
    gzip_free_spares(l);
    job_return_destroy(&l->jret);
    pool_drain(&l->rbufs);
    pool_drain(&l->outqs);
    free(l);
}

void loop_stop(loop *l)
{
    uint64_t one = 1;
    ssize_t n = write(l->stop_fd, &one, sizeof one);
    (void)n;
}

/* Out of descriptors: a level-triggered listener would wake the loop at
 * once, forever. Stop watching the listeners for a moment instead; the
 * pending connections wait in the backlog. */
static void pause_accept(loop *l)
{
    if (l->accept_paused_until) return;
    for (size_t i = 0; i < l->nlisteners; i++)
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->listeners[i].fd, NULL);
    l->accept_paused_until = l->now + ACCEPT_PAUSE_MS;
}

static void resume_accept(loop *l)
{
    for (size_t i = 0; i < l->nlisteners; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &l->listeners[i]};
        epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->listeners[i].fd, &ev);
    }
    l->accept_paused_until = 0;
}

static void do_accept(loop *l, ev_listener *ls)
{
    struct sockaddr_storage ss[ACCEPT_BATCH];
    socklen_t len[ACCEPT_BATCH];
    int fds[ACCEPT_BATCH], n = 0;
    while (n < ACCEPT_BATCH) {
        len[n] = sizeof ss[n];
        int fd = accept4(ls->fd, (struct sockaddr *)&ss[n], &len[n], SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                pause_accept(l);
            break; /* EAGAIN: drained */
        }
        fds[n++] = fd;
    }
    /* The first connection came before this batch's epoll_wait, and so
     * after any file change whose event the batch has handled. The others
     * may have come later: read the file events once more before serving
     * them, so that none of them can get what a change replaced. */
    if (n > 1) caches_on_event(l);
    for (int i = 0; i < n; i++) conn_accept(l, fds[i], (struct sockaddr *)&ss[i], len[i]);
}

/* Stop accepting; close what is idle; the rest close after their response. */
static void begin_stop(loop *l)
{
    l->stopping = 1;
    l->accept_paused_until = 0; /* the listeners are going for good */
    /* Closing (not just unwatching) the listeners makes new clients see a
     * refusal instead of a connection nobody will ever answer. */
    for (size_t i = 0; i < l->nlisteners; i++) {
        close(l->listeners[i].fd);
        l->srv->lfds[(size_t)l->id * l->srv->naddrs + i] = -1;
    }
    /* Idle connections are on the idle and header lists, those dropping a
     * body on the body list: conn_stop picks them out. */
    static const int lists[] = {T_HEADER, T_IDLE, T_BODY};
    for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++) {
        htd_timer_list *tl = &l->timers[lists[k]];
        htd_timer *t = tl->head.next;
        while (t != &tl->head) {
            htd_timer *next = t->next;
            conn *c = (conn *)((char *)t - offsetof(conn, timer));
            conn_stop(c);
            t = next;
        }
    }
}

static void expire(loop *l)
{
    for (int k = 0; k < T_COUNT; k++) {
        htd_timer *t;
        while ((t = htd_timer_expired(&l->timers[k], l->now))) {
            if (k == T_CGI) { /* a script's timer, not a connection's */
                cgi_expired(l, t);
                continue;
            }
            conn *c = (conn *)((char *)t - offsetof(conn, timer));
            conn_timeout(c);
        }
    }
}

static int next_timeout(loop *l)
{
    int64_t best = -1;
    for (int k = 0; k < T_COUNT; k++) {
        int64_t t = htd_timer_next(&l->timers[k], l->now);
        if (t >= 0 && (best < 0 || t < best)) best = t;
    }
    /* Wake at least once a second to flush the access logs. */
    if (l->site && l->site->nlogs && (best < 0 || best > 1000)) best = 1000;
    if (l->accept_paused_until) {
        int64_t t = l->accept_paused_until > l->now ? (int64_t)(l->accept_paused_until - l->now) : 0;
        if (best < 0 || t < best) best = t;
    }
    return (int)best;
}

void *loop_run(void *arg)
{
    loop *l = arg;
    struct epoll_event evs[MAX_EVENTS], cgi_evs[MAX_EVENTS];
    for (;;) {
        int stop_seen = 0, jobs_seen = 0, ncgi = 0;
        if (l->srv->stop_requested && !l->stopping) begin_stop(l);
        if (l->stopping && l->nconns == 0 && !l->jobs_out) break;
        int n = epoll_wait(l->epfd, evs, MAX_EVENTS, next_timeout(l));
        tick(l);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        adopt_site(l);
        /* File changes first, so no request in this batch sees a stale entry. */
        for (int i = 0; i < n; i++)
            if (*(uint8_t *)evs[i].data.ptr == EV_CACHE) {
                loop_cache *lc = evs[i].data.ptr;
                if (lc->c) cache_on_event(lc->c);
            }
        for (int i = 0; i < n; i++) {
            uint8_t kind = *(uint8_t *)evs[i].data.ptr;
            if (kind == EV_CACHE) continue;
            if (kind == EV_CGI) {
                cgi_evs[ncgi++] = evs[i]; /* the kind is read now, while all are alive */
                continue;
            }
            if (kind == EV_JOBS) {
                jobs_seen = 1;
                continue;
            }
            if (kind == EV_CONN) {
                conn_event(evs[i].data.ptr, evs[i].events);
            } else if (kind == EV_LISTENER) {
                if (!l->stopping) do_accept(l, evs[i].data.ptr);
            } else {
                uint64_t v;
                ssize_t r = read(l->stop_fd, &v, sizeof v);
                (void)r;
                stop_seen = 1;
            }
        }
        /* Scripts' pipes after the connections: a script's event may close
         * its connection, which must not have an event further down. */
        for (int i = 0; i < ncgi; i++) cgi_event(cgi_evs[i].data.ptr, cgi_evs[i].events);
        /* Only after the batch: stopping closes connections that may still
         * have events further down the array. */
        /* Finished disk jobs resume (and may close) connections: after the
         * batch too, like the stop. */
        if (jobs_seen) job_return_reap(&l->jret);
        if (stop_seen && !l->stopping) begin_stop(l);
        expire(l);
        if (l->accept_paused_until && l->now >= l->accept_paused_until && !l->stopping)
            resume_accept(l);
        cgi_bury(l);
        retire(l);
    }
    log_flush(l, l->site);
    return NULL;
}
