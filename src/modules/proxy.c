/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * proxy.c - the reverse proxy, as a content module: a request under a
 * scope with `proxy` goes to a server of that upstream group, and its
 * response comes back to the client as it arrives.
 *
 * Each loop keeps its own idle keep-alive connections to the servers (a
 * list per address, newest first, at most `keepalive` per server, the
 * oldest closed first), so a connection is only ever used by the loop
 * that made it, with no lock. The upstream
 * socket is a watcher of the loop; its events run the request's generator
 * again (conn_resume), as a script's pipes do (cgi.c).
 *
 * Both ways stream through one buffer each, with back-pressure: the
 * request body is read from the client only once the server has taken the
 * previous piece, and the server is read again only once the client has
 * taken the previous piece of the response. A slow side slows the other,
 * and memory per request stays two buffers, and the copy of the request
 * body kept for a retry (at most retry_body_max, of what was sent).
 *
 * The server's response head is parsed as strictly as requests are
 * (htd_parse_response): a malformed head, both Content-Length and
 * Transfer-Encoding, a bad chunk, or a body shorter than its length is a
 * 502 before the head went out, and a cut connection after, never passed
 * on. Hop-by-hop fields are dropped both ways; Via, X-Forwarded-For,
 * X-Forwarded-Proto, X-Forwarded-Host and Forwarded are set.
 *
 * A 200 that htd changes (compressed on the fly; a scope's proxy_headers,
 * or its proxy_body_append put into HTML as it streams by) is a 203, the
 * content no longer the origin's; Cache-Control: no-transform forbids it.
 * A HEAD gets the head the GET would, overlay and all. A kept copy
 * (keep_copies) is the origin's response, overlaid as it is served.
 *
 * Failures: a server refusing, resetting or answering badly is 502; one
 * not connecting, answering or taking the request in time is 504. A
 * request that failed before any byte of a response came is tried again
 * once on another server if it is idempotent and all it sent is kept, and
 * on a fresh connection when a kept one turned out closed; one whose
 * connect failed, whatever its method. A server failing
 * max_fails times in a row is left out for fail_timeout, and one failing
 * its group's health check until it passes (proxy_health.c); with every
 * server out, 502 at once.
 */
#include "proxy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chunked.h"
#include "conn.h"
#include "encoding.h"
#include "errlog.h"
#include "fields.h"
#include "gzip.h"
#include "jobs.h"
#include "log.h"
#include "pool.h"
#include "proxy_health.h"
#include "req.h"
#include "response.h"
#include "site.h"

#define PX_IN 65536  /* response bytes read from the server at once: a 64 KiB body in one send */
#define PX_OUT 24576 /* the request head (up to RBUF_SIZE and what is added), or body bytes */
/* A response whose body may be spliced is read 4 KiB at a time until its
 * head is whole, so that most of a large body is left in the socket for
 * splice(2); the whole of a small one comes with the head all the same. */
#define PX_HEAD_READ 4096
#define PX_SPLICE_MIN 32768 /* body bytes still to come for splicing to be worth a pipe */
/* Bytes put in a pipe at once, and the size asked for it: a socket's
 * pieces of a page or less each take one of a pipe's slots (16 by default,
 * which can leave 64 KiB two calls). */
#define PX_PIPE (256 * 1024)
#define PX_PIPES_KEPT 64 /* empty pipes a loop keeps for the next spliced bodies */
/* SO_RCVBUF of a server's connection that splices (the kernel doubles it,
 * and caps it at net.core.rmem_max). */
#define PX_RCVBUF (1024 * 1024)
/* Requests' structs a loop keeps for the next ones (about 90 KiB each, of
 * which a request touches the few KiB it uses): as many as the requests a
 * busy loop has under way, so that none is a malloc and a free. */
#define PX_KEPT 64

typedef struct proxy proxy;
typedef struct pxloop pxloop;

/* A pipe that a body goes through from the server's socket to the
 * client's without being copied into htd (splice(2) both ways): the
 * request's while it splices, and the client's out queue's while bytes of
 * it are queued (a hold each); empty, it goes back to its loop's list. */
typedef struct pxpipe {
    out_pipe op; /* first: the queue's view (the read end, bytes held) */
    int wfd;
    unsigned refs;
    pxloop *pl;
    struct pxpipe *next; /* in pl->pipes, while unused */
} pxpipe;

/* A loop's idle connections to one address (whichever groups name it),
 * newest first: taking one and keeping one cost the same however many
 * wait. */
typedef struct idleset {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    unsigned n;
    struct upconn *first, *last;
    struct idleset *next; /* in pl->sets */
} idleset;

/* A connection to an upstream server: a request's, or idle in its
 * address's set. */
typedef struct upconn {
    watcher ev; /* first */
    int fd;
    idleset *set;               /* its address's */
    struct upconn *prev, *next; /* in set, while idle */
    unsigned keep;              /* the upstream's keepalive when it went idle */
    /* Bytes may be waiting: input came (its edge) and no read since found
     * the socket empty (EAGAIN, or less than asked). Such a connection is
     * not kept: what waits would be read as the next request's response,
     * and its edge is spent. */
    uint8_t readable;
    uint8_t rcvbuf_set; /* its receive buffer is PX_RCVBUF (splice_body) */
    proxy *px;          /* NULL while idle */
    pxloop *pl;
} upconn;

/* A loop's proxy state: its idle connections and its requests under way,
 * whose deadlines a tick once a second looks at. */
struct pxloop {
    worker *w;
    idleset *sets; /* one per address connected to */
    proxy *active;
    htd_timer_list *ticks;
    htd_timer tick;
    health *hc;    /* loop 0's: the health checks */
    pxpipe *pipes; /* empty ones, for the next spliced body */
    unsigned npipes;
    pool pxs; /* the requests' structs */
};

enum { PX_SEND, PX_HEAD, PX_BODY, PX_TUNNEL, PX_DONE };

struct proxy {
    conn *c; /* NULL once the request let go */
    pxloop *pl;
    site *st; /* held: the upstream lives in it */
    const upstream *u;
    int server;  /* in u->servers, or -1 */
    int retried; /* once, on another server */
    upconn *up;
    proxy *prev, *next; /* in pl->active */
    uint64_t deadline;  /* ms (loop_now), 0: none */
    uint64_t began;     /* ms (loop_now): the first try, for $upstream_time */
    uint8_t state, connecting, reused;
    uint8_t timeout_504; /* what the deadline means: 504 (else a cut) */
    uint8_t has_body, body_done, req_chunked, bodyless, head_sent, chunked_out, up_close;
    uint8_t idempotent, finished, counted;
    uint8_t blamed;  /* the attempt's failure is counted against its server */
    uint8_t upgrade; /* the client asked to switch protocols (WebSocket) */
    uint8_t client_done;
    uint8_t gz; /* compressed on the fly: the body goes through gzip's filter */
    /* The client's transport can take a pipe's bytes and the response will
     * have a body: its head is read PX_HEAD_READ at a time, and a long body
     * that comes as it is goes through a pipe. */
    uint8_t may_splice;
    pxpipe *pipe;
    /* proxy_body_append under way (for a HEAD, would be: no ov then): each
     * piece is rewritten into ov with the text put in before "</body", and
     * the end of a piece that may be the start of one is held back (hold)
     * for the next. */
    uint8_t ov_body, ov_done, hold_len;
    char hold[8];
    char *ov;
    size_t ov_cap;
    /* keep_copies: the copy's name, and the copy being made of a 200 */
    char key[2 * 32 + 1];
    char *cbuf;
    size_t clen, ccap;
    int status;
    int64_t left; /* response body bytes still due (Content-Length), or -1 */
    uint8_t up_chunked;
    htd_chunked dec;
    uint64_t sent; /* response body bytes queued for the client */
    uint64_t got;  /* bytes read from the server */
    size_t head_len;
    size_t o_len, o_off, i_len;
    /* The request as sent so far, for a retry (retry_body_max): the head,
     * then the body as framed for the server, so that another server gets
     * the same bytes. NULL once beyond the bound, or for a request never
     * to be sent twice; r_off..r_len is what of it is being sent again. */
    char *rb;
    size_t rb_len, rb_cap, r_off, r_len;
    uint8_t body_begun; /* body bytes went into out: the head there is gone */
    /* From here on not zeroed for a new request, each part set before it
     * is read: the server's head (3 KiB of fields) and the buffers. */
    htd_head_parser hp;
    htd_response head;
    char out[PX_OUT];
    char in[PX_IN];
};

#define PX_OF(c) (*(proxy **)req_slot((c)->req, &proxy_module))

static void px_tick(htd_timer *t);

/* Is a part of the request still to go to the server? */
static int to_send(const proxy *px)
{
    return px->r_off < px->r_len || px->o_off < px->o_len;
}

/* The response head has come: the log's $upstream_time. */
static void upstream_time(conn *c, const proxy *px)
{
    uint64_t now = loop_now(c->w->loop);
    if (!c->req) return;
    c->req->log_upstream = 1;
    c->req->log_upstream_ms = (uint32_t)(now > px->began ? now - px->began : 0);
}

static pxloop *pxloop_of(worker *w)
{
    void **slot = loop_local(w->loop, &proxy_module);
    if (!slot) return NULL;
    if (!*slot) {
        pxloop *pl = calloc(1, sizeof *pl);
        if (!pl) return NULL;
        pl->w = w;
        pl->pxs = (pool){.size = sizeof(proxy), .max_free = PX_KEPT, .b = &w->mem};
        pl->ticks = loop_timers(w->loop, 1000, px_tick);
        if (!pl->ticks) {
            free(pl);
            return NULL;
        }
        *slot = pl;
    }
    return *slot;
}

/* ---- upstream connections ---- */

static void up_event(watcher *ev, uint32_t events);

static void up_close(upconn *uc)
{
    loop_unwatch(uc->pl->w->loop, &uc->ev);
    close(uc->fd);
    uc->fd = -1;
    /* Events further down this batch may point at it. */
    if (loop_later(uc->pl->w->loop, free, uc) < 0) uc->px = NULL; /* leaks rather than dangles */
}

/* sv's address's set of idle connections in pl; made if make, else NULL
 * when there is none yet (or no memory). */
static idleset *set_of(pxloop *pl, const upstream_server *sv, int make)
{
    for (idleset *s = pl->sets; s; s = s->next)
        if (s->addr_len == sv->addr_len && memcmp(&s->addr, &sv->addr, sv->addr_len) == 0) return s;
    if (!make) return NULL;
    idleset *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    memcpy(&s->addr, &sv->addr, sv->addr_len);
    s->addr_len = sv->addr_len;
    s->next = pl->sets;
    pl->sets = s;
    return s;
}

/* uc, idle, taken out of its set. */
static void unlink_idle(upconn *uc)
{
    idleset *s = uc->set;
    *(uc->prev ? &uc->prev->next : &s->first) = uc->next;
    *(uc->next ? &uc->next->prev : &s->last) = uc->prev;
    uc->prev = uc->next = NULL;
    s->n--;
}

/* The newest idle connection to sv, taken out of its set, or NULL. */
static upconn *take_idle(pxloop *pl, const upstream_server *sv)
{
    idleset *s = set_of(pl, sv, 0);
    upconn *uc = s ? s->first : NULL;
    if (uc) unlink_idle(uc);
    return uc;
}

/* uc's request is over and the connection can carry another: kept, the
 * oldest of its set closed if that has keepalive connections already. */
static void put_idle(upconn *uc, unsigned keep)
{
    idleset *s = uc->set;
    if (uc->readable || !s) keep = 0; /* something came after the response, or may have */
    if (keep == 0) {
        up_close(uc);
        return;
    }
    while (s->n >= keep) {
        upconn *old = s->last;
        unlink_idle(old);
        up_close(old);
    }
    uc->px = NULL;
    uc->keep = keep;
    uc->prev = NULL;
    uc->next = s->first;
    *(s->first ? &s->first->prev : &s->last) = uc;
    s->first = uc;
    s->n++;
}

/* Whether uc's socket is empty, looked at without taking a byte; if so,
 * it is not readable (upconn.readable) until its next edge. An error or
 * the end of the stream is not empty: the caller reads it. */
static int nothing_waits(upconn *uc)
{
    char b;
    if (recv(uc->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN) uc->readable = 0;
    return !uc->readable;
}

/* A new connection to sv, its connect under way: NULL with errno. */
static upconn *up_connect(pxloop *pl, const upstream_server *sv, int *now)
{
    int fd = socket(sv->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return NULL;
    if (sv->addr.ss_family != AF_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    *now = connect(fd, (const struct sockaddr *)&sv->addr, sv->addr_len) == 0;
    if (!*now && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e;
        return NULL;
    }
    upconn *uc = calloc(1, sizeof *uc);
    if (!uc) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    uc->fd = fd;
    uc->pl = pl;
    uc->set = set_of(pl, sv, 1); /* NULL (no memory): the connection is not kept */
    if (loop_watch(pl->w->loop, &uc->ev, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, up_event) <
        0) {
        int e = errno;
        close(fd);
        free(uc);
        errno = e;
        return NULL;
    }
    return uc;
}

/* ---- pipes, for bodies spliced through ---- */

static void pipe_close(pxpipe *pp)
{
    close(pp->op.rfd);
    close(pp->wfd);
    free(pp);
}

/* An empty pipe: one the loop kept, or a new one; NULL when none can be
 * had (no file descriptors left: the body is read and sent instead). */
static pxpipe *pipe_get(pxloop *pl)
{
    pxpipe *pp = pl->pipes;
    if (pp) {
        pl->pipes = pp->next;
        pl->npipes--;
    } else {
        int fds[2];
        if (!(pp = malloc(sizeof *pp))) return NULL;
        if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
            free(pp);
            return NULL;
        }
        *pp = (pxpipe){.op = {.rfd = fds[0]}, .wfd = fds[1], .pl = pl};
        (void)fcntl(fds[1], F_SETPIPE_SZ, PX_PIPE); /* beyond the user's pipe limit: as it is */
    }
    pp->refs = 1;
    pp->next = NULL;
    return pp;
}

static void pipe_ref(void *obj)
{
    ((pxpipe *)obj)->refs++;
}

/* The last one to let go: back to the loop's list if nothing is left in it
 * (a client that went before all was sent leaves bytes: it is closed). */
static void pipe_unref(void *obj)
{
    pxpipe *pp = obj;
    if (--pp->refs) return;
    pxloop *pl = pp->pl;
    if (pp->op.held || pl->npipes >= PX_PIPES_KEPT) {
        pipe_close(pp);
        return;
    }
    pp->next = pl->pipes;
    pl->pipes = pp;
    pl->npipes++;
}

/* ---- choosing a server ---- */

/* Left out: after failures (passive), or by its health check (active). */
static int server_down(const upstream_server *sv, uint64_t now)
{
    return atomic_load_explicit(&sv->down_until, memory_order_relaxed) > now ||
           atomic_load_explicit(&sv->check_down, memory_order_relaxed);
}

/* The server for the next request, not `not` (a retry's), or -1 when every
 * server is out. */
static int pick(const upstream *u, int not, uint64_t now)
{
    int best = -1;
    if (u->nservers == 1) /* nothing to balance; as below, without the turns' shared count */
        return not != 0 && !server_down(&u->servers[0], now) ? 0 : -1;
    if (u->balance == BALANCE_LEAST_CONN) {
        uint64_t bl = 0, bw = 1;
        for (size_t i = 0; i < u->nservers; i++) {
            const upstream_server *sv = &u->servers[i];
            if ((int)i == not || server_down(sv, now)) continue;
            uint64_t a = atomic_load_explicit(&sv->active, memory_order_relaxed);
            /* a / weight < bl / bw, without division */
            if (best < 0 || a * bw < bl * sv->weight) best = (int)i, bl = a, bw = sv->weight;
        }
        return best;
    }
    unsigned total = 0;
    for (size_t i = 0; i < u->nservers; i++)
        total += u->servers[i].weight;
    /* Round robin by weight: turn t falls to the server whose share of
     * [0, total) holds t mod total; one that is out passes the turn on. */
    unsigned t = atomic_fetch_add_explicit((atomic_uint *)&u->next, 1, memory_order_relaxed);
    for (size_t tries = 0; tries < u->nservers; tries++) {
        unsigned at = (t + (unsigned)tries) % total, acc = 0;
        size_t i = 0;
        for (; i < u->nservers; i++) {
            acc += u->servers[i].weight;
            if (at < acc) break;
        }
        for (size_t k = 0; k < u->nservers; k++) {
            size_t j = (i + k) % u->nservers;
            if ((int)j != not &&!server_down(&u->servers[j], now)) return (int)j;
        }
        break;
    }
    return best;
}

static void server_failed(proxy *px)
{
    if (px->blamed || px->server < 0) return;
    px->blamed = 1;
    const upstream *u = px->u;
    int i = px->server;
    upstream_server *sv = (upstream_server *)&u->servers[i];
    unsigned f = atomic_fetch_add_explicit(&sv->fails, 1, memory_order_relaxed) + 1;
    if (f >= u->max_fails) {
        atomic_store_explicit(&sv->down_until, loop_clock() + u->fail_ms, memory_order_relaxed);
        atomic_store_explicit(&sv->fails, 0, memory_order_relaxed);
        errlog(ERRLOG_WARN,
               "htd: proxy: upstream %s server %s left out for %u ms after %u failures", u->name,
               sv->name, u->fail_ms, f);
    }
}

static void server_ok(const upstream *u, int i)
{
    upstream_server *sv = (upstream_server *)&u->servers[i];
    atomic_store_explicit(&sv->fails, 0, memory_order_relaxed);
}

/* ---- deadlines ---- */

static void set_deadline(proxy *px, unsigned ms, int is_504)
{
    pxloop *pl = px->pl;
    px->deadline = loop_now(pl->w->loop) + ms;
    px->timeout_504 = (uint8_t)is_504;
    if (!px->prev && pl->active != px) {
        px->next = pl->active;
        if (pl->active) pl->active->prev = px;
        pl->active = px;
    }
    if (!pl->tick.next) htd_timer_arm(pl->ticks, &pl->tick, loop_now(pl->w->loop));
}

static void unlist(proxy *px)
{
    pxloop *pl = px->pl;
    if (px->prev)
        px->prev->next = px->next;
    else if (pl->active == px)
        pl->active = px->next;
    if (px->next) px->next->prev = px->prev;
    px->prev = px->next = NULL;
    px->deadline = 0;
}

/* ---- the request to the server ---- */

/* The next element of the list v (RFC 9110 5.6.1) from *k on, or {NULL, 0}
 * at its end. */
static htd_str next_token(htd_str v, size_t *k)
{
    size_t i = *k;
    while (i < v.len && (v.p[i] == ',' || v.p[i] == ' ' || v.p[i] == '\t'))
        i++;
    size_t st = i;
    while (i < v.len && v.p[i] != ',' && v.p[i] != ' ' && v.p[i] != '\t')
        i++;
    *k = i;
    return i > st ? (htd_str){v.p + st, i - st} : (htd_str){NULL, 0};
}

/* Does a Connection field of the message's h[0..nh) list the token tok? */
static int connection_says(const htd_header *h, size_t nh, const char *tok, size_t n)
{
    for (size_t i = 0; i < nh; i++) {
        if (!htd_token_ieq(h[i].name, "connection", 10)) continue;
        size_t k = 0;
        for (htd_str t; (t = next_token(h[i].value, &k)).p;)
            if (t.len == n && strncasecmp(t.p, tok, n) == 0) return 1;
    }
    return 0;
}

/* What the proxy makes of a field, by its name (field_kind). */
enum {
    F_HOP = 1,       /* of one hop only (RFC 9110 7.6.1): never passed on */
    F_SET = 2,       /* in a request, htd sends its own in its place */
    F_XFF = 4,       /* X-Forwarded-For: kept, from trusted proxies, before the peer */
    F_RANGES = 8,    /* Accept-Ranges */
    F_ENCODING = 16, /* Content-Encoding */
    F_ETAG = 32,
    F_CTYPE = 64, /* Content-Type */
    /* in a response, one the core writes itself (response_owns_header):
     * the origin's never passed on */
    F_OWNED = 128,
};

/* The F_ bits of a field name (a token, as the parsers give it): by its
 * length and a letter, then one comparison, as every field of both heads
 * is asked. F_OWNED is response_owns_header's answer, so that a response's
 * field is looked up once. */
static inline __attribute__((always_inline)) unsigned field_kind(htd_str n)
{
    const char *lower;
    unsigned kind;
    unsigned char c = (unsigned char)n.p[0] | 0x20;
    switch (n.len) {
    case 2:
        lower = "te", kind = F_HOP;
        break;
    case 3:
        lower = "via", kind = F_SET;
        break;
    case 4:
        if (c == 'h')
            lower = "host", kind = F_SET;
        else if (c == 'd')
            lower = "date", kind = F_OWNED;
        else
            lower = "etag", kind = F_ETAG;
        break;
    case 6:
        if (c == 's')
            lower = "server", kind = F_OWNED;
        else
            lower = "expect", kind = F_SET;
        break;
    case 7:
        lower = c == 'u' ? "upgrade" : "trailer", kind = F_HOP | F_OWNED;
        break;
    case 9:
        lower = "forwarded", kind = F_SET;
        break;
    case 10:
        lower = c == 'c' ? "connection" : "keep-alive", kind = F_HOP | F_OWNED;
        break;
    case 12:
        lower = "content-type", kind = F_CTYPE;
        break;
    case 13:
        lower = "accept-ranges", kind = F_RANGES;
        break;
    case 14:
        lower = "content-length", kind = F_SET | F_OWNED;
        break;
    case 15:
        lower = "x-forwarded-for", kind = F_XFF;
        break;
    case 16:
        if (c == 'x')
            lower = "x-forwarded-host", kind = F_SET;
        else if (c == 'p')
            lower = "proxy-connection", kind = F_HOP;
        else
            lower = "content-encoding", kind = F_ENCODING;
        break;
    case 17:
        if (c == 'x')
            lower = "x-forwarded-proto", kind = F_SET;
        else
            lower = "transfer-encoding", kind = F_HOP | F_OWNED;
        break;
    case 19:
        lower = "proxy-authorization", kind = F_HOP;
        break;
    default:
        return 0;
    }
    return htd_token_ieq(n, lower, n.len) ? kind : 0;
}

/* Is the field named name (of kind) of one hop only, in the message of
 * fields h[0..nh)? named: whether their Connection names fields (the
 * parsers say it: htd_request and htd_response.connection_names). */
static int hop_by_hop(htd_str name, unsigned kind, const htd_header *h, size_t nh, int named)
{
    return (kind & F_HOP) || (named && connection_says(h, nh, name.p, name.len));
}

typedef struct wbuf {
    char *p;
    size_t len, cap;
    int over;
} wbuf;

/* Inlined: most calls copy a literal, a few moves once inlined. */
static inline __attribute__((always_inline)) void wput(wbuf *b, const char *s, size_t n)
{
    if (!n) return;
    if (b->over || b->cap - b->len < n) {
        b->over = 1;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void wputs(wbuf *b, const char *s)
{
    wput(b, s, strlen(s));
}

#define WLIT(b, lit) wput((b), (lit), sizeof(lit) - 1) /* a string literal */

/* A field line: "NAME: VALUE" CRLF. Slices of a parsed head (n and v are
 * never others') that already are such a line are copied in one piece. */
static void wfield(wbuf *b, htd_str n, htd_str v)
{
    const char *e = v.p + v.len;
    if (v.p == n.p + n.len + 2 && n.p[n.len] == ':' && n.p[n.len + 1] == ' ' && e[0] == '\r' &&
        e[1] == '\n') {
        wput(b, n.p, (size_t)(e + 2 - n.p));
        return;
    }
    wput(b, n.p, n.len);
    WLIT(b, ": ");
    wput(b, v.p, v.len);
    WLIT(b, "\r\n");
}

/* a (AF_INET, or AF_INET6 perhaps mapping an IPv4 address) as text, into
 * out of INET6_ADDRSTRLEN bytes; IPv4 by hand, as glibc's inet_ntop
 * formats it with sprintf; the text, NUL-terminated, and its length. */
static htd_str addr_text(const struct sockaddr_in6 *a, char *out)
{
    const unsigned char *b = NULL;
    if (a->sin6_family == AF_INET)
        b = (const unsigned char *)&((const struct sockaddr_in *)(const void *)a)->sin_addr;
    else if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
        b = &a->sin6_addr.s6_addr[12];
    if (!b) {
        if (!inet_ntop(AF_INET6, &a->sin6_addr, out, INET6_ADDRSTRLEN)) strcpy(out, "unknown");
        return (htd_str){out, strlen(out)};
    }
    char *o = out;
    for (int i = 0; i < 4; i++) {
        unsigned v = b[i];
        if (v >= 100) *o++ = (char)('0' + v / 100);
        if (v >= 10) *o++ = (char)('0' + v / 10 % 10);
        *o++ = (char)('0' + v % 10);
        *o++ = i < 3 ? '.' : 0;
    }
    return (htd_str){out, (size_t)(o - 1 - out)};
}

/* The request head for the server, into px->out. -1 if it does not fit. */
static int build_head(proxy *px, struct htd_req *hr, conn *c)
{
    const htd_request *r = hr->r;
    wbuf b = {px->out, 0, sizeof px->out, 0};
    wput(&b, r->method.p, r->method.len);
    WLIT(&b, " ");
    if (r->target.p[0] == '/') {
        wput(&b, r->target.p, r->target.len);
    } else { /* absolute-form: the server gets origin-form */
        wput(&b, r->path.p, r->path.len);
        if (r->query.p) {
            WLIT(&b, "?");
            wput(&b, r->query.p, r->query.len);
        }
    }
    WLIT(&b, " HTTP/1.1\r\nHost: ");
    if (px->u->host)
        wputs(&b, px->u->host);
    else
        wput(&b, r->host.p, r->host.len);
    WLIT(&b, "\r\n");
    htd_str xff = {NULL, 0};
    for (size_t i = 0; i < r->nheaders; i++) {
        htd_str n = r->headers[i].name, v = r->headers[i].value;
        unsigned kind = field_kind(n);
        if ((kind & F_SET) || hop_by_hop(n, kind, r->headers, r->nheaders, r->connection_names))
            continue;
        if (kind & F_XFF) {
            xff = v;
            continue;
        }
        wfield(&b, n, v);
    }
    /* Who asked: the peer, after what trusted proxies before it said
     * (their X-Forwarded-For is kept only when the real-IP module trusted
     * them, which it shows by a client other than the peer). */
    char peer_text[INET6_ADDRSTRLEN], client_text[INET6_ADDRSTRLEN];
    htd_str peer = addr_text(&c->peer, peer_text);
    int trusted = memcmp(&hr->client, &c->peer, sizeof hr->client) != 0;
    WLIT(&b, "X-Forwarded-For: ");
    if (trusted && xff.p) {
        wput(&b, xff.p, xff.len);
        WLIT(&b, ", ");
    }
    wput(&b, peer.p, peer.len);
    transport_info ti;
    int tls = transport_get_info(c->tp, &ti) == 0;
    htd_str proto = tls ? (htd_str){"https", 5} : (htd_str){"http", 4};
    WLIT(&b, "\r\nX-Forwarded-Proto: ");
    wput(&b, proto.p, proto.len);
    WLIT(&b, "\r\nX-Forwarded-Host: ");
    wput(&b, r->host.p, r->host.len);
    htd_str client = trusted ? addr_text(&hr->client, client_text) : peer;
    int v6 = memchr(client.p, ':', client.len) != NULL;
    WLIT(&b, "\r\nForwarded: for=");
    if (v6) WLIT(&b, "\"[");
    wput(&b, client.p, client.len);
    if (v6) WLIT(&b, "]\"");
    WLIT(&b, ";proto=");
    wput(&b, proto.p, proto.len);
    if (r->host.len && htd_is_token(r->host.p, r->host.len)) {
        WLIT(&b, ";host=");
        wput(&b, r->host.p, r->host.len);
    } else if (r->host.len) {
        WLIT(&b, ";host=\"");
        wput(&b, r->host.p, r->host.len);
        WLIT(&b, "\"");
    }
    if (r->version == 10)
        WLIT(&b, "\r\nVia: 1.0 htd\r\n");
    else
        WLIT(&b, "\r\nVia: 1.1 htd\r\n");
    if (px->upgrade) { /* the one hop-by-hop request the server must see */
        htd_str up = htd_request_header(r, "upgrade", 7);
        WLIT(&b, "Connection: Upgrade\r\nUpgrade: ");
        wput(&b, up.p, up.len);
        WLIT(&b, "\r\n");
    }
    if (!px->has_body && r->content_length == 0) WLIT(&b, "Content-Length: 0\r\n");
    if (px->has_body) {
        if (r->chunked) {
            WLIT(&b, "Transfer-Encoding: chunked\r\n");
            px->req_chunked = 1;
        } else {
            char cl[48];
            snprintf(cl, sizeof cl, "Content-Length: %lld\r\n", (long long)r->content_length);
            wputs(&b, cl);
        }
    }
    WLIT(&b, "\r\n");
    if (b.over) return -1;
    px->head_len = px->o_len = b.len;
    px->o_off = 0;
    return 0;
}

/* ---- the request kept for a retry ---- */

/* The body is sent as it comes and not kept as a whole (nginx's
 * proxy_request_buffering would): what was sent of it is kept instead,
 * up to retry_body_max, so that an idempotent request whose server failed
 * before answering can go to another one. The bytes kept are those framed
 * for the server (htd's own chunks for a chunked body), sent again as they
 * are: the next server gets what the first did, with no second framing. */

static void keep_drop(proxy *px)
{
    budget_sub(&px->pl->w->mem, px->rb_cap);
    free(px->rb);
    px->rb = NULL;
    px->rb_len = px->rb_cap = px->r_off = px->r_len = 0;
}

/* The first body bytes are about to take the head's place in px->out: the
 * head is kept first, if the request may be sent twice. */
static void keep_begin(proxy *px, const htd_request *r)
{
    px->body_begun = 1;
    uint64_t max = px->u->retry_body_max;
    if (!px->idempotent || !max) return;
    /* A length known and within the bound: room for all of it at once;
     * else a start, grown as the body comes. */
    uint64_t want = max < 16384 ? max : 16384;
    if (r->content_length > 0 && (uint64_t)r->content_length < max)
        want = (uint64_t)r->content_length;
    size_t cap = px->head_len + (size_t)want;
    if (budget_over(&px->pl->w->mem, cap) || !(px->rb = malloc(cap))) return;
    budget_add(&px->pl->w->mem, cap);
    px->rb_cap = cap;
    memcpy(px->rb, px->out, px->head_len);
    px->rb_len = px->head_len;
}

/* px->out[off..len) goes to the server next: sent from there, and kept
 * while the body kept stays within retry_body_max (beyond it, nothing is:
 * the request can no longer be sent whole to another server). */
static void out_body(proxy *px, size_t off, size_t len)
{
    px->o_off = off;
    px->o_len = len;
    if (!px->rb) return;
    size_t n = len - off, limit = px->head_len + (size_t)px->u->retry_body_max;
    if (px->rb_len + n > limit) {
        keep_drop(px);
        return;
    }
    if (px->rb_cap - px->rb_len < n) {
        size_t cap = px->rb_cap * 2 < px->rb_len + n ? px->rb_len + n : px->rb_cap * 2;
        if (cap > limit) cap = limit;
        char *nb = budget_over(&px->pl->w->mem, cap - px->rb_cap) ? NULL : realloc(px->rb, cap);
        if (!nb) {
            keep_drop(px);
            return;
        }
        budget_add(&px->pl->w->mem, cap - px->rb_cap);
        px->rb = nb;
        px->rb_cap = cap;
    }
    memcpy(px->rb + px->rb_len, px->out + off, n);
    px->rb_len += n;
}

/* Can the request be sent again from its start: its head still in
 * px->out (no body bytes went there yet), or all of it kept? */
static int replayable(const proxy *px)
{
    return !px->body_begun || px->rb;
}

/* ---- one attempt: a server, a connection, the head sent again ---- */

static int attempt(proxy *px);

/* Lets go of the attempt's connection: kept if it can carry another
 * request (reuse), else closed. */
static void drop_up(proxy *px, int reuse)
{
    upconn *uc = px->up;
    if (!uc) return;
    px->up = NULL;
    if (px->counted) {
        atomic_fetch_sub_explicit(&((upstream_server *)&px->u->servers[px->server])->active, 1,
                                  memory_order_relaxed);
        px->counted = 0;
    }
    uc->px = NULL;
    if (reuse)
        put_idle(uc, px->u->keepalive);
    else
        up_close(uc);
}

/* Has the server begun an answer that is not read yet (an early one, say
 * a 413 before it stopped reading the body)? Then it is the answer. */
static int answer_waiting(const proxy *px)
{
    char b;
    return px->up && recv(px->up->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* The attempt failed before any byte of a response (why, for the log;
 * NULL when said already): another one if that is allowed (1), else 0
 * and the caller answers. unsent: nothing of the request reached the
 * server (its connect failed), so any request may go elsewhere; else only
 * an idempotent one, and one with a body only if what was sent of it is
 * kept (retry_body_max). */
static int try_again(proxy *px, int unsent, const char *why)
{
    if (!unsent && (px->got || answer_waiting(px))) return 0;
    if (!replayable(px)) return 0;
    int next = px->server;
    if (!px->reused) { /* else a kept connection the server had closed: a new one */
        if ((!unsent && !px->idempotent) || px->retried) return 0;
        next = pick(px->u, px->server, loop_clock());
        if (next < 0) return 0;
        if (why)
            log_error(ERRLOG_ERROR, px->c, "htd: proxy: upstream %s server %s: %s; trying %s",
                      px->u->name, px->u->servers[px->server].name, why, px->u->servers[next].name);
        server_failed(px);
        px->retried = 1;
    }
    drop_up(px, 0);
    px->server = next;
    return attempt(px) == 0;
}

/* A connection to px->server (kept, or new) with the head to send. -1 when
 * none can be made. */
static int attempt(proxy *px)
{
    const upstream_server *sv = &px->u->servers[px->server];
    if (px->body_begun) { /* what was sent, from the copy kept (replayable) */
        px->o_off = px->o_len = px->r_off = 0;
        px->r_len = px->rb_len;
    } else {
        px->o_off = 0;
        px->o_len = px->head_len;
    }
    px->state = PX_SEND;
    px->blamed = 0;
    upconn *uc = take_idle(px->pl, sv);
    px->reused = uc != NULL;
    px->connecting = 0;
    if (!uc) {
        int now = 0;
        uc = up_connect(px->pl, sv, &now);
        if (!uc) {
            log_error(ERRLOG_ERROR, px->c, "htd: proxy: upstream %s server %s: cannot connect: %s",
                      px->u->name, sv->name, strerror(errno));
            server_failed(px);
            return -1;
        }
        px->connecting = !now;
    }
    uc->px = px;
    px->up = uc;
    atomic_fetch_add_explicit(&((upstream_server *)sv)->active, 1, memory_order_relaxed);
    px->counted = 1;
    set_deadline(px, px->connecting ? px->u->connect_ms : px->u->send_ms, 1);
    return 0;
}

/* ---- the response to the client ---- */

/* Did the server forbid any change of its content (Cache-Control:
 * no-transform, RFC 9111 5.2.2.6)? */
static int no_transform(const htd_response *h)
{
    for (size_t i = 0; i < h->nheaders; i++)
        if (htd_token_ieq(h->headers[i].name, "cache-control", 13)) {
            htd_str v = h->headers[i].value;
            for (size_t k = 0; k + 12 <= v.len; k++)
                if (strncasecmp(v.p + k, "no-transform", 12) == 0) return 1;
        }
    return 0;
}

/* Is the body in a coding other than identity, which htd cannot read? */
static int encoded(const htd_response *h)
{
    htd_str ce = htd_header_find(h->headers, h->nheaders, "content-encoding", 16);
    return ce.p && !htd_str_ieq(ce, "identity", 8);
}

/* May the scope's overlay (proxy_headers, proxy_body_append) change this
 * response? Only the content of a 200, and not against no-transform. A
 * HEAD is asked the same, as its head says what a GET would get. */
static int overlay_applies(const htd_response *h)
{
    return h->status == 200 && !no_transform(h);
}

/* Does proxy_body_append go into this body: HTML that htd can read? */
static int append_applies(conn *c, const htd_response *h)
{
    if (!c->req->sc->px_append_len || encoded(h)) return 0;
    htd_str ct = htd_header_find(h->headers, h->nheaders, "content-type", 12);
    return ct.len >= 9 && strncasecmp(ct.p, "text/html", 9) == 0 &&
           (ct.len == 9 || ct.p[9] == ';' || ct.p[9] == ' ' || ct.p[9] == '\t');
}

/* What htd changes of a response on its way. */
typedef struct change {
    uint8_t headers; /* proxy_headers: fields replaced and added */
    uint8_t body;    /* proxy_body_append: no longer the origin's bytes */
    uint8_t gz;      /* compressed on the fly: nor its coding */
} change;

/* What the scope's overlay changes of h, the origin's head, for a GET or a
 * HEAD alike. */
static change overlay_of(conn *c, const htd_response *h)
{
    change ch = {0};
    const scope *sc = c->req->sc;
    if ((!sc->px_headers_len && !sc->px_append_len) || !overlay_applies(h))
        return ch; /* none, or not for this response (its fields looked at only then) */
    ch.headers = sc->px_headers_len > 0;
    ch.body = (uint8_t)append_applies(c, h);
    return ch;
}

/* Is the field called name one that proxy_headers sets (and so replaces)? */
static int overlaid(const scope *sc, htd_str name)
{
    char lower[256];
    if (!sc->px_headers_len || name.len >= sizeof lower) return 0;
    for (size_t i = 0; i < name.len; i++)
        lower[i] = (char)tolower((unsigned char)name.p[i]);
    return response_lines_have(sc->px_headers, sc->px_headers_len, lower, name.len);
}

/* Is the server's 200 to be compressed on the fly (and so be a 203, the
 * content no longer the origin's)? Only with gzip on, for a client that
 * takes gzip, a body of a compressible type not encoded already, and a
 * server that did not forbid it (Cache-Control: no-transform). */
static int to_transform(conn *c, const htd_response *h)
{
    if (!scope_feature(c->req->sc->gzip, c->w->srv->cfg.gzip) || h->status != 200) return 0;
    if (h->content_length >= 0 && h->content_length < GZIP_MIN) return 0;
    if (encoded(h) || no_transform(h)) return 0;
    htd_str ct = htd_header_find(h->headers, h->nheaders, "content-type", 12);
    char type[128];
    if (!ct.p || ct.len >= sizeof type) return 0;
    memcpy(type, ct.p, ct.len);
    type[ct.len] = 0;
    if (!gzip_compressible(type)) return 0;
    htd_str ae = htd_request_known(c->req->r, HTD_H_ACCEPT_ENCODING);
    if (!ae.p) return 0;
    unsigned q[ENC_COUNT];
    htd_accept_encoding(ae, q);
    return htd_choose_encoding(q, 1u << ENC_IDENTITY | 1u << ENC_GZIP) == ENC_GZIP;
}

/* proxy_body_append goes into this response: the buffer its pieces are
 * rewritten into (a piece, what was held back, and the text). -1 without
 * memory for it (the budget spent): the body goes as it is. */
static int begin_append(conn *c, proxy *px)
{
    size_t cap = sizeof px->in + sizeof px->hold + c->req->sc->px_append_len;
    if (budget_over(&c->w->mem, cap) || !(px->ov = malloc(cap))) return -1;
    budget_add(&c->w->mem, cap);
    px->ov_cap = cap;
    return 0;
}

/* Does d[0..n) begin with "</body" and a '>' or a space, ignoring case?
 * 1 yes, 0 no, -1 not known yet: d ends in a beginning of it. */
static int body_end_at(const char *d, size_t n)
{
    static const char tag[] = "</body";
    for (size_t i = 0; i < 7; i++) {
        if (i == n) return -1;
        int ch = tolower((unsigned char)d[i]);
        if (i < 6 ? ch != tag[i] : ch != '>' && !strchr(" \t\r\n\f", ch)) return 0;
    }
    return 1;
}

/* Where in d[0..n) the text goes: at the first "</body>", or, with more of
 * the body to come (!last), at the beginning of one that d may end in; n
 * if nowhere (yet). */
static size_t body_end(const char *d, size_t n, int last)
{
    for (const char *lt = d; (lt = memchr(lt, '<', (size_t)(d + n - lt))); lt++) {
        int r = body_end_at(lt, (size_t)(d + n - lt));
        if (r == 1 || (r < 0 && !last)) return (size_t)(lt - d);
    }
    return n;
}

/* The piece p[0..*len) of the body with the text put in: before the first
 * "</body>", else at the end of the last piece. Returns what to send
 * (p itself once the text is in), its length in *len. */
static const char *append_piece(conn *c, proxy *px, const char *p, size_t *len, int last)
{
    if (px->ov_done) return p;
    const scope *sc = c->req->sc;
    size_t n = px->hold_len + *len;
    memcpy(px->ov, px->hold, px->hold_len);
    memcpy(px->ov + px->hold_len, p, *len);
    px->hold_len = 0;
    size_t at = body_end(px->ov, n, last);
    if (at < n && body_end_at(px->ov + at, n - at) < 0) {
        /* perhaps: held back until the next piece says */
        px->hold_len = (uint8_t)(n - at);
        memcpy(px->hold, px->ov + at, px->hold_len);
        *len = at;
        return px->ov;
    }
    if (at == n && !last) {
        *len = n;
        return px->ov;
    }
    memmove(px->ov + at + sc->px_append_len, px->ov + at, n - at);
    memcpy(px->ov + at, sc->px_append, sc->px_append_len);
    px->ov_done = 1;
    *len = n + sc->px_append_len;
    return px->ov;
}

/* The origin's fields of h as the client gets them, changed as ch says,
 * into b; all but Content-Type, which goes into ct[0..ct_size) and is
 * returned (NULL if none or too long). */
static const char *put_fields(wbuf *b, const htd_response *h, const scope *sc, change ch, char *ct,
                              size_t ct_size)
{
    const char *ctype = NULL;
    for (size_t i = 0; i < h->nheaders; i++) {
        htd_str n = h->headers[i].name, v = h->headers[i].value;
        unsigned kind = field_kind(n);
        if ((kind & F_OWNED) || hop_by_hop(n, kind, h->headers, h->nheaders, h->connection_names))
            continue;
        if (ch.headers && overlaid(sc, n)) continue; /* replaced */
        /* The upstream's ranges are of its body, not of the one changed. */
        if (ch.body && (kind & F_RANGES)) continue;
        if (ch.gz && (kind & F_ENCODING)) continue; /* identity */
        if ((ch.gz || ch.body) && (kind & F_ETAG) && v.len && v.p[0] == '"') {
            WLIT(b, "ETag: W/"); /* no longer the origin's bytes */
            wput(b, v.p, v.len);
            WLIT(b, "\r\n");
            continue;
        }
        if (kind & F_CTYPE) {
            if (v.len < ct_size) {
                memcpy(ct, v.p, v.len);
                ct[v.len] = 0;
                ctype = ct;
            }
            continue;
        }
        wfield(b, n, v);
    }
    if (ch.headers) wput(b, sc->px_headers, sc->px_headers_len);
    return ctype;
}

/* Turns the server's head into the client's and queues it. -1 if it will
 * not do. */
static int send_head(conn *c, proxy *px)
{
    const htd_response *h = &px->head;
    char extra[PX_IN + 256];
    wbuf b = {extra, 0, sizeof extra, 0};
    char ct[512];
    const scope *sc = c->req->sc;
    change ch = overlay_of(c, h);
    ch.gz = (uint8_t)to_transform(c, h);
    /* A HEAD's head says what a GET's would, memory permitting; without
     * memory for the rewriting a GET's body goes as it is, and so its head. */
    if (ch.body && !c->head_only && begin_append(c, px) < 0) ch.body = 0;
    px->gz = ch.gz;
    px->ov_body = ch.body;
    const char *ctype = put_fields(&b, h, sc, ch, ct, sizeof ct);
    if (h->version == 10)
        WLIT(&b, "Via: 1.0 htd\r\n");
    else
        WLIT(&b, "Via: 1.1 htd\r\n");
    int st = h->status;
    /* 203 Non-Authoritative Information: the content was changed on its
     * way (RFC 9110 15.3.4), unless the upstream said not to. */
    if ((ch.gz || ch.headers || ch.body) && px->u->transform_203) st = 203;
    if (px->gz) WLIT(&b, "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n");
    if (st == 101) {
        htd_str up = htd_header_find(h->headers, h->nheaders, "upgrade", 7);
        WLIT(&b, "Connection: Upgrade\r\nUpgrade: ");
        wput(&b, up.p, up.len);
        WLIT(&b, "\r\n");
        c->keep_alive = 1; /* no Connection: close beside it; the tunnel ends the connection */
    }
    resp rs = {.status = st,
               .reason = h->reason.len ? h->reason.p : NULL,
               .reason_len = h->reason.len,
               .ctype = ctype,
               .length = -1};
    px->bodyless = c->head_only || st == 204 || st == 304;
    if (st == 101) {
        /* no length, no framing: the bytes that follow are the tunnel's */
    } else if (st == 204 || st == 304) {
        rs.ctype = st == 304 ? NULL : ctype;
    } else if (h->content_length >= 0 && !px->gz) {
        /* HEAD too: it says what GET would send. The text put in is in
         * the body once, wherever it goes. */
        rs.length = h->content_length + (px->ov_body ? (int64_t)sc->px_append_len : 0);
    } else if (!c->head_only) {
        if (c->req->r->version == 11) {
            px->chunked_out = 1;
            WLIT(&b, "Transfer-Encoding: chunked\r\n");
        } else {
            c->keep_alive = 0; /* HTTP/1.0: the end of the body is the end of the connection */
        }
    }
    if (b.over) return -1;
    if (st != h->status) rs.reason = NULL, rs.reason_len = 0; /* the usual phrase for it */
    rs.status = st;
    rs.extra = extra;
    rs.extra_len = b.len;
    if (response_head(c, &rs) < 0) return -1;
    px->status = st;
    px->head_sent = 1;
    if (px->gz && !px->bodyless) {
        response_body_start(c->req, st, px->chunked_out);
        /* Compressed as it comes (-1), however long: the client gets the
         * upstream's pieces as they arrive. */
        if (gzip_install(c->req, -1) < 0) return -1;
    }
    if (px->bodyless) px->gz = 0;
    return 0;
}

/* ---- kept copies (keep_copies): the last good 200, for when the server fails ---- */

/* A copy's file: "HTDCOPY1 TIME\n", a line "V NAME: VALUE\n" for each field
 * the response varies on with the request's value of it, an empty line,
 * the response's header lines (as sent, before any transformation) and
 * an empty line, then the body. */
#define COPY_MAGIC "HTDCOPY1 "

/* The copy's name: SHA-256 of the vhost, the Host and the target. */
static void copy_key(proxy *px, const struct htd_req *hr)
{
    const htd_request *r = hr->r;
    unsigned char md[32];
    unsigned mdlen = 0;
    EVP_MD_CTX *x = EVP_MD_CTX_new();
    char vh[16];
    int vl = snprintf(vh, sizeof vh, "%d\n", hr->vh ? hr->vh->idx : 0);
    if (!x || !EVP_DigestInit_ex(x, EVP_sha256(), NULL) || !EVP_DigestUpdate(x, vh, (size_t)vl) ||
        !EVP_DigestUpdate(x, r->host.p ? r->host.p : "", r->host.len) ||
        !EVP_DigestUpdate(x, "\n", 1) || !EVP_DigestUpdate(x, r->target.p, r->target.len) ||
        !EVP_DigestFinal_ex(x, md, &mdlen)) {
        EVP_MD_CTX_free(x);
        return; /* no name: no copy */
    }
    EVP_MD_CTX_free(x);
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(px->key + 2 * i, 3, "%02x", md[i]);
}

static void copy_drop(proxy *px)
{
    free(px->cbuf);
    px->cbuf = NULL;
    px->clen = px->ccap = 0;
}

static int copy_put(proxy *px, const char *p, size_t n)
{
    if (!px->cbuf) return -1;
    if (px->ccap - px->clen < n) {
        size_t cap = px->ccap * 2 > px->clen + n ? px->ccap * 2 : px->clen + n;
        char *nb = realloc(px->cbuf, cap);
        if (!nb) {
            copy_drop(px);
            return -1;
        }
        px->cbuf = nb;
        px->ccap = cap;
    }
    memcpy(px->cbuf + px->clen, p, n);
    px->clen += n;
    return 0;
}

/* Does a Cache-Control field of h list a directive that forbids keeping
 * it? */
static int not_to_keep(const htd_response *h)
{
    for (size_t i = 0; i < h->nheaders; i++) {
        htd_str n = h->headers[i].name, v = h->headers[i].value;
        if (htd_str_ieq(n, "set-cookie", 10)) return 1; /* one client's */
        if (htd_str_ieq(n, "vary", 4) && memchr(v.p, '*', v.len)) return 1;
        if (!htd_str_ieq(n, "cache-control", 13)) continue;
        for (size_t k = 0; k < v.len; k++)
            if ((k + 8 <= v.len && strncasecmp(v.p + k, "no-store", 8) == 0) ||
                (k + 7 <= v.len && strncasecmp(v.p + k, "private", 7) == 0))
                return 1;
    }
    return 0;
}

/* A copy of the server's 200 begins, its head as the server sent it. */
static void copy_begin(conn *c, proxy *px)
{
    const copies *cp = c->req->sc ? c->req->sc->copies : NULL;
    const htd_response *h = &px->head;
    if (!cp || !px->key[0] || h->status != 200 || c->req->r->method_id != HTD_M_GET ||
        not_to_keep(h) || (h->content_length >= 0 && (uint64_t)h->content_length > cp->max_size))
        return;
    px->ccap = 4096;
    if (!(px->cbuf = malloc(px->ccap))) return;
    char line[64];
    snprintf(line, sizeof line, COPY_MAGIC "%lld\n", (long long)time(NULL));
    copy_put(px, line, strlen(line));
    const htd_request *r = c->req->r;
    for (size_t i = 0; i < h->nheaders; i++) { /* Vary: the request's values it depends on */
        if (!htd_str_ieq(h->headers[i].name, "vary", 4)) continue;
        size_t k = 0;
        for (htd_str t; (t = next_token(h->headers[i].value, &k)).p;) {
            htd_str rv = htd_request_header(r, t.p, t.len);
            copy_put(px, "V ", 2);
            copy_put(px, t.p, t.len);
            copy_put(px, ": ", 2);
            copy_put(px, rv.p ? rv.p : "", rv.len);
            copy_put(px, "\n", 1);
        }
    }
    copy_put(px, "\n", 1);
    for (size_t i = 0; i < h->nheaders; i++) {
        htd_str n = h->headers[i].name, v = h->headers[i].value;
        unsigned kind = field_kind(n);
        if ((kind & F_OWNED) || hop_by_hop(n, kind, h->headers, h->nheaders, h->connection_names))
            continue;
        copy_put(px, n.p, n.len);
        copy_put(px, ": ", 2);
        copy_put(px, v.p, v.len);
        copy_put(px, "\r\n", 2);
    }
    copy_put(px, "\r\n", 2);
}

static void copy_body(conn *c, proxy *px, const char *p, size_t n)
{
    if (!px->cbuf) return;
    if (px->clen + n > c->req->sc->copies->max_size + 65536 || copy_put(px, p, n) < 0)
        copy_drop(px); /* too large to keep */
}

/* Writing a copy, on a pool thread: a file made whole, then renamed into
 * place, and the oldest going beyond max_count. */
typedef struct copy_job {
    htd_job job; /* first */
    worker *w;   /* counts it in jobs_out: it does not stop before the job is done */
    char path[4096];
    char dir[4096];
    unsigned max_count;
    char *buf;
    size_t len;
} copy_job;

static void copy_write(htd_job *j)
{
    copy_job *cj = (copy_job *)j;
    if (mkdir(cj->dir, 0700) < 0 && errno != EEXIST) {
        errlog(ERRLOG_ERROR, "htd: keep_copies: cannot make %s: %s", cj->dir, strerror(errno));
        return;
    }
    static atomic_uint seq;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/.tmp.%d.%u", cj->dir, (int)getpid(), atomic_fetch_add(&seq, 1));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        errlog(ERRLOG_ERROR, "htd: keep_copies: cannot write %s: %s", tmp, strerror(errno));
        return;
    }
    size_t off = 0;
    while (off < cj->len) {
        ssize_t n = write(fd, cj->buf + off, cj->len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        off += (size_t)n;
    }
    close(fd);
    if (off < cj->len || rename(tmp, cj->path) < 0) {
        errlog(ERRLOG_ERROR, "htd: keep_copies: cannot keep %s: %s", cj->path, strerror(errno));
        unlink(tmp);
        return;
    }
    /* Beyond max_count: the oldest go, one per copy kept. */
    DIR *d = opendir(cj->dir);
    if (!d) return;
    unsigned n = 0;
    char oldest[256] = "";
    struct timespec ot = {0};
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        n++;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, 0) < 0) continue;
        if (!oldest[0] || st.st_mtim.tv_sec < ot.tv_sec ||
            (st.st_mtim.tv_sec == ot.tv_sec && st.st_mtim.tv_nsec < ot.tv_nsec)) {
            ot = st.st_mtim;
            snprintf(oldest, sizeof oldest, "%s", e->d_name);
        }
    }
    if (n > cj->max_count && oldest[0]) unlinkat(dirfd(d), oldest, 0);
    closedir(d);
}

static void copy_written(htd_job *j)
{
    copy_job *cj = (copy_job *)j;
    cj->w->jobs_out--;
    free(cj->buf);
    free(cj);
}

/* The copy is whole: to the disk, off the loop. */
static void copy_end(conn *c, proxy *px)
{
    if (!px->cbuf) return;
    const copies *cp = c->req->sc->copies;
    copy_job *cj = malloc(sizeof *cj);
    if (!cj) {
        copy_drop(px);
        return;
    }
    cj->job = (htd_job){.work = copy_write, .done = copy_written, .loop = c->w->loop};
    cj->w = c->w;
    c->w->jobs_out++;
    snprintf(cj->dir, sizeof cj->dir, "%s", cp->dir);
    snprintf(cj->path, sizeof cj->path, "%s/%s", cp->dir, px->key);
    cj->max_count = cp->max_count;
    cj->buf = px->cbuf;
    cj->len = px->clen;
    px->cbuf = NULL;
    px->clen = px->ccap = 0;
    jobs_submit(c->w->srv->jobs, &cj->job);
}

/* The kept header lines at p[0..len) into *h, as the origin's 200 with
 * the body that follows them: their length, or 0 if they are not header
 * lines. The same parser as a script's head's, as they are a bare block. */
static size_t copy_fields(const char *p, size_t len, htd_response *h)
{
    htd_head_parser hp = {0};
    const char *why;
    int r = 2;
    h->version = 11;
    h->reason = (htd_str){NULL, 0};
    h->chunked = h->keep_alive = h->connection_names = 0;
    h->nheaders = 0; /* an empty line alone: the origin sent only fields htd writes */
    if (len < 2 || p[0] != '\r' || p[1] != '\n')
        r = htd_parse_header_block(&hp, p, len, PX_IN, h, &why);
    if (r <= 0) return 0;
    h->status = 200;
    h->content_length = (int64_t)(len - (size_t)r);
    return (size_t)r;
}

/* The kept copy for this request, read whole (a small file, on a rare
 * path), if there is one and the request has the values it varied on:
 * the buffer to free, its fields in *h (pointing into it), *body at its
 * body of h->content_length bytes, *stored when it was kept. NULL if none. */
static char *copy_read(conn *c, const proxy *px, const copies *cp, htd_response *h, char **body,
                       long long *stored)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", cp->dir, px->key);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    char *buf = NULL;
    ssize_t got = -1;
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_size <= cp->max_size + 65536 &&
        (buf = malloc((size_t)st.st_size + 1)))
        got = read(fd, buf, (size_t)st.st_size);
    close(fd);
    if (got != st.st_size || got < (ssize_t)sizeof COPY_MAGIC) {
        free(buf);
        return NULL;
    }
    buf[got] = 0;
    char *end = buf + got, *q = buf + sizeof COPY_MAGIC - 1;
    if (memcmp(buf, COPY_MAGIC, sizeof COPY_MAGIC - 1) != 0) goto bad;
    *stored = strtoll(q, &q, 10);
    if (*q++ != '\n') goto bad;
    while (q < end && *q == 'V') { /* the request must match what it varied on */
        char *nl = memchr(q, '\n', (size_t)(end - q)), *colon = memchr(q, ':', (size_t)(end - q));
        if (!nl || !colon || colon > nl || colon < q + 2) goto bad;
        htd_str rv = htd_request_header(c->req->r, q + 2, (size_t)(colon - q - 2));
        size_t vl = (size_t)(nl - colon - 2);
        if (rv.len != vl || (vl && memcmp(rv.p, colon + 2, vl) != 0)) {
            free(buf);
            return NULL;
        }
        q = nl + 1;
    }
    if (q >= end || *q++ != '\n') goto bad;
    size_t hl = copy_fields(q, (size_t)(end - q), h);
    if (!hl) goto bad;
    *body = q + hl;
    return buf;
bad:
    errlog(ERRLOG_WARN, "htd: keep_copies: %s is not a kept copy", path);
    free(buf);
    return NULL;
}

/* The kept body to the client, with proxy_body_append put in when ch says
 * so, as one block: a response's queue takes one large block. */
static int copy_out(conn *c, const char *p, size_t n, change ch)
{
    if (!ch.body || c->head_only) return conn_out_copy(c, p, n);
    const scope *sc = c->req->sc;
    char *b = malloc(n + sc->px_append_len);
    if (!b) return -1;
    size_t at = body_end(p, n, 1);
    memcpy(b, p, at);
    memcpy(b + at, sc->px_append, sc->px_append_len);
    memcpy(b + at + sc->px_append_len, p + at, n - at);
    return conn_out_give(c, b, n + sc->px_append_len);
}

/* The server failed: its last good 200 to this request, if kept, as a 203
 * with its Age. The copy is the origin's response: the scope's overlay goes
 * on it now, as on a live one, so that a reload's changes to the overlay
 * hold for it too. 1 if served. */
static int serve_copy(conn *c, proxy *px)
{
    const copies *cp = c->req->sc ? c->req->sc->copies : NULL;
    if (!cp || !px->key[0]) return 0; /* a GET's or HEAD's */
    htd_response *h = &px->head;      /* the server's, if any, is of no more use */
    char *body;
    long long stored;
    char *buf = copy_read(c, px, cp, h, &body, &stored);
    if (!buf) return 0;
    change ch = overlay_of(c, h);
    char extra[PX_IN + 128], ct[512], age[64];
    wbuf b = {extra, 0, sizeof extra, 0};
    long long secs = (long long)time(NULL) - stored;
    snprintf(age, sizeof age, "Age: %lld\r\nVia: 1.1 htd\r\n", secs < 0 ? 0 : secs);
    wputs(&b, age);
    const char *ctype = put_fields(&b, h, c->req->sc, ch, ct, sizeof ct);
    size_t blen = (size_t)h->content_length;
    resp rs = {.status = 203,
               .ctype = ctype,
               .length = (int64_t)(blen + (ch.body ? c->req->sc->px_append_len : 0)),
               .extra = extra,
               .extra_len = b.len};
    if (b.over || response_head(c, &rs) < 0 || copy_out(c, body, blen, ch) < 0) {
        conn_out_rollback(c);
        free(buf);
        return 0;
    }
    free(buf);
    conn_seal(c);
    conn_log(c, 203, c->head_only ? 0 : (uint64_t)rs.length);
    return 1;
}

/* ---- the request ends ---- */

static void px_free(proxy *px)
{
    budget_sub(&px->pl->w->mem, px->ov_cap); /* the struct: pool_put */
    free(px->ov);
    keep_drop(px);
    copy_drop(px);
    unlist(px);
    drop_up(px, 0);
    if (px->pipe) pipe_unref(px->pipe);
    site_release(px->st);
    pool_put(&px->pl->pxs, px);
}

/* The request lets go: the response is whole (the connection to the
 * server may go back to the loop's list), or the client went. */
static void release(struct htd_req *hr)
{
    void **slot = req_slot(hr, &proxy_module);
    proxy *px = *slot;
    *slot = NULL;
    if (!px) return;
    px->c = NULL;
    int reuse = px->finished && !px->up_close && px->state == PX_DONE;
    unlist(px);
    drop_up(px, reuse);
    px_free(px);
}

/* Before the head went out: an error in place of the response. */
static int fail(conn *c, proxy *px, int status, const char *why)
{
    const upstream_server *sv = px->server >= 0 ? &px->u->servers[px->server] : NULL;
    log_error(ERRLOG_ERROR, px->c, "htd: proxy: upstream %s%s%s: %d: %s", px->u->name,
              sv ? " server " : "", sv ? sv->name : "", status, why);
    if (sv && status >= 502) server_failed(px);
    if (px->head_sent) { /* half a response is out: only closing tells the client */
        conn_close(c);
        return GEN_GONE;
    }
    drop_up(px, 0);
    unlist(px);
    copy_drop(px);
    if (status >= 502 && serve_copy(c, px)) return GEN_DONE; /* a kept copy instead */
    conn_error(c, status, why, 1);
    return GEN_DONE;
}

/* The response's body is whole. */
static int finish(conn *c, proxy *px)
{
    px->state = PX_DONE;
    px->finished = 1;
    unlist(px);
    copy_end(c, px);
    if (px->has_body && !px->body_done) px->up_close = 1; /* the server answered early */
    if (px->gz) return GEN_DONE; /* the filter had the end: the last chunk and the log follow it */
    if (px->chunked_out && conn_out_copy(c, "0\r\n\r\n", 5) < 0) {
        conn_close(c);
        return GEN_GONE;
    }
    conn_seal(c);
    conn_log(c, px->status, px->sent);
    return GEN_DONE;
}

/* ---- moving bytes ---- */

/* Sends what px->out holds and then the request body as it comes. 0, or
 * -1 with errno when the server is gone; EAGAIN is 0 (its event resumes). */
static int send_more(conn *c, proxy *px, const char **why)
{
    for (;;) {
        if (to_send(px)) { /* what is sent again of a retry's comes first */
            int again = px->r_off < px->r_len;
            const char *from = again ? px->rb + px->r_off : px->out + px->o_off;
            size_t *off = again ? &px->r_off : &px->o_off;
            ssize_t n =
                send(px->up->fd, from, (again ? px->r_len : px->o_len) - *off, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && errno == EAGAIN) {
                set_deadline(px, px->u->send_ms, 1);
                return 0;
            }
            if (n < 0) {
                *why = "the server closed the connection while the request was sent";
                return -1;
            }
            *off += (size_t)n;
            continue;
        }
        if (!px->has_body || px->body_done) return 0;
        /* The next piece of the body, from the read buffer or the socket. */
        if (!conn_body_pending(c)) {
            px->body_done = 1;
            if (px->req_chunked) {
                if (!px->body_begun) keep_begin(px, c->req->r);
                memcpy(px->out, "0\r\n\r\n", 5);
                out_body(px, 0, 5);
                continue;
            }
            return 0;
        }
        if (c->rbuf && c->rpos < c->rlen) {
            size_t avail = c->rlen - c->rpos, consumed, dlen;
            size_t room = sizeof px->out - 32; /* for the chunk's framing */
            if (avail > room) avail = room;
            char *p = px->out + (px->req_chunked ? 20 : 0);
            if (!px->body_begun) keep_begin(px, c->req->r);
            memcpy(p, c->rbuf + c->rpos, avail);
            int rc = conn_body_take(c, p, avail, &consumed, &dlen, why);
            if (rc < 0) return -2;
            c->rpos += (uint32_t)consumed;
            if (!dlen) continue;
            if (px->req_chunked) {
                char hex[20];
                int hl = snprintf(hex, sizeof hex, "%zx\r\n", dlen);
                memmove(px->out + 20 - hl, hex, (size_t)hl);
                memcpy(px->out + 20 + dlen, "\r\n", 2);
                out_body(px, 20 - (size_t)hl, 20 + dlen + 2);
            } else {
                out_body(px, 0, dlen);
            }
            continue;
        }
        if (!conn_can_read(c)) {
            unlist(px); /* the client's turn: its body timer watches it */
            conn_arm_body_timer(c);
            return 0;
        }
        int r = conn_fill(c);
        if (r == IO_AGAIN) {
            unlist(px);
            conn_arm_body_timer(c);
            return 0;
        }
        if (r == IO_ERROR) {
            *why = "the client went away during the request body";
            return -2;
        }
    }
}

/* Passes on what the server sent of the body, p[0..len) in px->in: GEN_*,
 * or -1 to read on. */
static int pass_body(conn *c, proxy *px, char *p, size_t len, int eof)
{
    const char *why;
    size_t dlen = len;
    if (px->up_chunked && len) {
        ssize_t used = htd_chunked_decode(&px->dec, p, len, &dlen, &why);
        if (used < 0) return fail(c, px, 502, why);
        if ((size_t)used < len) px->up_close = 1; /* bytes after the body: not reusable */
    } else if (px->left >= 0 && (int64_t)dlen > px->left) {
        dlen = (size_t)px->left; /* more than promised */
        px->up_close = 1;
    }
    if (px->left >= 0) px->left -= (int64_t)dlen;
    int done = px->up_chunked ? px->dec.done : px->left == 0;
    if (dlen) copy_body(c, px, p, dlen); /* the origin's bytes */
    if (px->ov_body && !px->bodyless) p = (char *)append_piece(c, px, p, &dlen, done || eof);
    if (px->gz && (dlen || done || eof)) {
        /* Through the filter, the end with the last piece: the filter's
         * output is queued by reference, so it is not called again before
         * that is sent. The last piece stays in px until the request ends. */
        if (response_body(c, p, dlen, done || eof) < 0) {
            conn_close(c);
            return GEN_GONE;
        }
        px->sent += dlen;
    } else if (dlen && !px->bodyless) {
        /* The last piece is copied: px goes when the request ends, before
         * the queue is sent; and so is one that the rest of the body
         * follows at once through the pipe (a few KiB read with the head),
         * which may end the request in the same turn. */
        if (conn_out_chunk(c, p, dlen, px->chunked_out, done || eof || px->pipe) < 0) {
            conn_close(c);
            return GEN_GONE;
        }
        px->sent += dlen;
    }
    if (done) return finish(c, px);
    if (eof) {
        if (px->up_chunked || px->left > 0)
            return fail(c, px, 502, "the server's response ended before its body did");
        px->up_close = 1; /* a body that ends with the connection */
        return finish(c, px);
    }
    if (!c->out) return -1; /* nothing queued (a HEAD, or bytes not of the body): read on */
    unlist(px);             /* the client's turn: its send timeout watches it */
    return GEN_MORE;
}

/* Whether the rest of the body can go from the server's socket to the
 * client's through a pipe, untouched by htd: nothing changes it (no gzip,
 * no text put in, no chunked framing either way), no copy is being kept,
 * and enough of it is still to come. */
static int to_splice(const proxy *px)
{
    return px->may_splice && !px->gz && !px->ov_body && !px->cbuf && !px->bodyless &&
           !px->up_chunked && !px->chunked_out && px->left >= PX_SPLICE_MIN;
}

static int wait_server(proxy *px);

/* The body through the pipe: what the server has of it now into the pipe,
 * and the pipe's bytes into the client's queue. GEN_*. */
static int splice_body(conn *c, proxy *px)
{
    size_t want = px->left < PX_PIPE ? (size_t)px->left : PX_PIPE;
    ssize_t n;
    if (!px->up->rcvbuf_set) {
        /* A set size, which the kernel's tuning then leaves alone: tuned,
         * it let bodies spliced through stall about 200 ms now and then
         * (64 KiB ones: the slowest took 210-215 ms in each of 5 runs, the
         * p99 was 130-185 ms in 3), and a size set does not; with a smaller
         * one a long body costs twice the CPU (bench/README.md, "A stall
         * in the spliced bodies"). Once per connection, and only for one
         * that splices. */
        int sz = PX_RCVBUF;
        setsockopt(px->up->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
        px->up->rcvbuf_set = 1;
    }
    do /* the pipe is empty: none of its bytes are queued when this runs */
        n = splice(px->up->fd, NULL, px->pipe->wfd, NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    while (n < 0 && errno == EINTR);
    px->up->readable = n > 0 && (size_t)n == want;
    if (n < 0 && errno == EAGAIN) /* what is queued (the head) goes meanwhile */
        return c->out ? GEN_MORE : wait_server(px);
    if (n < 0) return fail(c, px, 502, "the server reset the connection");
    if (n == 0) return fail(c, px, 502, "the server's response ended before its body did");
    px->got += (size_t)n;
    px->left -= n;
    px->pipe->op.held += (size_t)n;
    const outq_hold h = {px->pipe, pipe_ref, pipe_unref};
    if (conn_out_pipe(c, &h, &px->pipe->op, (size_t)n) < 0) {
        conn_close(c);
        return GEN_GONE;
    }
    px->sent += (size_t)n;
    if (px->left == 0) {
        /* A splice of just the body's length may have left bytes after it
         * (upconn.readable): whether it did decides if the connection is
         * kept, and looking costs less than a new connection. */
        if (px->up->readable) nothing_waits(px->up);
        return finish(c, px);
    }
    unlist(px); /* the client's turn: its send timeout watches it */
    return GEN_MORE;
}

/* Waits for the server: once the request is sent, its next bytes are due
 * within read_timeout (before, the send timeout or the client's body timer
 * watches). */
static int wait_server(proxy *px)
{
    if (px->state != PX_SEND) set_deadline(px, px->u->read_ms, px->state != PX_BODY);
    return GEN_WAIT;
}

/* Reads from the server: the head, then the body. GEN_*, or -1 for a new
 * attempt made. */
static int receive(conn *c, proxy *px)
{
    int parse = 0; /* a head may be whole in what is read already */
    for (;;) {
        ssize_t n = 0;
        int eof = 0;
        if (!parse && px->pipe) return splice_body(c, px);
        if (!parse) {
            size_t off = px->state == PX_BODY ? 0 : px->i_len;
            if (off == sizeof px->in)
                return fail(c, px, 502, "the server's response head is too large");
            size_t want = sizeof px->in - off;
            if (px->state != PX_BODY && px->may_splice && want > PX_HEAD_READ) want = PX_HEAD_READ;
            n = recv(px->up->fd, px->in + off, want, 0);
            if (n < 0 && errno == EINTR) continue;
            px->up->readable = n > 0 && (size_t)n == want; /* a full read may have left more */
            if (n < 0 && errno == EAGAIN) return wait_server(px);
            if (n < 0) {
                static const char reset[] = "the server reset the connection";
                if (px->state != PX_BODY && try_again(px, 0, reset)) return -1;
                return fail(c, px, 502, reset);
            }
            eof = n == 0;
            px->got += (size_t)n;
            if (px->state == PX_BODY) {
                int rc = pass_body(c, px, px->in, (size_t)n, eof);
                if (rc != -1) return rc;
                continue;
            }
            px->i_len += (size_t)n;
            if (eof && px->i_len == 0) {
                static const char closed[] = "the server closed the connection without a response";
                if (try_again(px, 0, closed)) return -1;
                return fail(c, px, 502, closed);
            }
        }
        parse = 0;
        const char *why;
        memset(&px->hp, 0, sizeof px->hp);
        int r = htd_parse_response(&px->hp, px->in, px->i_len, sizeof px->in, &px->head, &why);
        if (r < 0) return fail(c, px, 502, why);
        if (r == 0) {
            if (eof) return fail(c, px, 502, "the server's response ended inside its head");
            continue;
        }
        if (px->head.status >= 200 || px->head.status == 101) upstream_time(c, px);
        if (px->head.status == 101 && px->upgrade) {
            server_ok(px->u, px->server);
            if (send_head(c, px) < 0)
                return fail(c, px, 502, "the server's response head is too large");
            if (conn_take_stream(c) < 0) return fail(c, px, 500, "out of memory");
            px->state = PX_TUNNEL;
            px->up_close = 1;
            size_t rest = px->i_len - (size_t)r;
            if (rest) { /* what the server sent at once: the client's first */
                if (conn_out_copy(c, px->in + r, rest) < 0)
                    return fail(c, px, 500, "out of memory");
                px->sent += rest;
            }
            px->i_len = 0;
            return GEN_MORE;
        }
        if (px->head.status < 200) {
            if (px->head.status == 101)
                return fail(c, px, 502, "the server switched protocols, which was not asked for");
            /* 100 Continue and the like: the client had its own. */
            memmove(px->in, px->in + r, px->i_len - (size_t)r);
            px->i_len -= (size_t)r;
            parse = px->i_len > 0;
            continue;
        }
        server_ok(px->u, px->server);
        if (!px->head.keep_alive) px->up_close = 1;
        if (send_head(c, px) < 0)
            return fail(c, px, 502, "the server's response head is too large");
        copy_begin(c, px);
        px->state = PX_BODY;
        int nobody = c->req->r->method_id == HTD_M_HEAD || px->status == 204 || px->status == 304;
        px->up_chunked = !nobody && px->head.chunked;
        px->left = nobody ? 0 : px->head.content_length;
        size_t rest = px->i_len - (size_t)r;
        px->i_len = 0;
        if (nobody) {
            if (rest) px->up_close = 1;
            return finish(c, px);
        }
        if (!px->up_chunked && px->left < 0) px->up_close = 1; /* ends with the connection */
        if (to_splice(px) && (int64_t)rest < px->left - PX_SPLICE_MIN)
            px->pipe = pipe_get(px->pl); /* or read and sent as it is */
        if (rest || eof || px->left == 0) {
            int rc = pass_body(c, px, px->in + r, rest, eof);
            /* The body's next piece behind the head: they go out together. */
            if (rc == GEN_MORE && px->pipe) return splice_body(c, px);
            if (rc != -1) return rc;
        }
    }
}

/* PX_TUNNEL: bytes both ways as they come, until the server ends (the
 * client ending its side ends the server's input). GEN_*. */
static int tunnel(conn *c, proxy *px)
{
    for (;;) {
        if (px->o_off < px->o_len) {
            ssize_t n = send(px->up->fd, px->out + px->o_off, px->o_len - px->o_off, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && errno != EAGAIN) { /* the server went: so does the tunnel */
                conn_close(c);
                return GEN_GONE;
            }
            if (n > 0) {
                px->o_off += (size_t)n;
                continue;
            }
        } else if (!px->client_done) {
            px->o_off = px->o_len = 0;
            if (c->rbuf && c->rpos < c->rlen) {
                size_t avail = c->rlen - c->rpos, consumed, dlen;
                if (avail > sizeof px->out) avail = sizeof px->out;
                const char *why;
                memcpy(px->out, c->rbuf + c->rpos, avail);
                (void)conn_body_take(c, px->out, avail, &consumed, &dlen, &why);
                c->rpos += (uint32_t)consumed;
                px->o_len = dlen;
                continue;
            }
            if (conn_can_read(c) || c->hup) {
                int r = conn_fill(c);
                if (r == IO_DONE) continue;
                if (r == IO_ERROR) { /* the client is done: the server reads its end */
                    px->client_done = 1;
                    shutdown(px->up->fd, SHUT_WR);
                }
            }
        }
        ssize_t n = recv(px->up->fd, px->in, sizeof px->in, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {
            set_deadline(px, px->u->read_ms, 0);
            return GEN_WAIT;
        }
        if (n <= 0) return finish(c, px);
        px->got += (size_t)n;
        if (conn_out_chunk(c, px->in, (size_t)n, 0, 0) < 0) {
            conn_close(c);
            return GEN_GONE;
        }
        px->sent += (size_t)n;
        unlist(px);
        return GEN_MORE;
    }
}

/* The request's generator (module.h). */
static int step(conn *c)
{
    proxy *px = PX_OF(c);
    if (!px) return GEN_DONE;
    if (c->hup && !conn_body_pending(c) && px->state != PX_TUNNEL) { /* the client went */
        conn_close(c);
        return GEN_GONE;
    }
    if (px->state == PX_DONE) return GEN_DONE;
    if (px->state == PX_TUNNEL && !(px->deadline && loop_now(px->pl->w->loop) >= px->deadline))
        return tunnel(c, px);
    if (px->deadline && loop_now(px->pl->w->loop) >= px->deadline) {
        if (!px->timeout_504 || px->head_sent) {
            log_error(ERRLOG_ERROR, c,
                      "htd: proxy: upstream %s server %s: timed out in the response", px->u->name,
                      px->u->servers[px->server].name);
            conn_close(c);
            return GEN_GONE;
        }
        const char *why = px->connecting ? "the server did not accept the connection in time"
                          : to_send(px) || (px->has_body && !px->body_done)
                              ? "the server did not take the request in time"
                              : "the server did not answer in time";
        px->reused = 0; /* a server too slow, not a kept connection it had closed */
        if (try_again(px, px->connecting, why)) return step(c);
        return fail(c, px, 504, why);
    }
    if (px->connecting) {
        int err = 0;
        socklen_t el = sizeof err;
        if (getsockopt(px->up->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0) err = errno;
        struct sockaddr_storage peer;
        socklen_t pl = sizeof peer;
        /* No error yet and no peer: still connecting (its deadline runs). */
        if (!err && getpeername(px->up->fd, (struct sockaddr *)&peer, &pl) < 0 && errno == ENOTCONN)
            return GEN_WAIT;
        if (err) {
            char why[160];
            snprintf(why, sizeof why, "cannot connect: %s", strerror(err));
            log_error(ERRLOG_ERROR, c, "htd: proxy: upstream %s server %s: %s", px->u->name,
                      px->u->servers[px->server].name, why);
            server_failed(px);
            if (try_again(px, 1, NULL)) return step(c);
            return fail(c, px, 502, "the server refused the connection");
        }
        px->connecting = 0;
        set_deadline(px, px->u->send_ms, 1);
    }
    for (;;) {
        const char *why = NULL;
        int s = send_more(c, px, &why);
        if (s == -2) { /* the client's body is bad, or the client went */
            if (px->head_sent) {
                conn_close(c);
                return GEN_GONE;
            }
            drop_up(px, 0);
            unlist(px);
            conn_error(c, 400, why, 0);
            return GEN_DONE;
        }
        if (s < 0) {
            /* The server stopped reading: its answer may be waiting. */
            if (try_again(px, 0, why)) continue;
            px->up_close = 1;
        }
        if (px->state == PX_SEND && !to_send(px) && (!px->has_body || px->body_done)) {
            px->state = PX_HEAD;
            /* Sent just now: the answer cannot be there yet, and its arrival
             * is an event of the socket's (edge-triggered), so no read is
             * tried in vain. */
            return wait_server(px);
        }
        int rc = receive(c, px);
        if (rc == -1) continue; /* a new attempt: go on */
        return rc;
    }
}

/* ---- events ---- */

static void up_event(watcher *ev, uint32_t events)
{
    upconn *uc = (upconn *)ev;
    if (uc->fd < 0) return; /* closed earlier in this batch */
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) uc->readable = 1;
    proxy *px = uc->px;
    if (!px) {
        /* Idle: room to write again says nothing; the server closing it,
         * or sending what nobody asked for, ends it. */
        if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return;
        if (nothing_waits(uc)) return;
        unlink_idle(uc);
        up_close(uc);
        return;
    }
    /* Room to write matters only to a connect or a request under way: the
     * edges that ACKs make are not worth a turn of the request. */
    if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && !px->connecting &&
        (px->state != PX_SEND || !to_send(px)) && px->state != PX_TUNNEL)
        return;
    if (px->c && px->c->state == CS_GEN) conn_resume(px->c);
}

/* Once a second while requests are under way: those past their deadline
 * run (their step answers 504, or cuts the response). */
static void px_tick(htd_timer *t)
{
    pxloop *pl = (pxloop *)((char *)t - offsetof(pxloop, tick));
    htd_timer_disarm(&pl->tick);
    uint64_t now = loop_now(pl->w->loop);
    for (proxy *px = pl->active, *next; px; px = next) {
        next = px->next;
        if (px->deadline && now >= px->deadline && px->c && px->c->state == CS_GEN)
            conn_resume(px->c); /* may free px: next was read first */
    }
    if (pl->active) htd_timer_arm(pl->ticks, &pl->tick, now);
}

/* ---- the content phase ---- */

static int content_phase(struct htd_req *hr)
{
    const upstream *u = hr->sc ? hr->sc->proxy : NULL;
    if (!u) return MOD_DECLINED;
    conn *c = hr->c;
    const htd_request *r = hr->r;
    if (r->method_id == HTD_M_CONNECT) return 405;
    pxloop *pl = pxloop_of(c->w);
    if (budget_over(&c->w->mem, sizeof(proxy))) { /* the memory budget: 503 */
        conn_busy(c);
        return MOD_DONE;
    }
    void **slot = req_slot(hr, &proxy_module);
    proxy *px = pl && slot ? pool_get(&pl->pxs) : NULL;
    if (!px) return 500;
    memset(px, 0, offsetof(proxy, hp)); /* counted in the budget by pool_get */
    px->pl = pl;
    px->u = u;
    px->c = c;
    px->st = site_hold(c->w->site);
    *slot = px; /* from here on the release hook frees it, however the request ends */
    px->server = -1;
    px->left = -1;
    px->began = loop_now(c->w->loop);
    px->has_body = r->chunked || r->content_length > 0;
    px->may_splice = transport_can_splice(c->tp) && r->method_id != HTD_M_HEAD;
    /* Upgrade is of this hop: Connection names it (connection_names) */
    px->upgrade = r->connection_names && r->version == 11 && !px->has_body &&
                  connection_says(r->headers, r->nheaders, "upgrade", 7) &&
                  htd_request_header(r, "upgrade", 7).len;
    px->idempotent = r->method_id == HTD_M_GET || r->method_id == HTD_M_HEAD ||
                     r->method_id == HTD_M_PUT || r->method_id == HTD_M_DELETE ||
                     r->method_id == HTD_M_OPTIONS;
    if (build_head(px, hr, c) < 0) {
        conn_answer(c, 431, "the request head is too large to pass on", NULL, 0);
        return MOD_DONE;
    }
    if (hr->sc->copies && (r->method_id == HTD_M_GET || r->method_id == HTD_M_HEAD))
        copy_key(px, hr);
    px->server = pick(u, -1, loop_clock());
    if (px->server < 0) {
        log_error(ERRLOG_ERROR, c, "htd: proxy: upstream %s: every server is left out", u->name);
        if (!serve_copy(c, px))
            conn_answer(c, 502, "every server of the upstream is down", NULL, 0);
        return MOD_DONE;
    }
    while (attempt(px) < 0) {
        int next = px->retried ? -1 : pick(u, px->server, loop_clock());
        px->retried = 1;
        if (next < 0) {
            if (!serve_copy(c, px))
                conn_answer(c, 502, "the server refused the connection", NULL, 0);
            return MOD_DONE;
        }
        px->server = next;
    }
    if (px->has_body) conn_take_body(c);
    htd_timer_disarm(&c->timer);
    hr->gen = step; /* the phases end in GEN */
    return MOD_DONE;
}

static void free_local(void *state)
{
    pxloop *pl = state;
    while (pl->sets) {
        idleset *s = pl->sets;
        pl->sets = s->next;
        while (s->first) {
            upconn *uc = s->first;
            s->first = uc->next;
            loop_unwatch(pl->w->loop, &uc->ev);
            close(uc->fd);
            free(uc);
        }
        free(s);
    }
    while (pl->pipes) {
        pxpipe *pp = pl->pipes;
        pl->pipes = pp->next;
        pipe_close(pp);
    }
    health_free(pl->hc);
    pool_drain(&pl->pxs);
    free(pl);
}

/* The health checks run on loop 0 alone, and follow its site. */
static void adopt(worker *w)
{
    void **slot = w->id == 0 ? loop_local(w->loop, &proxy_module) : NULL;
    if (!slot || (!*slot && !health_wanted(w->site))) return; /* nothing to check, nor was */
    pxloop *pl = pxloop_of(w);
    if (pl) pl->hc = health_follow(pl->hc, w->loop, w->site);
}

/* Nothing proxied in the first site: not in the content phase at all. A
 * reload that adds an upstream needs a restart, as prices do. */
typedef struct proxying {
    int any;
} proxying;

static int init(const htd_config *cfg, void **state, char *err, size_t errlen)
{
    (void)cfg;
    if (!(*state = calloc(1, sizeof(proxying)))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int start(void *state, const registry *reg, const site *st, char *err, size_t errlen)
{
    (void)reg, (void)err, (void)errlen;
    ((proxying *)state)->any = st->nupstreams > 0;
    return 0;
}

static int wanted(const void *state, int ph)
{
    return ph == PH_CONTENT && ((const proxying *)state)->any;
}

const htd_module proxy_module = {
    .name = "proxy",
    .phase = {[PH_CONTENT] = content_phase},
    .init = init,
    .fini = free,
    .start = start,
    .wanted = wanted,
    .release = release,
    .free_local = free_local,
    .adopt = adopt,
};
