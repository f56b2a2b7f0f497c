/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * context.h - what serving a request sees of its server and of the worker
 * thread it runs on.
 *
 * The server (server.c) and its workers (worker.c) are above the modules;
 * their parts that connections and modules read are here, below them: the
 * modules and their per-server state, the settings, the job pool, the MIME
 * table; and each thread's reactor, clock, dates, site, timer lists and
 * block pools.
 *
 * A worker owns everything it touches; nothing is shared between workers
 * but the server's context, read-only once it runs (the modules' per-server
 * state guards itself). An idle connection holds no request state at all.
 */
#ifndef HTD_CONTEXT_H
#define HTD_CONTEXT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "budget.h"
#include "counters.h"
#include "date.h"
#include "htd.h"
#include "loop.h"
#include "module.h"
#include "pool.h"
#include "site.h"
#include "timer.h"

struct jobs;
struct listener;
struct worker_cache;

/* The server as requests see it. */
typedef struct server_ctx {
    registry reg;      /* the modules, with their per-server state */
    htd_config cfg;    /* defaults filled in */
    struct jobs *jobs; /* the job pool: uploads, password checks, listings */
    struct htd_mime *mime;
    atomic_uint nconns; /* open connections, every worker's, when cfg.max_conns is set */
    /* For monitoring: every worker's counters (ctr below), and the reloads
     * done since the start. */
    counter_set counters;
    atomic_uint reloads;
} server_ctx;

/* The connection timer lists of a worker; T_CGI: scripts' time limits. */
enum { T_HEADER, T_BODY, T_IDLE, T_SEND, T_LINGER, T_CGI, T_COUNT };

/* What a worker counts in its counters (counters.h), each in one place:
 * connections taken, open and with a request in progress (from the first
 * byte of its head until the connection is idle again or the next request
 * starts; the others open are idle), bytes read from and written to clients
 * (the plain text, under TLS), and the open-file cache's lookups. */
enum {
    WC_CONN_ACCEPTED, /* conn.c */
    WC_CONN_OPEN,
    WC_CONN_ACTIVE,
    WC_BYTES_IN,
    WC_BYTES_OUT,
    WC_CACHE_HITS, /* cache.c */
    WC_CACHE_MISSES,
    WC_COUNT
};
_Static_assert(WC_COUNT <= COUNTERS_MAX, "a worker's counters fit a block");

#define RBUF_SIZE 16384 /* read buffer; also the largest request head */

typedef struct worker {
    server_ctx *srv;
    struct htd_server *server; /* what srv is part of (server.h) */
    int id;
    loop *loop;                  /* the reactor */
    site *site;                  /* the site this loop serves new requests with */
    unsigned site_gen;           /* the server's site_gen when it was taken */
    struct worker_cache *caches; /* one per vhost of site, made on first use (cache.h) */
    site *old_site;              /* left behind in this iteration; let go after it */
    struct worker_cache *old_caches;
    struct listener *listeners;
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
    budget mem;   /* this worker's share of cfg.memory_budget */
    counters ctr; /* WC_* (above), in srv->counters */
    pthread_t thread;
} worker;

#endif
