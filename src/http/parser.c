/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * parser.c - the HTTP/1.x request-head parser (RFC 9112, RFC 9110).
 *
 * Two passes over bytes that are already in cache. The first only looks for
 * the end of the head, resuming where the previous call stopped, so a head
 * trickled in byte by byte costs O(n) in all. The second runs once, when the
 * head is whole: it validates every byte and fills the htd_request.
 *
 * Invariant of the second pass: the head ends in '\n' and no character class
 * (fields.h) contains '\n', so every scanner stops inside the head without a
 * bounds check, and a '\r' seen there always has a byte after it. The field
 * lines, and what Content-Length, Transfer-Encoding and Connection say, are
 * parsed by fields.c, as they are in responses.
 *
 * Strictness is the point. Whatever could make two implementations disagree
 * about where a message ends (bare CR, obs-fold, whitespace before a colon,
 * Content-Length with Transfer-Encoding, any coding but exactly "chunked") is
 * an error, never a guess.
 */
#include "parser.h"

#include <assert.h>
#include <limits.h>
#include <string.h>

static const char slash[] = "/";

/* Skips the empty lines a server should ignore before the request line
 * (RFC 9112 2.2); returns where the request line starts. */
static size_t skip_empty_lines(const char *buf, size_t end)
{
    size_t i = 0;
    for (;;) {
        if (i < end && buf[i] == '\n')
            i++;
        else if (i + 1 < end && buf[i] == '\r' && buf[i + 1] == '\n')
            i += 2;
        else
            return i;
    }
}

/* The request line ends at buf[e] == '\n'. Without a second SP it has no
 * HTTP-version: a one-line (HTTP/0.9) request, or garbage the full parse
 * rejects; either way the head ends with this line. */
static int one_line(const char *buf, size_t e)
{
    size_t s = skip_empty_lines(buf, e);
    const char *sp = memchr(buf + s, ' ', e - s);
    if (!sp) return 1;
    sp++;
    return memchr(sp, ' ', (size_t)(buf + e - sp)) == NULL;
}

int htd_method_id(const char *m, size_t n)
{
    switch (n) {
    case 3:
        if (!memcmp(m, "GET", 3)) return HTD_M_GET;
        if (!memcmp(m, "PUT", 3)) return HTD_M_PUT;
        break;
    case 4:
        if (!memcmp(m, "HEAD", 4)) return HTD_M_HEAD;
        if (!memcmp(m, "POST", 4)) return HTD_M_POST;
        if (!memcmp(m, "COPY", 4)) return HTD_M_COPY;
        if (!memcmp(m, "MOVE", 4)) return HTD_M_MOVE;
        if (!memcmp(m, "LOCK", 4)) return HTD_M_LOCK;
        break;
    case 5:
        if (!memcmp(m, "PATCH", 5)) return HTD_M_PATCH;
        if (!memcmp(m, "TRACE", 5)) return HTD_M_TRACE;
        if (!memcmp(m, "MKCOL", 5)) return HTD_M_MKCOL;
        break;
    case 6:
        if (!memcmp(m, "DELETE", 6)) return HTD_M_DELETE;
        if (!memcmp(m, "UNLOCK", 6)) return HTD_M_UNLOCK;
        break;
    case 7:
        if (!memcmp(m, "OPTIONS", 7)) return HTD_M_OPTIONS;
        if (!memcmp(m, "CONNECT", 7)) return HTD_M_CONNECT;
        break;
    case 8:
        if (!memcmp(m, "PROPFIND", 8)) return HTD_M_PROPFIND;
        break;
    case 9:
        if (!memcmp(m, "PROPPATCH", 9)) return HTD_M_PROPPATCH;
        break;
    }
    return HTD_M_UNKNOWN;
}

/* Splits "path[?query]" at the first '?'. */
static void split_query(htd_request *req, const char *s, size_t n)
{
    const char *q = memchr(s, '?', n);
    if (q) {
        req->path = (htd_str){s, (size_t)(q - s)};
        req->query = (htd_str){q + 1, n - (size_t)(q - s) - 1};
    } else {
        req->path = (htd_str){s, n};
        req->query = (htd_str){NULL, 0};
    }
}

static int host_chars(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    for (; n - i >= 4; i += 4) /* four at a time: one test of their classes' meet */
        if (!(htd_chars[u[i]] & htd_chars[u[i + 1]] & htd_chars[u[i + 2]] & htd_chars[u[i + 3]] &
              HTD_C_HOST))
            return 0;
    for (; i < n; i++)
        if (!(htd_chars[u[i]] & HTD_C_HOST)) return 0;
    return 1;
}

/* Sorts the request-target into its form (RFC 9112 3.2) and sets path, query
 * and, for absolute-form and authority-form, host. */
static int parse_target(htd_request *req, const char **why)
{
    const char *t = req->target.p;
    size_t n = req->target.len;

    if (req->method_id == HTD_M_CONNECT) {
        /* authority-form = uri-host ":" port, and nothing else for CONNECT */
        size_t c = n;
        while (c > 0 && htd_is_digit((unsigned char)t[c - 1]))
            c--;
        if (c < 2 || c == n || t[c - 1] != ':' || !host_chars(t, c - 1))
            return htd_refuse(why, "CONNECT needs a host:port target", 400);
        req->host = req->target;
        req->path = (htd_str){t + n, 0};
        req->query = (htd_str){NULL, 0};
        return 0;
    }
    if (t[0] == '/') {
        split_query(req, t, n);
        return 0;
    }
    if (n == 1 && t[0] == '*') {
        if (req->method_id != HTD_M_OPTIONS)
            return htd_refuse(why, "asterisk-form target is only allowed with OPTIONS", 400);
        req->path = req->target;
        req->query = (htd_str){NULL, 0};
        return 0;
    }

    size_t a;
    if (n >= 7 && htd_str_ieq((htd_str){t, 7}, "http://", 7))
        a = 7;
    else if (n >= 8 && htd_str_ieq((htd_str){t, 8}, "https://", 8))
        a = 8;
    else
        return htd_refuse(why, "invalid request-target", 400);
    size_t e = a;
    while (e < n && t[e] != '/' && t[e] != '?')
        e++;
    if (e == a) return htd_refuse(why, "absolute-form target without a host", 400);
    if (memchr(t + a, '@', e - a))
        return htd_refuse(why, "userinfo in request-target is not allowed", 400);
    if (!host_chars(t + a, e - a))
        return htd_refuse(why, "invalid character in request-target host", 400);
    req->host = (htd_str){t + a, e - a};
    if (e < n && t[e] == '/') {
        split_query(req, t + e, n - e);
    } else {
        req->path = (htd_str){slash, 1};
        req->query = e < n ? (htd_str){t + e + 1, n - e - 1} : (htd_str){NULL, 0};
    }
    return 0;
}

/* Framing and routing facts gathered from the header fields. */
struct fields {
    htd_framing framing;
    int host, expect;
};

/* Which of the fields htd reads name is (HTD_H_*), or -1: by its length
 * first, so that most fields cost one switch and no comparison. */
static int known_field(htd_str name)
{
    const char *lower;
    int id;
    switch (name.len) {
    case 5:
        lower = "range", id = HTD_H_RANGE;
        break;
    case 6:
        lower = "accept", id = HTD_H_ACCEPT;
        break;
    case 8: /* if-match, if-range */
        if (name.p[3] == 'm' || name.p[3] == 'M')
            lower = "if-match", id = HTD_H_IF_MATCH;
        else
            lower = "if-range", id = HTD_H_IF_RANGE;
        break;
    case 12:
        lower = "content-type", id = HTD_H_CONTENT_TYPE;
        break;
    case 13: /* authorization, if-none-match */
        if (name.p[0] == 'a' || name.p[0] == 'A')
            lower = "authorization", id = HTD_H_AUTHORIZATION;
        else
            lower = "if-none-match", id = HTD_H_IF_NONE_MATCH;
        break;
    case 15:
        lower = "accept-encoding", id = HTD_H_ACCEPT_ENCODING;
        break;
    case 17:
        lower = "if-modified-since", id = HTD_H_IF_MODIFIED_SINCE;
        break;
    case 19:
        lower = "if-unmodified-since", id = HTD_H_IF_UNMODIFIED_SINCE;
        break;
    default:
        return -1;
    }
    return htd_token_ieq(name, lower, name.len) ? id : -1;
}

/* Looks at one field (the n-th) for what it says about routing and framing,
 * and notes it if htd reads it later. */
static int field(htd_request *req, struct fields *f, size_t n, htd_str name, htd_str value,
                 const char **why)
{
    int k = known_field(name);
    if (k >= 0) {
        if (!req->known[k]) req->known[k] = (uint8_t)(n + 1);
        return 0;
    }
    switch (name.len) {
    case 4:
        if (!htd_word_ieq(name, "host", 4)) break;
        if (f->host) return htd_refuse(why, "duplicate Host header", 400);
        if (!host_chars(value.p, value.len))
            return htd_refuse(why, "invalid character in Host header", 400);
        f->host = 1;
        if (!req->host.p) req->host = value;
        break;
    case 6:
        if (htd_word_ieq(name, "expect", 6) && htd_str_ieq(value, "100-continue", 12))
            f->expect = 1;
        break;
    default:
        return htd_framing_field(&f->framing, HTD_MSG_REQUEST, req->version, name, value, why);
    }
    return 0;
}

/* The header section at buf[*at], field lines and then the empty line,
 * in buf[..end), whose last byte is '\n': 0 with *at past the empty line,
 * 1 if buf[end - 1] ends a field line (the section goes on beyond end), or
 * the refusal. */
static int parse_fields(htd_request *req, const char *buf, size_t *at, size_t end, const char **why)
{
    struct fields f = {.framing = HTD_FRAMING_INIT};
    size_t n = 0, i = *at;
    int r = 1;
    memset(req->known, 0, sizeof req->known);
    while (i < end &&
           (r = htd_field_line(buf, &i, end, n, HTD_MAX_HEADERS, &req->headers[n], why)) > 0) {
        htd_header *h = &req->headers[n];
        if ((r = field(req, &f, n++, h->name, h->value, why))) return r;
        r = 1;
    }
    if (r) return r;
    *at = i;

    if ((r = htd_framing_end(&f.framing, why))) return r;
    if (!f.host && req->version == 11) return htd_refuse(why, "missing Host header", 400);
    req->nheaders = n;
    req->content_length = f.framing.content_length;
    req->chunked = f.framing.chunked;
    req->keep_alive = !f.framing.close && (req->version == 11 || f.framing.keep);
    req->connection_names = f.framing.names;
    req->expect_continue = f.expect && req->version == 11;
    return 0;
}

/* Validates the head at the start of buf[0..end), whose last byte is '\n',
 * and fills *req: the head's length, 0 if it goes on beyond end, or the
 * refusal. */
static int parse_head(const char *buf, size_t end, htd_request *req, const char **why)
{
    const unsigned char *b = (const unsigned char *)buf;
    if (end > INT_MAX) return htd_refuse(why, "request header fields too large", 431);
    size_t i = skip_empty_lines(buf, end);
    if (i == end) return 0; /* empty lines only: the request line is to come */

    /* method SP: GET, most requests' method, in one look */
    size_t s = i;
    if (end - i >= 4 && memcmp(b + i, "GET ", 4) == 0) {
        i += 3;
        req->method_id = HTD_M_GET;
    } else {
        while (htd_chars[b[i]] & HTD_C_TCHAR)
            i++;
        if (b[i] != ' ' || i == s) {
            if (i == s && b[i] == ' ')
                return htd_refuse(why, "request line starts with whitespace", 400);
            if (i > s && (b[i] == '\r' || b[i] == '\n'))
                return htd_refuse(why, "request line has no request-target", 400);
            return htd_refuse(why, "invalid character in method", 400);
        }
        req->method_id = htd_method_id(buf + s, i - s);
    }
    req->method = (htd_str){buf + s, i - s};

    /* request-target, then SP or the end of a one-line request */
    s = ++i;
    i = htd_scan_target(b, i, end);
    if (b[i] != ' ' && b[i] != '\r' && b[i] != '\n')
        return htd_refuse(why, "invalid character in request-target", 400);
    if (b[i] == '\r' && b[i + 1] != '\n') return htd_refuse(why, "bare CR in request line", 400);
    if (i == s) return htd_refuse(why, "empty request-target", 400);
    if (i - s > HTD_MAX_TARGET) return htd_refuse(why, "request-target too long", 414);
    req->target = (htd_str){buf + s, i - s};

    if (b[i] != ' ') {
        /* method SP request-target CRLF: HTTP/0.9, which had only GET */
        if (req->method_id != HTD_M_GET)
            return htd_refuse(why, "only GET is allowed in a one-line (HTTP/0.9) request", 400);
        i += b[i] == '\r' ? 2 : 1;
        req->version = 9;
        req->host = (htd_str){NULL, 0};
        int r = parse_target(req, why);
        if (r) return r;
        req->content_length = -1;
        req->chunked = 0;
        req->keep_alive = 0;
        req->connection_names = 0;
        req->expect_continue = 0;
        req->nheaders = 0;
        memset(req->known, 0, sizeof req->known);
        return (int)i;
    }

    /* SP HTTP-version CRLF; end - i >= 9 keeps every read below in the head */
    i++;
    if (end - i < 9 || memcmp(b + i, "HTTP/", 5) != 0 || !htd_is_digit(b[i + 5]) ||
        b[i + 6] != '.' || !htd_is_digit(b[i + 7]))
        return htd_refuse(why, "malformed HTTP version", 400);
    int major = b[i + 5] - '0', minor = b[i + 7] - '0';
    i += 8;
    if (b[i] == '\n') {
        i++;
    } else if (b[i] == '\r' && b[i + 1] == '\n') {
        i += 2;
    } else {
        return htd_refuse(why, b[i] == '\r' ? "bare CR in request line" : "malformed HTTP version",
                          400);
    }
    if (major != 1) return htd_refuse(why, "HTTP version not supported", 505);
    req->version = minor == 0 ? 10 : 11;
    req->host = (htd_str){NULL, 0};
    int r = parse_target(req, why);
    if (r) return r;
    r = parse_fields(req, buf, &i, end, why);
    if (r) return r < 0 ? r : 0;
    return (int)i;
}

int htd_refused_is_head(const char *buf, size_t len)
{
    size_t i = skip_empty_lines(buf, len);
    return len - i >= 5 && memcmp(buf + i, "HEAD ", 5) == 0;
}

int htd_find_head(htd_parser *p, const char *buf, size_t len, size_t max_head, const char **why)
{
    size_t lim = len < max_head ? len : max_head;
    size_t i = p->scanned;
    int reqline = i ? p->reqline_done : 0;
    if (i > len) {
        /* not the buffer we scanned before: start over */
        i = 0;
        reqline = 0;
    }

    /* The head ends with the first empty line after the request line, or with
     * the request line itself if it is a one-line request. A found head leaves
     * *p alone, so a repeated call gives the same answer. */
    while (i < lim && htd_next_line(buf, &i, lim)) {
        if (!htd_empty_line(buf, i - 1)) {
            if (!reqline) {
                reqline = 1;
                if (one_line(buf, i - 1)) goto found;
            }
        } else if (reqline) {
            goto found;
        }
    }
    p->scanned = i;
    p->reqline_done = reqline;
    if (len >= max_head)
        return reqline ? htd_refuse(why, "request header fields too large", 431)
                       : htd_refuse(why, "request line too long", 414);
    return 0;

found:
    return (int)i;
}

int htd_parse_head(const char *buf, size_t len, htd_request *req, const char **why)
{
    int r = parse_head(buf, len, req, why);
    assert(r != 0 && (r < 0 || (size_t)r == len)); /* the head htd_find_head found */
    if (r > 0) req->head_len = (size_t)r;
    return r;
}

int htd_parse_at_once(const htd_parser *p, const char *buf, size_t len, size_t max_head,
                      htd_request *req)
{
    if (p->scanned) return 0; /* not a first look */
    const char *nl = memrchr(buf, '\n', len < max_head ? len : max_head);
    if (!nl) return 0;
    const char *why;
    int r = parse_head(buf, (size_t)(nl - buf) + 1, req, &why);
    if (r <= 0) return 0; /* more to come, or a fault: told the usual way */
    req->head_len = (size_t)r;
    return r;
}

void htd_request_move(htd_request *req, const char *from, const char *to)
{
    /* the others may be NULL, or the static "/" */
    htd_str *s[] = {&req->method, &req->target, &req->path, &req->query, &req->host};
    for (size_t k = 0; k < sizeof s / sizeof *s; k++)
        if ((uintptr_t)s[k]->p - (uintptr_t)from < req->head_len) s[k]->p = to + (s[k]->p - from);
    for (size_t k = 0; k < req->nheaders; k++) {
        /* names and values are always in the head */
        req->headers[k].name.p = to + (req->headers[k].name.p - from);
        req->headers[k].value.p = to + (req->headers[k].value.p - from);
    }
}

int htd_parse_request(htd_parser *p, const char *buf, size_t len, size_t max_head, htd_request *req,
                      const char **why)
{
    int n = htd_parse_at_once(p, buf, len, max_head, req);
    if (n > 0) return n;
    n = htd_find_head(p, buf, len, max_head, why);
    return n > 0 ? htd_parse_head(buf, (size_t)n, req, why) : n;
}

htd_str htd_request_header(const htd_request *req, const char *name, size_t namelen)
{
    int k = known_field((htd_str){name, namelen});
    if (k >= 0) return req->known[k] ? req->headers[req->known[k] - 1].value : (htd_str){NULL, 0};
    return htd_header_find(req->headers, req->nheaders, name, namelen);
}
