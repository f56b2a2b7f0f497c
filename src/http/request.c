/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * request.c - the handler's side of the public API: reading the request and
 * answering it. A handler runs inside its worker with the request object
 * (req.h), so these are plain field reads and one queued response.
 * htd_req_vhost is site.c's: vhosts belong to the layer above this one.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "conn.h"
#include "fields.h"
#include "req.h"
#include "response.h"

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
    const struct sockaddr_in6 *sa = &r->client;
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
        r->hdrs_len + nl + vl + 4 > REQ_HDRS_MAX)
        return -1;
    if (!r->hdrs && !(r->hdrs = arena_alloc(&r->mem, REQ_HDRS_MAX))) return -1;
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

/* The head of a body whose length is not known beforehand (a stream, a
 * coded body): chunked for HTTP/1.1, else the connection ends the body.
 * lines holds the encoder's header lines, with room for Transfer-Encoding
 * after them. */
static int unsized_head(htd_req *r, resp *rs, char *lines, size_t nlines)
{
    conn *c = r->c;
    int chunked = r->r->version == 11 && !c->head_only;
    if (chunked) {
        memcpy(lines + nlines, "Transfer-Encoding: chunked\r\n", 28);
        nlines += 28;
    } else if (!c->head_only) {
        c->keep_alive = 0;
    }
    rs->length = -1;
    rs->extra = lines;
    rs->extra_len = nlines;
    if (response_head(c, rs) < 0) return -1;
    response_body_start(r, rs->status, chunked);
    return 0;
}

#define CODED_LINES 128 /* the encoder's header lines, and Transfer-Encoding */

int htd_respond(htd_req *r, int status, const char *content_type, const void *body, size_t len)
{
    if (!r->c || r->responded || status < 200 || status > 599) return -1; /* !c: the client went */
    conn *c = r->c;
    int bodiless = status == 204 || status == 304;
    resp rs = {.status = status,
               .ctype = bodiless ? NULL : content_type,
               .length = bodiless ? -1 : (int64_t)len};
    char lines[CODED_LINES];
    size_t nl = 0;
    if (!bodiless && response_encode(r, &rs, lines, sizeof lines - 28, &nl)) {
        /* The coder may hold on to the body until it is sent: a copy. */
        const char *copy = c->head_only ? NULL : arena_dup(&r->mem, body, len);
        if (unsized_head(r, &rs, lines, nl) < 0 ||
            (!c->head_only && (!copy || response_body(c, copy, len, 1) < 0))) {
            conn_out_rollback(c);
            r->filter = NULL; /* its coder goes with the request */
            return -1;
        }
        r->responded = 1;
        if (c->head_only) conn_log(c, status, 0);
        return 0;
    }
    rs.extra = lines;
    rs.extra_len = nl;
    if (response_head(c, &rs) < 0 || (!bodiless && len && conn_out_copy(c, body, len) < 0)) {
        conn_out_rollback(c); /* nothing half-queued: the handler may try again */
        return -1;
    }
    r->responded = 1;
    conn_log(c, status, bodiless ? 0 : len);
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
    req_free(&w->reqs, hr, &w->mem);
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

/* ---- streamed and file responses ---- */

/* A stream's state, in the request's slot of the stream "module" (which
 * is in no registry: its release hook is what matters). */
typedef struct stream {
    int (*next)(htd_req *r, void *arg);
    void (*end)(void *arg);
    void *arg;
    int status, chunked;
    int over; /* end was called: nothing more is written */
    uint64_t sent;
    /* A coded body (response_encode): what next writes gathers in pend and
     * goes to the coder when next returns. The coder may read pend[0..given)
     * until it has taken all of it (filter_more is clear), so pend moves
     * only then, and is freed only with the request. */
    int coded;
    char *pend;
    size_t given, pend_len, pend_cap;
} stream;

static void stream_release(struct htd_req *hr);
static const htd_module stream_module = {.name = "stream", .release = stream_release};

static stream **stream_of(struct htd_req *hr)
{
    return (stream **)req_slot(hr, &stream_module);
}

/* The stream is over: end is called, once. */
static void stream_over(stream *st)
{
    if (st->over) return;
    st->over = 1;
    if (st->end) st->end(st->arg);
}

/* The request ends, whole or cut short (the connection closes). */
static void stream_release(struct htd_req *hr)
{
    stream **slot = stream_of(hr), *st = *slot;
    *slot = NULL;
    stream_over(st);
    free(st->pend);
}

/* What the coder was given and has taken goes; what was written since
 * stays, for the next piece. */
static void drop_given(stream *st)
{
    if (!st->given) return;
    memmove(st->pend, st->pend + st->given, st->pend_len - st->given);
    st->pend_len -= st->given;
    st->given = 0;
}

/* The request's generator (module.h). */
static int stream_gen(conn *c)
{
    struct htd_req *hr = c->req;
    stream *st = *stream_of(hr);
    if (st->coded) {
        drop_given(st); /* a generator runs only once the coder has taken its piece */
        int rc = st->next(hr, st->arg), last = rc != HTD_MORE || !st->pend_len;
        st->given = st->pend_len;
        if (response_body(c, st->pend, st->pend_len, last) < 0) {
            conn_close(c);
            return GEN_GONE;
        }
        st->sent += st->pend_len;
        if (!last) return GEN_MORE;
        stream_over(st); /* the coder seals and logs as its last bytes go */
        return GEN_DONE;
    }
    int rc = st->next(hr, st->arg);
    if (rc == HTD_MORE && c->out) return GEN_MORE;
    /* Done, or more promised with nothing written: the body ends here. */
    if (st->chunked) conn_out_copy(c, "0\r\n\r\n", 5);
    conn_seal(c);
    conn_log(c, st->status, st->sent);
    stream_over(st);
    return GEN_DONE;
}

/* Room for len more bytes in a coded stream's pend: 0, or -1 when it
 * would have to move while the coder still reads it (or out of memory). */
static int pend_room(htd_req *r, stream *st, size_t len)
{
    if (len <= st->pend_cap - st->pend_len) return 0;
    if (r->filter_more) return -1;
    drop_given(st);
    if (len <= st->pend_cap - st->pend_len) return 0;
    size_t cap = st->pend_cap ? st->pend_cap : 16384;
    while (cap - st->pend_len < len)
        cap *= 2;
    char *np = realloc(st->pend, cap);
    if (!np) return -1;
    st->pend = np;
    st->pend_cap = cap;
    return 0;
}

int htd_stream_write(htd_req *r, const void *p, size_t len)
{
    stream **slot = r->c ? stream_of(r) : NULL;
    stream *st = slot ? *slot : NULL;
    if (!st || st->over) return -1;
    if (!len) return 0;
    if (st->coded) {
        if (pend_room(r, st, len) < 0) return -1;
        memcpy(st->pend + st->pend_len, p, len);
        st->pend_len += len;
        return 0;
    }
    if (conn_out_chunk(r->c, p, len, st->chunked, 1) < 0) return -1;
    st->sent += len;
    return 0;
}

int htd_respond_stream(htd_req *r, int status, const char *content_type,
                       int (*next)(htd_req *r, void *arg), void (*end)(void *arg), void *arg)
{
    conn *c = r->c;
    if (!c || r->responded || !next || status < 200 || status > 599 || status == 204 ||
        status == 304)
        return -1;
    resp rs = {.status = status, .ctype = content_type, .length = -1};
    stream *st = arena_alloc(&r->mem, sizeof *st);
    if (!st) return -1;
    char lines[CODED_LINES];
    size_t nl = 0;
    int coded = response_encode(r, &rs, lines, sizeof lines - 28, &nl);
    if (unsized_head(r, &rs, lines, nl) < 0) {
        conn_out_rollback(c);
        r->filter = NULL; /* its coder goes with the request */
        return -1;
    }
    r->responded = 1;
    if (c->head_only) { /* the head alone */
        conn_log(c, status, 0);
        if (end) end(arg);
        return 0;
    }
    *st = (stream){.next = next,
                   .end = end,
                   .arg = arg,
                   .status = status,
                   .chunked = r->body_chunked,
                   .coded = coded};
    *stream_of(r) = st;
    r->gen = stream_gen; /* the phases end in GEN */
    return 0;
}

static void fd_keep(void *obj)
{
    (void)obj;
}

static void fd_close(void *obj)
{
    close((int)(intptr_t)obj - 1);
}

/* A file whose body is coded (response_encode): it is read a piece at a
 * time into the coder, as the client takes what comes out. */
typedef struct coded_file {
    int fd;
    uint64_t off, left;
    char piece[16384];
} coded_file;

static void coded_file_release(struct htd_req *hr);
static const htd_module coded_file_module = {.name = "coded file", .release = coded_file_release};

static void coded_file_release(struct htd_req *hr)
{
    coded_file **slot = (coded_file **)req_slot(hr, &coded_file_module), *f = *slot;
    if (!f) return;
    *slot = NULL;
    close(f->fd);
    free(f);
}

/* The generator: the file's next piece, to the coder. */
static int coded_file_gen(conn *c)
{
    coded_file *f = req_get(c->req, &coded_file_module);
    size_t n = f->left < sizeof f->piece ? (size_t)f->left : sizeof f->piece;
    ssize_t got = n ? pread(f->fd, f->piece, n, (off_t)f->off) : 0;
    if (got < 0 ||
        (n && got == 0)) { /* the file shrank under us: the response cannot be finished */
        conn_close(c);
        return GEN_GONE;
    }
    f->off += (uint64_t)got;
    f->left -= (uint64_t)got;
    if (response_body(c, f->piece, (size_t)got, !f->left) < 0) {
        conn_close(c);
        return GEN_GONE;
    }
    return f->left ? GEN_MORE : GEN_DONE; /* the fd goes with the request */
}

/* htd_respond_file for a coded body: 0, or -1 with nothing queued and fd
 * closed. */
static int respond_coded_file(htd_req *r, resp *rs, char *lines, size_t nl, int fd, uint64_t off,
                              uint64_t len)
{
    conn *c = r->c;
    coded_file **slot = c->head_only ? NULL : (coded_file **)req_slot(r, &coded_file_module);
    coded_file *f = slot ? malloc(sizeof *f) : NULL;
    if ((!c->head_only && !f) || unsized_head(r, rs, lines, nl) < 0) {
        conn_out_rollback(c);
        r->filter = NULL; /* its coder goes with the request */
        free(f);
        close(fd);
        return -1;
    }
    r->responded = 1;
    if (c->head_only) { /* a HEAD, or a header filter answered in its place */
        free(f);
        close(fd);
        conn_log(c, rs->status, 0);
        return 0;
    }
    *f = (coded_file){.fd = fd, .off = off, .left = len};
    *slot = f;
    r->gen = coded_file_gen;
    return 0;
}

int htd_respond_file(htd_req *r, int status, const char *content_type, int fd, uint64_t off,
                     uint64_t len)
{
    conn *c = r->c;
    if (!c || r->responded || status < 200 || status > 599 || status == 204 || status == 304) {
        close(fd);
        return -1;
    }
    resp rs = {.status = status, .ctype = content_type, .length = (int64_t)len};
    char lines[CODED_LINES];
    size_t nl = 0;
    if (response_encode(r, &rs, lines, sizeof lines - 28, &nl))
        return respond_coded_file(r, &rs, lines, nl, fd, off, len);
    rs.extra = lines;
    rs.extra_len = nl;
    const outq_hold h = {(void *)(intptr_t)(fd + 1), fd_keep, fd_close};
    if (response_head(c, &rs) < 0) {
        conn_out_rollback(c);
        close(fd);
        return -1;
    }
    unsigned held = c->out ? c->out->nholds : 0;
    if (c->head_only || !len) {
        close(fd);
    } else if (conn_out_held(c, &h, NULL, fd, off, len) < 0) {
        int taken = c->out && c->out->nholds > held;
        conn_out_rollback(c); /* a hold it took closes fd as it goes */
        if (!taken) close(fd);
        return -1;
    }
    r->responded = 1;
    conn_log(c, status, c->head_only ? 0 : len);
    return 0;
}

/* ---- request bodies as they come ---- */

typedef struct body_reader {
    void (*on_data)(htd_req *r, const char *p, size_t len, void *arg);
    void (*end)(void *arg);
    void *arg;
} body_reader;

static void reader_release(struct htd_req *hr);
static const htd_module reader_module = {.name = "body", .release = reader_release};

/* The reading is over: end is called, and it is let go. */
static void reader_over(struct htd_req *hr)
{
    body_reader **slot = (body_reader **)req_slot(hr, &reader_module), *br = *slot;
    *slot = NULL;
    if (br->end) br->end(br->arg);
}

static void reader_release(struct htd_req *hr)
{
    reader_over(hr); /* cut short: the connection closes */
}

/* The request's sink (module.h): each piece to the handler, then its end. */
static int reader_sink(conn *c)
{
    struct htd_req *hr = c->req;
    body_reader *br = req_get(hr, &reader_module);
    while (c->rpos < c->rlen && conn_body_pending(c) && !hr->responded) {
        const char *why = "malformed chunked body";
        size_t consumed, dlen;
        int done = conn_body_take(c, c->rbuf + c->rpos, c->rlen - c->rpos, &consumed, &dlen, &why);
        if (done < 0) {
            reader_over(hr);
            conn_error(c, -done, why, 0);
            return SINK_DONE;
        }
        if (dlen) br->on_data(hr, c->rbuf + c->rpos, dlen, br->arg); /* decoded in place */
        c->rpos += (uint32_t)consumed;
    }
    if (conn_body_pending(c) && !hr->responded) return SINK_MORE;
    if (!hr->responded) br->on_data(hr, NULL, 0, br->arg);
    if (!hr->responded) conn_error(c, 500, "the handler did not respond", 1);
    reader_over(hr);
    return SINK_DONE; /* what is left of a body answered early is dropped */
}

int htd_req_read_body(htd_req *r, void (*on_data)(htd_req *r, const char *p, size_t len, void *arg),
                      void (*end)(void *arg), void *arg)
{
    conn *c = r->c;
    if (!c || !on_data || r->responded || r->sink || r->gen || r->reading) return -1;
    body_reader *br = arena_alloc(&r->mem, sizeof *br);
    void **slot = br ? req_slot(r, &reader_module) : NULL;
    if (!slot) return -1;
    *br = (body_reader){on_data, end, arg};
    *slot = br;
    conn_take_body(c);
    r->sink = reader_sink; /* the phases end in SINK */
    return 0;
}
