/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * outq.h - a connection's out queue: responses being sent, in order, as
 * segments of memory and file ranges in one pooled block, with a mark where
 * the current request's response begins.
 */
#ifndef HTD_OUTQ_H
#define HTD_OUTQ_H

#include <stddef.h>
#include <stdint.h>

struct conn;
typedef struct conn conn;

/* One piece of a response: bytes in memory, a range of an open file, or
 * bytes waiting in a pipe (fd OUTQ_PIPE); or a gate (fd OUTQ_GATE). */
typedef struct out_seg {
    const char *p; /* memory, or NULL for the others */
    uint64_t len;
    uint64_t off; /* file offset; the out_pipe of a pipe's bytes; the conn_gate of a gate */
    int fd;       /* the file of a file range, or OUTQ_PIPE, OUTQ_GATE */
} out_seg;

#define OUTQ_SIZE 16384 /* the block: segments and head bytes */
#define OUTQ_SEGS 96
#define OUTQ_HOLDS 24
#define OUTQ_COPY_MAX 4096 /* held memory up to this may be copied (conn_out_held) */

/* Something the segments point into, kept until they are sent: obj with its
 * reference count's two functions (a cache entry's, say). */
typedef struct outq_hold {
    void *obj;
    void (*ref)(void *obj);
    void (*unref)(void *obj);
} outq_hold;

/* Responses being sent, in order: a pooled block of OUTQ_SIZE bytes. Several
 * pipelined responses share one queue and go out in one write. The mark is
 * where the current request's response begins, so an error can take back
 * what the request had queued without touching the responses before it. */
typedef struct outq {
    uint16_t nseg, cur, nholds;
    uint16_t mark_nseg, mark_nholds;
    size_t mark_dlen;
    char *heap;                  /* an allocated body, freed with the queue, or NULL */
    size_t dlen;                 /* bytes used of data */
    outq_hold holds[OUTQ_HOLDS]; /* what the segments point into */
    out_seg seg[OUTQ_SEGS];
    char data[];
} outq;

#define OUTQ_DATA (OUTQ_SIZE - sizeof(outq))

/* Building a response (response.c, handlers, modules). The queue is
 * taken from the worker's pool when the first piece comes; on HEAD and
 * HTTP/0.9 heads the body pieces are dropped. */
outq *conn_outq(conn *c);
/* Appends len bytes to the response body, copying them. -1 when out of memory. */
int conn_out_copy(conn *c, const void *p, size_t len);
/* Bytes waiting in a pipe, put there by its owner without a copy through
 * user space (a proxied body spliced from its server): the queue moves them
 * to the socket with transport_splice and takes what it sent off held. The
 * owner puts bytes in only while none of its are queued, so that a pipe is
 * never full when they come. */
typedef struct out_pipe {
    int rfd;     /* the read end, nonblocking */
    size_t held; /* bytes in the pipe */
} out_pipe;
/* The out segment of bytes in a pipe: fd OUTQ_PIPE, p NULL, off the out_pipe. */
#define OUTQ_PIPE (-3)
/* Appends the next len bytes of pp (held in it already), holding h's
 * object until they are sent. Only for a connection whose transport can
 * splice (transport_can_splice). -1 when out of memory or segments. */
int conn_out_pipe(conn *c, const outq_hold *h, out_pipe *pp, size_t len);
/* Appends len bytes that live in h's object, at p, or (p NULL) at off in
 * the open file fd, holding a reference to the object until they are
 * sent; up to OUTQ_COPY_MAX bytes of memory right behind the queue's only
 * head are copied instead. */
int conn_out_held(conn *c, const outq_hold *h, const char *p, int fd, uint64_t off, uint64_t len);
/* Lets go of the queue and what it holds (it is sent, or the connection
 * closes). */
void conn_out_release(conn *c);
/* Appends p[0..len) as one chunk of a chunked body (or as it is, when not
 * chunked), copied or, like conn_out_ref, not. */
int conn_out_chunk(conn *c, const char *p, size_t len, int chunked, int copy);
/* Appends buf[0..len), a malloc'd block the queue then owns (one per
 * response). -1 if it cannot (buf is freed). */
int conn_out_give(conn *c, char *buf, size_t len);
/* Appends len bytes at p, not copied: they must stay until the queue is sent. */
int conn_out_ref(conn *c, const char *p, size_t len);
/* Takes back what the current request has queued so far. */
void conn_out_rollback(conn *c);
/* Marks what is queued as final: a later error takes back only what follows. */
void conn_seal(conn *c);

/* A gate in the queue: nothing after it is sent until it opens. For what
 * must happen between the first byte of a response and its last (charging
 * settles a response once all of it but its last byte has gone, so that a
 * response received whole was always charged, and a charge never exists
 * for one that did not begin). Its owner keeps it until one of these: */
typedef struct conn_gate conn_gate;
struct conn_gate {
    /* Everything before it is sent: the connection waits (on the send
     * timer) until conn_gate_open. Called once. */
    void (*reached)(conn_gate *g, conn *c);
    /* The queue goes before the gate opened (the connection closes):
     * unsent bytes before it were never sent. Not called after opening. */
    void (*dropped)(conn_gate *g, uint64_t unsent);
    uint8_t open, called;
};
/* The out segment of a gate: fd OUTQ_GATE, p NULL, len 0, off the gate. */
#define OUTQ_GATE (-2)
/* Puts g before the last byte of what is queued (a response wholly
 * queued). -1 when nothing is queued or the queue is full. */
int conn_out_gate(conn *c, conn_gate *g);
/* g, reached, opens: the rest goes out (the connection runs again; it may
 * close). */
void conn_gate_open(conn *c, conn_gate *g);

#endif
