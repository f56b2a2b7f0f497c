/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_parser.c - unit tests of src/parser.c.
 *
 * Every request goes through parse(), which parses it whole and then checks
 * that feeding it in any two pieces, and one byte at a time, gives the same
 * answer: 0 until the head is complete, then the same status, fields and
 * sentence. Each piece is parsed from a heap copy of exactly its length, so
 * AddressSanitizer catches a read past what the parser was given.
 */
#include <stdint.h>
#include <stdlib.h>

#include "parser.h"
#include "test.h"

#define MAXH 16384
#define REQ(lit) lit, sizeof(lit) - 1

static char *cur; /* heap copy of the request last parsed whole */
static size_t curlen;
static htd_request R; /* its result */
static const char *W; /* its *why */

static char *copy(const char *s, size_t n)
{
    char *b = malloc(n ? n : 1);
    if (!b) abort();
    memcpy(b, s, n);
    return b;
}

/* Whether a slice is NULL, the static "/", or inside buf[0..len). */
static int slice_ok(htd_str s, const char *buf, size_t len)
{
    if (!s.p) return s.len == 0;
    if (s.len == 1 && s.p[0] == '/' && (s.p < buf || s.p >= buf + len)) return 1;
    return s.p >= buf && s.len <= len && (size_t)(s.p - buf) <= len - s.len;
}

static int slice_same(htd_str a, const char *abuf, htd_str b, const char *bbuf)
{
    if (!a.p || !b.p) return a.p == b.p && a.len == b.len;
    return a.len == b.len && memcmp(a.p, b.p, a.len) == 0 &&
           (a.p - abuf == b.p - bbuf || (a.len == 1 && a.p[0] == '/' && b.p[0] == '/'));
}

/* Whether two successful parses of the same bytes found the same request. */
static int same_request(const htd_request *a, const char *abuf, const htd_request *b,
                        const char *bbuf)
{
    if (a->method_id != b->method_id || a->version != b->version ||
        a->content_length != b->content_length || a->chunked != b->chunked ||
        a->keep_alive != b->keep_alive || a->expect_continue != b->expect_continue ||
        a->head_len != b->head_len || a->nheaders != b->nheaders)
        return 0;
    if (!slice_same(a->method, abuf, b->method, bbuf) ||
        !slice_same(a->target, abuf, b->target, bbuf) ||
        !slice_same(a->path, abuf, b->path, bbuf) || !slice_same(a->query, abuf, b->query, bbuf) ||
        !slice_same(a->host, abuf, b->host, bbuf))
        return 0;
    for (size_t i = 0; i < a->nheaders; i++)
        if (!slice_same(a->headers[i].name, abuf, b->headers[i].name, bbuf) ||
            !slice_same(a->headers[i].value, abuf, b->headers[i].value, bbuf))
            return 0;
    return 1;
}

static int request_ok(const htd_request *r, const char *buf, size_t len)
{
    if (r->head_len > len || r->nheaders > HTD_MAX_HEADERS) return 0;
    if (!slice_ok(r->method, buf, len) || !slice_ok(r->target, buf, len) ||
        !slice_ok(r->path, buf, len) || !slice_ok(r->query, buf, len) ||
        !slice_ok(r->host, buf, len))
        return 0;
    for (size_t i = 0; i < r->nheaders; i++)
        if (!slice_ok(r->headers[i].name, buf, len) || !slice_ok(r->headers[i].value, buf, len))
            return 0;
    return 1;
}

/* Checks that prefix parse result r (of buf, k bytes) agrees with the whole. */
static void agrees(int r, const htd_request *req, const char *buf, const char *why, int whole)
{
    CHECK_EQ_INT(r, whole);
    if (r > 0)
        CHECK(same_request(req, buf, &R, cur));
    else if (r < 0)
        CHECK(why == W);
}

static int parse(const char *s, size_t len, size_t max_head)
{
    free(cur);
    cur = copy(s, len);
    curlen = len;
    W = NULL;
    htd_parser p = {0};
    int whole = htd_parse_request(&p, cur, len, max_head, &R, &W);
    if (whole > 0) CHECK(request_ok(&R, cur, len));
    if (whole < 0) CHECK(W != NULL);

    /* The usual way, the head found and then parsed, agrees with
     * htd_parse_request's first look in one pass; and that pass's slices
     * move to a copy of the head. */
    htd_parser c = {0};
    htd_request C;
    const char *wc = NULL;
    int found = htd_find_head(&c, cur, len, max_head, &wc);
    int canon = found > 0 ? htd_parse_head(cur, (size_t)found, &C, &wc) : found;
    CHECK_EQ_INT(canon, whole);
    if (canon > 0) CHECK(same_request(&C, cur, &R, cur));
    if (canon < 0) CHECK(wc == W);
    htd_parser o = {0};
    htd_request O;
    int once = htd_parse_at_once(&o, cur, len, max_head, &O);
    CHECK(once == 0 || once == whole);
    if (once > 0) {
        CHECK(same_request(&O, cur, &R, cur));
        char *moved = copy(cur, (size_t)once);
        htd_request_move(&O, cur, moved);
        CHECK(request_ok(&O, moved, (size_t)once));
        CHECK(same_request(&O, moved, &R, cur));
        free(moved);
    }

    /* The same parser again: a found head does not move the resume state. */
    htd_request again;
    const char *why2 = NULL;
    if (whole != 0) {
        int r = htd_parse_request(&p, cur, len, max_head, &again, &why2);
        agrees(r, &again, cur, why2, whole);
    }

    /* One byte at a time, each prefix in a buffer of its own exact size. */
    htd_parser t = {0};
    for (size_t k = 0; k <= len; k++) {
        char *b = copy(s, k);
        htd_request q;
        const char *why = NULL;
        int r = htd_parse_request(&t, b, k, max_head, &q, &why);
        if (r != 0) {
            agrees(r, &q, b, why, whole);
            if (r > 0) CHECK_EQ_INT(k, r);
            free(b);
            break;
        }
        CHECK(k < len || whole == 0);
        free(b);
    }

    /* Two pieces: a prefix, then everything. */
    for (size_t k = 1; k < len; k++) {
        htd_parser u = {0};
        char *b = copy(s, k);
        htd_request q;
        const char *why = NULL;
        int r = htd_parse_request(&u, b, k, max_head, &q, &why);
        if (r != 0) {
            agrees(r, &q, b, why, whole);
        } else {
            r = htd_parse_request(&u, cur, len, max_head, &q, &why);
            agrees(r, &q, cur, why, whole);
        }
        free(b);
    }
    return whole;
}

#define PARSE(lit) parse(REQ(lit), MAXH)
#define CHECK_SLICE(s, lit) CHECK_STR((s).p, (s).len, lit)
#define CHECK_HEADER(i, n, v)                                                                      \
    do {                                                                                           \
        CHECK_SLICE(R.headers[i].name, n);                                                         \
        CHECK_SLICE(R.headers[i].value, v);                                                        \
    } while (0)

/* A request that must fail with status and the sentence why. */
struct bad {
    const char *req;
    size_t len;
    int status;
    const char *why;
};
#define BAD(lit, status, why)                                                                      \
    {                                                                                              \
        lit, sizeof(lit) - 1, status, why                                                          \
    }

static void check_bad(const struct bad *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int r = parse(cases[i].req, cases[i].len, MAXH);
        if (r != -cases[i].status || !W || strcmp(W, cases[i].why) != 0) {
            failures_++;
            fprintf(stderr, "case %zu \"%.*s\": got %d \"%s\", expected %d \"%s\"\n", i,
                    (int)cases[i].len, cases[i].req, r, W ? W : "(null)", -cases[i].status,
                    cases[i].why);
        }
    }
}

/* ---- request line and target forms ---- */

TEST(get_origin_form_with_query)
{
    int r = PARSE("GET /index.html?x=1&y=/?z HTTP/1.1\r\nHost: example.com\r\n"
                  "User-Agent: t/1\r\n\r\n");
    CHECK_EQ_INT(r, curlen);
    CHECK_EQ_INT(R.head_len, curlen);
    CHECK_SLICE(R.method, "GET");
    CHECK_EQ_INT(R.method_id, HTD_M_GET);
    CHECK_SLICE(R.target, "/index.html?x=1&y=/?z");
    CHECK_SLICE(R.path, "/index.html");
    CHECK_SLICE(R.query, "x=1&y=/?z");
    CHECK_SLICE(R.host, "example.com");
    CHECK_EQ_INT(R.version, 11);
    CHECK_EQ_INT(R.content_length, -1);
    CHECK_EQ_INT(R.chunked, 0);
    CHECK_EQ_INT(R.keep_alive, 1);
    CHECK_EQ_INT(R.expect_continue, 0);
    CHECK_EQ_INT(R.nheaders, 2);
    CHECK_HEADER(0, "Host", "example.com");
    CHECK_HEADER(1, "User-Agent", "t/1");
}

TEST(origin_form_without_query_has_null_query)
{
    CHECK_EQ_INT(PARSE("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), curlen);
    CHECK_SLICE(R.path, "/");
    CHECK(R.query.p == NULL && R.query.len == 0);
    CHECK_EQ_INT(PARSE("GET /a? HTTP/1.1\r\nHost: a\r\n\r\n"), curlen);
    CHECK_SLICE(R.path, "/a");
    CHECK(R.query.p != NULL);
    CHECK_EQ_INT(R.query.len, 0);
}

/* A Host is checked byte by byte and four at a time: a bad byte is found
 * at every place of hosts of every length up to 13, and a good host passes. */
TEST(a_bad_byte_anywhere_in_host_is_refused)
{
    static const char bad[] = {'/', '@', '"', '?'};
    for (size_t n = 1; n <= 13; n++) {
        char host[16], req[64];
        memset(host, 'a', n);
        host[n] = '\0';
        int len = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", host);
        CHECK_EQ_INT(parse(req, (size_t)len, MAXH), len);
        for (size_t at = 0; at < n; at++) {
            host[at] = bad[(n + at) % sizeof bad];
            len = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", host);
            CHECK_EQ_INT(parse(req, (size_t)len, MAXH), -400);
            CHECK(W && strcmp(W, "invalid character in Host header") == 0);
            host[at] = 'a';
        }
    }
}

TEST(fields_htd_reads_are_found_once_the_first_of_each)
{
    int r = PARSE("GET / HTTP/1.1\r\nHost: x\r\nRANGE: bytes=0-1\r\nX-A: 1\r\n"
                  "If-None-Match: \"a\"\r\nrange: bytes=5-\r\nAccept-Encoding: gzip\r\n\r\n");
    CHECK_EQ_INT(r, curlen);
    CHECK_EQ_INT(R.known[HTD_H_RANGE], 2); /* the first of two, by its index + 1 */
    CHECK_EQ_INT(R.known[HTD_H_IF_NONE_MATCH], 4);
    CHECK_EQ_INT(R.known[HTD_H_ACCEPT_ENCODING], 6);
    CHECK_EQ_INT(R.known[HTD_H_IF_MATCH], 0);
    htd_str v = htd_request_header(&R, "range", 5);
    CHECK_SLICE(v, "bytes=0-1");
    v = htd_request_header(&R, "if-match", 8);
    CHECK(v.p == NULL);
    v = htd_request_header(&R, "x-a", 3); /* not one htd reads: scanned */
    CHECK_SLICE(v, "1");
    /* If-Unmodified-Since is one; Content-Disposition, of the same length, is not. */
    r = PARSE("GET / HTTP/1.1\r\nHost: x\r\nContent-Disposition: inline\r\n"
              "if-UNMODIFIED-since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n");
    CHECK_EQ_INT(r, curlen);
    CHECK_EQ_INT(R.known[HTD_H_IF_UNMODIFIED_SINCE], 3);
    CHECK_SLICE(htd_request_known(&R, HTD_H_IF_UNMODIFIED_SINCE), "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK_SLICE(htd_request_header(&R, "content-disposition", 19), "inline");
    /* A one-line request has none. */
    r = PARSE("GET /\r\n");
    CHECK_EQ_INT(R.known[HTD_H_RANGE], 0);
}

TEST(head_and_body_bytes_after_the_head)
{
    int r = PARSE("HEAD /x HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\n");
    CHECK_EQ_INT(r, 29);
    CHECK_EQ_INT(R.head_len, 29);
    CHECK_EQ_INT(R.method_id, HTD_M_HEAD);
    CHECK_SLICE(R.method, "HEAD");
}

TEST(post_with_content_length)
{
    int r = PARSE("POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
    CHECK_EQ_INT(r, curlen - 5);
    CHECK_EQ_INT(R.method_id, HTD_M_POST);
    CHECK_EQ_INT(R.content_length, 5);
    CHECK_EQ_INT(R.chunked, 0);
    CHECK_HEADER(1, "Content-Length", "5");
}

TEST(every_known_method_and_unknown_tokens)
{
    static const struct {
        const char *req;
        size_t len;
        int id;
    } m[] = {
        {REQ("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), HTD_M_GET},
        {REQ("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"), HTD_M_HEAD},
        {REQ("POST / HTTP/1.1\r\nHost: a\r\n\r\n"), HTD_M_POST},
        {REQ("PUT / HTTP/1.1\r\nHost: a\r\n\r\n"), HTD_M_PUT},
        {REQ("DELETE / HTTP/1.1\r\nHost: a\r\n\r\n"), HTD_M_DELETE},
        {REQ("OPTIONS / HTTP/1.1\r\nHost: a\r\n\r\n"), HTD_M_OPTIONS},
        {REQ("TRACE / HTTP/1.1\r\nHost: a\r\n\r\n"), HTD_M_TRACE},
        {REQ("PATCH / HTTP/1.1\r\nHost: a\r\n\r\n"), HTD_M_PATCH},
        {REQ("get / HTTP/1.1\r\nHost: a\r\n\r\n"), HTD_M_UNKNOWN},
        {REQ("Get / HTTP/1.1\r\nHost: a\r\n\r\n"), HTD_M_UNKNOWN},
        {REQ("PROPFIND / HTTP/1.1\r\nHost: a\r\n\r\n"), HTD_M_PROPFIND},
        {REQ("PROPPATCH / HTTP/1.1\r\nHost: a\r\n\r\n"), HTD_M_PROPPATCH},
        {REQ("MKCOL / HTTP/1.1\r\nHost: a\r\n\r\n"), HTD_M_MKCOL},
        {REQ("COPY / HTTP/1.1\r\nHost: a\r\n\r\n"), HTD_M_COPY},
        {REQ("MOVE / HTTP/1.1\r\nHost: a\r\n\r\n"), HTD_M_MOVE},
        {REQ("LOCK / HTTP/1.1\r\nHost: a\r\n\r\n"), HTD_M_LOCK},
        {REQ("UNLOCK / HTTP/1.1\r\nHost: a\r\n\r\n"), HTD_M_UNLOCK},
        {REQ("propfind / HTTP/1.1\r\nHost: a\r\n\r\n"), HTD_M_UNKNOWN},
        {REQ("BREW / HTTP/1.1\r\nHost: a\r\n\r\n"), HTD_M_UNKNOWN},
        {REQ("SEARCH / HTTP/1.1\r\nHost: a\r\n\r\n"), HTD_M_UNKNOWN},
        {REQ("GETS / HTTP/1.1\r\nHost: a\r\n\r\n"), HTD_M_UNKNOWN},
        {REQ("X-!#$%&'*+-.^_`|~9 / HTTP/1.1\r\nHost: a\r\n\r\n"), HTD_M_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        CHECK_EQ_INT(parse(m[i].req, m[i].len, MAXH), m[i].len);
        CHECK_EQ_INT(R.method_id, m[i].id);
        CHECK_EQ_INT(R.method.len, strchr(m[i].req, ' ') - m[i].req);
    }
    PARSE("get / HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK_SLICE(R.method, "get");
}

TEST(a_method_name_alone_gives_its_id_as_the_config_reads_it)
{
    CHECK_EQ_INT(htd_method_id("PUT", 3), HTD_M_PUT);
    CHECK_EQ_INT(htd_method_id("MKCOL", 5), HTD_M_MKCOL);
    CHECK_EQ_INT(htd_method_id("PROPPATCH", 9), HTD_M_PROPPATCH);
    CHECK_EQ_INT(htd_method_id("PUTS", 3), HTD_M_PUT); /* a length, not a NUL, ends it */
    CHECK_EQ_INT(htd_method_id("put", 3), HTD_M_UNKNOWN);
    CHECK_EQ_INT(htd_method_id("FETCH", 5), HTD_M_UNKNOWN);
    CHECK_EQ_INT(htd_method_id("", 0), HTD_M_UNKNOWN);
    /* Every id fits the bits of a rule's methods. */
    CHECK(HTD_M_UNLOCK < 32);
}

TEST(absolute_form_takes_host_from_the_target)
{
    int r = PARSE("GET http://Example.com:8080/a/b?q=1 HTTP/1.1\r\nHost: other\r\n\r\n");
    CHECK_EQ_INT(r, curlen);
    CHECK_SLICE(R.host, "Example.com:8080");
    CHECK_SLICE(R.path, "/a/b");
    CHECK_SLICE(R.query, "q=1");
    CHECK_SLICE(R.target, "http://Example.com:8080/a/b?q=1");
    CHECK_HEADER(0, "Host", "other");
}

TEST(absolute_form_without_path_gets_slash)
{
    CHECK_EQ_INT(PARSE("GET HTTPS://h HTTP/1.1\r\nHost: h\r\n\r\n"), curlen);
    CHECK_SLICE(R.host, "h");
    CHECK_SLICE(R.path, "/");
    CHECK(R.query.p == NULL);
    CHECK_EQ_INT(PARSE("GET http://[::1]:80?x HTTP/1.1\r\nHost: h\r\n\r\n"), curlen);
    CHECK_SLICE(R.host, "[::1]:80");
    CHECK_SLICE(R.path, "/");
    CHECK_SLICE(R.query, "x");
}

TEST(absolute_form_in_http10_needs_no_host_field)
{
    CHECK_EQ_INT(PARSE("GET http://h/x HTTP/1.0\r\n\r\n"), curlen);
    CHECK_SLICE(R.host, "h");
    CHECK_SLICE(R.path, "/x");
    CHECK_EQ_INT(R.version, 10);
}

TEST(options_asterisk)
{
    CHECK_EQ_INT(PARSE("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), curlen);
    CHECK_EQ_INT(R.method_id, HTD_M_OPTIONS);
    CHECK_SLICE(R.path, "*");
    CHECK(R.query.p == NULL);
    CHECK_SLICE(R.host, "a");
}

TEST(connect_authority_form)
{
    CHECK_EQ_INT(PARSE("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
                 curlen);
    CHECK_EQ_INT(R.method_id, HTD_M_CONNECT);
    CHECK_SLICE(R.host, "example.com:443");
    CHECK_EQ_INT(R.path.len, 0);
    CHECK(R.path.p != NULL);
    CHECK(R.query.p == NULL);
    CHECK_EQ_INT(PARSE("CONNECT [::1]:8443 HTTP/1.1\r\nHost: x\r\n\r\n"), curlen);
    CHECK_SLICE(R.host, "[::1]:8443");
}

TEST(http09_one_line_request)
{
    CHECK_EQ_INT(PARSE("GET /path?q\r\n"), curlen);
    CHECK_EQ_INT(R.version, 9);
    CHECK_EQ_INT(R.head_len, 13);
    CHECK_SLICE(R.path, "/path");
    CHECK_SLICE(R.query, "q");
    CHECK_EQ_INT(R.nheaders, 0);
    CHECK_EQ_INT(R.keep_alive, 0);
    CHECK_EQ_INT(R.content_length, -1);
    CHECK_EQ_INT(R.host.len, 0);
    CHECK_EQ_INT(PARSE("GET /x\n"), 7);
    CHECK_EQ_INT(R.version, 9);
}

TEST(http09_head_ends_with_its_line)
{
    /* what follows a one-line request is not its header section */
    CHECK_EQ_INT(PARSE("\r\nGET /\r\nHost: x\r\n\r\n"), 9);
    CHECK_EQ_INT(R.version, 9);
    CHECK_EQ_INT(R.nheaders, 0);
}

TEST(leading_empty_lines_are_ignored)
{
    CHECK_EQ_INT(PARSE("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), curlen);
    CHECK_EQ_INT(R.head_len, curlen);
    CHECK_SLICE(R.method, "GET");
    CHECK_SLICE(R.path, "/");
    CHECK_EQ_INT(PARSE("\n\r\n\nGET / HTTP/1.1\nHost: a\n\n"), curlen);
    CHECK_SLICE(R.method, "GET");
    CHECK_EQ_INT(PARSE("\r\n"), 0);
    CHECK_EQ_INT(PARSE("\n\n\n\n"), 0);
}

TEST(bare_lf_line_endings)
{
    CHECK_EQ_INT(PARSE("GET / HTTP/1.1\nHost: a\nX: 1\n\n"), curlen);
    CHECK_EQ_INT(R.nheaders, 2);
    CHECK_HEADER(0, "Host", "a");
    CHECK_HEADER(1, "X", "1");
    CHECK_EQ_INT(PARSE("GET / HTTP/1.1\r\nHost: a\r\n\nrest"), curlen - 4);
    CHECK_EQ_INT(PARSE("GET / HTTP/1.1\nHost: a\n\r\nrest"), curlen - 4);
    CHECK_EQ_INT(PARSE("GET / HTTP/1.1\nHost: a\r\n\r\n"), curlen);
}

TEST(incomplete_heads_need_more)
{
    CHECK_EQ_INT(PARSE(""), 0);
    CHECK_EQ_INT(PARSE("GET / HTTP/1.1"), 0);
    CHECK_EQ_INT(PARSE("GET / HTTP/1.1\r\n"), 0);
    CHECK_EQ_INT(PARSE("GET / HTTP/1.1\r\nHost: a\r\n"), 0);
    CHECK_EQ_INT(PARSE("GET / HTTP/1.1\r\nHost: a\r\n\r"), 0);
    CHECK_EQ_INT(PARSE("GET /"), 0);
}

TEST(versions)
{
    CHECK_EQ_INT(PARSE("GET / HTTP/1.0\r\n\r\n"), curlen);
    CHECK_EQ_INT(R.version, 10);
    CHECK_EQ_INT(R.keep_alive, 0);
    CHECK_EQ_INT(R.host.len, 0);
    CHECK_EQ_INT(PARSE("GET / HTTP/1.9\r\nHost: a\r\n\r\n"), curlen);
    CHECK_EQ_INT(R.version, 11);
    CHECK_EQ_INT(R.keep_alive, 1);
}

TEST(bad_request_lines)
{
    static const struct bad cases[] = {
        BAD("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "HTTP version not supported"),
        BAD("GET / HTTP/3.0\r\n\r\n", 505, "HTTP version not supported"),
        BAD("GET / HTTP/0.9\r\n\r\n", 505, "HTTP version not supported"),
        BAD("GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400, "malformed HTTP version"),
        BAD("GET / HTTP/1\r\nHost: a\r\n\r\n", 400, "malformed HTTP version"),
        BAD("GET / HTTP/1.\r\nHost: a\r\n\r\n", 400, "malformed HTTP version"),
        BAD("GET / http/1.1\r\nHost: a\r\n\r\n", 400, "malformed HTTP version"),
        BAD("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, "malformed HTTP version"),
        BAD("GET / HTTP/1.1\t\r\nHost: a\r\n\r\n", 400, "malformed HTTP version"),
        BAD("GET / HTTP/a.1\r\nHost: a\r\n\r\n", 400, "malformed HTTP version"),
        BAD("GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400, "malformed HTTP version"),
        BAD("GET / \r\n\r\n", 400, "malformed HTTP version"),
        BAD("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "empty request-target"),
        BAD(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "request line starts with whitespace"),
        BAD("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid character in method"),
        BAD("GET /\tHTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid character in request-target"),
        BAD("GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid character in method"),
        BAD("G\x80T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid character in method"),
        BAD("GET\r\n", 400, "request line has no request-target"),
        BAD("\r\nGET\n", 400, "request line has no request-target"),
        BAD("GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid character in request-target"),
        BAD("GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid character in request-target"),
        BAD("GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid character in request-target"),
        BAD("GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bare CR in request line"),
        BAD("GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", 400, "bare CR in request line"),
        BAD("GET /\r\r\n", 400, "bare CR in request line"),
        BAD("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid character in method"),
        BAD("HEAD /\r\n", 400, "only GET is allowed in a one-line (HTTP/0.9) request"),
        BAD("POST /x\n", 400, "only GET is allowed in a one-line (HTTP/0.9) request"),
        BAD("FOO /x\r\n", 400, "only GET is allowed in a one-line (HTTP/0.9) request"),
        BAD("GET x\r\n", 400, "invalid request-target"),
    };
    check_bad(cases, sizeof cases / sizeof cases[0]);
}

TEST(bad_targets)
{
    static const struct bad cases[] = {
        BAD("GET index.html HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid request-target"),
        BAD("GET ftp://h/x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid request-target"),
        BAD("GET http:/h/x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid request-target"),
        BAD("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400,
            "absolute-form target without a host"),
        BAD("GET http:// HTTP/1.1\r\nHost: a\r\n\r\n", 400, "absolute-form target without a host"),
        BAD("GET http://u:p@h/x HTTP/1.1\r\nHost: a\r\n\r\n", 400,
            "userinfo in request-target is not allowed"),
        BAD("GET http://h\"/x HTTP/1.1\r\nHost: a\r\n\r\n", 400,
            "invalid character in request-target host"),
        BAD("GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400,
            "asterisk-form target is only allowed with OPTIONS"),
        BAD("OPTIONS ** HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid request-target"),
        BAD("OPTIONS a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid request-target"),
        BAD("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "CONNECT needs a host:port target"),
        BAD("CONNECT a HTTP/1.1\r\nHost: a\r\n\r\n", 400, "CONNECT needs a host:port target"),
        BAD("CONNECT a: HTTP/1.1\r\nHost: a\r\n\r\n", 400, "CONNECT needs a host:port target"),
        BAD("CONNECT :443 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "CONNECT needs a host:port target"),
        BAD("CONNECT u@a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "CONNECT needs a host:port target"),
        BAD("CONNECT http://a:443/ HTTP/1.1\r\nHost: a\r\n\r\n", 400,
            "CONNECT needs a host:port target"),
    };
    check_bad(cases, sizeof cases / sizeof cases[0]);
}

static char *repeat(const char *pre, char c, size_t n, const char *post)
{
    size_t a = strlen(pre), b = strlen(post);
    char *s = malloc(a + n + b + 1);
    if (!s) abort();
    memcpy(s, pre, a);
    memset(s + a, c, n);
    memcpy(s + a + n, post, b + 1);
    return s;
}

TEST(target_length_limit)
{
    char *ok = repeat("GET /", 'a', HTD_MAX_TARGET - 1, " HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK_EQ_INT(parse(ok, strlen(ok), MAXH), strlen(ok));
    CHECK_EQ_INT(R.target.len, HTD_MAX_TARGET);
    char *bad = repeat("GET /", 'a', HTD_MAX_TARGET, " HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK_EQ_INT(parse(bad, strlen(bad), MAXH), -414);
    CHECK_STR(W, strlen(W), "request-target too long");
    free(ok);
    free(bad);
}

TEST(max_head_decides_414_or_431)
{
    /* the request line is not whole when max_head is reached: 414 */
    char *s = repeat("GET /", 'a', 200, "");
    CHECK_EQ_INT(parse(s, strlen(s), 100), -414);
    CHECK_STR(W, strlen(W), "request line too long");
    CHECK_EQ_INT(parse(s, strlen(s), 206), 0);
    CHECK_EQ_INT(parse(s, strlen(s), 205), -414);
    free(s);
    /* it is whole, the header section is not: 431 */
    s = repeat("GET / HTTP/1.1\r\nX: ", 'a', 200, "");
    CHECK_EQ_INT(parse(s, strlen(s), 100), -431);
    CHECK_STR(W, strlen(W), "request header fields too large");
    free(s);
    s = repeat("GET / HTTP/1.1\r\nHost: a\r\nX: ", 'a', 200, "\r\n\r\n");
    CHECK_EQ_INT(parse(s, strlen(s), 100), -431);
    /* a head of exactly max_head fits; one byte more does not */
    CHECK_EQ_INT(parse(s, strlen(s), strlen(s)), strlen(s));
    CHECK_EQ_INT(parse(s, strlen(s), strlen(s) - 1), -431);
    free(s);
    /* bytes beyond max_head do not count once the head is whole in it */
    s = repeat("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 'b', 200, "");
    CHECK_EQ_INT(parse(s, strlen(s), 40), 27);
    free(s);
    /* only empty lines so far: the request line is not complete */
    CHECK_EQ_INT(parse(REQ("\r\n\r\n\r\n\r\n\r\n\r\n"), 8), -414);
}

/* ---- header fields ---- */

TEST(field_values_are_trimmed)
{
    int r = PARSE("GET / HTTP/1.1\r\nHost:a\r\nX:   a  b \t \r\nY:\r\nZ: \t\r\n"
                  "O: \x80\xff\r\nQ: \"q\" ,(c)\r\n\r\n");
    CHECK_EQ_INT(r, curlen);
    CHECK_EQ_INT(R.nheaders, 6);
    CHECK_HEADER(0, "Host", "a");
    CHECK_HEADER(1, "X", "a  b");
    CHECK_HEADER(2, "Y", "");
    CHECK_HEADER(3, "Z", "");
    CHECK_HEADER(4, "O", "\x80\xff");
    CHECK_HEADER(5, "Q", "\"q\" ,(c)");
    CHECK(R.headers[2].value.p != NULL);
}

TEST(header_lookup_is_case_insensitive)
{
    PARSE("GET / HTTP/1.1\r\nhOST: a\r\nX-Dup: 1\r\nx-dup: 2\r\n\r\n");
    htd_str v = htd_request_header(&R, "Host", 4);
    CHECK_SLICE(v, "a");
    v = htd_request_header(&R, "X-DUP", 5);
    CHECK_SLICE(v, "1");
    v = htd_request_header(&R, "x-du", 4);
    CHECK(v.p == NULL && v.len == 0);
    v = htd_request_header(&R, "nope", 4);
    CHECK(v.p == NULL && v.len == 0);
}

TEST(str_ieq)
{
    CHECK(htd_str_ieq((htd_str){"Keep-Alive", 10}, "keep-alive", 10));
    CHECK(htd_str_ieq((htd_str){"", 0}, "", 0));
    CHECK(!htd_str_ieq((htd_str){"keep-alive", 10}, "keep-aliv", 9));
    CHECK(!htd_str_ieq((htd_str){"keep\r", 5}, "keep-", 5));
    CHECK(!htd_str_ieq((htd_str){"[", 1}, "{", 1));
    CHECK(!htd_str_ieq((htd_str){"@", 1}, "`", 1));
}

TEST(sixty_four_fields_fit_sixty_five_do_not)
{
    char buf[4096];
    size_t n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 1; i < HTD_MAX_HEADERS; i++)
        n += (size_t)sprintf(buf + n, "X-%d: %d\r\n", i, i);
    memcpy(buf + n, "\r\n", 2);
    CHECK_EQ_INT(parse(buf, n + 2, MAXH), n + 2);
    CHECK_EQ_INT(R.nheaders, HTD_MAX_HEADERS);
    CHECK_HEADER(63, "X-63", "63");
    n += (size_t)sprintf(buf + n, "X-64: 64\r\n\r\n");
    CHECK_EQ_INT(parse(buf, n, MAXH), -431);
    CHECK_STR(W, strlen(W), "too many header fields");
}

TEST(bad_header_fields)
{
    static const struct bad cases[] = {
        BAD("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400,
            "obs-fold in header is not allowed"),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", 400,
            "obs-fold in header is not allowed"),
        BAD("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, "whitespace before the first header field"),
        BAD("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "whitespace between header name and colon"),
        BAD("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400, "whitespace between header name and colon"),
        BAD("GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 400, "empty header name"),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400, "header line without a colon"),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nNoColon\n\n", 400, "header line without a colon"),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nX(: b\r\n\r\n", 400, "invalid character in header name"),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nX\xc3\xa9: b\r\n\r\n", 400,
            "invalid character in header name"),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nX\0Y: b\r\n\r\n", 400,
            "invalid character in header name"),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nX\rY: b\r\n\r\n", 400, "bare CR in header"),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 400,
            "invalid character in header value"),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400,
            "invalid character in header value"),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n", 400,
            "invalid character in header value"),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nX: a\x1b[0m\r\n\r\n", 400,
            "invalid character in header value"),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, "bare CR in header"),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n", 400, "bare CR in header"),
        BAD("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n\r\n", 400, "bare CR in header"),
        BAD("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n\n", 400, "bare CR in header"),
    };
    check_bad(cases, sizeof cases / sizeof cases[0]);
}

/* Parses before, v[0..40) and after as one request: what
 * htd_parse_request says. */
static int parse_around(const char *before, const char *v, const char *after)
{
    char buf[160];
    size_t n = strlen(before), m = strlen(after);
    memcpy(buf, before, n);
    memcpy(buf + n, v, 40);
    memcpy(buf + n + 40, after, m);
    htd_parser p = {0};
    htd_request q;
    const char *why = NULL;
    return htd_parse_request(&p, buf, n + 40 + m, MAXH, &q, &why);
}

/* The value and target scanners go sixteen bytes at a time (SSE2), then a
 * word, then a byte, and the field name's four bytes at a time, then a
 * byte: a bad byte must be seen wherever it falls, and every allowed byte
 * let through. 40 bytes: two blocks of sixteen, a word and a tail. */
TEST(every_byte_at_every_offset_of_value_and_target)
{
    for (int c = 0; c < 256; c++) {
        int value_ok = c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7f);
        int target_ok = c >= 0x21 && c <= 0x7e;
        /* A field name: a tchar goes on; a ':' ends it early (the rest is
         * the value), unless it is the first byte. */
        int name_ok = htd_is_tchar((unsigned char)c) || c == ':';
        for (size_t at = 0; at < 40; at++) {
            char v[40];
            memset(v, 'v', sizeof v);
            v[at] = (char)c;
            int r = parse_around("GET / HTTP/1.1\r\nHost: a\r\nX: ", v, "w\r\n\r\n");
            if (c == '\n' || c == '\r')
                CHECK(r < 0); /* a line break inside: "X: vvv" then a line "vv..w" */
            else if ((r > 0) != value_ok)
                CHECK_EQ_INT(c * 1000 + (int)at, -1);

            r = parse_around("GET /", v, " HTTP/1.1\r\nHost: a\r\n\r\n");
            if (c != ' ' && c != '\n' && (r > 0) != target_ok) CHECK_EQ_INT(c * 1000 + (int)at, -2);

            /* (a '\n' first is the empty line that ends the head) */
            r = parse_around("GET / HTTP/1.1\r\nHost: a\r\n", v, ": v\r\n\r\n");
            if (!(c == '\n' && at == 0) && (r > 0) != (name_ok && !(c == ':' && at == 0)))
                CHECK_EQ_INT(c * 1000 + (int)at, -3);
        }
    }
}

/* ---- framing: Content-Length and Transfer-Encoding ---- */

TEST(content_length_values)
{
    CHECK_EQ_INT(PARSE("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"), curlen);
    CHECK_EQ_INT(R.content_length, 0);
    CHECK_EQ_INT(PARSE("PUT / HTTP/1.1\r\nHost: a\r\ncontent-length:007 \r\n\r\n"), curlen);
    CHECK_EQ_INT(R.content_length, 7);
    CHECK_EQ_INT(PARSE("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                       "CONTENT-LENGTH: 5\r\n\r\n"),
                 curlen);
    CHECK_EQ_INT(R.content_length, 5);
    CHECK_EQ_INT(PARSE("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5 ,5\r\n\r\n"), curlen);
    CHECK_EQ_INT(R.content_length, 5);
    CHECK_EQ_INT(PARSE("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 4611686018427387904\r\n\r\n"),
                 curlen);
    CHECK_EQ_INT(R.content_length, (int64_t)1 << 62);
    CHECK_EQ_INT(PARSE("POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n"), curlen);
    CHECK_EQ_INT(R.content_length, 3);
}

TEST(chunked_transfer_encoding)
{
    CHECK_EQ_INT(PARSE("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"), curlen);
    CHECK_EQ_INT(R.chunked, 1);
    CHECK_EQ_INT(R.content_length, -1);
    CHECK_EQ_INT(PARSE("POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding:  ChunKed \t\r\n\r\n"),
                 curlen);
    CHECK_EQ_INT(R.chunked, 1);
}

TEST(bad_framing)
{
    static const struct bad cases[] = {
        BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
            "Transfer-Encoding: chunked\r\n\r\n",
            400, "both Content-Length and Transfer-Encoding"),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
            "Content-Length: 5\r\n\r\n",
            400, "both Content-Length and Transfer-Encoding"),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400,
            "conflicting Content-Length values"),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", 400,
            "conflicting Content-Length values"),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400,
            "invalid Content-Length value"),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400,
            "invalid Content-Length value"),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5a\r\n\r\n", 400,
            "invalid Content-Length value"),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", 400,
            "invalid Content-Length value"),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\n", 400,
            "invalid Content-Length value"),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n", 400,
            "invalid Content-Length value"),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ,5\r\n\r\n", 400,
            "invalid Content-Length value"),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400,
            "invalid Content-Length value"),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4611686018427387905\r\n\r\n", 400,
            "Content-Length value too large"),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400,
            "Content-Length value too large"),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400,
            "unsupported transfer coding"),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400,
            "unsupported transfer coding"),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400,
            "unsupported transfer coding"),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 400,
            "unsupported transfer coding"),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 400,
            "unsupported transfer coding"),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", 400,
            "unsupported transfer coding"),
        BAD("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
            "Transfer-Encoding: chunked\r\n\r\n",
            400, "duplicate Transfer-Encoding header"),
        BAD("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
            "Transfer-Encoding in an HTTP/1.0 request"),
    };
    check_bad(cases, sizeof cases / sizeof cases[0]);
}

/* ---- Host, Connection, Expect ---- */

TEST(bad_host)
{
    static const struct bad cases[] = {
        BAD("GET / HTTP/1.1\r\n\r\n", 400, "missing Host header"),
        BAD("GET / HTTP/1.1\r\nX-Host: a\r\n\r\n", 400, "missing Host header"),
        BAD("GET http://h/ HTTP/1.1\r\n\r\n", 400, "missing Host header"),
        BAD("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, "duplicate Host header"),
        BAD("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400, "duplicate Host header"),
        BAD("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "invalid character in Host header"),
        BAD("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400, "invalid character in Host header"),
        BAD("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "invalid character in Host header"),
        BAD("GET / HTTP/1.1\r\nHost: a\x80\r\n\r\n", 400, "invalid character in Host header"),
    };
    check_bad(cases, sizeof cases / sizeof cases[0]);
}

TEST(host_values)
{
    CHECK_EQ_INT(PARSE("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"), curlen);
    CHECK_SLICE(R.host, "[::1]:8080");
    CHECK_EQ_INT(PARSE("GET / HTTP/1.1\r\nHost: a-b.c_d~%41!$&'()*+,;=\r\n\r\n"), curlen);
    CHECK_SLICE(R.host, "a-b.c_d~%41!$&'()*+,;=");
    /* an empty Host is what a client sends when the URI has no authority */
    CHECK_EQ_INT(PARSE("GET / HTTP/1.1\r\nHost:\r\n\r\n"), curlen);
    CHECK_EQ_INT(R.host.len, 0);
}

TEST(connection_and_keep_alive)
{
    PARSE("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    CHECK_EQ_INT(R.connection_names, 0);
    PARSE("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    CHECK_EQ_INT(R.keep_alive, 0);
    CHECK_EQ_INT(R.connection_names, 0);
    PARSE("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n");
    CHECK_EQ_INT(R.keep_alive, 0);
    CHECK_EQ_INT(R.connection_names, 1); /* Upgrade is a field of this hop */
    PARSE("GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive , close,\r\n\r\n");
    CHECK_EQ_INT(R.connection_names, 0);
    PARSE("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nConnection: X-Hop\r\n\r\n");
    CHECK_EQ_INT(R.connection_names, 1);
    PARSE("GET /\r\n");
    CHECK_EQ_INT(R.connection_names, 0);
    PARSE("GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n");
    CHECK_EQ_INT(R.keep_alive, 1);
    PARSE("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n");
    CHECK_EQ_INT(R.keep_alive, 1);
    PARSE("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    CHECK_EQ_INT(R.keep_alive, 1);
    PARSE("GET / HTTP/1.0\r\nConnection: foo ,keep-alive\r\n\r\n");
    CHECK_EQ_INT(R.keep_alive, 1);
    PARSE("GET / HTTP/1.0\r\n\r\n");
    CHECK_EQ_INT(R.keep_alive, 0);
    PARSE("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n");
    CHECK_EQ_INT(R.keep_alive, 0);
    PARSE("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n");
    CHECK_EQ_INT(R.keep_alive, 0);
    PARSE("GET / HTTP/1.0\r\nConnection: ,,\r\n\r\n");
    CHECK_EQ_INT(R.keep_alive, 0);
}

TEST(expect_continue)
{
    PARSE("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n");
    CHECK_EQ_INT(R.expect_continue, 1);
    PARSE("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nexpect:  100-Continue \r\n\r\n");
    CHECK_EQ_INT(R.expect_continue, 1);
    PARSE("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nExpect: 200-ok\r\n\r\n");
    CHECK_EQ_INT(R.expect_continue, 0);
    PARSE("PUT / HTTP/1.0\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n");
    CHECK_EQ_INT(R.expect_continue, 0);
    /* Field names in any case: Host and Expect are still themselves. */
    CHECK_EQ_INT(
        PARSE("PUT / HTTP/1.1\r\nhOsT: a\r\nContent-Length: 1\r\neXPECT: 100-continue\r\n\r\n"),
        curlen);
    CHECK_EQ_INT(R.expect_continue, 1);
    CHECK_SLICE(R.host, "a");
    CHECK_EQ_INT(PARSE("GET / HTTP/1.1\r\nHost: a\r\nHOST: b\r\n\r\n"), -400);
}

/* ---- the resume state ---- */

TEST(trickled_head_is_scanned_once)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    htd_parser p = {0};
    htd_request q;
    const char *why;
    for (size_t k = 0; k + 1 < sizeof req - 1; k++) {
        CHECK_EQ_INT(htd_parse_request(&p, req, k, MAXH, &q, &why), 0);
        CHECK_EQ_INT(p.scanned, k);
    }
    CHECK_EQ_INT(htd_parse_request(&p, req, sizeof req - 1, MAXH, &q, &why), sizeof req - 1);
}

TEST(stale_state_with_zeroed_offset_is_ignored)
{
    /* a caller that zeroes only scanned still gets a fresh parse */
    htd_parser p = {0};
    htd_request q;
    const char *why;
    CHECK_EQ_INT(htd_parse_request(&p, REQ("GET / HTTP/1.1\r\nHo"), MAXH, &q, &why), 0);
    p.scanned = 0;
    CHECK_EQ_INT(htd_parse_request(&p, REQ("GET /\r\n"), MAXH, &q, &why), 7);
    CHECK_EQ_INT(q.version, 9);
}

TEST(at_once)
{
    htd_parser p = {0};
    htd_request r;
    /* a whole head, the next one begun behind it */
    static const char two[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHo";
    CHECK_EQ_INT(htd_parse_at_once(&p, REQ(two), MAXH, &r), 28);
    CHECK_SLICE(r.target, "/a");
    CHECK_EQ_INT(r.nheaders, 1);
    CHECK_SLICE(r.headers[0].value, "x");
    /* its slices moved to a copy of the head */
    char *head = copy(two, 28);
    htd_request_move(&r, two, head);
    CHECK(r.target.p == head + 4 && r.headers[0].name.p == head + 17 && r.host.p == head + 23);
    CHECK(r.method.p == head && r.path.p == head + 4 && !r.query.p);
    free(head);
    /* a one-line request, and more behind it */
    CHECK_EQ_INT(htd_parse_at_once(&p, REQ("GET /\r\nGET"), MAXH, &r), 7);
    CHECK_EQ_INT(r.version, 9);
    /* not whole, a fault, empty lines only, nothing to look at: 0, and the
     * usual way answers */
    CHECK_EQ_INT(htd_parse_at_once(&p, REQ("GET /a HTTP/1.1\r\nHost: x\r\n"), MAXH, &r), 0);
    CHECK_EQ_INT(htd_parse_at_once(&p, REQ("GET /a HTTP/1.1\r\nHost: x\r\nBad\r\n\r\n"), MAXH, &r),
                 0);
    CHECK_EQ_INT(htd_parse_at_once(&p, REQ("\r\n\r\n"), MAXH, &r), 0);
    CHECK_EQ_INT(htd_parse_at_once(&p, REQ("GET /a HTTP/1.1"), MAXH, &r), 0);
    /* beyond max_head, or not a first look */
    CHECK_EQ_INT(htd_parse_at_once(&p, REQ(two), 20, &r), 0);
    htd_parser seen = {.scanned = 5};
    CHECK_EQ_INT(htd_parse_at_once(&seen, REQ(two), MAXH, &r), 0);
}

TEST(refused_is_head)
{
    /* as the parser reads it: after LF or CRLF empty lines, "HEAD " exactly */
    CHECK(htd_refused_is_head(REQ("HEAD /x HTTP/2.0\r\n")));
    CHECK(htd_refused_is_head(REQ("\r\n\nHEAD /")));
    CHECK(!htd_refused_is_head(REQ("\rHEAD / HTTP/1.1\r\n")));
    CHECK(!htd_refused_is_head(REQ("head / HTTP/1.1\r\n")));
    CHECK(!htd_refused_is_head(REQ("HEADER / HTTP/1.1\r\n")));
    CHECK(!htd_refused_is_head(REQ("HEAD")));
    CHECK(!htd_refused_is_head(REQ("")));
}

int main(void)
{
    RUN_TESTS();
}
