/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_fields.c - libFuzzer target for the response-head and header-block
 * parser (src/http/fields.c).
 *
 * Every input is parsed as a response head and as a CGI header block: whole,
 * in two pieces split at a point taken from the input (the first piece in a
 * buffer of its own, so a read past it is caught), and with a small max_head
 * that reaches the size limit. The answers must agree, and a head that is
 * accepted must be one a proxy or htd can frame and write out again: every
 * slice inside it, every name a token, every value clean. Any broken
 * invariant aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"
#include "fuzz.h"

#define MAX_HEAD 16384

typedef int (*parse_fn)(htd_head_parser *, const char *, size_t, size_t, htd_response *,
                        const char **);

static int in_head(htd_str s, const char *buf, size_t len)
{
    return s.p >= buf && s.len <= len && (size_t)(s.p - buf) <= len - s.len;
}

static void check_head(const htd_response *r, int block, int ret, const char *buf)
{
    size_t n = (size_t)ret;
    ENSURE(r->head_len == n && buf[n - 1] == '\n');
    ENSURE(r->nheaders <= HTD_MAX_RESP_HEADERS);
    ENSURE(r->content_length >= -1 && r->content_length <= (int64_t)1 << 62);
    ENSURE(!(r->chunked && r->content_length >= 0));
    if (block) {
        ENSURE(r->version == 0 && !r->chunked && !r->keep_alive && r->nheaders >= 1);
        ENSURE(r->status == 0 || (r->status >= 100 && r->status <= 599));
        ENSURE((r->status == 0) == (r->reason.p == NULL));
    } else {
        ENSURE(r->version == 10 || r->version == 11);
        ENSURE(r->status >= 100 && r->status <= 599);
        ENSURE(!(r->chunked && r->version != 11));
        ENSURE(memcmp(buf, "HTTP/1.", 7) == 0);
    }
    if (r->reason.p) {
        ENSURE(in_head(r->reason, buf, n));
        ENSURE(htd_field_value_ok(r->reason.p, r->reason.len));
    }
    for (size_t i = 0; i < r->nheaders; i++) {
        htd_str k = r->headers[i].name, v = r->headers[i].value;
        ENSURE(in_head(k, buf, n) && in_head(v, buf, n));
        ENSURE(htd_is_token(k.p, k.len) && htd_field_value_ok(v.p, v.len));
        ENSURE(v.len == 0 || (v.p[0] != ' ' && v.p[0] != '\t'));
        ENSURE(v.len == 0 || (v.p[v.len - 1] != ' ' && v.p[v.len - 1] != '\t'));
    }
    htd_str cl = htd_header_find(r->headers, r->nheaders, "content-length", 14);
    ENSURE((cl.p != NULL) == (r->content_length >= 0));
}

static int parse(parse_fn fn, int block, htd_head_parser *p, const char *buf, size_t len,
                 size_t max_head, htd_response *r, const char **why)
{
    *why = NULL;
    int ret = fn(p, buf, len, max_head, r, why);
    ENSURE(ret >= -1);
    ENSURE(ret != -1 || *why != NULL);
    ENSURE(ret != 0 || len < max_head);
    if (ret > 0) {
        ENSURE((size_t)ret <= len && (size_t)ret <= max_head);
        check_head(r, block, ret, buf);
    }
    return ret;
}

static int same(const htd_response *a, const char *abuf, const htd_response *b, const char *bbuf)
{
    if (a->version != b->version || a->status != b->status ||
        a->content_length != b->content_length || a->chunked != b->chunked ||
        a->keep_alive != b->keep_alive || a->head_len != b->head_len ||
        a->nheaders != b->nheaders || a->reason.len != b->reason.len ||
        (a->reason.p && a->reason.p - abuf != b->reason.p - bbuf))
        return 0;
    for (size_t i = 0; i < a->nheaders; i++) {
        const htd_header *x = &a->headers[i], *y = &b->headers[i];
        if (x->name.p - abuf != y->name.p - bbuf || x->name.len != y->name.len ||
            x->value.p - abuf != y->value.p - bbuf || x->value.len != y->value.len)
            return 0;
    }
    return 1;
}

/* Parses buf whole, then as a prefix of k bytes followed by the whole. */
static void parse_both_ways(parse_fn fn, int block, const char *buf, size_t len, size_t k,
                            size_t max_head)
{
    static htd_response whole, split;
    htd_head_parser p = {0}, q = {0};
    const char *why, *why2;
    int ret = parse(fn, block, &p, buf, len, max_head, &whole, &why);

    char *pre = malloc(k ? k : 1);
    ENSURE(pre != NULL);
    memcpy(pre, buf, k);
    int r = parse(fn, block, &q, pre, k, max_head, &split, &why2);
    const char *at = pre;
    if (r == 0) {
        r = parse(fn, block, &q, buf, len, max_head, &split, &why2);
        at = buf;
    }
    ENSURE(r == ret);
    if (ret < 0) ENSURE(why2 == why);
    if (ret > 0) ENSURE(same(&split, at, &whole, buf));
    free(pre);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    uint32_t h = fuzz_hash(data, size);
    size_t k = size ? h % (size + 1) : 0, small = 8 + (h >> 8) % 256;

    parse_both_ways(htd_parse_response, 0, buf, size, k, MAX_HEAD);
    parse_both_ways(htd_parse_response, 0, buf, size, k, small);
    parse_both_ways(htd_parse_header_block, 1, buf, size, k, MAX_HEAD);
    parse_both_ways(htd_parse_header_block, 1, buf, size, k, small);

    /* the validators against the table, byte by byte */
    int token = size > 0, value = 1;
    for (size_t i = 0; i < size; i++) {
        token = token && htd_is_tchar(data[i]);
        value = value && (htd_chars[data[i]] & HTD_C_VALUE);
    }
    ENSURE(htd_is_token(buf, size) == token && htd_field_value_ok(buf, size) == value);
    return 0;
}
