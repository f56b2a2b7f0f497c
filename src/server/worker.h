/*
 * worker.h - one worker thread over epoll: its listening sockets,
 * connections, timers, buffer pools and the per-second cached dates.
 *
 * A loop owns everything it touches; nothing is shared between loops but the
 * read-only server. The request being handled lives in the loop, not in the
 * connection: requests are handled to completion one at a time, so an idle
 * connection carries no request state at all.
 */
#ifndef HTD_WORKER_H
#define HTD_WORKER_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "date.h"
#include "jobs.h"
#include "loop.h"
#include "outq.h"
#include "parser.h"
#include "pool.h"
#include "req.h"
#include "server.h"
#include "timer.h"

enum {
    T_HEADER,
    T_BODY,
    T_IDLE,
    T_SEND,
    T_LINGER,
    T_CGI,
    T_COUNT
}; /* T_CGI: scripts' time limits */

#define RBUF_SIZE 16384 /* read buffer; also the largest request head */

typedef struct listener {
    watcher w;
    struct worker *wk;
} listener;

/* A cache of one vhost's files, watched for its file-change events. */
typedef struct worker_cache {
    watcher w;     /* `first`: file changes before the requests of a batch */
    uint8_t tried; /* cache_new was called (and may have failed) */
    struct cache *c;
} worker_cache;

typedef struct worker {
    htd_server *srv;
    int id;
    loop *loop;           /* the reactor */
    site *site;           /* the site this loop serves new requests with */
    unsigned site_gen;    /* the server's site_gen when it was taken */
    worker_cache *caches; /* one per vhost of site, made on first use */
    site *old_site;       /* left behind in this iteration; let go after it */
    worker_cache *old_caches;
    listener *listeners;
    size_t nlisteners;
    int stopping;
    uint64_t accept_paused_until; /* out of descriptors: accept again then (ms), or 0 */
    size_t nconns;
    size_t jobs_out;    /* uploads and password checks whose pool jobs will still call back */
    struct conn *fresh; /* accepted, being served, not yet watched by epoll */
    uint64_t now;       /* monotonic milliseconds, once per iteration */
    time_t date_sec;    /* the second the strings below describe */
    char date[HTD_DATE_LEN + 1]; /* IMF-fixdate of date_sec */
    char log_date[32];           /* "[25/Nov/2026:10:00:00 +0000]" */
    char iso_date[32];           /* "2026-11-25T10:00:00+00:00" */
    htd_timer_list *timers[T_COUNT];
    pool rbufs, outqs, reqs;
    pthread_t thread;
} worker;

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
/* The file cache of vhost vh in this loop, made on first use; NULL if none. */
struct cache *worker_cache_for(worker *l, const struct vhost *vh);

#endif
