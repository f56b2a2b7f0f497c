/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * routes.c - the embedder's handlers (htd_server_handle_phase) as a
 * module: in each of the access and content phases, the handlers of that
 * phase whose prefix holds the path are tried in the order they were added.
 * A content handler that is to get a request body gets all of it first: the
 * module has the connection read it, and is asked again once it is in. An
 * access handler that decides later (HTD_AGAIN) and then lets the request
 * go on has the module asked again, and the handlers after it are tried.
 */
#include "routes.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "path.h"
#include "req.h"
#include "rules.h"

typedef struct route {
    char *prefix;
    size_t len;
    htd_handler_fn fn;
    void *arg;
    int phase; /* HTD_PHASE_* */
} route;

/* The module's per-server state: the handlers, in the order they were added
 * (before the server runs; read-only after). */
typedef struct routes {
    route *v;
    size_t n;
} routes;

static routes *routes_of(const worker *l)
{
    return registry_state(&l->srv->reg, &routes_module);
}

/* A handler's HTD_AGAIN: it answers from another thread. */
static int suspend(struct htd_req *hr)
{
    hr->async = 1;
    conn_wait(hr->c);
    return MOD_AGAIN;
}

/* Where the access handlers go on after one that decided later: the
 * module's slot in the request holds the next one's index + 1. */
static int access_phase(struct htd_req *hr)
{
    const routes *s = routes_of(hr->c->w);
    uintptr_t next = (uintptr_t)req_get(hr, &routes_module);
    for (size_t i = next ? next - 1 : 0; i < s->n; i++) {
        const route *rt = &s->v[i];
        if (rt->phase != HTD_PHASE_ACCESS ||
            !htd_path_under(hr->path, hr->path_len, rt->prefix, rt->len))
            continue;
        int rc = rt->fn(hr, rt->arg);
        if (rc == HTD_DECLINED || (rc == HTD_DONE && !hr->responded)) continue;
        if (rc == HTD_AGAIN && !hr->responded) {
            void **slot = req_slot(hr, &routes_module);
            if (slot) *slot = (void *)(uintptr_t)(i + 2);
            return suspend(hr);
        }
        return MOD_DONE;
    }
    return MOD_DECLINED;
}

static int content_phase(struct htd_req *hr)
{
    conn *c = hr->c;
    const routes *s = routes_of(c->w);
    size_t first = 0;
    while (first < s->n &&
           (!(s->v[first].phase & HTD_PHASE_CONTENT) ||
            !htd_path_under(hr->path, hr->path_len, s->v[first].prefix, s->v[first].len)))
        first++;
    if (first == s->n) return MOD_DECLINED;
    int streamed = s->v[first].phase & HTD_BODY_STREAMED;
    if (!streamed && !hr->body_taken && conn_body_pending(c)) {
        const htd_request *r = hr->r;
        if (!r->chunked && (uint64_t)r->content_length > c->w->srv->cfg.max_body) {
            conn_error(c, 413, "request body larger than the server accepts", 0);
            return MOD_DONE;
        }
        conn_read_body(c);
        return MOD_AGAIN;
    }
    if (hr->body_taken && !streamed) {
        /* Access and authentication were checked before the body; the vhost
         * and rule are chosen again under the worker's site of now, which a
         * reload may have replaced meanwhile. */
        rules_scope(c);
    }
    for (size_t i = first; i < s->n; i++) {
        const route *rt = &s->v[i];
        if (!(rt->phase & HTD_PHASE_CONTENT) ||
            !htd_path_under(hr->path, hr->path_len, rt->prefix, rt->len))
            continue;
        int rc = rt->fn(hr, rt->arg);
        if (rc == HTD_AGAIN && !hr->responded) return suspend(hr);
        if (rc != HTD_DECLINED) {
            /* A handler that reads the body answers at its end (the sink). */
            if (!hr->responded && !hr->sink) conn_error(c, 500, "the handler did not respond", 1);
            return MOD_DONE;
        }
    }
    return MOD_DECLINED;
}

static int init(const htd_config *cfg, void **state, char *err, size_t errlen)
{
    (void)cfg;
    if (!(*state = calloc(1, sizeof(routes)))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static void fini(void *state)
{
    routes *s = state;
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].prefix);
    free(s->v);
    free(s);
}

/* No handler for a phase, no function in it: the htd program has none. */
static int wanted(const void *state, int ph)
{
    const routes *s = state;
    int want = ph == PH_ACCESS ? HTD_PHASE_ACCESS : HTD_PHASE_CONTENT;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].phase & want) return 1;
    return 0;
}

const htd_module routes_module = {
    .name = "routes",
    .phase = {[PH_ACCESS] = access_phase, [PH_CONTENT] = content_phase},
    .init = init,
    .fini = fini,
    .wanted = wanted,
};

int routes_add(registry *reg, int phase, const char *prefix, htd_handler_fn fn, void *arg)
{
    routes *s = registry_state(reg, &routes_module);
    if (!s) return -1;
    route *r = realloc(s->v, (s->n + 1) * sizeof *r);
    if (!r) return -1;
    s->v = r;
    char *p = strdup(prefix);
    if (!p) return -1;
    s->v[s->n++] = (route){.prefix = p, .len = strlen(p), .fn = fn, .arg = arg, .phase = phase};
    return 0;
}
