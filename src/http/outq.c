/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * outq.c - a connection's out queue: the responses being sent, in order,
 * in one pooled block (see outq.h). Bytes are copied into the block's data
 * area, or referenced where they already live (a file cached in memory, a
 * script's buffer, a malloc'd body the queue then owns), or named as a range
 * of an open file for sendfile. What the segments point into is held until
 * they are sent.
 */
#include "outq.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connection.h"

/* The gate of segment s, or NULL. */
static conn_gate *gate_of(const out_seg *s)
{
    return s->fd == OUTQ_GATE ? (conn_gate *)(uintptr_t)s->off : NULL;
}

void conn_out_release(conn *c)
{
    outq *q = c->out;
    if (!q) return;
    /* Gates not passed: their owners learn how much before them never went. */
    uint64_t unsent = 0;
    for (unsigned i = q->cur; i < q->nseg; i++) {
        conn_gate *g = gate_of(&q->seg[i]);
        if (!g) {
            unsent += q->seg[i].len;
        } else if (!g->open) {
            g->open = 1; /* whatever happens to the queue now, once */
            g->dropped(g, unsent);
        }
    }
    for (unsigned i = 0; i < q->nholds; i++)
        q->holds[i].unref(q->holds[i].obj);
    free(q->heap);
    pool_put(&c->w->outqs, q);
    c->out = NULL;
}

outq *conn_outq(conn *c)
{
    if (!c->out) {
        outq *q = pool_get(&c->w->outqs);
        if (!q) return NULL;
        q->nseg = q->cur = q->nholds = 0;
        q->mark_nseg = q->mark_nholds = 0;
        q->mark_dlen = 0;
        q->heap = NULL;
        q->dlen = 0;
        c->out = q;
    }
    return c->out;
}

static int add_seg(outq *q, const char *p, uint64_t len, uint64_t off, int fd)
{
    if (len == 0) return 0;
    /* Adjacent memory in the data area extends the previous segment. */
    if (p && q->nseg > q->mark_nseg && q->seg[q->nseg - 1].p &&
        q->seg[q->nseg - 1].p + q->seg[q->nseg - 1].len == p) {
        q->seg[q->nseg - 1].len += len;
        return 0;
    }
    if (q->nseg == OUTQ_SEGS) return -1;
    q->seg[q->nseg++] = (out_seg){.p = p, .len = len, .off = off, .fd = fd};
    return 0;
}

/* Copies len bytes into the data area, which has room for them. */
static int copy_in(outq *q, const void *p, size_t len)
{
    char *dst = q->data + q->dlen;
    memcpy(dst, p, len);
    q->dlen += len;
    return add_seg(q, dst, len, 0, -1);
}

int conn_out_copy(conn *c, const void *p, size_t len)
{
    if (c->head_only) return 0;
    outq *q = conn_outq(c);
    if (!q) return -1;
    if (len <= OUTQ_DATA - q->dlen) return copy_in(q, p, len);
    if (q->heap) return -1; /* one large body per response is enough for anyone */
    q->heap = malloc(len);
    if (!q->heap) return -1;
    memcpy(q->heap, p, len);
    return add_seg(q, q->heap, len, 0, -1);
}

int conn_out_ref(conn *c, const char *p, size_t len)
{
    if (c->head_only) return 0;
    outq *q = conn_outq(c);
    return q ? add_seg(q, p, len, 0, -1) : -1;
}

int conn_out_chunk(conn *c, const char *p, size_t len, int chunked, int copy)
{
    int rc = 0;
    if (chunked) {
        char hex[24];
        int hl = snprintf(hex, sizeof hex, "%zx\r\n", len);
        rc |= conn_out_copy(c, hex, (size_t)hl);
    }
    rc |= copy ? conn_out_copy(c, p, len) : conn_out_ref(c, p, len);
    if (chunked) rc |= conn_out_copy(c, "\r\n", 2);
    return rc ? -1 : 0;
}

int conn_out_give(conn *c, char *buf, size_t len)
{
    outq *q = c->head_only ? NULL : conn_outq(c);
    if (!q || q->heap) {
        free(buf);
        return c->head_only ? 0 : -1;
    }
    q->heap = buf;
    return add_seg(q, buf, len, 0, -1);
}

/* Holds h's object until the queue is sent, unless the last hold is of
 * it already. */
static int hold(outq *q, const outq_hold *h)
{
    if (q->nholds && q->holds[q->nholds - 1].obj == h->obj) return 0;
    if (q->nholds == OUTQ_HOLDS) return -1;
    h->ref(h->obj);
    q->holds[q->nholds++] = *h;
    return 0;
}

int conn_out_held(conn *c, const outq_hold *h, const char *p, int fd, uint64_t off, uint64_t len)
{
    if (c->head_only || len == 0) return 0;
    outq *q = conn_outq(c);
    if (!q) return -1;
    /* A small body right behind the queue's only head is copied there: the
     * response is then one piece, sent with one plain send, and nothing
     * needs holding. Copying 1 KiB costs less than the msghdr and iovec the
     * kernel would copy in instead. Behind pipelined responses it is not:
     * the data area is kept for their heads, so that more of them go out
     * in one write. */
    if (p && q->nseg == 1 && len <= OUTQ_COPY_MAX && len <= OUTQ_DATA - q->dlen)
        return copy_in(q, p, len);
    if (hold(q, h) < 0) return -1;
    return p ? add_seg(q, p, len, 0, -1) : add_seg(q, NULL, len, off, fd);
}

int conn_out_pipe(conn *c, const outq_hold *h, out_pipe *pp, size_t len)
{
    if (c->head_only || len == 0) return 0;
    outq *q = conn_outq(c);
    if (!q || hold(q, h) < 0) return -1;
    return add_seg(q, NULL, len, (uintptr_t)pp, OUTQ_PIPE);
}

int conn_out_gate(conn *c, conn_gate *g)
{
    outq *q = c->out;
    if (!q || q->cur == q->nseg || q->nseg + 2 > OUTQ_SEGS) return -1;
    out_seg *last = &q->seg[q->nseg - 1];
    if (last->len == 0) return -1;
    /* The last byte, as a segment of its own behind the gate: the same
     * memory or file, so whatever holds it holds it still. */
    out_seg tail = *last;
    last->len--;
    if (tail.p)
        tail.p += tail.len - 1;
    else if (tail.fd != OUTQ_PIPE) /* a pipe's bytes come in order: both name it */
        tail.off += tail.len - 1;
    tail.len = 1;
    g->open = g->called = 0;
    q->seg[q->nseg++] = (out_seg){.p = NULL, .len = 0, .off = (uintptr_t)g, .fd = OUTQ_GATE};
    q->seg[q->nseg++] = tail;
    if (last->len == 0) { /* a one-byte segment: the gate takes its place */
        memmove(last, last + 1, 2 * sizeof *last);
        q->nseg--;
    }
    q->mark_nseg = q->nseg; /* final: an error later takes back nothing of it */
    return 0;
}

/* Marks the queue's end as the start of the next request's response: what
 * is queued so far is final (see outq's mark). */
void conn_seal(conn *c)
{
    outq *q = c->out;
    if (!q) return;
    q->mark_nseg = q->nseg;
    q->mark_nholds = q->nholds;
    q->mark_dlen = q->dlen;
}

/* Takes back what the current request queued since the last conn_seal. */
void conn_out_rollback(conn *c)
{
    outq *q = c->out;
    if (!q) return;
    while (q->nholds > q->mark_nholds) {
        outq_hold *h = &q->holds[--q->nholds];
        h->unref(h->obj);
    }
    q->nseg = q->mark_nseg;
    q->dlen = q->mark_dlen;
    free(q->heap);
    q->heap = NULL;
    if (q->nseg == q->cur) conn_out_release(c);
}
