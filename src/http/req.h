/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * req.h - the request object: one per request, owned by its connection from
 * the moment its head is parsed until its response is wholly queued (then
 * given back to the worker's pool). Idle connections hold none.
 *
 * It is self-contained: the head's bytes are copied into the request's
 * arena when it is parsed, and every slice of the parsed head points there,
 * so a request that outlives its dispatch (a script, an upload, a body read
 * for a handler) needs neither the read buffer nor a second parse. It is the
 * public htd_req that handlers see.
 */
#ifndef HTD_REQ_H
#define HTD_REQ_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include <stdatomic.h>

#include "arena.h"
#include "htd.h"
#include "loop.h"
#include "parser.h"
#include "path.h"
#include "pool.h"

#define REQ_PATH_MAX 4096
#define REQ_BLOCK 16384 /* the pooled block: the object, then its arena */
#define REQ_SLOTS 8     /* context slots, one per module that holds something of a request */

struct conn;
struct worker;
struct vhost;
struct scope;
struct rule;
struct cache;

#define REQ_HDRS_MAX 1024 /* room for the response header lines a handler may add */

struct htd_req {
    htd_parser parser;       /* how far the head has been scanned */
    htd_request *r;          /* &head once the head is parsed, else NULL */
    struct vhost *vh;        /* chosen by Host */
    const struct rule *rule; /* chosen by path in vh, or NULL */
    const struct scope *sc;  /* the rule's settings, or the vhost's; NULL before they are known */
    struct cache *cache;     /* the vhost's files in this worker, or NULL */
    const char *rule_hdrs;   /* the rule's (or vhost's) header lines, each ending in CRLF */
    size_t rule_hdrs_len;
    const char *cc; /* the Cache-Control line: the rule's, vhost's or a prefix's, or NULL */
    size_t cc_len;
    char *path; /* decoded, normalised, NUL-terminated; in the arena */
    size_t path_len;
    /* path has no segment that starts with '.', as it was known when it was
     * normalised (htd_path_normalize_dotless); 0: not known. */
    uint8_t path_dotless;
    htd_str body;
    char *body_buf; /* conn_read_body's copy of the body (body_len of body_cap), or NULL */
    size_t body_len, body_cap;
    uint64_t body_max; /* the most conn_read_body takes; 0: the server's max_body */
    htd_str log_id;    /* what the request made or looked at, for the log ($job_id): a job's id */
    /* A metered request's, for the log ($charge_account, $charge): the
     * account and the credits charged (charging's log hook sets them). */
    htd_str log_account;
    int64_t log_charge;
    /* The request's id ($request_id, request_id_header, REQUEST_ID, the
     * error log): 32 hex digits in the arena, made the first time something
     * asks (log_request_id), else NULL. */
    const char *log_request_id;
    /* $upstream_time: from the proxy's first try to its upstream's response
     * head (ms), when log_upstream says there was one. */
    uint32_t log_upstream_ms;
    uint8_t log_upstream;
    /* Basic credentials (auth.c, rules.c): Authorization is decoded at most
     * once per request, and only the user name is kept, never the password.
     * claimed is the user the client named, accepted or not (the access
     * log's $remote_user); user is the same name once a realm has accepted
     * it (CGI's REMOTE_USER), else {NULL, 0}. Both in the arena. */
    htd_str claimed;
    htd_str user;
    int creds_read; /* Authorization decoded: claimed is its user, or {NULL, 0} */
    char *hdrs;     /* response headers added by htd_resp_header, in the arena (REQ_HDRS_MAX) */
    size_t hdrs_len;
    int responded;
    uint8_t phase, mod; /* where the phases are (module.h): a suspended request resumes there */
    uint8_t resumed;    /* the module it waits for is back */
    uint8_t keep_alive; /* as the head said, kept while it waits */
    uint8_t body_taken; /* a module reads the body (else an unread body may close the connection) */
    uint8_t continued;  /* 100 Continue has been queued */
    uint8_t heading;    /* its header filters are being asked (module.h head) */
    /* A header filter refused the response being started and answered in
     * its place: what its maker goes on to queue or log is dropped. */
    uint8_t refused;
    uint8_t waiting;             /* suspended (WAIT) until its module or handler is back */
    uint8_t reading;             /* its body is being read for a handler (BODY) */
    int (*gen)(struct conn *c);  /* GEN: the response's generator; says GEN_* (module.h) */
    int (*sink)(struct conn *c); /* SINK: the body's taker; says SINK_* (module.h) */
    /* GEN: the body the generator gives response_body (response.h). */
    int (*filter)(struct conn *c, const char *p, size_t len, int last); /* FILTER_*, or NULL */
    uint64_t body_sent;   /* bytes of it queued (after the filter, before framing): the log's */
    uint16_t body_status; /* the response's, for the log */
    uint8_t body_chunked; /* framed as chunks */
    uint8_t filter_more;  /* the filter has more of a piece: it goes before the generator */
    uint8_t nslots;       /* slots[0..nslots) are made */
    uint8_t gen_ran;      /* the generator made a piece in this run of the connection */
    soon turn;            /* GEN: the next piece is for a coming turn of the loop */
    /* A handler's answer from another thread (htd_req_resume). */
    uint8_t async; /* suspended by a handler (HTD_AGAIN) */
    void (*async_fn)(struct htd_req *hr, void *arg);
    void *async_arg;
    /* Everything above starts zeroed (req_new); what follows is set as it
     * is used. */
    atomic_int resume_called; /* htd_req_resume was called (any thread) */
    struct conn *c;
    struct worker *w;
    /* When its head began to arrive: the loop's clock (ms) at the wake that
     * read its first bytes ($request_time, the metrics' durations). */
    uint64_t start_ms;
    /* The client: the connection's peer, or the address a trusted proxy
     * gave for it (PROXY protocol, X-Forwarded-For). What access rules,
     * rate limits, logs and scripts see; a copy, so it outlives the
     * connection (an answer from another thread). AF_INET or AF_INET6. */
    struct sockaddr_in6 client;
    posted async_post;
    struct {
        const void *key; /* the module (module.h) */
        void *val;
    } slots[REQ_SLOTS];
    htd_request head; /* slices into the arena's copy of the head */
    arena mem;
};

/* A new request for c of worker w from pool p (REQ_BLOCK bytes), or NULL. */
struct htd_req *req_new(pool *p, struct conn *c, struct worker *w);
/* The slot of module key's context in hr, made if need be; NULL when the
 * slots are full. A module whose slot is not NULL when the request ends
 * has its release hook called (module.h). */
void **req_slot(struct htd_req *hr, const void *key);
/* What module key's slot holds, NULL if it has none (none is made). */
void *req_get(const struct htd_req *hr, const void *key);

/* Gives hr back to p with everything its arena holds, and its body_buf,
 * whose body_cap bytes come off mem. */
void req_free(pool *p, struct htd_req *hr, budget *mem);
/* Lets go of hr's body_buf: its body_cap bytes come off mem. */
void req_drop_body(struct htd_req *hr, budget *mem);
/* Reads the head at the start of buf[0..len) into hr, as
 * htd_parse_request would (hr->parser keeps its place), with its bytes
 * copied into the arena so that every slice of it lives as long as the
 * request. The head's length, with hr->r set; 0 when more is needed; or
 * the refusal, as htd_parse_request's (-500 when out of memory), with
 * *why. */
int req_read_head(struct htd_req *hr, const char *buf, size_t len, size_t max_head,
                  const char **why);
/* A request built from the whole head at the start of buf[0..len) as a
 * connection builds one (req_new, req_read_head), but with no
 * socket: for unit tests of what reads a request. c may be NULL, for a
 * request with no peer, or a stub; the path, vhost and body are left for
 * the caller to set. NULL if the head is incomplete or bad, or when out of
 * memory. */
struct htd_req *req_from_head(pool *p, struct conn *c, const char *buf, size_t len);

/* Whether hr's path has a segment that starts with '.' (htd_path_hidden),
 * without a look when that was known as it was normalised. */
static inline int req_path_hidden(const struct htd_req *hr)
{
    return !hr->path_dotless && htd_path_hidden(hr->path, hr->path_len);
}

#endif
