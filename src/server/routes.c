/*
 * routes.c - the embedder's handlers (htd_server_handle) as a module: in
 * the content phase, the handlers whose prefix holds the path are tried in
 * the order they were added. A handler that is to get a request body gets
 * all of it first: the module has the connection read it, and is asked
 * again once it is in.
 */
#include "routes.h"

#include "conn.h"
#include "path.h"
#include "rules.h"
#include "server.h"

static int content_phase(struct htd_req *hr)
{
    conn *c = hr->c;
    htd_server *s = c->w->srv;
    size_t first = 0;
    while (first < s->nroutes &&
           !htd_path_under(hr->path, hr->path_len, s->routes[first].prefix, s->routes[first].len))
        first++;
    if (first == s->nroutes) return MOD_DECLINED;
    if (!hr->body_taken && conn_body_pending(c)) {
        const htd_request *r = hr->r;
        if (!r->chunked && (uint64_t)r->content_length > s->cfg.max_body) {
            conn_error(c, 413, "request body larger than the server accepts", 0);
            return MOD_DONE;
        }
        conn_read_body(c);
        return MOD_AGAIN;
    }
    if (hr->body_taken) {
        /* Access and authentication were checked before the body; the vhost
         * and rule are chosen again under the worker's site of now, which a
         * reload may have replaced meanwhile. */
        rules_scope(c);
    }
    for (size_t i = first; i < s->nroutes; i++) {
        const route *rt = &s->routes[i];
        if (!htd_path_under(hr->path, hr->path_len, rt->prefix, rt->len)) continue;
        int rc = rt->fn(hr, rt->arg);
        if (rc == HTD_AGAIN && !hr->responded) { /* it answers from another thread */
            hr->async = 1;
            conn_wait(c);
            return MOD_AGAIN;
        }
        if (rc != HTD_DECLINED) {
            if (!hr->responded) conn_error(c, 500, "the handler did not respond", 1);
            return MOD_DONE;
        }
    }
    return MOD_DECLINED;
}

const htd_module routes_module = {
    .name = "routes",
    .phase = {[PH_CONTENT] = content_phase},
};
