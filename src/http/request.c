/*
 * request.c - the handler's side of the public API: reading the request and
 * answering it. A handler runs inside its worker with the request object
 * (req.h), so these are plain field reads and one queued response.
 * htd_req_vhost is site.c's: vhosts belong to the layer above this one.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <string.h>

#include "conn.h"
#include "fields.h"
#include "response.h"

#define HDRS_MAX 1024 /* response header lines a handler may add */

/* What the parser leaves NULL when absent, as the handler sees it: empty. */
static htd_str or_empty(htd_str s)
{
    return s.p ? s : (htd_str){"", 0};
}

htd_str htd_req_method(const htd_req *r)
{
    return r->r->method;
}

int htd_req_version(const htd_req *r)
{
    return r->r->version;
}

htd_str htd_req_target(const htd_req *r)
{
    return r->r->target;
}

htd_str htd_req_path(const htd_req *r)
{
    return (htd_str){r->path, r->path_len};
}

htd_str htd_req_query(const htd_req *r)
{
    return or_empty(r->r->query);
}

htd_str htd_req_host(const htd_req *r)
{
    return or_empty(r->r->host);
}

const struct sockaddr *htd_req_peer(const htd_req *r, socklen_t *len)
{
    const struct sockaddr_in6 *sa = r->c ? &r->c->peer : NULL;
    socklen_t n = 0;
    if (sa && sa->sin6_family == AF_INET) n = sizeof(struct sockaddr_in);
    if (sa && sa->sin6_family == AF_INET6) n = sizeof *sa;
    if (len) *len = n;
    return n ? (const struct sockaddr *)sa : NULL;
}

htd_str htd_req_peer_addr(htd_req *r)
{
    const struct sockaddr *sa = htd_req_peer(r, NULL);
    char *text = sa ? arena_alloc(&r->mem, INET6_ADDRSTRLEN) : NULL;
    if (!text) return (htd_str){"", 0};
    const void *ip = sa->sa_family == AF_INET
                         ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
                         : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (!inet_ntop(sa->sa_family, ip, text, INET6_ADDRSTRLEN)) return (htd_str){"", 0};
    return (htd_str){text, strlen(text)};
}

htd_str htd_req_body(const htd_req *r)
{
    return r->body;
}

htd_str htd_req_header(const htd_req *r, const char *name)
{
    return htd_request_header(r->r, name, strlen(name));
}

int htd_req_header_at(const htd_req *r, size_t i, htd_str *name, htd_str *value)
{
    if (i >= r->r->nheaders) return -1;
    if (name) *name = r->r->headers[i].name;
    if (value) *value = r->r->headers[i].value;
    return 0;
}

void *htd_req_alloc(htd_req *r, size_t n)
{
    return arena_alloc(&r->mem, n);
}

char *htd_req_strdup(htd_req *r, htd_str s)
{
    return arena_dup(&r->mem, s.p, s.len);
}

/* A handler's field: a token, and a field value in ASCII. RFC 9110 lets a
 * value hold obs-text, but the check this replaced refused it wherever char
 * is signed (x86-64 among them), so handlers never could send it; that
 * stays, now on every machine. */
static int valid_field(const char *name, size_t nl, const char *value, size_t vl)
{
    if (!htd_is_token(name, nl) || !htd_field_value_ok(value, vl)) return 0;
    for (size_t i = 0; i < vl; i++)
        if ((unsigned char)value[i] > 0x7f) return 0;
    return 1;
}

int htd_resp_header(htd_req *r, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    if (!valid_field(name, nl, value, vl) || response_owns_header((htd_str){name, nl}) ||
        r->hdrs_len + nl + vl + 4 > HDRS_MAX)
        return -1;
    if (!r->hdrs && !(r->hdrs = arena_alloc(&r->mem, HDRS_MAX))) return -1;
    char *p = r->hdrs + r->hdrs_len;
    memcpy(p, name, nl);
    p += nl;
    *p++ = ':';
    *p++ = ' ';
    memcpy(p, value, vl);
    p += vl;
    *p++ = '\r';
    *p++ = '\n';
    r->hdrs_len = (size_t)(p - r->hdrs);
    return 0;
}

int htd_respond(htd_req *r, int status, const char *content_type, const void *body, size_t len)
{
    if (!r->c || r->responded || status < 200 || status > 599) return -1; /* !c: the client went */
    int bodiless = status == 204 || status == 304;
    resp rs = {.status = status,
               .ctype = bodiless ? NULL : content_type,
               .length = bodiless ? -1 : (int64_t)len};
    if (response_head(r->c, &rs) < 0 || (!bodiless && len && conn_out_copy(r->c, body, len) < 0)) {
        conn_out_rollback(r->c); /* nothing half-queued: the handler may try again */
        return -1;
    }
    r->responded = 1;
    conn_log(r->c, status, bodiless ? 0 : len);
    return 0;
}

/* On the request's worker, once htd_req_resume has been called. */
static void async_back(posted *p)
{
    struct htd_req *hr = (struct htd_req *)((char *)p - offsetof(struct htd_req, async_post));
    if (hr->c) {
        conn_resume_request(hr->c);
        return;
    }
    /* The connection went while the answer was on its way: the answer
     * still runs (to let go of its argument), then the request goes. */
    worker *w = hr->w;
    w->jobs_out--;
    hr->async_fn(hr, hr->async_arg);
    req_free(&w->reqs, hr);
}

int htd_req_resume(htd_req *r, void (*fn)(htd_req *req, void *arg), void *arg)
{
    /* Set on the worker before the handler returned; read here, on any
     * thread, only to refuse a misuse. */
    if (!fn || atomic_exchange(&r->resume_called, 1)) return -1;
    r->async_fn = fn;
    r->async_arg = arg;
    r->async_post.fn = async_back;
    loop_post(r->w->loop, &r->async_post); /* the post's lock orders the stores above */
    return 0;
}
