/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_parser.c - libFuzzer target for the request-head parser and the
 * chunked decoder.
 *
 * The input is a request: its head is parsed whole and in two pieces split at
 * a point taken from the input, and both answers must agree; so must a parse
 * with a small max_head, which reaches the 414 and 431 paths. When the head
 * says chunked, the rest of the input is decoded as the body, whole and in two
 * pieces, and both must give the same bytes. The head is also found and then
 * parsed, the usual way, and parsed at once, its first look: both must agree
 * with the whole parse. Any broken invariant aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunked.h"
#include "fuzz.h"
#include "parser.h"

#define MAX_HEAD 16384

static int inside(htd_str s, const char *buf, size_t len)
{
    if (!s.p) return s.len == 0;
    if (s.len == 1 && s.p[0] == '/' && (s.p < buf || s.p >= buf + len))
        return 1; /* the parser's static "/" */
    return s.p >= buf && s.len <= len && (size_t)(s.p - buf) <= len - s.len;
}

static int ws(char c)
{
    return c == ' ' || c == '\t';
}

static void check_request(const htd_request *r, int ret, const char *buf, size_t len)
{
    ENSURE(r->head_len == (size_t)ret && r->head_len <= len);
    ENSURE(buf[r->head_len - 1] == '\n');
    ENSURE(r->version == 9 || r->version == 10 || r->version == 11);
    ENSURE(r->nheaders <= HTD_MAX_HEADERS);
    ENSURE(r->content_length >= -1 && r->content_length <= (int64_t)1 << 62);
    ENSURE(!(r->chunked && r->content_length >= 0));
    ENSURE(!(r->chunked && r->version != 11));
    ENSURE(r->method.len > 0 && r->target.len > 0 && r->target.len <= HTD_MAX_TARGET);
    ENSURE(inside(r->method, buf, r->head_len) && inside(r->target, buf, r->head_len));
    ENSURE(inside(r->path, buf, r->head_len) && inside(r->query, buf, r->head_len));
    ENSURE(inside(r->host, buf, r->head_len));
    if (r->method_id == HTD_M_CONNECT)
        ENSURE(r->path.len == 0 && r->host.len > 0);
    else
        ENSURE(r->path.len > 0 &&
               (r->path.p[0] == '/' || (r->path.len == 1 && r->path.p[0] == '*')));
    htd_str host = htd_request_header(r, "HOST", 4), first = {NULL, 0};
    for (size_t i = 0; i < r->nheaders && !first.p; i++)
        if (htd_str_ieq(r->headers[i].name, "host", 4)) first = r->headers[i].value;
    ENSURE(host.p == first.p && host.len == first.len);
    for (size_t i = 0; i < r->nheaders; i++) {
        htd_str n = r->headers[i].name, v = r->headers[i].value;
        ENSURE(n.len > 0 && inside(n, buf, r->head_len) && inside(v, buf, r->head_len));
        ENSURE(!memchr(n.p, ':', n.len) && !memchr(v.p, '\r', v.len) && !memchr(v.p, '\n', v.len));
        ENSURE(v.len == 0 || (!ws(v.p[0]) && !ws(v.p[v.len - 1])));
    }
}

static int same_slice(htd_str a, const char *abuf, htd_str b, const char *bbuf)
{
    if (!a.p || !b.p) return a.p == b.p && a.len == b.len;
    if (a.len != b.len || memcmp(a.p, b.p, a.len) != 0) return 0;
    return a.p - abuf == b.p - bbuf || (a.len == 1 && a.p[0] == '/');
}

static int same_request(const htd_request *a, const char *abuf, const htd_request *b,
                        const char *bbuf)
{
    if (a->method_id != b->method_id || a->version != b->version ||
        a->content_length != b->content_length || a->chunked != b->chunked ||
        a->keep_alive != b->keep_alive || a->expect_continue != b->expect_continue ||
        a->head_len != b->head_len || a->nheaders != b->nheaders)
        return 0;
    if (!same_slice(a->method, abuf, b->method, bbuf) ||
        !same_slice(a->target, abuf, b->target, bbuf) ||
        !same_slice(a->path, abuf, b->path, bbuf) || !same_slice(a->query, abuf, b->query, bbuf) ||
        !same_slice(a->host, abuf, b->host, bbuf))
        return 0;
    for (size_t i = 0; i < a->nheaders; i++)
        if (!same_slice(a->headers[i].name, abuf, b->headers[i].name, bbuf) ||
            !same_slice(a->headers[i].value, abuf, b->headers[i].value, bbuf))
            return 0;
    return 1;
}

static int parse(htd_parser *p, const char *buf, size_t len, size_t max_head, htd_request *r,
                 const char **why)
{
    *why = NULL;
    int ret = htd_parse_request(p, buf, len, max_head, r, why);
    ENSURE(ret == 0 || ret == -400 || ret == -414 || ret == -431 || ret == -505 || ret > 0);
    ENSURE(ret >= 0 || *why != NULL);
    ENSURE(ret != 0 || len < max_head);
    if (ret > 0) {
        ENSURE((size_t)ret <= max_head);
        check_request(r, ret, buf, len);
    }
    return ret;
}

/* htd_parse_request looks at a head in one pass first (htd_parse_at_once):
 * the usual way, the head found and then parsed, must give what it gave
 * (ret, whole, why), and the one pass either the same or 0; its slices
 * must move to a copy of the head. */
static void check_ways(const char *buf, size_t len, size_t max_head, int ret,
                       const htd_request *whole, const char *why)
{
    static htd_request c, o;
    htd_parser p = {0}, q = {0};
    const char *wc = NULL;
    int found = htd_find_head(&p, buf, len, max_head, &wc);
    int canon = found > 0 ? htd_parse_head(buf, (size_t)found, &c, &wc) : found;
    ENSURE(canon == ret);
    if (ret > 0) ENSURE(same_request(&c, buf, whole, buf));
    if (ret < 0) ENSURE(wc == why);
    int once = htd_parse_at_once(&q, buf, len, max_head, &o);
    ENSURE(once == 0 || once == ret);
    if (once > 0) {
        ENSURE(same_request(&o, buf, whole, buf));
        char *moved = malloc((size_t)once);
        ENSURE(moved != NULL);
        memcpy(moved, buf, (size_t)once);
        htd_request_move(&o, buf, moved);
        check_request(&o, once, moved, (size_t)once);
        ENSURE(same_request(&o, moved, whole, buf));
        free(moved);
    }
}

/* Parses buf whole, then as a prefix of k bytes (in a buffer of its own, so a
 * read past it is caught) followed by the whole: the answers must agree. */
static int parse_both_ways(const char *buf, size_t len, size_t k, size_t max_head,
                           htd_request *whole)
{
    htd_parser p = {0};
    const char *why, *why2;
    int ret = parse(&p, buf, len, max_head, whole, &why);
    check_ways(buf, len, max_head, ret, whole, why);

    static htd_request split;
    htd_parser q = {0};
    char *pre = malloc(k ? k : 1);
    ENSURE(pre != NULL);
    memcpy(pre, buf, k);
    int r1 = parse(&q, pre, k, max_head, &split, &why2);
    if (r1 != 0) {
        ENSURE(r1 == ret && why2 == (ret < 0 ? why : NULL));
        if (r1 > 0) ENSURE(same_request(&split, pre, whole, buf));
    } else {
        int r2 = parse(&q, buf, len, max_head, &split, &why2);
        ENSURE(r2 == ret);
        if (ret < 0) ENSURE(why2 == why);
        if (ret > 0) ENSURE(same_request(&split, buf, whole, buf));
    }
    free(pre);
    return ret;
}

/* Decodes body[0..n) in the pieces [0, k) and [k, n); the output is appended
 * to out. Returns the bytes consumed, or -1. */
static ssize_t dechunk(const char *body, size_t n, size_t k, char *out, size_t *out_len,
                       const char **why, int *done)
{
    char *b = malloc(n ? n : 1);
    ENSURE(b != NULL);
    memcpy(b, body, n);
    htd_chunked c = {0};
    ssize_t total = 0;
    size_t at = 0;
    *out_len = 0;
    for (int piece = 0; piece < 2 && !c.done; piece++) {
        size_t end = piece == 0 ? k : n;
        size_t o = 0;
        ssize_t r = htd_chunked_decode(&c, b + at, end - at, &o, why);
        if (r < 0) {
            ENSURE(r == -1 && *why != NULL);
            free(b);
            return -1;
        }
        ENSURE((size_t)r <= end - at && o <= (size_t)r);
        ENSURE(c.done || (size_t)r == end - at);
        memcpy(out + *out_len, b + at, o);
        *out_len += o;
        total += r;
        at = end;
    }
    *done = c.done;
    free(b);
    return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    uint32_t h = fuzz_hash(data, size);
    size_t k = size ? h % (size + 1) : 0;

    static htd_request req;
    int ret = parse_both_ways(buf, size, k, MAX_HEAD, &req);

    static htd_request small;
    parse_both_ways(buf, size, k, 16 + (h >> 8) % 256, &small);

    if (ret <= 0 || !req.chunked) return 0;

    const char *body = buf + req.head_len;
    size_t n = size - req.head_len;
    char *out1 = malloc(n + 1), *out2 = malloc(n + 1);
    ENSURE(out1 && out2);
    size_t len1, len2;
    const char *why1 = NULL, *why2 = NULL;
    int done1 = 0, done2 = 0;
    ssize_t r1 = dechunk(body, n, n, out1, &len1, &why1, &done1);
    ssize_t r2 = dechunk(body, n, (h >> 16) % (n + 1), out2, &len2, &why2, &done2);
    ENSURE(r1 == r2);
    if (r1 < 0) {
        ENSURE(why1 == why2);
    } else {
        ENSURE((size_t)r1 <= n && len1 <= (size_t)r1);
        ENSURE(done1 == done2 && len1 == len2 && memcmp(out1, out2, len1) == 0);
        ENSURE(done1 || (size_t)r1 == n);
    }
    free(out1);
    free(out2);
    return 0;
}
