/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * site.h - what a reload replaces: the virtual hosts, their roots, rules,
 * realms, error pages and access logs, built from a config file (config.c)
 * or from flags alone.
 *
 * A site is immutable once published. The server holds the current one;
 * each loop takes a reference when it first sees a new one and drops its old
 * one, so requests already dispatched finish under the site they began with
 * and a site is freed only when no loop uses it any more. Its types are
 * here, below the modules that read them; what builds and frees one is the
 * server's (config.c).
 */
#ifndef HTD_SITE_H
#define HTD_SITE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "htd.h"

/* What the modules make of a config (access.h, auth.h, log.h, ratelimit.h): the site
 * holds them without looking inside. */
struct access_rule;
struct auth_users;
struct logfmt;
struct ratelimit;
struct tls_certs;

typedef struct realm {
    char *hdr; /* "WWW-Authenticate: Basic realm=\"...\", charset=\"UTF-8\"\r\n" */
    size_t hdr_len;
    struct auth_users *users;
} realm;

typedef struct errdoc {
    int status;
    char *page; /* a normalised path under the vhost's root */
} errdoc;

/* price = { ... }: what a request under a metered scope costs, in credits
 * (402 Payment Required; the charging module). */
typedef struct meter {
    int64_t request;   /* per request served */
    int64_t per_kib;   /* and per started KiB of its response body */
    int64_t head;      /* a HEAD request's, instead of both */
    unsigned window_s; /* a repeated Idempotency-Key within it is not charged again */
    unsigned max_kib;  /* the per-KiB part reserved: a larger body is charged as this */
} meter;

/* One server of an upstream group: where it listens, and what every loop
 * knows of it (shared, so the atomics: the site is otherwise immutable). */
typedef struct upstream_server {
    struct sockaddr_storage addr; /* AF_INET, AF_INET6 or AF_UNIX */
    socklen_t addr_len;
    char name[128];           /* "127.0.0.1:9000", "unix:/run/app.sock", for logs */
    unsigned weight;          /* its share of the requests (round robin) */
    atomic_uint fails;        /* failures in a row */
    atomic_ullong down_until; /* left out until this loop_clock() ms after max_fails */
    atomic_uint active;       /* requests on it now (least_conn) */
    /* The group's health check found it down: left out until the check
     * passes again (set by the one loop that checks, read by all). */
    atomic_uint check_down;
} upstream_server;

enum { BALANCE_ROUND_ROBIN, BALANCE_LEAST_CONN };

/* upstreams = ( { name = "app"; servers = [...]; ... } ): a group of
 * servers a rule's requests are proxied to (the proxy module, proxy.c). */
typedef struct upstream {
    char *name;
    upstream_server *servers;
    size_t nservers;
    int balance;           /* BALANCE_* */
    unsigned keepalive;    /* idle connections kept per loop and server */
    unsigned connect_ms;   /* a connect that takes longer: 504 */
    unsigned read_ms;      /* the server silent this long while a response is awaited: 504 */
    unsigned send_ms;      /* the server taking nothing of the request this long: 504 */
    unsigned max_fails;    /* failures in a row that leave a server out ... */
    unsigned fail_ms;      /* ... for this long */
    char *host;            /* the Host sent, or NULL for the client's */
    uint8_t transform_203; /* a 200 htd changed (compressed, overlaid) is a 203 (else 200) */
    atomic_uint next;      /* round robin: the next turn */
    /* An idempotent request's body is kept as it is sent, up to this many
     * bytes, so that a server failing before it answers can be replaced
     * by another (0: bodies are never sent twice). */
    uint64_t retry_body_max;
    /* health_check = "/healthz": GET every check_ms on each server (2xx
     * or 3xx passes), check_passes passes in a row to come back,
     * check_fails failures in a row to be left out; NULL: no check. */
    char *check_path;
    unsigned check_ms, check_timeout_ms, check_passes, check_fails;
} upstream;

/* keep_copies = { path = "htd-copies"; max_size = "1M"; max_count = 1000; }:
 * the last good 200 to each proxied GET is kept on disk, and served as a
 * 203 when the upstream fails (the proxy module). */
typedef struct copies {
    char *dir;          /* absolute; made when the first copy is kept */
    uint64_t max_size;  /* a larger body is not kept */
    unsigned max_count; /* beyond this many, the oldest go */
} copies;

/* What a rule may set and otherwise inherits from its vhost. The pointers
 * of a rule that inherits are its vhost's; `own` says which to free. */
typedef struct scope {
    const struct access_rule *access;
    size_t naccess;
    const realm *auth;   /* NULL: no authentication */
    const char *headers; /* header lines, each ending in CRLF */
    size_t headers_len;
    const errdoc *errdocs;
    size_t nerrdocs;
    const struct ratelimit *ratelimit; /* NULL: no rate limit (ratelimit.h) */
    const meter *meter;                /* NULL: free */
    const upstream *proxy;             /* NULL: served here; the site owns it */
    const copies *copies;              /* NULL: none kept */
    /* cache_control = "VALUE": "Cache-Control: VALUE\r\n", which wins over
     * the --cache-control prefixes; NULL: none set here or inherited. */
    const char *cc;
    size_t cc_len;
    /* The headers sent (own or inherited) carry a Cache-Control of their
     * own: the prefixes' line is not added to it. */
    uint8_t cc_in_headers;
    /* proxy_headers and proxy_body_append: what the proxy changes in an
     * upstream's 200, which makes it a 203. Header lines that add or
     * replace the upstream's, each ending in CRLF; text put before an HTML
     * body's </body> (or at its end). Lengths 0: none. */
    const char *px_headers;
    size_t px_headers_len;
    const char *px_append;
    size_t px_append_len;
    uint16_t own; /* OWN_* bits */
    /* gzip, brotli, list_dirs and precompressed set in a vhost or a rule: FEAT_ON
     * or FEAT_OFF; FEAT_UNSET takes the vhost's (for a rule), then the
     * server's (scope_feature). */
    uint8_t gzip, brotli, list_dirs, precompressed;
} scope;

enum { FEAT_UNSET, FEAT_OFF, FEAT_ON };

/* A feature's value for a scope: its own, else the server's (dflt). */
static inline int scope_feature(uint8_t v, int dflt)
{
    return v == FEAT_UNSET ? dflt : v == FEAT_ON;
}

enum {
    OWN_ACCESS = 1,
    OWN_AUTH = 2,
    OWN_HEADERS = 4,
    OWN_ERRDOCS = 8,
    OWN_RATELIMIT = 16,
    OWN_METER = 32,
    OWN_PROXY = 64, /* proxy is set here ("off" included); nothing to free */
    OWN_COPIES = 128,
    OWN_CC = 256,
    OWN_PX_HEADERS = 512,
    OWN_PX_APPEND = 1024
};
enum { RULE_EXACT, RULE_PREFIX, RULE_REGEX };

typedef struct rule {
    int kind;
    char *pat; /* the exact path or prefix */
    size_t len;
    /* A regex rule's pattern (PCRE2, JIT-compiled where the JIT works),
     * and the literal every path it can match starts with (from a leading
     * '^'; empty when the pattern says none): paths without it are not
     * matched at all. */
    struct pcre2_real_code_8 *re;
    char *lit;
    size_t lit_len;
    int nsub;       /* capture groups of a regex; 1 for a prefix (what follows it) */
    char *redirect; /* a target template (rewrite.c), or NULL */
    /* rewrite = "TARGET": the path (and query) the request goes on with,
     * choosing its rule again (the rules module); try = [...]: candidates,
     * the first that exists taken, else the last (a path, or "=STATUS"). */
    char *rewrite;
    char **tries;
    size_t ntries;
    int code;
    int keep_query;
    /* methods = [...]: a bit (1 << HTD_M_*, parser.h) for each method the
     * rule applies to; 0 for every method. A request with another method
     * is matched as if the rule were not there. */
    uint32_t methods;
    scope sc;
    /* metrics = true: the status endpoint answers here, once the rule's
     * checks have passed (the metrics module). */
    uint8_t metrics;
    /* cgi = true or false: the paths the rule matches are scripts, or
     * files even under a script prefix (FEAT_*; FEAT_UNSET: the prefixes
     * decide). A vhost's cgi is its list of prefixes, so this is a rule's. */
    uint8_t cgi;
} rule;

/* One access log file with its format and a buffer per loop. */
typedef struct logfile {
    char *path;
    char *spec; /* the format as configured */
    int fd;
    struct logfmt *fmt;
    char **buf; /* [nthreads], each LOG_BUF bytes, allocated on first use */
    size_t *len;
} logfile;

/* --cache-control PREFIX=VALUE: a header laid over whatever rule applies,
 * never a rule of its own (which would replace the rule's auth or access). */
typedef struct cc_rule {
    char *prefix;
    size_t len;
    char *line; /* "Cache-Control: VALUE\r\n" */
    size_t line_len;
} cc_rule;

/* A job queue (202 Accepted): POSTs and PUTs under prefix are stored and
 * run later (the queue module, queue.c). Settings as the config file gives
 * them, defaults filled in (queue_spec_defaults). */
typedef struct queue_spec {
    char *name;   /* the queue's name: its prefix, after the vhost's first name if any */
    char *prefix; /* normalised */
    size_t len;
    char *command;     /* run as a CGI script is; NULL: the program's handler (htd_server_queue) */
    unsigned workers;  /* processor threads */
    unsigned attempts; /* runs before a job is failed */
    unsigned timeout_ms; /* a run's time limit, then its process group is killed */
    unsigned max_queued; /* queued jobs at most; then 503 */
    unsigned max_wait_s; /* Prefer: wait=N is capped at this */
    unsigned retry_ms;   /* the first retry's delay, doubled for each next */
    uint64_t max_body;   /* a larger request body: 413 */
    uint64_t max_result; /* output kept of a run, at most */
    uint64_t expire_s;   /* a finished job is kept this long */
} queue_spec;

/* Fills the settings of q left at 0 with their defaults. */
void queue_spec_defaults(queue_spec *q);

typedef struct vhost {
    char *name;  /* the first of its names as configured; NULL for the top-level server */
    char *root;  /* absolute */
    int root_fd; /* O_PATH */
    int idx;     /* index in the site, and in each loop's caches */
    scope sc;
    rule *rules;
    size_t nrules;
    logfile *log; /* NULL: no access log */
    char **cgi;   /* normalised path prefixes of scripts */
    size_t ncgi;
    cc_rule *cc; /* the longest matching prefix adds its line */
    size_t ncc;
    queue_spec *queues;
    size_t nqueues;
    int tls_ctx;         /* its certificates' context in the site's tls, or -1: the default's */
    int https_redirect;  /* 301 or 308: plain HTTP requests go to https:// (the https module) */
    unsigned https_port; /* the port that redirect names; 0 means 443 */
    char *hsts;          /* Strict-Transport-Security's value on HTTPS responses, or NULL */
    /* request_id_header: the response header that carries the request's
     * id (the log module), or NULL: the vhost's own, else the top level's. */
    char *request_id_header;
    /* writable, max_upload and webdav in a vhost: its own writable areas,
     * beneath its root, as configured ("PREFIX[:SIZE[:QUOTA]]"); the store
     * opens them when the server starts (a reload does not change them). */
    char **writable;
    size_t nwritable;
    uint64_t max_upload; /* 0: the top level's */
    uint8_t webdav;
} vhost;

typedef struct vname {
    char *name; /* lowercase; "*.x.y" is stored as ".x.y" with wildcard set */
    size_t len;
    int wildcard;
    vhost *vh;
} vname;

typedef struct site {
    vhost *vhosts; /* [0] is the top-level server */
    size_t nvhosts;
    vname *names;
    size_t nnames;
    vhost *fallback; /* for a Host that matches no name */
    logfile *logs;
    size_t nlogs;
    upstream *upstreams;
    size_t nupstreams;
    int nthreads;
    /* The certificates of the site's vhosts (core/tls.h), NULL when none
     * has any: what a TLS listener's new connections get. */
    struct tls_certs *tls;
    atomic_int refs;
    void (*destroy)(struct site *st); /* what the last site_release calls */
} site;

/* The vhost for a request's host (as sent; may carry a port). */
vhost *site_vhost(const site *st, htd_str host);

/* The rule for a request with method (enum htd_method) and a decoded path,
 * or NULL; fills caps ($0..$9) for a redirect. */
const rule *site_rule(const vhost *vh, int method, const char *path, size_t len, htd_str *caps,
                      int *ncaps);

/* Whether r's pattern matches a decoded path, whatever the method: a
 * script found beneath a rule's path must be one the rule names (cgi.c). */
int site_rule_covers(const rule *r, const char *path, size_t len);

/* The error page for status in sc, or NULL. */
const char *site_errdoc(const scope *sc, int status);

/* Another reference to st, a site the caller already holds (a request's
 * work that outlives its loop's move to a newer site). */
site *site_hold(site *st);
/* Drops a reference; the last one destroys the site. NULL is nothing. */
void site_release(site *st);

/* A reload: the servers of to's checked groups that from's same-named
 * checked group has (by address) start as its health check left them, so
 * that one found down is not given requests until its next check. */
void site_carry_health(site *to, const site *from);

#endif
