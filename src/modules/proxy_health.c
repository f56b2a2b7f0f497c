/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * proxy_health.c - the proxy's active health checks (health_check in an
 * upstream group): a GET of the check path to each server of the group
 * every health_interval; a server whose check fails health_fails times in
 * a row (no connection, no answer within health_timeout, a malformed one,
 * a status other than 2xx or 3xx) is left out of every loop's choice until
 * its check passes health_passes times in a row.
 *
 * One checker for the whole server, on loop 0: the checks of N loops would
 * be N times the traffic for the same answer. It runs on the loop rather
 * than on the job pool because a check is mostly waiting, which the reactor
 * does for free with its sockets as watchers and one timer, while blocking
 * sockets would hold the pool's few threads (uploads, password checks) for
 * up to a timeout each. The verdict is the server's check_down, an atomic
 * every loop reads when it picks a server (proxy.c).
 *
 * The checker follows loop 0's site: when the loop moves to a reloaded
 * site, the checks under way are dropped and the new site's groups are
 * checked at once, with their new servers and settings. The reload carried
 * each server's state over (site_carry_health), so one down stays out
 * until its check passes.
 */
#include "proxy_health.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errlog.h"
#include "fields.h"

#define PROBE_OUT 1400 /* the request: a path under 1 KiB and a Host */
#define PROBE_IN 8192  /* the answer's head; its body is not read */

/* One server's check: between checks (fd < 0) or under way. */
typedef struct probe {
    watcher ev; /* first */
    health *hc;
    const upstream *u;
    upstream_server *sv;
    int fd;
    uint64_t due;     /* ms (loop_now): the next check starts, or the one under way times out */
    uint64_t started; /* ms: when the one under way began */
    unsigned passes, fails; /* in a row */
    size_t olen, ooff, ilen;
    char out[PROBE_OUT];
    char in[PROBE_IN];
} probe;

struct health {
    loop *loop;
    site *st; /* held: the groups checked are its own */
    probe **probes;
    size_t n;
    htd_timer_list *list; /* of duration 0: the timer is armed for its deadline */
    htd_timer timer;
};

static void probe_event(watcher *ev, uint32_t events);

/* Arms the timer for the earliest deadline of all. */
static void rearm(health *hc)
{
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < hc->n; i++)
        if (hc->probes[i]->due < next) next = hc->probes[i]->due;
    htd_timer_disarm(&hc->timer);
    if (next != UINT64_MAX) htd_timer_arm(hc->list, &hc->timer, next);
}

static void probe_close(probe *p)
{
    if (p->fd < 0) return;
    loop_forget(p->hc->loop, &p->ev);
    close(p->fd);
    p->fd = -1;
}

/* The check is over: ok, or failed for why. A change of the server's state
 * takes enough of the same verdict in a row, and is logged once. */
static void verdict(probe *p, int ok, const char *why)
{
    probe_close(p);
    uint64_t now = loop_now(p->hc->loop);
    const upstream *u = p->u;
    p->due = p->started + u->check_ms > now ? p->started + u->check_ms : now;
    int down = atomic_load_explicit(&p->sv->check_down, memory_order_relaxed);
    if (ok) {
        p->fails = 0;
        if (++p->passes >= u->check_passes && down) {
            atomic_store_explicit(&p->sv->check_down, 0, memory_order_relaxed);
            errlog(ERRLOG_NOTICE,
                   "htd: proxy: upstream %s server %s is up: its health check passed", u->name,
                   p->sv->name);
        }
        return;
    }
    p->passes = 0;
    if (++p->fails >= u->check_fails && !down) {
        atomic_store_explicit(&p->sv->check_down, 1, memory_order_relaxed);
        errlog(ERRLOG_WARN, "htd: proxy: upstream %s server %s is down: its health check %s: %s",
               u->name, p->sv->name, u->check_path, why);
    }
}

/* Starts a check: the connect under way, the request ready to go. */
static void probe_start(probe *p)
{
    const upstream *u = p->u;
    const upstream_server *sv = p->sv;
    uint64_t now = loop_now(p->hc->loop);
    p->started = now;
    p->due = now + u->check_timeout_ms;
    p->ooff = p->ilen = 0;
    /* The Host a proxied request would get, else the address checked. */
    const char *host = u->host ? u->host : sv->addr.ss_family == AF_UNIX ? "localhost" : sv->name;
    int n = snprintf(p->out, sizeof p->out,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: htd health check\r\n"
                     "Connection: close\r\n\r\n",
                     u->check_path, host);
    p->olen = n > 0 && (size_t)n < sizeof p->out ? (size_t)n : 0;
    int fd = socket(sv->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || !p->olen) {
        if (fd >= 0) close(fd);
        verdict(p, 0, fd < 0 ? strerror(errno) : "the request does not fit");
        return;
    }
    if (connect(fd, (const struct sockaddr *)&sv->addr, sv->addr_len) < 0 && errno != EINPROGRESS) {
        char why[160];
        snprintf(why, sizeof why, "cannot connect: %s", strerror(errno));
        close(fd);
        verdict(p, 0, why);
        return;
    }
    if (loop_watch(p->hc->loop, &p->ev, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                   probe_event) < 0) {
        close(fd);
        verdict(p, 0, strerror(errno));
        return;
    }
    p->fd = fd;
}

/* Sends the request, then reads the answer's head. 1 while waiting, else
 * the verdict is given. */
static int probe_go(probe *p)
{
    if (p->ooff < p->olen) {
        int err = 0;
        socklen_t el = sizeof err;
        if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0) err = errno;
        if (err) {
            char why[160];
            snprintf(why, sizeof why, "cannot connect: %s", strerror(err));
            verdict(p, 0, why);
            return 0;
        }
        while (p->ooff < p->olen) {
            ssize_t n = send(p->fd, p->out + p->ooff, p->olen - p->ooff, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == ENOTCONN)) return 1; /* still connecting */
            if (n < 0) {
                verdict(p, 0, strerror(errno));
                return 0;
            }
            p->ooff += (size_t)n;
        }
    }
    for (;;) {
        if (p->ilen == sizeof p->in) {
            verdict(p, 0, "its answer's head is too large");
            return 0;
        }
        ssize_t n = recv(p->fd, p->in + p->ilen, sizeof p->in - p->ilen, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return 1;
        if (n < 0) {
            verdict(p, 0, strerror(errno));
            return 0;
        }
        p->ilen += (size_t)n;
        htd_head_parser hp = {0};
        htd_response res;
        const char *why = NULL;
        int r = htd_parse_response(&hp, p->in, p->ilen, sizeof p->in, &res, &why);
        if (r < 0) {
            verdict(p, 0, why);
            return 0;
        }
        if (r > 0 && res.status >= 100 && res.status < 200) { /* an interim answer: the next */
            memmove(p->in, p->in + r, p->ilen - (size_t)r);
            p->ilen -= (size_t)r;
            continue;
        }
        if (r > 0) {
            char why_status[64];
            snprintf(why_status, sizeof why_status, "it answered %d", res.status);
            verdict(p, res.status < 400, why_status);
            return 0;
        }
        if (n == 0) {
            verdict(p, 0, "the connection closed before the answer");
            return 0;
        }
    }
}

static void probe_event(watcher *ev, uint32_t events)
{
    (void)events;
    probe *p = (probe *)ev;
    if (p->fd < 0) return;
    if (!probe_go(p)) rearm(p->hc);
}

/* The earliest deadline came: checks that time out, checks that start. */
static void health_fire(htd_timer *t)
{
    health *hc = (health *)((char *)t - offsetof(health, timer));
    htd_timer_disarm(&hc->timer);
    uint64_t now = loop_now(hc->loop);
    for (size_t i = 0; i < hc->n; i++) {
        probe *p = hc->probes[i];
        if (p->due > now) continue;
        if (p->fd >= 0)
            verdict(p, 0, "no answer in time");
        else
            probe_start(p);
    }
    rearm(hc);
}

/* Drops the checks of the site followed so far, and its reference. */
static void health_clear(health *hc, int later)
{
    for (size_t i = 0; i < hc->n; i++) {
        probe_close(hc->probes[i]);
        /* Events further down this batch may point at it. */
        if (!later || loop_later(hc->loop, free, hc->probes[i]) < 0) free(hc->probes[i]);
    }
    free(hc->probes);
    hc->probes = NULL;
    hc->n = 0;
    htd_timer_disarm(&hc->timer);
    site_release(hc->st);
    hc->st = NULL;
}

/* The probes of st's checked groups, all due at once. -1 when out of memory. */
static int health_build(health *hc, site *st)
{
    size_t n = 0;
    for (size_t i = 0; i < st->nupstreams; i++)
        if (st->upstreams[i].check_path) n += st->upstreams[i].nservers;
    hc->st = site_hold(st);
    if (!n) return 0;
    if (!(hc->probes = calloc(n, sizeof *hc->probes))) return -1;
    uint64_t now = loop_now(hc->loop);
    for (size_t i = 0; i < st->nupstreams; i++) {
        const upstream *u = &st->upstreams[i];
        for (size_t k = 0; u->check_path && k < u->nservers; k++) {
            probe *p = calloc(1, sizeof *p);
            if (!p) return -1;
            *p = (probe){.hc = hc, .u = u, .sv = &u->servers[k], .fd = -1, .due = now};
            hc->probes[hc->n++] = p;
        }
    }
    rearm(hc);
    return 0;
}

int health_wanted(const site *st)
{
    for (size_t i = 0; i < st->nupstreams; i++)
        if (st->upstreams[i].check_path) return 1;
    return 0;
}

health *health_follow(health *hc, loop *l, site *st)
{
    if (hc && hc->st == st) return hc;
    if (!hc) {
        if (!health_wanted(st)) return NULL;
        if (!(hc = calloc(1, sizeof *hc))) return NULL;
        hc->loop = l;
        /* Lists are the loop's for good: one per loop, made once. */
        if (!(hc->list = loop_timers(l, 0, health_fire))) {
            free(hc);
            return NULL;
        }
    }
    health_clear(hc, 1);
    if (health_build(hc, st) < 0) {
        errlog(ERRLOG_ERROR, "htd: proxy: out of memory for the health checks");
        health_clear(hc, 0);
    }
    return hc;
}

void health_free(health *hc)
{
    if (!hc) return;
    health_clear(hc, 0);
    free(hc);
}
