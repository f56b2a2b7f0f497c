/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * transport.h - how a connection's bytes cross its socket: read, vectored
 * write, sendfile, shutdown and close through a table of functions, so that
 * the connection above does not know whether it speaks plain TCP or TLS.
 *
 * A connection holds one pointer, a transport *: the table of functions,
 * followed, in an implementation's own struct that begins with a transport,
 * by that connection's state (a TLS session). Plain TCP has no state: one
 * transport, transport_plain, serves all its connections. One pointer and
 * not two (table, state) because the connection must stay small (conn.h).
 *
 * Every function works on the socket fd, nonblocking, and answers as the
 * system call it stands for does: a count, or -1 with errno, EAGAIN (or
 * EINTR) meaning "not now". The caller's side of the contract:
 *
 * - Readiness is edge-triggered: the caller takes the socket to be readable
 *   (writable) until a call shows otherwise, by EAGAIN or by doing less than
 *   it was asked. So every transport keeps "less than asked" meaning "the
 *   next call would say EAGAIN": read returns fewer than len bytes only when
 *   it has no more to give now (a TLS read goes on decrypting while records
 *   are buffered), and a write takes fewer bytes than offered only when the
 *   socket is full.
 * - After a write said EAGAIN, the caller offers the same bytes again first,
 *   at the same or another address, perhaps with more after them: OpenSSL's
 *   SSL_write must be called again with the bytes of a record it has begun
 *   (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER lets them move). The out queue
 *   (conn.h) does so: its segments advance only by what was written.
 * - pending() says what the transport waits for that the socket's readiness
 *   does not show (see TRANSPORT_READABLE and after). The caller asks
 *   whenever it is about to wait for the socket, and acts on the answer.
 *   Plain TCP always answers 0, so a caller that never asks is right for
 *   plain TCP only.
 * - close is the last call; the socket is forgotten by the reactor first.
 * - info, optional, says what a secure transport negotiated (the protocol,
 *   cipher and server name a log, a script or the Host check wants); plain
 *   TCP has none, which is how the layers above tell the two apart without
 *   naming either.
 */
#ifndef HTD_TRANSPORT_H
#define HTD_TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

typedef struct transport transport;

/* Bits of pending(). */
enum {
    /* read has bytes to give now, though the socket may show nothing new:
     * plaintext decrypted during a write or a handshake (SSL_has_pending).
     * The caller reads without waiting. */
    TRANSPORT_READABLE = 1 << 0,
    /* The last read that said EAGAIN waits for the socket to be writable,
     * not readable (SSL_ERROR_WANT_WRITE: a handshake flight or the answer
     * to a key update that did not fit): the caller watches for output and
     * reads again when it comes. */
    TRANSPORT_READ_ON_WRITABLE = 1 << 1,
    /* The last write that said EAGAIN waits for the socket to be readable
     * (SSL_ERROR_WANT_READ: the client's part of a handshake): the caller
     * writes again when input comes. */
    TRANSPORT_WRITE_ON_READABLE = 1 << 2,
};

/* What info() tells of a connection's security; the strings live as long
 * as the connection. */
typedef struct transport_info {
    const char *protocol;      /* "TLSv1.3" */
    const char *cipher;        /* OpenSSL's name: "TLS_AES_128_GCM_SHA256" */
    const char *server_name;   /* what the client asked for (SNI), or NULL */
    const unsigned char *alpn; /* the protocol agreed by ALPN ("http/1.1"), or NULL */
    unsigned alpn_len;
} transport_info;

typedef struct transport_ops {
    /* Up to len bytes into buf: a count, 0 when the peer has ended its side,
     * or -1 with errno. */
    ssize_t (*read)(transport *t, int fd, void *buf, size_t len);
    /* The bytes of iov[0..cnt): the count taken from the front, or -1 with
     * errno (EPIPE, ECONNRESET once the peer is gone; never a SIGPIPE).
     * more: the caller writes again at once (a file follows its head), so
     * the transport may hold these bytes back to send them together with
     * what follows, as TCP's MSG_MORE does; held bytes count as taken. */
    ssize_t (*writev)(transport *t, int fd, const struct iovec *iov, int cnt, int more);
    /* len bytes of file_fd from *off, which advances by the count sent (the
     * file's own offset is not used): the count, 0 when the file ends at
     * *off, or -1 with errno. Plain TCP's is sendfile(2), which has no flag
     * against SIGPIPE: htd ignores SIGPIPE unless the program embedding it
     * handles it (server.c). */
    ssize_t (*sendfile)(transport *t, int fd, int file_fd, off_t *off, size_t len);
    /* Up to len bytes waiting in the pipe pipe_fd (nonblocking), moved to
     * the socket without a copy through user space (splice(2)): the count
     * taken, or -1 with errno; more as for writev. NULL for a transport that
     * cannot (TLS): then nobody queues pipe bytes for its connections
     * (transport_can_splice). */
    ssize_t (*splice)(transport *t, int fd, int pipe_fd, size_t len, int more);
    /* Ends the sending side after what was written (TLS: a close_notify
     * first); the peer reads the end of the stream, and t can still read.
     * 0 or -1 with errno. */
    int (*shutdown)(transport *t, int fd);
    /* Closes fd and frees t's state for the connection (plain TCP has
     * none). */
    void (*close)(transport *t, int fd);
    /* TRANSPORT_READABLE, TRANSPORT_READ_ON_WRITABLE,
     * TRANSPORT_WRITE_ON_READABLE, or 0: the socket's readiness tells all. */
    unsigned (*pending)(const transport *t);
    /* Fills *out: 0; NULL (plain TCP), or -1: the connection is not
     * secure. */
    int (*info)(const transport *t, transport_info *out);
} transport_ops;

/* What a connection points to; an implementation with per-connection state
 * puts this first in its own struct. */
struct transport {
    const transport_ops *ops;
};

/* Plain TCP: recv(2); sendmsg(2) with MSG_NOSIGNAL, and MSG_MORE when more;
 * sendfile(2); splice(2), with SPLICE_F_MORE when more; shutdown(2) with SHUT_WR; close(2).
 * Stateless, never written, shared by every plain connection of every thread. */
extern transport transport_plain;

static inline ssize_t transport_read(transport *t, int fd, void *buf, size_t len)
{
    return t->ops->read(t, fd, buf, len);
}

static inline ssize_t transport_writev(transport *t, int fd, const struct iovec *iov, int cnt,
                                       int more)
{
    return t->ops->writev(t, fd, iov, cnt, more);
}

static inline ssize_t transport_sendfile(transport *t, int fd, int file_fd, off_t *off, size_t len)
{
    return t->ops->sendfile(t, fd, file_fd, off, len);
}

static inline int transport_can_splice(const transport *t)
{
    return t->ops->splice != NULL;
}

static inline ssize_t transport_splice(transport *t, int fd, int pipe_fd, size_t len, int more)
{
    return t->ops->splice(t, fd, pipe_fd, len, more);
}

static inline int transport_shutdown(transport *t, int fd)
{
    return t->ops->shutdown(t, fd);
}

static inline void transport_close(transport *t, int fd)
{
    t->ops->close(t, fd);
}

static inline unsigned transport_pending(const transport *t)
{
    return t->ops->pending(t);
}

/* 0 and *out for a secure transport, -1 for plain TCP. */
static inline int transport_get_info(const transport *t, transport_info *out)
{
    return t->ops->info ? t->ops->info(t, out) : -1;
}

#endif
