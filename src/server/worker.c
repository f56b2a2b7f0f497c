/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * worker.c - one worker thread over its reactor (loop.h): accept, the
 * connection timer lists, the cached dates, the site it serves, and the
 * graceful stop.
 *
 * Listeners are level-triggered and accept in batches of up to 64 per
 * wakeup, so one busy listener cannot starve the connections; connections
 * are edge-triggered and registered once for both directions, so serving a
 * keep-alive request needs no epoll_ctl at all.
 */
#include "worker.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cache.h"
#include "cgi.h"
#include "conn.h"
#include "log.h"
#include "req.h"
#include "tls.h"

#define ACCEPT_BATCH 64
#define LINGER_MS 2000
#define ACCEPT_PAUSE_MS 100

/* Once per turn, before any callback: the clock, the date strings when the
 * second changed, and the site. */
static void adopt_site(worker *l);
static void tick(void *arg)
{
    worker *l = arg;
    l->now = loop_now(l->loop);
    adopt_site(l);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    if (ts.tv_sec == l->date_sec) return;
    l->date_sec = ts.tv_sec;
    htd_date_format(ts.tv_sec, l->date);
    /* The log date reuses the fields of the IMF-fixdate just made:
     * "Sun, 06 Nov 1994 08:49:37 GMT" -> "[06/Nov/1994:08:49:37 +0000]" */
    const char *d = l->date;
    snprintf(l->log_date, sizeof l->log_date, "[%.2s/%.3s/%.4s:%.8s +0000]", d + 5, d + 8, d + 12,
             d + 17);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(l->iso_date, sizeof l->iso_date, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
    log_flush(l, l->site);
}

/* Lets go of the site and caches left behind by the last adopt_site. */
static void retire(worker *l)
{
    if (!l->old_site) return;
    caches_free(l->loop, l->old_caches, l->old_site->nvhosts);
    site_release(l->old_site);
    l->old_site = NULL;
    l->old_caches = NULL;
}

/* Moves to the server's current site if it changed. The old site and its
 * caches are kept until the end of the iteration: events already fetched
 * may point at them. */
static void adopt_site(worker *l)
{
    htd_server *s = l->server;
    unsigned gen = atomic_load_explicit(&s->site_gen, memory_order_acquire);
    if (l->site && gen == l->site_gen) return;
    site *st = server_site(s);
    worker_cache *caches = caches_new(st->nvhosts);
    if (!caches) { /* try again next time */
        site_release(st);
        return;
    }
    retire(l);
    if (l->site) log_flush(l, l->site);
    l->old_site = l->site;
    l->old_caches = l->caches;
    l->site = st;
    l->site_gen = gen;
    l->caches = caches;
    for (size_t i = 0; i < l->srv->reg.n; i++)
        if (l->srv->reg.mods[i]->adopt) l->srv->reg.mods[i]->adopt(l);
}

void worker_wake(worker *l)
{
    loop_wakeup(l->loop); /* the turn's tick looks at the site */
}

static void on_listener(watcher *w, uint32_t events);

/* A TLS listener's transport: a session under the certificates of the
 * site this worker serves new connections with, which it keeps (reloads
 * included) until it closes. */
static transport *open_tls(listener *ls, int fd)
{
    worker *l = ls->wk;
    return tls_open(l->site->tls, l->server->tls, fd);
}

worker *worker_new(htd_server *srv, int id, char *err, size_t errlen)
{
    worker *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->srv = &srv->ctx;
    l->server = srv;
    l->id = id;
    if (!(l->loop = loop_new())) {
        snprintf(err, errlen, "cannot create an event loop: %s", strerror(errno));
        goto fail;
    }
    loop_on_wake(l->loop, tick, l);

    l->nlisteners = srv->naddrs;
    l->listeners = calloc(l->nlisteners, sizeof *l->listeners);
    if (!l->listeners) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < l->nlisteners; i++) {
        listener *ls = &l->listeners[i];
        ls->wk = l;
        ls->proxied = srv->addrs[i].proxy_protocol;
        ls->open = srv->addrs[i].tls ? open_tls : NULL;
        ls->events = EPOLLIN | (srv->addrs[i].inherited ? EPOLLEXCLUSIVE : 0);
        if (loop_watch(l->loop, &ls->w, srv->lfds[(size_t)id * srv->naddrs + i], ls->events,
                       on_listener) < 0) {
            snprintf(err, errlen, "cannot watch a listening socket: %s", strerror(errno));
            goto fail;
        }
    }
    const htd_config *cfg = &srv->ctx.cfg;
    const uint64_t durations[T_COUNT] = {[T_HEADER] = cfg->header_timeout_ms,
                                         [T_BODY] = cfg->body_timeout_ms,
                                         [T_IDLE] = cfg->idle_timeout_ms,
                                         [T_SEND] = cfg->send_timeout_ms,
                                         [T_LINGER] = LINGER_MS,
                                         [T_CGI] = cfg->cgi_timeout_ms};
    for (int k = 0; k < T_COUNT; k++) {
        if (!(l->timers[k] =
                  loop_timers(l->loop, durations[k], k == T_CGI ? cgi_expired : conn_on_timer))) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    if (cfg->memory_budget) /* at least a byte: 0 would be no budget */
        l->mem.limit = (size_t)(cfg->memory_budget / (uint64_t)srv->nthreads) | 1;
    l->rbufs = (pool){.size = RBUF_SIZE, .max_free = 256, .b = &l->mem};
    l->outqs = (pool){.size = OUTQ_SIZE, .max_free = 256, .b = &l->mem};
    l->reqs = (pool){.size = REQ_BLOCK, .max_free = 256, .b = &l->mem};
    counters_join(&srv->ctx.counters, &l->ctr);
    tick(l);
    if (!l->site) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    return l;
fail:
    worker_free(l);
    return NULL;
}

void worker_free(worker *l)
{
    if (!l) return;
    counters_leave(&l->srv->counters, &l->ctr);
    free(l->listeners);
    retire(l);
    if (l->site) {
        log_flush(l, l->site);
        caches_free(l->loop, l->caches, l->site->nvhosts);
        site_release(l->site);
    }
    /* The modules' per-loop state. */
    for (size_t i = 0; l->loop && i < l->srv->reg.n; i++) {
        const htd_module *m = l->srv->reg.mods[i];
        void **state = m->free_local ? loop_local(l->loop, m) : NULL;
        if (state && *state) m->free_local(*state);
    }
    loop_free(l->loop);
    pool_drain(&l->rbufs);
    pool_drain(&l->outqs);
    pool_drain(&l->reqs);
    free(l);
}

void worker_stop(worker *l)
{
    loop_wakeup(l->loop); /* worker_run sees the server's stop_requested */
}

/* Out of descriptors: a level-triggered listener would wake the loop at
 * once, forever. Stop watching the listeners for a moment instead; the
 * pending connections wait in the backlog. */
static void pause_accept(worker *l)
{
    if (l->accept_paused_until) return;
    for (size_t i = 0; i < l->nlisteners; i++)
        loop_unwatch(l->loop, &l->listeners[i].w);
    l->accept_paused_until = l->now + ACCEPT_PAUSE_MS;
}

static void resume_accept(worker *l)
{
    for (size_t i = 0; i < l->nlisteners; i++)
        loop_watch(l->loop, &l->listeners[i].w, l->listeners[i].w.fd, l->listeners[i].events,
                   on_listener);
    l->accept_paused_until = 0;
}

static void on_listener(watcher *w, uint32_t events)
{
    (void)events;
    listener *ls = (listener *)w;
    worker *l = ls->wk;
    if (l->stopping) return;
    struct sockaddr_storage ss[ACCEPT_BATCH];
    socklen_t len[ACCEPT_BATCH];
    int fds[ACCEPT_BATCH], n = 0;
    while (n < ACCEPT_BATCH) {
        len[n] = sizeof ss[n];
        int fd = accept4(w->fd, (struct sockaddr *)&ss[n], &len[n], SOCK_NONBLOCK | SOCK_CLOEXEC);
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
    if (n > 1 && l->site) caches_read(l->caches, l->site->nvhosts);
    for (int i = 0; i < n; i++) {
        transport *tp = ls->open ? ls->open(ls, fds[i]) : &transport_plain;
        if (!tp) {
            close(fds[i]);
            continue;
        }
        conn_accept(l, fds[i], tp, (struct sockaddr *)&ss[i], len[i], ls->proxied);
    }
}

/* Stop accepting; close what is idle; the rest close after their response. */
static void begin_stop(worker *l)
{
    l->stopping = 1;
    l->accept_paused_until = 0; /* the listeners are going for good */
    /* Closing (not just unwatching) the listeners makes new clients see a
     * refusal instead of a connection nobody will ever answer. */
    for (size_t i = 0; i < l->nlisteners; i++) {
        loop_unwatch(l->loop, &l->listeners[i].w);
        close(l->listeners[i].w.fd);
        l->server->lfds[(size_t)l->id * l->server->naddrs + i] = -1;
    }
    /* Idle connections are on the idle and header lists, those dropping a
     * body on the body list: conn_stop picks them out. */
    static const int lists[] = {T_HEADER, T_IDLE, T_BODY};
    for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++) {
        htd_timer_list *tl = l->timers[lists[k]];
        htd_timer *t = tl->head.next;
        while (t != &tl->head) {
            htd_timer *next = t->next;
            conn_stop(conn_of_timer(t));
            t = next;
        }
    }
}

/* How long the worker may wait for its own sake, from the last turn. */
static int next_timeout(const worker *l)
{
    int64_t best = -1;
    /* Wake at least once a second to flush the access logs. */
    if (l->site && l->site->nlogs) best = 1000;
    if (l->accept_paused_until) {
        int64_t t =
            l->accept_paused_until > l->now ? (int64_t)(l->accept_paused_until - l->now) : 0;
        if (best < 0 || t < best) best = t;
    }
    return (int)best;
}

int worker_timeout(const worker *l)
{
    int t = next_timeout(l), lt = loop_timeout(l->loop);
    if (t < 0 || (lt >= 0 && lt < t)) t = lt;
    /* Both count from the last turn, and a program may ask long after it:
     * woken by its own events, it would otherwise wait the whole time again. */
    uint64_t since = loop_clock() - l->now;
    if (t > 0) t = since >= (uint64_t)t ? 0 : t - (int)since;
    return t;
}

int worker_turn(worker *l, int wait)
{
    if (l->server->stop_requested && !l->stopping) begin_stop(l);
    int rc = 1;
    if (l->stopping && l->nconns == 0 && !l->jobs_out)
        rc = 0;
    else if (loop_run_once(l->loop, wait ? next_timeout(l) : 0) < 0 && errno != EINTR)
        rc = -1;
    if (rc <= 0) {
        int e = errno;
        log_flush(l, l->site);
        errno = e;
        return rc;
    }
    if (l->accept_paused_until && l->now >= l->accept_paused_until && !l->stopping)
        resume_accept(l);
    retire(l);
    return 1;
}

void *worker_run(void *arg)
{
    worker *l = arg;
    while (worker_turn(l, 1) > 0)
        continue;
    return NULL;
}
