/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connection.h - a client connection's fields, apart from the state machine
 * that drives it (conn.h, conn.c), so that what writes into a connection (its
 * out queue, outq.c; response heads, response.c) does not depend on what
 * drives it.
 *
 * Memory: an idle connection holds only this struct; the read buffer, the
 * out queue and the request object come from the worker's pools while a
 * request is in progress.
 */
#ifndef HTD_CONNECTION_H
#define HTD_CONNECTION_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/types.h>

#include "chunked.h"
#include "context.h"
#include "parser.h"
#include "req.h"
#include "timer.h"
#include "transport.h"

enum conn_state { CS_HEAD, CS_BODY, CS_WRITE, CS_DISCARD, CS_LINGER, CS_SINK, CS_WAIT, CS_GEN };

enum { IO_DONE, IO_AGAIN, IO_ERROR, IO_GATE }; /* IO_GATE: flush waits at a gate (outq.h) */

#define DISCARD_MAX (4u << 20) /* larger unwanted bodies end the connection instead */

/* The framing of a request body some of which is still to come (a tunnel's
 * bytes too): made when its head says there is one, freed once it is all
 * taken, so that a connection between requests holds none. */
typedef struct conn_body {
    uint64_t left;         /* Content-Length bytes still to read; CONN_STREAM: a tunnel's */
    htd_chunked chunked;   /* its decoder, when is_chunked */
    uint32_t window_at;    /* min_body_rate: when the body's window began (ms, wrapping), or 0 */
    uint32_t window_bytes; /* bytes of the body taken in that window (saturating) */
    uint8_t is_chunked;
    uint8_t parked; /* its request waits (conn_wait): not a body to read or drop meanwhile */
} conn_body;

typedef struct conn {
    watcher ev;    /* the socket */
    transport *tp; /* what reads and writes it */
    uint8_t state;
    uint8_t readable : 1;     /* the socket may have bytes: epoll said so and no read drained it */
    uint8_t writable : 1;     /* the socket may take bytes */
    uint8_t keep_alive : 1;   /* the current request allows another after it */
    uint8_t head_only : 1;    /* HEAD: send the head but no body */
    uint8_t http09 : 1;       /* a one-line request: the response is the body alone */
    uint8_t http10 : 1;       /* an HTTP/1.0 request: keep-alive must be said */
    uint8_t started : 1;      /* some bytes of the current request head have arrived */
    uint8_t out_watched : 1;  /* registered for EPOLLOUT too */
    uint8_t proxy_header : 1; /* a PROXY protocol header is due before the first request */
    uint8_t client_ends : 1;  /* the current request said it is the last (close, 1.0, 0.9) */
    uint8_t timer_kind;       /* the list the timer was last armed on (T_...) */
    uint8_t hup;              /* the client has closed its side (or reset) */
    uint8_t opened;           /* the modules' conn_open took it: their conn_close is due */
    worker *w;
    htd_timer timer;
    char *rbuf;          /* RBUF_SIZE, from the loop's pool, or NULL when idle */
    uint32_t rpos, rlen; /* unconsumed input is rbuf[rpos..rlen) */
    struct htd_req *req; /* from the first byte of a head until its response is queued */
    conn_body *bd;       /* while a request body is still to come, else NULL */
    struct outq *out;
    struct sockaddr_in6 peer; /* AF_INET or AF_INET6 */
    unsigned nreq;
} conn;

/* The request in progress on c (its head parsed), or NULL. */
static inline struct htd_req *conn_current(const conn *c)
{
    return c->req && c->req->r ? c->req : NULL;
}

/* The transport's side of waiting (transport.h): before c waits for its
 * socket to be readable, whether a read may give something now after all:
 * the transport holds bytes of its own (TLS records decrypted meanwhile), or
 * its last read waited for room to write (a handshake flight), which the
 * socket has now. Asked only when the socket showed nothing: once per
 * keep-alive request, one call that plain TCP answers with 0. A module that
 * reads the connection's input (a script's body, a tunnel) asks it too. */
static inline int conn_can_read(const conn *c)
{
    if (c->readable) return 1;
    unsigned p = transport_pending(c->tp);
    return (p & TRANSPORT_READABLE) || ((p & TRANSPORT_READ_ON_WRITABLE) && c->writable);
}

/* body_left of a connection that is a tunnel (conn_take_stream): the
 * client's bytes go on until it ends its side. */
#define CONN_STREAM UINT64_MAX

/* Is some of the request's body still to be read? */
static inline int conn_body_pending(const conn *c)
{
    return c->bd && !c->bd->parked;
}

#endif
