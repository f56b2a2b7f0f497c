/*
 * loop.h - one worker thread's event loop over epoll: its listening sockets,
 * connections, timers, buffer pools and the per-second cached dates.
 *
 * A loop owns everything it touches; nothing is shared between loops but the
 * read-only server. The request being handled lives in the loop, not in the
 * connection: requests are handled to completion one at a time, so an idle
 * connection carries no request state at all.
 */
#ifndef HTD_LOOP_H
#define HTD_LOOP_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "date.h"
#include "jobs.h"
#include "parser.h"
#include "server.h"
#include "timer.h"

/* Kinds of object registered with epoll; each starts with its kind byte. */
enum { EV_LISTENER = 1, EV_STOP, EV_CACHE, EV_JOBS, EV_CONN, EV_CGI };

enum { T_HEADER, T_BODY, T_IDLE, T_SEND, T_LINGER, T_CGI, T_COUNT }; /* T_CGI: scripts' time limits */

#define RBUF_SIZE 16384 /* read buffer; also the largest request head */
#define OUTQ_SIZE 16384 /* response queue block: segments and head bytes */
#define REQ_PATH_MAX 4096
#define GZ_SPARE 4 /* compressors a loop keeps for the next responses */

typedef struct ev_listener {
    uint8_t kind;
    int fd;
} ev_listener;

/* A pooled block of memory: a free list of equal-sized blocks per loop. */
typedef struct pool {
    void *free;
    size_t size;
    size_t nfree, max_free;
} pool;

/* A cache of one vhost's files, as epoll sees it. */
typedef struct loop_cache {
    uint8_t kind; /* EV_CACHE */
    uint8_t tried; /* cache_new was called (and may have failed) */
    struct cache *c;
} loop_cache;

/* The handler's view of a request (the public htd_req). */
struct htd_req {
    struct conn *c;
    htd_request *r;
    struct vhost *vh;     /* chosen by Host */
    const struct scope *sc; /* the rule's settings, or the vhost's; NULL before they are known */
    struct cache *cache;  /* the vhost's files in this loop, or NULL */
    const char *cc;       /* a --cache-control line for the path, or NULL */
    size_t cc_len;
    char path[REQ_PATH_MAX + 1]; /* decoded, normalised */
    size_t path_len;
    htd_str body;
    char hdrs[1024]; /* response headers added by htd_resp_header */
    size_t hdrs_len;
    int responded;
};

typedef struct loop {
    htd_server *srv;
    int id;
    int epfd;
    int stop_fd; /* eventfd written by htd_server_stop */
    uint8_t stop_kind;
    uint8_t jobs_kind;
    job_return jret; /* finished disk jobs of this loop's uploads */
    site *site;             /* the site this loop serves new requests with */
    unsigned site_gen;      /* the server's site_gen when it was taken */
    loop_cache *caches;     /* one per vhost of site, made on first use */
    site *old_site;         /* left behind in this iteration; let go after it */
    loop_cache *old_caches;
    struct auth_cache *auth_cache; /* credentials verified lately */
    unsigned auth_pending;  /* password checks on the pool for this loop */
    struct cgi *dead_cgis;  /* scripts finished in this batch, freed after it */
    struct gz *gz_spare[GZ_SPARE]; /* compressors kept for reuse (gzip.c) */
    int ngz_spare;
    ev_listener *listeners;
    size_t nlisteners;
    int stopping;
    uint64_t accept_paused_until; /* out of descriptors: accept again then (ms), or 0 */
    size_t nconns;
    size_t jobs_out; /* uploads and password checks whose pool jobs will still call back */
    struct conn *fresh; /* accepted, being served, not yet watched by epoll */
    uint64_t now;             /* monotonic milliseconds, once per iteration */
    time_t date_sec;          /* the second the strings below describe */
    char date[HTD_DATE_LEN + 1]; /* IMF-fixdate of date_sec */
    char log_date[32];        /* "[25/Nov/2026:10:00:00 +0000]" */
    char iso_date[32];        /* "2026-11-25T10:00:00+00:00" */
    htd_timer_list timers[T_COUNT];
    pool rbufs, outqs;
    htd_request req; /* the request being handled */
    struct htd_req hreq;
    pthread_t thread;
} loop;

loop *loop_new(htd_server *srv, int id, char *err, size_t errlen);
void loop_free(loop *l);
/* Runs until the loop has stopped and every connection is closed. */
void *loop_run(void *arg);
void loop_stop(loop *l); /* async-signal-safe */
/* Makes the loop look at the server's site again soon. */
void loop_wake(loop *l);
/* The file cache of vhost vh in this loop, made on first use; NULL if none. */
struct cache *loop_cache_for(loop *l, const struct vhost *vh);

void *pool_get(pool *p);
void pool_put(pool *p, void *block);

#endif
