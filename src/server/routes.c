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

#include "conn.h"
#include "path.h"
#include "req.h"
#include "rules.h"
#include "server.h"

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
    htd_server *s = hr->c->w->server;
    uintptr_t next = (uintptr_t)req_get(hr, &routes_module);
    for (size_t i = next ? next - 1 : 0; i < s->nroutes; i++) {
        const route *rt = &s->routes[i];
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
    htd_server *s = c->w->server;
    size_t first = 0;
    while (first < s->nroutes &&
           (!(s->routes[first].phase & HTD_PHASE_CONTENT) ||
            !htd_path_under(hr->path, hr->path_len, s->routes[first].prefix, s->routes[first].len)))
        first++;
    if (first == s->nroutes) return MOD_DECLINED;
    int streamed = s->routes[first].phase & HTD_BODY_STREAMED;
    if (!streamed && !hr->body_taken && conn_body_pending(c)) {
        const htd_request *r = hr->r;
        if (!r->chunked && (uint64_t)r->content_length > s->ctx.cfg.max_body) {
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
    for (size_t i = first; i < s->nroutes; i++) {
        const route *rt = &s->routes[i];
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

const htd_module routes_module = {
    .name = "routes",
    .phase = {[PH_ACCESS] = access_phase, [PH_CONTENT] = content_phase},
};
