/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * response.c - writing response heads into a connection's out queue, and
 * the bodies that generators make after them.
 *
 * Heads are assembled with memcpy from known pieces; the only numbers
 * formatted per response are the status and the length. Date comes from the
 * loop's once-a-second cache.
 *
 * A generated body is framed here, after its filter, so that a generator
 * makes the same pieces whether they are compressed or not, and a filter
 * works on the body's bytes, not on chunks. Without a filter a piece costs
 * a pointer test more than queueing it directly.
 */
#include "response.h"

#include <string.h>

#include "connection.h"
#include "date.h"
#include "module.h"
#include "outq.h"
#include "req.h"

/* The statuses htd knows by name, with their reason phrases. */
#define STATUSES(X)                                                                                \
    X(100, "Continue")                                                                             \
    X(200, "OK")                                                                                   \
    X(201, "Created")                                                                              \
    X(202, "Accepted")                                                                             \
    X(203, "Non-Authoritative Information")                                                        \
    X(204, "No Content")                                                                           \
    X(206, "Partial Content")                                                                      \
    X(207, "Multi-Status")                                                                         \
    X(301, "Moved Permanently")                                                                    \
    X(302, "Found")                                                                                \
    X(304, "Not Modified")                                                                         \
    X(307, "Temporary Redirect")                                                                   \
    X(308, "Permanent Redirect")                                                                   \
    X(400, "Bad Request")                                                                          \
    X(401, "Unauthorized")                                                                         \
    X(402, "Payment Required")                                                                     \
    X(403, "Forbidden")                                                                            \
    X(404, "Not Found")                                                                            \
    X(405, "Method Not Allowed")                                                                   \
    X(406, "Not Acceptable")                                                                       \
    X(408, "Request Timeout")                                                                      \
    X(409, "Conflict")                                                                             \
    X(411, "Length Required")                                                                      \
    X(412, "Precondition Failed")                                                                  \
    X(413, "Content Too Large")                                                                    \
    X(414, "URI Too Long")                                                                         \
    X(415, "Unsupported Media Type")                                                               \
    X(416, "Range Not Satisfiable")                                                                \
    X(417, "Expectation Failed")                                                                   \
    X(423, "Locked")                                                                               \
    X(424, "Failed Dependency")                                                                    \
    X(429, "Too Many Requests")                                                                    \
    X(431, "Request Header Fields Too Large")                                                      \
    X(500, "Internal Server Error")                                                                \
    X(501, "Not Implemented")                                                                      \
    X(502, "Bad Gateway")                                                                          \
    X(503, "Service Unavailable")                                                                  \
    X(504, "Gateway Timeout")                                                                      \
    X(505, "HTTP Version Not Supported")                                                           \
    X(507, "Insufficient Storage")

const char *htd_reason(int status)
{
    switch (status) {
#define REASON(code, text)                                                                         \
    case code:                                                                                     \
        return text;
        STATUSES(REASON)
#undef REASON
    default:
        return status < 200   ? "Informational"
               : status < 300 ? "Success"
               : status < 400 ? "Redirection"
               : status < 500 ? "Client Error"
                              : "Server Error";
    }
}

/* The whole status line of a status htd knows by name, made when htd is
 * compiled, with its length; NULL for another. */
static const char *status_line(int status, size_t *len)
{
    switch (status) {
#define LINE(code, text)                                                                           \
    case code:                                                                                     \
        *len = sizeof("HTTP/1.1 " #code " " text "\r\n") - 1;                                      \
        return "HTTP/1.1 " #code " " text "\r\n";
        STATUSES(LINE)
#undef LINE
    default:
        return NULL;
    }
}

typedef struct wr {
    char *p, *end;
} wr;

static void put(wr *w, const char *s, size_t n)
{
    /* Past the end already: end - p would be negative, and huge as a size. */
    if (w->p > w->end || (size_t)(w->end - w->p) < n) {
        w->p = w->end + 1; /* marks overflow */
        return;
    }
    memcpy(w->p, s, n);
    w->p += n;
}

#define PUTS(w, lit) put((w), (lit), sizeof(lit) - 1)

/* Two digits at a time: half the divisions of one at a time. */
static void put_u64(wr *w, uint64_t v)
{
    static const char pairs[201] = "00010203040506070809101112131415161718192021222324"
                                   "25262728293031323334353637383940414243444546474849"
                                   "50515253545556575859606162636465666768697071727374"
                                   "75767778798081828384858687888990919293949596979899";
    char tmp[24];
    char *e = tmp + sizeof tmp, *q = e;
    for (; v >= 100; v /= 100) {
        q -= 2;
        memcpy(q, pairs + v % 100 * 2, 2);
    }
    if (v >= 10) {
        q -= 2;
        memcpy(q, pairs + v * 2, 2);
    } else {
        *--q = (char)('0' + v);
    }
    put(w, q, (size_t)(e - q));
}

int response_owns_header(htd_str name)
{
    /* By the length, then one comparison: a proxy asks of every field. */
    const char *lower;
    switch (name.len) {
    case 4:
        lower = "date";
        break;
    case 6:
        lower = "server";
        break;
    case 7:
        lower = name.p[0] == 'u' || name.p[0] == 'U' ? "upgrade" : "trailer";
        break;
    case 10:
        lower = name.p[0] == 'c' || name.p[0] == 'C' ? "connection" : "keep-alive";
        break;
    case 14:
        lower = "content-length";
        break;
    case 17:
        lower = "transfer-encoding";
        break;
    default:
        return 0;
    }
    return htd_token_ieq(name, lower, name.len);
}

long response_lines_find(const char *p, size_t n, const char *lower, size_t len)
{
    if (!n) return -1; /* p may be NULL */
    const char *start = p, *end = p + n;
    while (p < end) {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        if (!colon) return -1;
        const char *nl = memchr(colon, '\n', (size_t)(end - colon));
        if (htd_str_ieq((htd_str){p, (size_t)(colon - p)}, lower, len)) {
            const char *v = colon + 1;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            return (long)(v - start);
        }
        if (!nl) return -1;
        p = nl + 1;
    }
    return -1;
}

int response_lines_have(const char *p, size_t n, const char *lower, size_t len)
{
    return response_lines_find(p, n, lower, len) >= 0;
}

/* Asks the header filters about the head of r (module.h): HEAD_REFUSED
 * when one answered in its place. */
static int filter_head(conn *c, struct htd_req *hr, const resp *r)
{
    const registry *reg = &c->w->srv->reg;
    hr->heading = 1;
    for (size_t i = 0; i < reg->nhead; i++) {
        if (reg->head_mod[i]->head(hr, r) != HEAD_REFUSED) continue;
        hr->heading = 0;
        hr->refused = 1;
        conn_seal(c);     /* its answer is final */
        c->head_only = 1; /* and the refused body goes nowhere */
        return HEAD_REFUSED;
    }
    hr->heading = 0;
    return HEAD_GO;
}

int response_head(conn *c, const resp *r)
{
    worker *l = c->w;
    if (c->http09) return 0;
    struct htd_req *hr = conn_current(c);
    if (hr && l->srv->reg.nhead && !hr->heading) {
        if (hr->refused) return 0; /* a second head for the refused response */
        if (filter_head(c, hr, r) == HEAD_REFUSED) return 0;
    }
    outq *q = conn_outq(c);
    if (!q) return -1;
    wr w = {q->data + q->dlen, q->data + OUTQ_DATA};
    char *start = w.p;

    size_t line_len;
    const char *line = r->reason ? NULL : status_line(r->status, &line_len);
    if (line) {
        put(&w, line, line_len);
    } else {
        PUTS(&w, "HTTP/1.1 ");
        char code[4] = {(char)('0' + r->status / 100), (char)('0' + r->status / 10 % 10),
                        (char)('0' + r->status % 10), ' '};
        put(&w, code, 4);
        if (r->reason) {
            put(&w, r->reason, r->reason_len);
        } else {
            const char *reason = htd_reason(r->status);
            put(&w, reason, strlen(reason));
        }
        PUTS(&w, "\r\n");
    }
    PUTS(&w, "Server: htd\r\nDate: ");
    put(&w, l->date, HTD_DATE_LEN);
    if (r->ctype) {
        PUTS(&w, "\r\nContent-Type: ");
        put(&w, r->ctype, strlen(r->ctype));
    }
    if (r->length >= 0) {
        PUTS(&w, "\r\nContent-Length: ");
        put_u64(&w, (uint64_t)r->length);
    }
    if (r->last_modified) {
        char d[HTD_DATE_LEN + 1];
        htd_date_format(r->last_modified, d);
        PUTS(&w, "\r\nLast-Modified: ");
        put(&w, d, HTD_DATE_LEN);
    }
    if (r->etag.len) {
        PUTS(&w, "\r\nETag: ");
        put(&w, r->etag.p, r->etag.len);
    }
    if (r->location.len) {
        PUTS(&w, "\r\nLocation: ");
        put(&w, r->location.p, r->location.len);
    }
    PUTS(&w, "\r\n");
    if (r->pre_len) put(&w, r->pre, r->pre_len);
    if (r->extra_len) put(&w, r->extra, r->extra_len);
    /* A body nobody will read is dropped and the connection goes on, unless
     * the client waits to be told to send it (100-continue) or it is too
     * large to be worth reading: then this response ends the connection. */
    if (hr && !hr->body_taken && conn_body_pending(c) &&
        (hr->r->expect_continue || c->bd->left > DISCARD_MAX))
        c->keep_alive = 0;
    if (hr) {
        if (hr->rule_hdrs_len) put(&w, hr->rule_hdrs, hr->rule_hdrs_len);
        /* The configured Cache-Control is a default: a response that says
         * its own (a script's, an upstream's, the status page's no-store)
         * keeps it, and has one. The pre lines are htd's and have none. */
        if (hr->cc && !response_lines_have(r->extra, r->extra_len, "cache-control", 13) &&
            !response_lines_have(hr->hdrs, hr->hdrs_len, "cache-control", 13))
            put(&w, hr->cc, hr->cc_len);
        if (hr->hdrs_len) put(&w, hr->hdrs, hr->hdrs_len);
    }
    if (!c->keep_alive)
        PUTS(&w, "Connection: close\r\n");
    else if (c->http10)
        PUTS(&w, "Connection: keep-alive\r\n");
    PUTS(&w, "\r\n");
    if (w.p > w.end) return -1;

    size_t n = (size_t)(w.p - start);
    q->dlen += n;
    if (q->nseg == OUTQ_SEGS) return -1;
    q->seg[q->nseg++] = (out_seg){.p = start, .len = n};
    return 0;
}

int response_encode(struct htd_req *hr, const resp *r, char *lines, size_t cap, size_t *nlines)
{
    const htd_module *m = hr->c->w->srv->reg.encoder;
    *nlines = 0;
    return m ? m->encode(hr, r, lines, cap, nlines) : 0;
}

void response_body_start(struct htd_req *hr, int status, int chunked)
{
    hr->body_status = (uint16_t)status;
    hr->body_chunked = (uint8_t)(chunked != 0);
    hr->body_sent = 0;
}

int response_body_out(conn *c, const char *p, size_t len, int last)
{
    struct htd_req *hr = c->req;
    /* The last piece is copied: the state it lives in goes before it is sent. */
    if (len && conn_out_chunk(c, p, len, hr->body_chunked, last) < 0) return -1;
    hr->body_sent += len;
    if (!last) return 0;
    if (hr->body_chunked && conn_out_copy(c, "0\r\n\r\n", 5) < 0) return -1;
    conn_seal(c);
    conn_log(c, hr->body_status, hr->body_sent);
    return 0;
}

int response_body(conn *c, const char *p, size_t len, int last)
{
    struct htd_req *hr = c->req;
    if (!hr->filter) return response_body_out(c, p, len, last);
    if (!len && !last) return 0; /* nothing for it: (NULL, 0, 0) means "go on" to a filter */
    int rc = hr->filter(c, p, len, last);
    hr->filter_more = rc == FILTER_MORE;
    return rc == FILTER_ERROR ? -1 : 0;
}

int response_body_more(conn *c)
{
    struct htd_req *hr = c->req;
    int rc = hr->filter(c, NULL, 0, 0);
    hr->filter_more = rc == FILTER_MORE;
    return rc == FILTER_ERROR ? -1 : 0;
}

void conn_log(const conn *c, int status, uint64_t bytes)
{
    const struct htd_req *hr = conn_current(c);
    if (hr && hr->refused) return; /* the answer in its place was logged */
    const registry *reg = &c->w->srv->reg;
    for (size_t i = 0; i < reg->nlog; i++)
        reg->log[i](c, status, bytes);
}
