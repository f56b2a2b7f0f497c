/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * conn.c - the connection state machine (see conn.h for the states).
 *
 * Only this file moves a connection between states: conn_run, and the few
 * entry points modules call (conn_error, conn_answer, conn_wait,
 * conn_read_body), which set the state conn_run goes on from. Modules say
 * what they want through the phases' answers and their generators' and
 * sinks' (module.h). conn_run loops until the connection must wait for the
 * socket: it parses what is buffered, runs the phases of a whole head,
 * writes what is queued, and reads only when nothing buffered can make
 * progress. Sockets are edge-triggered, so `readable` and `writable`
 * remember what epoll said until a syscall shows the socket drained or
 * full. What the connection's transport waits for that the socket's
 * readiness does not show (a TLS handshake's write inside a read, records
 * decrypted meanwhile) is asked where the connection would otherwise wait
 * (conn_can_read, can_write, conn_fill): the transport is never named.
 */
#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>

#include "module.h"
#include "outq.h"
#include "path.h"
#include "proxyproto.h"
#include "range.h"
#include "req.h"
#include "response.h"

static void conn_run(conn *c);

static void arm(conn *c, int kind)
{
    c->timer_kind = (uint8_t)kind;
    htd_timer_arm(c->w->timers[kind], &c->timer, c->w->now);
}

static void on_event(watcher *w, uint32_t events);

/* Counts c in the server's open connections (max_conns): 0, or -1 to
 * close it. */
static int admit(conn *c)
{
    server_ctx *s = c->w->srv;
    unsigned max = s->cfg.max_conns;
    if (max && atomic_fetch_add_explicit(&s->nconns, 1, memory_order_relaxed) >= max) return -1;
    return 0;
}

/* Asks the modules (per-address limits) whether to take c, its client now
 * known: 0, or -1 to close it. */
static int open_modules(conn *c)
{
    if (registry_conn_open(&c->w->srv->reg, c) < 0) return -1;
    c->opened = 1;
    return 0;
}

/* The other side of admit, for a connection closing (or refused). */
static void unadmit(conn *c)
{
    server_ctx *s = c->w->srv;
    if (c->opened) registry_conn_close(&s->reg, c);
    if (s->cfg.max_conns) atomic_fetch_sub_explicit(&s->nconns, 1, memory_order_relaxed);
}

void conn_accept(worker *l, int fd, transport *tp, const struct sockaddr *sa, socklen_t salen,
                 int proxied)
{
    conn *c = calloc(1, sizeof *c);
    if (!c) {
        transport_close(tp, fd);
        return;
    }
    c->ev.fd = fd;
    c->tp = tp;
    c->w = l;
    c->state = CS_HEAD;
    c->writable = 1;
    /* TCP_DEFER_ACCEPT on the listener means there is usually a request
     * waiting already: try reading before asking epoll (the worker's
     * on_listener has made sure no file change the request could have seen
     * is pending). */
    c->readable = 1;
    if (salen > sizeof c->peer) salen = sizeof c->peer;
    memcpy(&c->peer, sa, salen);
    /* Over a limit: closed before anything is read, so that what the limit
     * protects (descriptors, buffers, work) is not spent on it. */
    c->proxy_header = proxied != 0;
    if (admit(c) < 0 || (!proxied && open_modules(c) < 0)) {
        unadmit(c);
        transport_close(c->tp, fd);
        free(c);
        return;
    }
    l->nconns++;
    counter_add(&l->ctr, WC_CONN_ACCEPTED, 1);
    counter_add(&l->ctr, WC_CONN_OPEN, 1);
    /* Registering with epoll waits until the connection first has to wait:
     * one that is answered and closed at once (Connection: close) never
     * needs it. conn_close clears l->fresh if c goes meanwhile. */
    l->fresh = c;
    conn_run(c);
    if (l->fresh != c) return;
    l->fresh = NULL;
    c->out_watched = !c->writable;
    uint32_t events = EPOLLIN | EPOLLRDHUP | EPOLLET | (c->out_watched ? EPOLLOUT : 0);
    if (loop_watch(l->loop, &c->ev, fd, events, on_event) < 0) conn_close(c);
}

/* Connections are watched for output only once a write has filled the
 * socket: an edge-triggered EPOLLOUT would otherwise report every ACK of
 * every small response, for nothing. Once watched, it stays watched. */
static int watch_output(conn *c)
{
    if (c->out_watched || c->w->fresh == c) return 0; /* conn_accept registers it */
    c->out_watched = 1;
    return loop_rewatch(c->w->loop, &c->ev, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
}

/* And before c waits to write: whether the transport's last write waited
 * for input (a handshake message from the client), which has come. */
static int can_write(const conn *c)
{
    return c->writable || ((transport_pending(c->tp) & TRANSPORT_WRITE_ON_READABLE) && c->readable);
}

static void req_done(conn *c)
{
    struct htd_req *hr = c->req;
    if (!hr) return;
    loop_soon_cancel(&hr->turn);
    /* What a module still holds of the request (a script, an upload, a
     * password check) goes first: the connection may be closing. */
    for (size_t i = 0; i < hr->nslots; i++) {
        const htd_module *m = hr->slots[i].key;
        if (hr->slots[i].val && m->release) m->release(hr);
    }
    c->req = NULL;
    counter_sub(&c->w->ctr, WC_CONN_ACTIVE, 1);
    if (hr->async) {
        /* Its handler's answer has not run: the request outlives its
         * connection until it does, so that the program's thread never
         * holds a freed request. */
        hr->c = NULL;
        if (!hr->resumed) return; /* on its way: req_async_back frees it */
        hr->async_fn(hr, hr->async_arg);
    }
    req_free(&c->w->reqs, hr, &c->w->mem);
}

static void release_rbuf(conn *c)
{
    if (c->rbuf && c->rpos == c->rlen) {
        pool_put(&c->w->rbufs, c->rbuf);
        c->rbuf = NULL;
        c->rpos = c->rlen = 0;
    }
}

/* Lets go of the framing of a body that will not be read on. */
static void drop_framing(conn *c)
{
    if (!c->bd) return;
    budget_sub(&c->w->mem, sizeof *c->bd);
    free(c->bd);
    c->bd = NULL;
}

/* Makes the framing of a body to come: 0, or -1 when there is no memory
 * for it (then there is none). */
static int new_framing(conn *c, int chunked, uint64_t left)
{
    if (!c->bd) {
        if (budget_over(&c->w->mem, sizeof *c->bd) || !(c->bd = malloc(sizeof *c->bd))) return -1;
        budget_add(&c->w->mem, sizeof *c->bd);
    }
    memset(c->bd, 0, sizeof *c->bd);
    c->bd->is_chunked = (uint8_t)(chunked != 0);
    c->bd->left = left;
    return 0;
}

void conn_close(conn *c)
{
    worker *l = c->w;
    if (l->fresh == c) l->fresh = NULL;
    req_done(c);
    htd_timer_disarm(&c->timer);
    conn_out_release(c);
    c->rpos = c->rlen;
    release_rbuf(c);
    drop_framing(c);
    int watched = c->ev.cb != NULL;
    loop_forget(l->loop, &c->ev);
    transport_close(c->tp, c->ev.fd);
    unadmit(c);
    l->nconns--;
    counter_sub(&l->ctr, WC_CONN_OPEN, 1);
    /* One never watched (answered and closed as it was accepted) has no
     * event to come: freed now. Else after the batch, since events further
     * down it may still point at c; should even that fail for want of
     * memory, c is left allocated rather than risk a use after free. */
    if (!watched)
        free(c);
    else
        (void)loop_later(l->loop, free, c);
}

static void on_event(watcher *w, uint32_t events)
{
    conn *c = (conn *)w;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->readable = 1;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->hup = 1;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) c->writable = 1;
    conn_run(c);
}

conn *conn_of_timer(htd_timer *t)
{
    return (conn *)((char *)t - offsetof(conn, timer));
}

void conn_on_timer(htd_timer *t)
{
    conn *c = conn_of_timer(t);
    htd_timer_disarm(&c->timer);
    if (c->state == CS_HEAD && c->started && !c->proxy_header) {
        conn_error(c, 408, "the request head did not arrive in time", 0);
        conn_run(c);
    } else if (c->state == CS_BODY || c->state == CS_SINK) {
        conn_error(c, 408, "the request body did not arrive in time", 0);
        conn_run(c);
    } else {
        conn_close(c);
    }
}

void conn_stop(conn *c)
{
    /* Idle, or dropping the body of a request already answered. */
    if ((c->state == CS_HEAD && !c->started) || c->state == CS_DISCARD) conn_close(c);
}

/* Writes what is queued: memory segments with one writev, file ranges with
 * sendfile, through the transport. `more` on a head followed by a file lets
 * TCP put both in one packet (MSG_MORE). */
static int flush(conn *c)
{
    outq *q = c->out;
    while (q->cur < q->nseg) {
        out_seg *s = &q->seg[q->cur];
        if (s->fd == OUTQ_GATE) {
            conn_gate *g = (conn_gate *)(uintptr_t)s->off;
            if (!g->open) {
                if (!g->called) {
                    g->called = 1;
                    g->reached(g, c);
                }
                if (!g->open) return IO_GATE;
            }
            q->cur++;
            continue;
        }
        if (!can_write(c)) return IO_AGAIN;
        ssize_t n;
        size_t asked = 0;
        unsigned cnt = 0; /* segments asked for */
        if (s->p) {
            /* The whole queue in one call: a pipelined batch's heads and
             * bodies alternate, and 16 responses need 32 pieces. */
            struct iovec iov[OUTQ_SEGS];
            for (unsigned i = q->cur; i < q->nseg && q->seg[i].p; i++, cnt++) {
                /* (a gate's p is NULL: the gathering stops at it) */
                iov[cnt] = (struct iovec){(void *)q->seg[i].p, q->seg[i].len};
                asked += q->seg[i].len;
            }
            int more = q->cur + cnt < q->nseg;
            n = transport_writev(c->tp, c->ev.fd, iov, (int)cnt, more);
        } else if (s->fd == OUTQ_PIPE) {
            out_pipe *pp = (out_pipe *)(uintptr_t)s->off;
            asked = s->len;
            cnt = 1;
            n = transport_splice(c->tp, c->ev.fd, pp->rfd, asked, q->cur + 1 < q->nseg);
            if (n == 0) return IO_ERROR; /* the pipe has less than it should */
            if (n > 0) pp->held -= (size_t)n;
        } else {
            off_t off = (off_t)s->off;
            asked = s->len > (1u << 30) ? (1u << 30) : s->len;
            cnt = asked == s->len;
            n = transport_sendfile(c->tp, c->ev.fd, s->fd, &off, asked);
            if (n == 0) return IO_ERROR; /* the file shrank under us */
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                c->writable = 0;
                /* The transport waits for input the socket has not got:
                 * its next edge wakes the write (can_write). */
                if (transport_pending(c->tp) & TRANSPORT_WRITE_ON_READABLE) c->readable = 0;
                return IO_AGAIN;
            }
            return IO_ERROR;
        }
        counter_add(&c->w->ctr, WC_BYTES_OUT, (uint64_t)n);
        size_t left = (size_t)n;
        if (left == asked && cnt) { /* all of it: nothing of those is read again */
            q->cur += cnt;
            continue;
        }
        while (left && q->cur < q->nseg) {
            out_seg *t = &q->seg[q->cur];
            size_t k = left < t->len ? left : t->len;
            if (t->p)
                t->p += k;
            else if (t->fd != OUTQ_PIPE)
                t->off += k;
            t->len -= k;
            left -= k;
            if (t->len == 0) q->cur++;
        }
        /* A short write means the socket buffer is full. */
        if ((size_t)n < asked) c->writable = 0;
    }
    return IO_DONE;
}

/* ---- errors ---- */

/* head: whether the answer goes without a body, for a request refused
 * before it had a request object (-1: the request's method says). */
static void reply_to(conn *c, int status, const char *why, int keep, const char *extra,
                     size_t extra_len, int head)
{
    worker *l = c->w;
    struct htd_req *hr = conn_current(c);
    if (hr) { /* answered: nothing of it goes on */
        hr->responded = 1;
        hr->gen = NULL;
        hr->filter = NULL;
        hr->filter_more = 0;
        hr->sink = NULL;
        hr->reading = hr->waiting = 0;
    }
    if (hr && hr->refused) { /* a header filter's answer stands in for the response */
        if (!keep) c->keep_alive = 0;
        c->state = CS_WRITE;
        return;
    }
    conn_out_rollback(c);
    if (!keep) c->keep_alive = 0;
    c->head_only = hr ? hr->r->method_id == HTD_M_HEAD : head > 0;
    const registry *reg = &l->srv->reg;
    /* An error page of a module's, for the requests that would get a body. */
    if (hr && status >= 400 && (hr->r->method_id == HTD_M_GET || c->head_only)) {
        for (size_t i = 0; i < reg->npage; i++) {
            if (reg->page_mod[i]->error_page(hr, status, extra, extra_len) == 0) {
                conn_seal(c);
                c->state = CS_WRITE;
                return;
            }
        }
    }
    char body[256];
    size_t len = strlen(why);
    if (len > sizeof body - 2) len = sizeof body - 2;
    memcpy(body, why, len);
    body[len++] = '\n';
    resp r = {.status = status,
              .ctype = "text/plain; charset=utf-8",
              .length = (int64_t)len,
              .extra = extra,
              .extra_len = extra_len};
    if (status == 405 && !extra) {
        r.extra = "Allow: GET, HEAD, OPTIONS\r\n";
        for (size_t i = 0; hr && i < reg->n; i++) {
            const char *a = reg->mods[i]->allow ? reg->mods[i]->allow(hr) : NULL;
            if (a) r.extra = a;
        }
        r.extra_len = strlen(r.extra);
    }
    if (response_head(c, &r) < 0) {
        /* Too large with the configured headers: the bare error, and the
         * connection ends after it. */
        conn_out_rollback(c);
        c->keep_alive = 0;
        size_t rule_hdrs_len = hr ? hr->rule_hdrs_len : 0;
        if (hr) hr->rule_hdrs_len = 0;
        r.extra = NULL;
        r.extra_len = 0;
        response_head(c, &r);
        if (hr) hr->rule_hdrs_len = rule_hdrs_len;
    }
    conn_out_copy(c, body, len);
    conn_seal(c);
    conn_log(c, status, len);
    c->state = CS_WRITE;
}

static void reply(conn *c, int status, const char *why, int keep, const char *extra,
                  size_t extra_len)
{
    reply_to(c, status, why, keep, extra, extra_len, -1);
}

void conn_busy(conn *c)
{
    static const char later[] = "Retry-After: 5\r\n";
    reply(c, 503, "the server has no memory for more requests just now", 0, later,
          sizeof later - 1);
}

void conn_error(conn *c, int status, const char *why, int keep)
{
    reply(c, status, why, keep, NULL, 0);
}

void conn_answer(conn *c, int status, const char *why, const char *extra, size_t extra_len)
{
    reply(c, status, why, 1, extra, extra_len);
}

/* ---- request bodies ---- */

/* min_body_rate: whether the body of c's request, having just taken n more
 * bytes, has kept up over each whole window since it began. A window is
 * judged when a read ends it, and reads come at least every body timeout,
 * so a trickle holds the connection at most a window and a timeout. */
static int body_too_slow(conn *c, size_t n)
{
    const htd_config *cfg = &c->w->srv->cfg;
    conn_body *b = c->bd;
    if (!cfg->min_body_rate || b->left == CONN_STREAM) return 0; /* a tunnel may idle */
    uint32_t now = (uint32_t)c->w->now | 1;                      /* 0 means "no window yet" */
    uint32_t window = cfg->min_body_window_ms ? cfg->min_body_window_ms : 10000;
    if (!b->window_at) b->window_at = now;
    b->window_bytes = n > UINT32_MAX - b->window_bytes ? UINT32_MAX : b->window_bytes + (uint32_t)n;
    uint32_t spent = now - b->window_at; /* wraps as the clock does */
    if (spent < window) return 0;
    if (b->window_bytes != UINT32_MAX &&
        (uint64_t)b->window_bytes * 1000 < (uint64_t)cfg->min_body_rate * spent)
        return 1;
    b->window_at = now;
    b->window_bytes = 0;
    return 0;
}

int conn_body_take(conn *c, char *p, size_t avail, size_t *consumed, size_t *dlen, const char **why)
{
    int done;
    conn_body *b = c->bd;
    if (!b) { /* all of it was taken before */
        *consumed = *dlen = 0;
        return 1;
    }
    if (b->is_chunked) {
        ssize_t n = htd_chunked_decode(&b->chunked, p, avail, dlen, why);
        if (n < 0) return -400;
        *consumed = (size_t)n;
        done = b->chunked.done;
    } else {
        size_t k = avail < b->left ? avail : (size_t)b->left;
        if (b->left != CONN_STREAM) b->left -= k;
        *consumed = *dlen = k;
        done = b->left == 0;
    }
    if (done) {
        drop_framing(c);
    } else if (body_too_slow(c, *consumed)) {
        *why = "the request body arrived too slowly";
        return -408;
    }
    return done;
}

/* ---- the phases ---- */

/* The framing of r's body, if it has one: 0, or -1 for want of memory. */
static int start_request_framing(conn *c, const htd_request *r)
{
    if (!r->chunked && r->content_length <= 0) {
        drop_framing(c);
        return 0;
    }
    return new_framing(c, r->chunked, r->chunked ? 0 : (uint64_t)r->content_length);
}

/* The phases are over for c's request: it was answered here and now, or a
 * module took it over (a script, an upload) and set the state itself. */
static void ran(conn *c)
{
    if (c->state == CS_HEAD) c->state = c->req->gen ? CS_GEN : c->req->sink ? CS_SINK : CS_WRITE;
    conn_seal(c);
    req_drop_body(c->req, &c->w->mem);
}

/* Asks the modules of each phase in turn, from where the request is (it
 * may be resuming), until one answers, takes it over or suspends it. */
static void run_phases(conn *c)
{
    struct htd_req *hr = c->req;
    const registry *reg = &c->w->srv->reg;
    /* Counted in locals, which the calls cannot change; the request is told
     * where it is before each call, so that one suspended resumes there. */
    size_t ph = hr->phase, m = hr->mod;
    for (; ph < PH_COUNT; ph++, m = 0) {
        for (size_t n = reg->nphase[ph]; m < n; m++) {
            hr->phase = (uint8_t)ph;
            hr->mod = (uint8_t)m;
            int rc = reg->phase[ph][m](hr);
            if (rc == MOD_DECLINED) continue;
            if (rc == MOD_AGAIN) return;
            if (rc != MOD_DONE) conn_error(c, rc, htd_reason(rc), 1);
            ran(c);
            return;
        }
    }
    hr->phase = PH_COUNT;
    hr->mod = 0;
    conn_error(c, 404, "no such resource", 1);
    ran(c);
}

/* Called with a whole head of head_len bytes at rpos parsed into c->req. */
static void on_head(conn *c, size_t head_len)
{
    worker *l = c->w;
    const server_ctx *s = l->srv;
    struct htd_req *hr = c->req;
    c->rpos += (uint32_t)head_len;
    htd_request *r = hr->r;

    c->nreq++;
    c->started = 0;
    c->keep_alive = r->keep_alive && c->nreq < s->cfg.max_requests && !l->stopping;
    c->client_ends = !r->keep_alive;
    hr->keep_alive = c->keep_alive;
    c->http09 = r->version == 9;
    c->http10 = r->version == 10;
    c->head_only = r->method_id == HTD_M_HEAD;
    if (start_request_framing(c, r) < 0) { /* no memory to follow its body with */
        conn_busy(c);
        return;
    }

    const char *why;
    if (r->method_id == HTD_M_UNKNOWN) {
        conn_error(c, 501, "request method not implemented", 1);
        return;
    }
    /* Decoding and removing dot segments only ever shorten a path. */
    size_t cap = r->path.len + 2 < REQ_PATH_MAX + 1 ? r->path.len + 2 : REQ_PATH_MAX + 1;
    if (!(hr->path = arena_alloc(&hr->mem, cap))) {
        conn_error(c, 500, "out of memory", 0);
        return;
    }
    int n;
    if (r->path.len == 1 && r->path.p[0] == '*') {
        n = 1;
        hr->path[0] = '*';
        hr->path[1] = 0;
    } else {
        int dotless;
        n = htd_path_normalize_dotless(r->path.p, r->path.len, hr->path, cap, &why, &dotless);
        hr->path_dotless = (uint8_t)dotless;
    }
    if (n < 0) {
        conn_error(c, 400, why, 0); /* traversal or NUL: a hostile client */
        return;
    }
    hr->path_len = (size_t)n;
    run_phases(c);
}

static void send_continue(conn *c)
{
    /* Queued, so it cannot overtake pipelined responses before it. */
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    int head_only = c->head_only;
    c->head_only = 0;
    conn_out_copy(c, cont, sizeof cont - 1);
    conn_seal(c);
    c->head_only = head_only;
}

void conn_take_body(conn *c)
{
    struct htd_req *hr = c->req;
    hr->body_taken = 1;
    /* A client that waits to be told to send its body is told now, once,
     * unless some of it has come already. */
    if (!hr->continued && conn_body_pending(c) && hr->r->expect_continue && hr->r->version == 11 &&
        c->rpos == c->rlen) {
        hr->continued = 1;
        send_continue(c);
    }
}

int conn_take_stream(conn *c)
{
    if (new_framing(c, 0, CONN_STREAM) < 0) return -1;
    c->keep_alive = 0;
    conn_take_body(c);
    return 0;
}

void conn_read_body(conn *c)
{
    conn_take_body(c);
    c->req->reading = 1;
    c->req->body_len = 0;
    c->state = CS_BODY;
    arm(c, T_BODY);
}

/* BODY: moves body bytes from the read buffer to c->body until it is
 * whole, then goes back to the module that asked for it. */
static int read_body_step(conn *c)
{
    worker *l = c->w;
    const char *why = "malformed chunked body";
    size_t avail = c->rlen - c->rpos, consumed, dlen;
    int done = conn_body_take(c, c->rbuf + c->rpos, avail, &consumed, &dlen, &why);
    if (done < 0) {
        conn_error(c, -done, why, 0);
        return 0;
    }
    struct htd_req *hr = c->req;
    uint64_t max = hr->body_max ? hr->body_max : l->srv->cfg.max_body;
    if (hr->body_len + dlen > max) {
        conn_error(c, 413, "request body larger than the server accepts", 0);
        return 0;
    }
    if (dlen) {
        if (hr->body_len + dlen > hr->body_cap) {
            size_t cap = hr->body_cap ? hr->body_cap : 4096;
            while (cap < hr->body_len + dlen)
                cap *= 2;
            if (budget_over(&l->mem, cap - hr->body_cap)) {
                conn_busy(c);
                return 1;
            }
            char *nb = realloc(hr->body_buf, cap);
            if (!nb) {
                conn_error(c, 500, "out of memory", 0);
                return 0;
            }
            budget_add(&l->mem, cap - hr->body_cap);
            hr->body_buf = nb;
            hr->body_cap = cap;
        }
        memcpy(hr->body_buf + hr->body_len, c->rbuf + c->rpos, dlen);
        hr->body_len += dlen;
    }
    c->rpos += (uint32_t)consumed;
    if (!done) return 0;
    hr->body = (htd_str){hr->body_buf, hr->body_len};
    c->req->reading = 0;
    c->state = CS_HEAD;
    run_phases(c);
    return 1;
}

/* ---- the state machine ---- */

/* Reads into the read buffer. IO_DONE if bytes arrived, IO_AGAIN if none,
 * IO_ERROR on end of stream or error. */
int conn_fill(conn *c)
{
    worker *l = c->w;
    if (!c->rbuf) {
        c->rbuf = pool_get(&l->rbufs);
        if (!c->rbuf) return IO_ERROR;
        c->rpos = c->rlen = 0;
    }
    /* Keep what is pending at the front, so that a head can use the whole
     * buffer. */
    if (c->rpos) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    size_t room = RBUF_SIZE - c->rlen;
    /* The parser answers 414 or 431 before the buffer is full. */
    if (room == 0) return IO_ERROR;
    ssize_t n = transport_read(c->tp, c->ev.fd, c->rbuf + c->rlen, room);
    if (n > 0) {
        c->rlen += (uint32_t)n;
        counter_add(&c->w->ctr, WC_BYTES_IN, (uint64_t)n);
        /* A short read drained the data, but not a close queued behind it:
         * epoll reported that with the data (EPOLLRDHUP, c->hup) and will
         * not again, so the socket stays readable until a read says EOF. */
        if ((size_t)n < room && !c->hup) c->readable = 0;
        return IO_DONE;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        c->readable = 0;
        release_rbuf(c);
        /* The transport's read waits for room to write (a handshake flight
         * the socket could not take): the next EPOLLOUT wakes the read
         * (conn_can_read). */
        if (transport_pending(c->tp) & TRANSPORT_READ_ON_WRITABLE) {
            c->writable = 0;
            if (watch_output(c) < 0) return IO_ERROR;
        }
        return IO_AGAIN;
    }
    return IO_ERROR;
}

/* Where c's request goes on once the out queue is sent, if it is not over:
 * it waits for a module, its generator or sink has more, or its body is
 * being read. 0 when its response is wholly queued. */
static int continuation(const conn *c)
{
    const struct htd_req *hr = c->req;
    if (!hr || !hr->r) return 0;
    if (hr->waiting) return CS_WAIT;
    if (hr->gen || hr->filter_more) return CS_GEN;
    if (hr->sink) return CS_SINK;
    return hr->reading ? CS_BODY : 0;
}

/* Can the next pipelined request be answered into the queue before writing? */
static int batchable(const conn *c)
{
    const outq *q = c->out;
    return q && c->keep_alive && !c->http09 && c->rpos < c->rlen && !c->started &&
           !conn_body_pending(c) && !q->heap && !continuation(c) && q->nholds + 2 <= OUTQ_HOLDS &&
           /* room for the largest response a request can make: a multipart
            * one with HTD_MAX_RANGES parts */
           q->nseg + 2 * HTD_MAX_RANGES + 4 <= OUTQ_SEGS && q->dlen + 6144 <= OUTQ_DATA;
}

/* After a response is out: decide between the next request, discarding the
 * rest of a body, and closing. Returns 0 if c was closed. */
static int response_done(conn *c)
{
    conn_out_release(c);
    int next = continuation(c);
    if (next) { /* a body after a 100 Continue; a script's or compressor's next piece */
        c->state = next;
        if (c->state == CS_BODY || c->state == CS_SINK)
            arm(c, T_BODY);
        else
            htd_timer_disarm(
                &c->timer); /* CGI has its own limit; WAIT and GZIP arm what they wait on */
        return 1;
    }
    if (!c->keep_alive || c->http09) {
        /* At once only if the client said this request was its last and
         * nothing more has come. */
        if (c->client_ends && c->rpos == c->rlen && !conn_body_pending(c) && !c->readable) {
            conn_close(c);
            return 0;
        }
        /* Else shut our side and drain theirs before closing: a client that
         * did not expect the close (an error, the request limit) may still
         * be sending, and the kernel would answer those bytes with a reset
         * that destroys the responses still in flight (RFC 9112 section 9.6). */
        transport_shutdown(c->tp, c->ev.fd);
        c->rpos = c->rlen;
        c->state = CS_LINGER;
        arm(c, T_LINGER);
        return 1;
    }
    c->state = conn_body_pending(c) ? CS_DISCARD : CS_HEAD;
    /* A send that had to wait ran on the send timer; waiting for the
     * client again runs on the timer of what is awaited. */
    if (c->timer_kind == T_SEND)
        arm(c, c->state == CS_DISCARD ? T_BODY : c->rpos < c->rlen ? T_HEADER : T_IDLE);
    return 1;
}

/* BODY and UPLOAD: what is queued (a 100 Continue, earlier pipelined
 * responses) goes out first; then more of the body is read. 1 if bytes
 * arrived, 0 if c must wait for the socket (or was closed). */
static int read_body_more(conn *c)
{
    if (c->out) {
        c->state = CS_WRITE; /* and back to the body: continuation */
        return 1;
    }
    if (!conn_can_read(c)) {
        if (c->timer_kind != T_BODY || !c->timer.next) arm(c, T_BODY);
        return 0;
    }
    switch (conn_fill(c)) {
    case IO_AGAIN:
        if (c->timer_kind != T_BODY || !c->timer.next) arm(c, T_BODY);
        return 0;
    case IO_ERROR:
        conn_close(c);
        return 0;
    }
    arm(c, T_BODY);
    return 1;
}

void conn_wait(conn *c)
{
    /* Until it resumes, the request has not happened: earlier pipelined
     * responses going out meanwhile are judged by their own keep-alive, and
     * its body is neither read nor taken for a request (its framing comes
     * back with it). */
    c->keep_alive = 1;
    if (c->bd) c->bd->parked = 1; /* the request's again when it resumes */
    c->req->resumed = 0;
    c->req->waiting = 1;
    c->state = CS_WAIT;
    c->w->jobs_out++;
}

void conn_resume_request(conn *c)
{
    c->w->jobs_out--;
    c->req->resumed = 1;
    /* Still sending earlier responses: the phases go on once they are out. */
    if (c->state == CS_WAIT) conn_run(c);
}

/* WAIT, and what the request waited for is back: the answer of a handler's
 * from another thread, or a module's job, after which the phases run
 * again. */
static void resume_phases(conn *c)
{
    struct htd_req *hr = c->req;
    hr->waiting = 0;
    c->keep_alive = hr->keep_alive;
    /* What is still to come of its body (its framing was kept, parked) is
     * again its own, to read or to drop, with a new rate window; a body a
     * module read whole before it waited (a handler's, a queue's) has none
     * left, and the next bytes are the next request's. */
    if (c->bd) {
        c->bd->parked = 0;
        c->bd->window_at = c->bd->window_bytes = 0;
    }
    c->state = CS_HEAD;
    if (hr->async) {
        hr->async = 0;
        hr->async_fn(hr, hr->async_arg);
        atomic_store(&hr->resume_called, 0); /* a later handler may suspend it again */
        /* An access handler that answers nothing lets the request go on. */
        if (!hr->responded && hr->phase == PH_ACCESS) {
            run_phases(c);
            return;
        }
        if (!hr->responded) conn_error(c, 500, "the handler did not respond", 1);
        ran(c);
        return;
    }
    /* The worker's site may have been reloaded meanwhile: the vhost and
     * rule are chosen again under the new one, then the module that waited
     * is asked again. */
    const registry *reg = &c->w->srv->reg;
    for (size_t i = 0; i < reg->nphase[PH_REWRITE]; i++)
        reg->phase[PH_REWRITE][i](hr);
    run_phases(c);
}

void conn_arm_body_timer(conn *c)
{
    if (c->timer_kind != T_BODY || !c->timer.next) arm(c, T_BODY);
}

void conn_resume(conn *c)
{
    conn_run(c);
}

void conn_gate_open(conn *c, conn_gate *g)
{
    g->open = 1;
    if (c->state == CS_WRITE) conn_run(c);
}

/* Each state's step: 1 to go on with the state it leaves c in, 0 when c
 * must wait (for the socket, a module, a timer) or was closed. */

/* WRITE: sends what is queued, or first answers more pipelined requests
 * into the same queue. */
static int step_write(conn *c)
{
    /* The response is wholly queued: the request is over. */
    if (!continuation(c)) req_done(c);
    if (batchable(c)) {
        /* More pipelined requests are buffered: answer them into the same
         * queue, and write once. */
        c->state = CS_HEAD;
        return 1;
    }
    int r = c->out ? flush(c) : IO_DONE;
    if (r == IO_GATE) { /* conn_gate_open runs it again */
        arm(c, T_SEND);
        return 0;
    }
    if (r == IO_AGAIN) {
        arm(c, T_SEND);
        if (watch_output(c) < 0) conn_close(c); /* nothing would wake it */
        return 0;
    }
    if (r == IO_ERROR) {
        conn_close(c);
        return 0;
    }
    if (!response_done(c)) return 0;
    return !(c->state == CS_LINGER && !c->readable);
}

/* Marks that some of a head has come, on the header timer. */
static void head_started(conn *c)
{
    if (c->started) return;
    c->started = 1;
    arm(c, T_HEADER);
}

/* Reads what the socket has of a head: 1 if bytes came, 0 if none yet or
 * if the stream ended (c is then closed). */
static int read_more(conn *c)
{
    if (!conn_can_read(c)) return 0;
    switch (conn_fill(c)) {
    case IO_AGAIN:
        return 0;
    case IO_ERROR:
        conn_close(c);
        return 0;
    }
    return 1;
}

/* HEAD on a proxy_protocol listener, before the first request: the proxy's
 * header, which names the client (or says to keep the peer: its own health
 * checks). Anything else is not from the proxy: the connection closes,
 * unanswered, as nginx does. */
static int step_proxy_header(conn *c)
{
    if (c->rpos < c->rlen) {
        htd_proxy_hdr h;
        const char *why;
        int n = htd_proxy_parse(c->rbuf + c->rpos, c->rlen - c->rpos, &h, NULL, &why);
        if (n < 0) {
            conn_close(c);
            return 0;
        }
        if (n > 0) {
            if (!h.local) c->peer = h.src;
            c->rpos += (uint32_t)n;
            c->proxy_header = 0;
            if (open_modules(c) < 0) { /* over a limit for the client it names */
                conn_close(c);
                return 0;
            }
            return 1;
        }
    }
    head_started(c); /* the header timeout covers the proxy's header too */
    return read_more(c);
}

/* HEAD: parses what is buffered, runs the phases of a whole head, or reads
 * more (an idle connection waits on the idle timer, holding no buffer). */
static int step_head(conn *c)
{
    worker *l = c->w;
    if (c->proxy_header) return step_proxy_header(c);
again:
    if (c->rpos < c->rlen) {
        const char *why = "bad request";
        if (c->req && c->req->r) req_done(c); /* ended without a queued response */
        if (!c->req && budget_over(&l->mem, REQ_BLOCK)) {
            /* Out of its memory budget: no new request, before any of it is
             * parsed; those under way finish and free what they hold. */
            conn_busy(c);
            return 1;
        }
        if (!c->req) {
            if (!(c->req = req_new(&l->reqs, c, l))) {
                conn_close(c);
                return 0;
            }
            c->req->client = c->peer;
            c->req->start_ms = l->now;
            counter_add(&l->ctr, WC_CONN_ACTIVE, 1);
        }
        int n = req_read_head(c->req, c->rbuf + c->rpos, c->rlen - c->rpos, RBUF_SIZE, &why);
        if (n > 0) {
            on_head(c, (size_t)n);
            return 1;
        }
        if (n < 0) {
            reply_to(c, -n, why, 0, NULL, 0,
                     htd_refused_is_head(c->rbuf + c->rpos, c->rlen - c->rpos));
            return 1;
        }
        head_started(c);
        if (c->out) {
            c->state = CS_WRITE; /* send the batch before waiting */
            return 1;
        }
    } else if (c->out) {
        c->state = CS_WRITE;
        return 1;
    } else if (l->stopping) {
        conn_close(c);
        return 0;
    } else {
        c->started = 0;
        release_rbuf(c);
        req_done(c);
        int kind = c->nreq ? T_IDLE : T_HEADER;
        if (!c->timer.next || c->timer_kind != kind) arm(c, kind);
    }
    if (!read_more(c)) return 0;
    head_started(c);
    goto again; /* what came is parsed here, not in another turn of conn_run */
}

/* BODY: the body for a handler, from the buffer, then the socket. */
static int step_body(conn *c)
{
    if (c->rpos < c->rlen) {
        read_body_step(c);
        if (c->state != CS_BODY) return 1;
    }
    return read_body_more(c);
}

/* DISCARD: reads and drops the body of a request already answered. */
static int step_discard(conn *c)
{
    if (c->w->stopping) { /* the response is out; no more will follow */
        conn_close(c);
        return 0;
    }
    if (c->rpos < c->rlen) {
        const char *why = "malformed chunked body";
        size_t consumed, dlen;
        int done = conn_body_take(c, c->rbuf + c->rpos, c->rlen - c->rpos, &consumed, &dlen, &why);
        if (done < 0) {
            /* The response is out, and nothing can follow it; but it may
             * still be on its way while the client goes on sending, which a
             * closed socket would answer with a reset that destroys it: shut
             * our side and drain theirs first, as response_done does. */
            transport_shutdown(c->tp, c->ev.fd);
            c->rpos = c->rlen;
            c->state = CS_LINGER;
            arm(c, T_LINGER);
            return 1;
        }
        c->rpos += (uint32_t)consumed;
        if (done) {
            c->state = CS_HEAD;
            return 1;
        }
    }
    if (!conn_can_read(c)) {
        arm(c, T_BODY);
        return 0;
    }
    c->rpos = c->rlen = 0;
    switch (conn_fill(c)) {
    case IO_AGAIN:
        arm(c, T_BODY);
        return 0;
    case IO_ERROR:
        conn_close(c);
        return 0;
    }
    return 1;
}

/* GEN: the generator's next piece, once what is queued is out; first the
 * rest of what its filter was given, even after the generator's last. */
static void gen_turn(soon *s)
{
    struct htd_req *hr = (struct htd_req *)((char *)s - offsetof(struct htd_req, turn));
    conn_run(hr->c);
}

static int step_gen(conn *c)
{
    if (c->out) { /* a 100 Continue, earlier responses, the last piece */
        c->state = CS_WRITE;
        return 1;
    }
    /* A piece may be long (a body compressed as it goes): after one in this
     * run, once the loop's turn has spent its budget, the rest waits for a
     * coming turn, so that a few large responses cannot hold up the
     * requests of every other connection of the loop. */
    struct htd_req *hr = c->req;
    if (hr->gen_ran && loop_turn_us(c->w->loop) >= LOOP_SOON_BUDGET_US) {
        /* No timer runs meanwhile, as none does while a generator works
         * (response_done): the connection is not waiting for its client. */
        loop_soon(c->w->loop, &hr->turn, gen_turn);
        return 0;
    }
    hr->gen_ran = 1;
    int rc;
    if (!c->req->filter_more)
        rc = c->req->gen(c);
    else if (response_body_more(c) == 0)
        rc = GEN_MORE;
    else {
        conn_close(c);
        rc = GEN_GONE;
    }
    switch (rc) {
    case GEN_MORE:
        c->state = CS_WRITE;
        return 1;
    case GEN_DONE:
        c->req->gen = NULL;
        c->state = CS_WRITE;
        return 1;
    default: /* GEN_WAIT, GEN_GONE */
        return 0;
    }
}

/* WAIT: earlier responses go out meanwhile; then the request goes on once
 * its module or handler is back. */
static int step_wait(conn *c)
{
    if (c->out) {
        c->state = CS_WRITE;
        return 1;
    }
    if (c->req->resumed) {
        resume_phases(c);
        return 1;
    }
    if (!c->timer.next || c->timer_kind != T_SEND) arm(c, T_SEND);
    return 0; /* conn_resume_request goes on */
}

/* SINK: what is buffered of the body to the module's sink. */
static int step_sink(conn *c)
{
    switch (c->req->sink(c)) {
    case SINK_MORE:
        return read_body_more(c);
    case SINK_WAIT:
        if (c->out) { /* a 100 Continue, earlier responses: out meanwhile */
            c->state = CS_WRITE;
            return 1;
        }
        htd_timer_disarm(&c->timer); /* the module's time is not the client's */
        return 0;
    case SINK_DONE:
        c->req->sink = NULL;
        c->state = CS_WRITE;
        return 1;
    default: /* SINK_GONE */
        return 0;
    }
}

/* LINGER: drains the client's last bytes until it closes. */
static int step_linger(conn *c)
{
    char sink[4096];
    for (;;) {
        ssize_t n = transport_read(c->tp, c->ev.fd, sink, sizeof sink);
        if (n > 0) continue;
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            c->readable = 0;
            return 0;
        }
        conn_close(c);
        return 0;
    }
}

static void conn_run(conn *c)
{
    static int (*const step[])(conn *) = {
        [CS_HEAD] = step_head,       [CS_BODY] = step_body,     [CS_WRITE] = step_write,
        [CS_DISCARD] = step_discard, [CS_LINGER] = step_linger, [CS_SINK] = step_sink,
        [CS_WAIT] = step_wait,       [CS_GEN] = step_gen,
    };
    if (c->req) c->req->gen_ran = 0;
    while (step[c->state](c)) {
    }
}
