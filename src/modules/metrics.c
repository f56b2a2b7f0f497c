/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * metrics.c - the status endpoint (metrics.h).
 *
 * Each loop's counts are in a block of its own (mloop), made by the loop
 * the first time it logs a response and put on the server's list under a
 * mutex; blocks live until the server goes, so the list only grows (by one
 * per worker). Only its loop writes a block, with plain stores; the worker
 * answering a scrape reads every block with relaxed loads (counters.h).
 *
 * The responses of each virtual host are counted under its name, so that
 * the counts go on across reloads (which renumber the vhosts): a block
 * keeps one entry per name it has seen, on a list that its loop extends
 * with a release store and never shortens, and a map from the vhost numbers
 * of the site its loop serves to those entries, so that counting costs no
 * lookup by name.
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accept.h"
#include "cgi.h"
#include "conn.h"
#include "jobs.h"
#include "json.h"
#include "req.h"

#ifndef HTD_COMMIT /* the Makefile's build/commit.h, as for --version */
#define HTD_COMMIT "unknown"
#endif

#define NCLASS 5 /* 1xx .. 5xx */

/* The histogram's upper bounds, in milliseconds (the loop's clock), and as
 * Prometheus's le labels in seconds; the last bucket is +Inf. */
static const uint64_t bound_ms[] = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};
static const char *const bound_le[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                                       "0.5",   "1",    "2.5",   "5",    "10"};
#define NBOUND (sizeof bound_ms / sizeof bound_ms[0])
#define NBUCKET (NBOUND + 1)

/* The name the top-level server (and a request that never got as far as a
 * vhost) is counted under: nginx's catch-all name, never a host's. */
#define TOP_NAME "_"

/* One vhost's responses on one loop. */
typedef struct vcount {
    struct vcount *next;
    uint64_t by_class[NCLASS];
    char name[];
} vcount;

/* One loop's counts. */
typedef struct mloop {
    struct mloop *next; /* on the server's list */
    vcount *vhosts;     /* published with a release store */
    uint64_t buckets[NBUCKET];
    uint64_t sum_ms;
    /* The vhosts of the site the loop serves, by number (its own). */
    const site *map_site;
    unsigned map_gen;
    vcount **map;
    size_t nmap;
} mloop;

/* The module's per-server state. */
typedef struct msrv {
    int on; /* the first site has a metrics rule */
    pthread_mutex_t mu;
    mloop *loops;
} msrv;

/* By the owning loop only (counters.h). */
static inline void bump(uint64_t *v, uint64_t n)
{
    __atomic_store_n(v, *v + n, __ATOMIC_RELAXED);
}

static inline uint64_t get(const uint64_t *v)
{
    return __atomic_load_n(v, __ATOMIC_RELAXED);
}

/* ---- counting (the log hook, on each loop) ---- */

static vcount *find_or_add(mloop *m, const char *name)
{
    for (vcount *v = m->vhosts; v; v = v->next)
        if (strcmp(v->name, name) == 0) return v;
    size_t n = strlen(name);
    vcount *v = calloc(1, sizeof *v + n + 1);
    if (!v) return NULL;
    memcpy(v->name, name, n + 1);
    v->next = m->vhosts;
    __atomic_store_n(&m->vhosts, v, __ATOMIC_RELEASE); /* its name before it is seen */
    return v;
}

static vcount *count_of(mloop *m, const worker *w, const vhost *vh)
{
    if (!vh) return find_or_add(m, TOP_NAME);
    const site *st = w->site;
    uintptr_t p = (uintptr_t)vh, lo = (uintptr_t)st->vhosts;
    if (p < lo || p >= (uintptr_t)(st->vhosts + st->nvhosts)) /* a request of an older site */
        return find_or_add(m, vh->name ? vh->name : TOP_NAME);
    if (m->map_site != st || m->map_gen != w->site_gen) {
        vcount **map = realloc(m->map, st->nvhosts * sizeof *map);
        if (!map) return NULL;
        memset(map, 0, st->nvhosts * sizeof *map);
        m->map = map;
        m->nmap = st->nvhosts;
        m->map_site = st;
        m->map_gen = w->site_gen;
    }
    vcount **slot = &m->map[vh->idx];
    if (!*slot) *slot = find_or_add(m, vh->name ? vh->name : TOP_NAME);
    return *slot;
}

static mloop *loop_block(const worker *w)
{
    void **slot = loop_local(w->loop, &metrics_module);
    if (!slot) return NULL;
    if (*slot) return *slot;
    msrv *s = registry_state(&w->srv->reg, &metrics_module);
    mloop *m = calloc(1, sizeof *m);
    if (!s || !m) {
        free(m);
        return NULL;
    }
    pthread_mutex_lock(&s->mu);
    m->next = s->loops;
    s->loops = m;
    pthread_mutex_unlock(&s->mu);
    return *slot = m;
}

static void log_hook(const conn *c, int status, uint64_t bytes)
{
    (void)bytes; /* the bytes sent are the worker's (WC_BYTES_OUT) */
    const worker *w = c->w;
    mloop *m = loop_block(w);
    if (!m) return;
    /* The request, its head parsed or not (a 400 has none). */
    const struct htd_req *hr = c->req;
    vcount *v = count_of(m, w, hr ? hr->vh : NULL);
    int k = status / 100 - 1;
    if (k < 0) k = 0;
    if (k >= NCLASS) k = NCLASS - 1;
    if (v) bump(&v->by_class[k], 1);
    uint64_t ms = hr && w->now > hr->start_ms ? w->now - hr->start_ms : 0;
    size_t b = 0;
    while (b < NBOUND && ms > bound_ms[b])
        b++;
    bump(&m->buckets[b], 1);
    bump(&m->sum_ms, ms);
}

/* ---- the sums (on the scraping worker) ---- */

typedef struct vtotal {
    const char *name;
    uint64_t by_class[NCLASS];
} vtotal;

typedef struct totals {
    uint64_t wc[COUNTERS_MAX];
    uint64_t buckets[NBUCKET]; /* cumulative */
    uint64_t sum_ms;
    uint64_t by_class[NCLASS];
    vtotal *v;
    size_t nv, capv;
    size_t queued;
    unsigned scripts, reloads;
} totals;

static vtotal *vtotal_of(totals *t, const char *name)
{
    for (size_t i = 0; i < t->nv; i++)
        if (strcmp(t->v[i].name, name) == 0) return &t->v[i];
    if (t->nv == t->capv) {
        size_t cap = t->capv ? t->capv * 2 : 16;
        vtotal *v = realloc(t->v, cap * sizeof *v);
        if (!v) return NULL;
        t->v = v;
        t->capv = cap;
    }
    t->v[t->nv] = (vtotal){.name = name};
    return &t->v[t->nv++];
}

/* Sums every loop's counts. The names in t->v are the blocks' (which last
 * as long as the server) and the site's hr serves. -1 when out of memory. */
static int sum(const struct htd_req *hr, msrv *s, totals *t)
{
    const worker *w = hr->w;
    server_ctx *srv = w->srv;
    /* The vhosts of the site first, so that those not yet asked show 0. */
    for (size_t i = 0; i < w->site->nvhosts; i++) {
        const char *name = w->site->vhosts[i].name;
        if (!vtotal_of(t, name ? name : TOP_NAME)) return -1;
    }
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    for (const mloop *m = s->loops; m; m = m->next) {
        for (size_t b = 0; b < NBUCKET; b++)
            t->buckets[b] += get(&m->buckets[b]);
        t->sum_ms += get(&m->sum_ms);
        for (const vcount *v = __atomic_load_n(&m->vhosts, __ATOMIC_ACQUIRE); v; v = v->next) {
            vtotal *vt = vtotal_of(t, v->name);
            if (!vt) {
                rc = -1;
                break;
            }
            for (int k = 0; k < NCLASS; k++) {
                uint64_t n = get(&v->by_class[k]);
                vt->by_class[k] += n;
                t->by_class[k] += n;
            }
        }
    }
    pthread_mutex_unlock(&s->mu);
    for (size_t b = 1; b < NBUCKET; b++) /* Prometheus's buckets count all below their bound */
        t->buckets[b] += t->buckets[b - 1];
    counters_sum(&srv->counters, t->wc);
    t->queued = srv->jobs ? jobs_queued(srv->jobs) : 0;
    t->scripts = cgi_running(&srv->reg);
    t->reloads = atomic_load_explicit(&srv->reloads, memory_order_relaxed);
    return rc;
}

/* Connections open with no request in progress. The blocks are read one
 * after another, so a moment's skew could make active exceed open. */
static uint64_t idle(const totals *t)
{
    uint64_t open = t->wc[WC_CONN_OPEN], active = t->wc[WC_CONN_ACTIVE];
    return open > active ? open - active : 0;
}

/* ---- the page ---- */

typedef struct buf {
    char *p;
    size_t len, cap;
    int failed; /* out of memory: the page is not sent */
} buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...)
{
    if (b->failed) return;
    if (!b->p && !(b->p = malloc(b->cap = 8192))) {
        b->failed = 1;
        return;
    }
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n) * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

/* A name as the inside of a Prometheus label value: \, " and newline
 * escaped. */
static void put_label(buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            put(b, "\\%c", *s);
        else if (*s == '\n')
            put(b, "\\n");
        else
            put(b, "%c", *s);
    }
}

/* A name as the inside of a JSON string. */
static void put_json(buf *b, const char *s)
{
    char tmp[512];
    size_t n = strlen(s), need = json_escape(tmp, sizeof tmp, s, n);
    if (need < sizeof tmp) {
        put(b, "%s", tmp);
        return;
    }
    char *big = malloc(need + 1);
    if (!big) {
        b->failed = 1;
        return;
    }
    json_escape(big, need + 1, s, n);
    put(b, "%s", big);
    free(big);
}

static const char *const class_name[NCLASS] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

/* Seconds from milliseconds, without a float's rounding. */
#define SECONDS(ms) (unsigned long long)((ms) / 1000), (unsigned)((ms) % 1000)

static void metric(buf *b, const char *name, const char *type, const char *help)
{
    put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prometheus(buf *b, const totals *t)
{
    metric(b, "htd_build_info", "gauge", "The version of htd and the commit it was built from.");
    put(b, "htd_build_info{version=\"%s\",commit=\"", HTD_VERSION);
    put_label(b, HTD_COMMIT);
    put(b, "\"} 1\n");
    metric(b, "htd_http_requests_total", "counter",
           "Responses sent, by virtual host (_ for the top-level server) and status class.");
    for (size_t i = 0; i < t->nv; i++)
        for (int k = 0; k < NCLASS; k++) {
            put(b, "htd_http_requests_total{vhost=\"");
            put_label(b, t->v[i].name);
            put(b, "\",class=\"%s\"} %llu\n", class_name[k],
                (unsigned long long)t->v[i].by_class[k]);
        }
    metric(b, "htd_http_request_duration_seconds", "histogram",
           "From the first byte of a request's head to its response queued whole.");
    for (size_t i = 0; i < NBUCKET; i++)
        put(b, "htd_http_request_duration_seconds_bucket{le=\"%s\"} %llu\n",
            i < NBOUND ? bound_le[i] : "+Inf", (unsigned long long)t->buckets[i]);
    put(b, "htd_http_request_duration_seconds_sum %llu.%03u\n", SECONDS(t->sum_ms));
    put(b, "htd_http_request_duration_seconds_count %llu\n",
        (unsigned long long)t->buckets[NBUCKET - 1]);
    static const struct {
        const char *name, *type, *help;
        int wc;
    } plain[] = {
        {"htd_connections_accepted_total", "counter", "Connections taken since the start.",
         WC_CONN_ACCEPTED},
        {"htd_connections_active", "gauge", "Connections open with a request in progress.",
         WC_CONN_ACTIVE},
        {"htd_connections_idle", "gauge",
         "Connections open with no request in progress (keep-alive, waiting).", -1},
        {"htd_received_bytes_total", "counter", "Bytes read from clients (inside TLS).",
         WC_BYTES_IN},
        {"htd_sent_bytes_total", "counter", "Bytes written to clients (inside TLS).", WC_BYTES_OUT},
        {"htd_cache_hits_total", "counter", "Open-file cache lookups that found an entry.",
         WC_CACHE_HITS},
        {"htd_cache_misses_total", "counter", "Open-file cache lookups that found none.",
         WC_CACHE_MISSES},
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        metric(b, plain[i].name, plain[i].type, plain[i].help);
        put(b, "%s %llu\n", plain[i].name,
            (unsigned long long)(plain[i].wc < 0 ? idle(t) : t->wc[plain[i].wc]));
    }
    metric(b, "htd_jobs_queued", "gauge", "Jobs waiting for a thread of the pool.");
    put(b, "htd_jobs_queued %zu\n", t->queued);
    metric(b, "htd_scripts_running", "gauge", "CGI scripts running.");
    put(b, "htd_scripts_running %u\n", t->scripts);
    metric(b, "htd_reloads_total", "counter", "Configuration reloads done since the start.");
    put(b, "htd_reloads_total %u\n", t->reloads);
}

static void json(buf *b, const totals *t)
{
    put(b, "{\"build\":{\"version\":\"%s\",\"commit\":\"", HTD_VERSION);
    put_json(b, HTD_COMMIT);
    uint64_t total = 0;
    for (int k = 0; k < NCLASS; k++)
        total += t->by_class[k];
    put(b, "\"},\n\"requests\":{\"total\":%llu,\"by_class\":{", (unsigned long long)total);
    for (int k = 0; k < NCLASS; k++)
        put(b, "%s\"%s\":%llu", k ? "," : "", class_name[k], (unsigned long long)t->by_class[k]);
    put(b, "},\"by_vhost\":{");
    for (size_t i = 0; i < t->nv; i++) {
        put(b, "%s\n\"", i ? "," : "");
        put_json(b, t->v[i].name);
        put(b, "\":{");
        for (int k = 0; k < NCLASS; k++)
            put(b, "%s\"%s\":%llu", k ? "," : "", class_name[k],
                (unsigned long long)t->v[i].by_class[k]);
        put(b, "}");
    }
    put(b, "}},\n\"request_duration_seconds\":{\"buckets\":{");
    for (size_t i = 0; i < NBUCKET; i++)
        put(b, "%s\"%s\":%llu", i ? "," : "", i < NBOUND ? bound_le[i] : "+Inf",
            (unsigned long long)t->buckets[i]);
    put(b, "},\"sum\":%llu.%03u,\"count\":%llu},\n", SECONDS(t->sum_ms),
        (unsigned long long)t->buckets[NBUCKET - 1]);
    put(b,
        "\"connections\":{\"accepted\":%llu,\"active\":%llu,\"idle\":%llu},\n"
        "\"bytes\":{\"received\":%llu,\"sent\":%llu},\n"
        "\"cache\":{\"hits\":%llu,\"misses\":%llu},\n"
        "\"jobs_queued\":%zu,\"scripts_running\":%u,\"reloads\":%u}\n",
        (unsigned long long)t->wc[WC_CONN_ACCEPTED], (unsigned long long)t->wc[WC_CONN_ACTIVE],
        (unsigned long long)idle(t), (unsigned long long)t->wc[WC_BYTES_IN],
        (unsigned long long)t->wc[WC_BYTES_OUT], (unsigned long long)t->wc[WC_CACHE_HITS],
        (unsigned long long)t->wc[WC_CACHE_MISSES], t->queued, t->scripts, t->reloads);
}

/* ---- the module ---- */

/* Once the rule's checks have passed: the page, for GET and HEAD. */
static int access_phase(struct htd_req *hr)
{
    if (!hr->rule || !hr->rule->metrics) return MOD_DECLINED;
    int m = hr->r->method_id;
    if (m != HTD_M_GET && m != HTD_M_HEAD) return 405;
    msrv *s = registry_state(&hr->w->srv->reg, &metrics_module);
    totals t = {0};
    buf b = {0};
    int as_json =
        accept_prefers(htd_req_header(hr, "Accept"), "application", "json", "text", "plain");
    int rc = 500;
    if (sum(hr, s, &t) == 0) {
        if (as_json)
            json(&b, &t);
        else
            prometheus(&b, &t);
        if (!b.failed && htd_resp_header(hr, "Cache-Control", "no-store") == 0 &&
            htd_resp_header(hr, "Vary", "Accept") == 0 &&
            htd_respond(hr, 200,
                        as_json ? "application/json" : "text/plain; version=0.0.4; charset=utf-8",
                        b.p, b.len) == 0)
            rc = MOD_DONE;
    }
    free(b.p);
    free(t.v);
    return rc;
}

static const char *allow(const struct htd_req *hr)
{
    return hr->rule && hr->rule->metrics ? "Allow: GET, HEAD\r\n" : NULL;
}

static int init(const htd_config *cfg, void **state, char *err, size_t errlen)
{
    (void)cfg;
    msrv *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&s->mu, NULL);
    *state = s;
    return 0;
}

static void fini(void *state)
{
    msrv *s = state;
    for (mloop *m = s->loops, *next; m; m = next) {
        next = m->next;
        for (vcount *v = m->vhosts, *vn; v; v = vn) {
            vn = v->next;
            free(v);
        }
        free(m->map);
        free(m);
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static int start(void *state, const registry *reg, const site *st, char *err, size_t errlen)
{
    (void)reg, (void)err, (void)errlen;
    msrv *s = state;
    for (size_t i = 0; i < st->nvhosts; i++)
        for (size_t k = 0; k < st->vhosts[i].nrules; k++)
            if (st->vhosts[i].rules[k].metrics) s->on = 1;
    return 0;
}

/* No metrics rule at start: no call per request, nor per response. */
static int wanted(const void *state, int ph)
{
    return ((const msrv *)state)->on && (ph == PH_ACCESS || ph == PH_LOG);
}

const htd_module metrics_module = {
    .name = "metrics",
    .phase = {[PH_ACCESS] = access_phase},
    .init = init,
    .fini = fini,
    .start = start,
    .wanted = wanted,
    .log = log_hook,
    .allow = allow,
};
