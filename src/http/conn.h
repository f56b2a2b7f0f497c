/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * conn.h - one client connection and its state machine.
 *
 *   HEAD     reading a request head (idle keep-alive when nothing is
 *            buffered; on a proxy_protocol listener, the PROXY header
 *            first), and running the phases of one just parsed
 *   BODY     reading a request body that a handler will receive
 *   WRITE    sending a response queued in the connection's out queue
 *   DISCARD  reading and dropping the body of a request already answered
 *   LINGER   after a final response: write side shut, draining the client's
 *            last bytes so that closing does not reset the response away
 *   SINK     a module takes the request body as it arrives (the request's
 *            sink: the document store's upload), or is busy with what it
 *            took (a disk job) and reads nothing meanwhile
 *   WAIT     a module or handler suspended the request (MOD_AGAIN: a
 *            password check or a directory listing on the pool, a handler's
 *            answer from another thread); reading nothing; when it is back,
 *            the rewrite phase runs again and the module is asked again
 *   GEN      a module produces the response piece by piece (the request's
 *            generator: a script's output, a file being compressed), each
 *            piece through WRITE and back
 *
 * The connection's fields are in connection.h.
 */
#ifndef HTD_CONN_H
#define HTD_CONN_H

#include "connection.h"
#include "outq.h"

/* Takes a new connection, serving what it has sent before watching it.
 * tp: what reads and writes its socket, as its listener chose (plain TCP,
 * or a TLS session: transport.h); closed with fd if c cannot be taken.
 * proxied: its listener has proxy_protocol, so it starts with a PROXY
 * protocol header (proxyproto.h) naming the client, before any request. */
void conn_accept(worker *l, int fd, transport *tp, const struct sockaddr *sa, socklen_t salen,
                 int proxied);
/* The callback of the connections' timer lists. */
void conn_on_timer(htd_timer *t);
/* The connection whose timer t is. */
conn *conn_of_timer(htd_timer *t);
void conn_close(conn *c);
/* Graceful stop: close c if it is idle, else let it end after its response. */
void conn_stop(conn *c);

/* Reads from the socket into the read buffer: IO_DONE, IO_AGAIN, IO_ERROR. */
int conn_fill(conn *c);
/* A module suspends c's request (MOD_AGAIN) for a pool job: the connection
 * waits in CS_WAIT, reading nothing. Counts the job in the worker's. */
void conn_wait(conn *c);
/* The job is back: the rewrite phase runs again (the site may have been
 * reloaded), and the module that suspended the request is asked again
 * (now, or once earlier responses are out). May close c. */
void conn_resume_request(conn *c);
/* A module takes the request's body (it will read it, not drop it): a
 * client that waits for 100 Continue before sending it gets it now. */
void conn_take_body(conn *c);
/* For a module that makes the connection a tunnel once its response head
 * (101 Switching Protocols) is queued: whatever the client sends from now
 * on, as it comes and unframed, is the module's through conn_body_take
 * (never too slow: a tunnel may idle), until the client ends its side
 * (conn_fill says IO_ERROR); the connection closes after the response. */
int conn_take_stream(conn *c); /* 0, or -1 for want of memory (nothing changed) */
/* For a module in the content phase: read the whole request body (within
 * the request's body_max, else the server's max_body: beyond it, 413) into
 * the request, then ask the module again. */
void conn_read_body(conn *c);
/* Waits for more of a request body on the body timer. */
void conn_arm_body_timer(conn *c);
/* Runs the state machine again (after a disk job, say). May close c. */
void conn_resume(conn *c);

/* Request bodies: takes body bytes from p[0..avail): *consumed input bytes,
 * of which the data is p[0..*dlen) (chunked bodies are decoded in place).
 * 1 when the body is complete, 0 if more is needed; else minus the status
 * to answer with, and why: -400 if malformed, -408 if it arrives slower than
 * min_body_rate. */
int conn_body_take(conn *c, char *p, size_t avail, size_t *consumed, size_t *dlen,
                   const char **why);

/* Ends the current request with an error response: status, a one-line body
 * saying why, and whether the connection can be kept (0 forces a close). */
void conn_error(conn *c, int status, const char *why, int keep);
/* Ends the current request (or refuses a new one) with 503 and Retry-After:
 * the worker's share of the memory budget is spent. Closes after it. */
void conn_busy(conn *c);
/* Answers c's request without serving it: an error, a refusal or a
 * redirect, with extra header lines. Keeps the connection when the
 * request's body can be read past. */
void conn_answer(conn *c, int status, const char *why, const char *extra, size_t extra_len);

#endif
