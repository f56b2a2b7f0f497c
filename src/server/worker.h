/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * worker.h - one worker thread over its reactor: its listening sockets,
 * the site it serves, its turns and its graceful stop. What requests see of
 * it (struct worker) is in context.h.
 */
#ifndef HTD_WORKER_H
#define HTD_WORKER_H

#include "context.h"
#include "instance.h"
#include "transport.h"

typedef struct listener {
    watcher w;
    struct worker *wk;
    int proxied;     /* proxy_protocol: its connections start with a PROXY header */
    uint32_t events; /* EPOLLIN, with EPOLLEXCLUSIVE when the workers share the socket */
    /* What reads and writes an accepted socket, made for it (a TLS session
     * under the worker's current certificates), or NULL when out of memory;
     * NULL open: plain TCP. The connection knows only the transport. */
    transport *(*open)(struct listener *ls, int fd);
} listener;

worker *worker_new(htd_server *srv, int id, char *err, size_t errlen);
void worker_free(worker *l);
/* One turn: begins the stop once the server asks for it, then waits for
 * events (if wait, as long as worker_timeout allows; else not at all) and
 * serves them. 1 while the worker runs; 0 once it has stopped and every
 * connection is closed; -1 with errno if its loop failed. */
int worker_turn(worker *l, int wait);
/* How long the worker may wait for events, in milliseconds from now (-1:
 * until there are some): its loop's timers, the access logs' flush and the
 * end of an accept pause. */
int worker_timeout(const worker *l);
/* Turns until the worker has stopped (a thread's start routine). */
void *worker_run(void *arg);
void worker_stop(worker *l); /* async-signal-safe */
/* Makes the loop look at the server's site again soon. */
void worker_wake(worker *l);

#endif
