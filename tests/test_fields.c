/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_fields.c - unit tests of src/http/fields.c.
 *
 * The byte classes are checked against the grammar of RFC 9110 written out a
 * second way, byte by byte, so that a typo in the table shows.
 *
 * Every response head and header block goes through parse(), which parses it
 * whole and then again as it would arrive: one byte at a time, and in two
 * pieces cut at every place, each piece in a heap buffer of exactly its
 * length (so that AddressSanitizer sees a read past it). Every way must give
 * 0 until the head is whole, then the same answer as the whole.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fields.h"
#include "parser.h"
#include "test.h"

#include <ctype.h>

static int rfc_tchar(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int rfc_value(int c)
{
    return c == '\t' || c == ' ' || (c >= 0x21 && c <= 0x7E) || c >= 0x80;
}

/* htd_word_ieq against the plain rule, for every byte at every place. */
TEST(word_ieq_matches_a_letter_in_either_case_and_nothing_else)
{
    static const char word[] = "host";
    for (size_t at = 0; at < 4; at++)
        for (int b = 0; b < 256; b++) {
            char s[4];
            memcpy(s, "HoSt", 4);
            s[at] = (char)b;
            int want = (b == word[at] || b == word[at] - 32);
            CHECK_EQ_INT(htd_word_ieq((htd_str){s, 4}, word, 4), want);
        }
    CHECK(!htd_word_ieq((htd_str){"hos", 3}, word, 4));
    CHECK(!htd_word_ieq((htd_str){"hosts", 5}, word, 4));
}

/* htd_token_ieq against htd_str_ieq, for every tchar at every place of
 * names short and long (byte by byte, and the two words from 8 on). */
TEST(token_ieq_is_str_ieq_on_tokens)
{
    static const char *const lits[] = {"te",
                                       "x-1",
                                       "content-length",
                                       "x-forwarded-proto",
                                       "proxy-authorization",
                                       "if-none-match",
                                       "etag0",
                                       "abcdefgh",
                                       "abcdefghi",
                                       "abcdefghijklmnop",
                                       "a-very-long-field-name-0123456789"};
    for (size_t k = 0; k < sizeof lits / sizeof lits[0]; k++) {
        size_t n = strlen(lits[k]);
        char s[64];
        for (size_t at = 0; at < n; at++)
            for (int b = 0; b < 256; b++) {
                if (!rfc_tchar(b)) continue;
                for (size_t i = 0; i < n; i++) /* the rest in mixed case */
                    s[i] = i % 2 ? (char)toupper((unsigned char)lits[k][i]) : lits[k][i];
                s[at] = (char)b;
                htd_str t = {s, n};
                CHECK_EQ_INT(htd_token_ieq(t, lits[k], n), htd_str_ieq(t, lits[k], n));
            }
        CHECK(!htd_token_ieq((htd_str){lits[k], n - 1}, lits[k], n));
    }
    CHECK(htd_token_ieq((htd_str){"Content-LENGTH", 14}, "content-length", 14));
    CHECK(!htd_token_ieq((htd_str){"Content-Lengti", 14}, "content-length", 14));
    CHECK(!htd_token_ieq((htd_str){"Dontent-Length", 14}, "content-length", 14));
}

TEST(classes_match_the_rfc_grammar)
{
    for (int c = 0; c < 256; c++) {
        CHECK(!!(htd_chars[c] & HTD_C_TCHAR) == !!rfc_tchar(c));
        CHECK(!!(htd_chars[c] & HTD_C_VALUE) == rfc_value(c));
        CHECK(!!(htd_chars[c] & HTD_C_TARGET) == (c >= 0x21 && c <= 0x7E));
        CHECK(!!(htd_chars[c] & HTD_C_QDTEXT) == (rfc_value(c) && c != '"' && c != '\\'));
        int host = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   (c && strchr("-._~!$&'()*+,;=:[]%", c));
        CHECK(!!(htd_chars[c] & HTD_C_HOST) == host);
        CHECK(!!htd_is_tchar((unsigned char)c) == !!rfc_tchar(c));
    }
    CHECK(htd_chars['\n'] == 0 && htd_chars['\r'] == 0 && htd_chars[0] == 0);
}

TEST(token_is_one_or_more_tchar)
{
    CHECK(htd_is_token("Content-Type", 12));
    CHECK(htd_is_token("x", 1));
    CHECK(htd_is_token("!#$%&'*+-.^_`|~09azAZ", 21));
    CHECK(!htd_is_token("", 0));
    CHECK(!htd_is_token("a b", 3));
    CHECK(!htd_is_token("a:b", 3));
    CHECK(!htd_is_token("a\tb", 3));
    CHECK(!htd_is_token("a\0b", 3));
    CHECK(!htd_is_token("caf\xc3\xa9", 5));
    static const char seps[] = "\"(),/:;<=>?@[\\]{}";
    for (const char *s = seps; *s; s++)
        CHECK(!htd_is_token(s, 1));
    CHECK(!htd_is_token("\x7f", 1));
}

TEST(field_value_refuses_controls_but_htab)
{
    CHECK(htd_field_value_ok("", 0));
    CHECK(htd_field_value_ok("text/html; charset=utf-8", 24));
    CHECK(htd_field_value_ok("a\tb c", 5));
    CHECK(htd_field_value_ok("caf\xc3\xa9", 5)); /* obs-text */
    CHECK(!htd_field_value_ok("a\rb", 3));
    CHECK(!htd_field_value_ok("a\nb", 3));
    CHECK(!htd_field_value_ok("a\0b", 3));
    CHECK(!htd_field_value_ok("\x7f", 1));
    for (int c = 0; c < 0x20; c++) {
        char b = (char)c;
        CHECK(htd_field_value_ok(&b, 1) == (c == '\t'));
    }
}

/* ---- response heads and header blocks ---- */

#define MAXH 16384
#define LIT(lit) lit, sizeof(lit) - 1

static htd_response RES; /* the answer for the whole input last parsed */
static const char *WHY;
static char *cur; /* a heap copy of that input */
static size_t curlen;

typedef int (*parse_fn)(htd_head_parser *, const char *, size_t, size_t, htd_response *,
                        const char **);

static char *copy(const char *s, size_t n)
{
    char *b = malloc(n ? n : 1);
    if (!b) abort();
    memcpy(b, s, n);
    return b;
}

/* Whether a slice lies in buf[0..len), at the same offset as in the whole. */
static int same_slice(htd_str a, const char *buf, size_t len, htd_str w)
{
    if (!a.p || !w.p) return a.p == w.p && a.len == w.len;
    return a.p >= buf && (size_t)(a.p - buf) + a.len <= len && a.p - buf == w.p - cur &&
           a.len == w.len;
}

/* Whether answer r (res, why) of a parse of buf[0..len) is the whole's. */
static int same_answer(int r, const htd_response *res, const char *buf, size_t len, const char *why,
                       int whole)
{
    if (r != whole) return 0;
    if (r < 0) return why == WHY;
    if (res->version != RES.version || res->status != RES.status ||
        res->content_length != RES.content_length || res->chunked != RES.chunked ||
        res->keep_alive != RES.keep_alive || res->connection_names != RES.connection_names ||
        res->head_len != RES.head_len || res->nheaders != RES.nheaders ||
        !same_slice(res->reason, buf, len, RES.reason))
        return 0;
    for (size_t i = 0; i < res->nheaders; i++)
        if (!same_slice(res->headers[i].name, buf, len, RES.headers[i].name) ||
            !same_slice(res->headers[i].value, buf, len, RES.headers[i].value))
            return 0;
    return 1;
}

/* Feeds s[0..cut) and then s[0..len) to one parser, each in a buffer of its
 * own; cut 0 means byte by byte. Returns whether the answers were right. */
static int arrive(parse_fn fn, const char *s, size_t len, size_t max_head, size_t cut, int whole)
{
    htd_head_parser p = {0};
    for (size_t k = cut ? cut : 1; k <= len; k = cut ? (k == len ? len + 1 : len) : k + 1) {
        char *b = copy(s, k);
        htd_response res;
        const char *why = NULL;
        int r = fn(&p, b, k, max_head, &res, &why);
        int ok = r == 0 ? k < len || whole == 0 : same_answer(r, &res, b, k, why, whole);
        if (r > 0 && !cut) ok = ok && (size_t)r == k; /* found as soon as it is whole */
        free(b);
        if (!ok) return 0;
        if (r != 0) break;
    }
    return 1;
}

static int parse(parse_fn fn, const char *s, size_t len, size_t max_head)
{
    free(cur);
    cur = copy(s, len);
    curlen = len;
    WHY = NULL;
    htd_head_parser p = {0};
    int whole = fn(&p, cur, len, max_head, &RES, &WHY);
    CHECK(whole >= 0 || WHY != NULL);
    CHECK(whole >= -1);
    if (whole > 0) {
        CHECK(same_answer(whole, &RES, cur, len, NULL, whole));
        CHECK(cur[whole - 1] == '\n');
        /* asked again, a found head gives the same answer */
        htd_response again;
        const char *why = NULL;
        CHECK(same_answer(fn(&p, cur, len, max_head, &again, &why), &again, cur, len, why, whole));
    }
    for (size_t cut = 0; cut < len; cut++)
        if (!arrive(fn, s, len, max_head, cut, whole)) {
            failures_++;
            fprintf(stderr, "\"%.*s\": cut at %zu answers otherwise\n", (int)len, s, cut);
            break;
        }
    return whole;
}

#define RESPONSE(lit) parse(htd_parse_response, LIT(lit), MAXH)
#define BLOCK(lit) parse(htd_parse_header_block, LIT(lit), MAXH)

/* Whether slice s holds exactly lit. */
static int is(htd_str s, const char *lit)
{
    return s.p && s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

/* Whether field i of RES is name: value. */
static int field_is(size_t i, const char *name, const char *value)
{
    return i < RES.nheaders && is(RES.headers[i].name, name) && is(RES.headers[i].value, value);
}

/* The input must be refused, with the sentence why. */
static void refuse(parse_fn fn, const char *in, size_t len, const char *why, int line)
{
    int r = parse(fn, in, len, MAXH);
    if (r != -1 || !WHY || strcmp(WHY, why) != 0) {
        failures_++;
        fprintf(stderr, "%s:%d: \"%.*s\": got %d \"%s\", expected -1 \"%s\"\n", __FILE__, line,
                (int)len, in, r, WHY ? WHY : "(null)", why);
    }
}

#define REFUSE_RESPONSE(lit, why) refuse(htd_parse_response, LIT(lit), why, __LINE__)
#define REFUSE_BLOCK(lit, why) refuse(htd_parse_header_block, LIT(lit), why, __LINE__)

TEST(response_ok_with_fields)
{
    CHECK_EQ_INT(RESPONSE("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                          "Content-Length: 12\r\nX-Empty:\r\nX-Pad: \t a b \t\r\n\r\nbody"),
                 curlen - 4);
    CHECK_EQ_INT(RES.version, 11);
    CHECK_EQ_INT(RES.status, 200);
    CHECK(is(RES.reason, "OK"));
    CHECK_EQ_INT(RES.content_length, 12);
    CHECK_EQ_INT(RES.chunked, 0);
    CHECK_EQ_INT(RES.keep_alive, 1);
    CHECK_EQ_INT(RES.head_len, curlen - 4);
    CHECK_EQ_INT(RES.nheaders, 4);
    CHECK(field_is(0, "Content-Type", "text/plain"));
    CHECK(field_is(1, "Content-Length", "12"));
    CHECK(field_is(2, "X-Empty", ""));
    CHECK(field_is(3, "X-Pad", "a b"));
    CHECK(is(htd_header_find(RES.headers, RES.nheaders, "content-TYPE", 12), "text/plain"));
    CHECK(htd_header_find(RES.headers, RES.nheaders, "x-none", 6).p == NULL);
}

TEST(response_status_lines)
{
    CHECK_EQ_INT(RESPONSE("HTTP/1.1 404 Not Found\r\n\r\n"), curlen);
    CHECK_EQ_INT(RES.status, 404);
    CHECK(is(RES.reason, "Not Found"));
    CHECK_EQ_INT(RES.nheaders, 0);
    /* an empty reason, with its space and without */
    CHECK_EQ_INT(RESPONSE("HTTP/1.1 204 \r\n\r\n"), curlen);
    CHECK_EQ_INT(RES.status, 204);
    CHECK(is(RES.reason, ""));
    CHECK_EQ_INT(RESPONSE("HTTP/1.1 304\r\n\r\n"), curlen);
    CHECK_EQ_INT(RES.status, 304);
    CHECK(is(RES.reason, ""));
    /* reasons are any text: spaces, tabs, obs-text, digits */
    CHECK_EQ_INT(RESPONSE("HTTP/1.1 599 \tWeird  one 2\xff \r\n\r\n"), curlen);
    CHECK_EQ_INT(RES.status, 599);
    CHECK(is(RES.reason, "\tWeird  one 2\xff "));
    CHECK_EQ_INT(RESPONSE("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"), 25);
    CHECK_EQ_INT(RES.status, 100);
    /* bare LF line ends, as RFC 9112 2.2 lets a recipient take them */
    CHECK_EQ_INT(RESPONSE("HTTP/1.1 200 OK\nA: b\n\n"), curlen);
    CHECK_EQ_INT(RES.nheaders, 1);
    CHECK(field_is(0, "A", "b"));
    CHECK_EQ_INT(RESPONSE("HTTP/1.1 200 OK\r\nA: b\n\r\n"), curlen);
    /* HTTP/1.x: 1.0, and any later minor version as 1.1 */
    CHECK_EQ_INT(RESPONSE("HTTP/1.0 200 OK\r\n\r\n"), curlen);
    CHECK_EQ_INT(RES.version, 10);
    CHECK_EQ_INT(RESPONSE("HTTP/1.9 200 OK\r\n\r\n"), curlen);
    CHECK_EQ_INT(RES.version, 11);
}

TEST(response_framing_and_connection)
{
    RESPONSE("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked \r\n\r\n");
    CHECK_EQ_INT(RES.chunked, 1);
    CHECK_EQ_INT(RES.content_length, -1);
    RESPONSE("HTTP/1.1 200 OK\r\nContent-Length: 007\r\n\r\n");
    CHECK_EQ_INT(RES.content_length, 7);
    RESPONSE("HTTP/1.1 200 OK\r\nContent-Length: 4611686018427387904\r\n\r\n");
    CHECK_EQ_INT(RES.content_length, (int64_t)1 << 62);
    CHECK_EQ_INT(RES.connection_names, 0);
    RESPONSE("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
    CHECK_EQ_INT(RES.keep_alive, 0);
    CHECK_EQ_INT(RES.connection_names, 0);
    RESPONSE("HTTP/1.1 200 OK\r\nConnection: Keep-Alive , close,\r\n\r\n");
    CHECK_EQ_INT(RES.connection_names, 0);
    RESPONSE("HTTP/1.1 200 OK\r\nConnection: Upgrade, keep-alive\r\n\r\n");
    CHECK_EQ_INT(RES.keep_alive, 1);
    CHECK_EQ_INT(RES.connection_names, 1); /* Upgrade is a field of this hop */
    RESPONSE("HTTP/1.1 200 OK\r\nConnection: close\r\nConnection: X-Hop\r\n\r\n");
    CHECK_EQ_INT(RES.connection_names, 1);
    RESPONSE("HTTP/1.0 200 OK\r\n\r\n");
    CHECK_EQ_INT(RES.keep_alive, 0);
    RESPONSE("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n");
    CHECK_EQ_INT(RES.keep_alive, 1);
    RESPONSE("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n");
    CHECK_EQ_INT(RES.keep_alive, 0);
    /* not the framing fields: a Status, and a Host, are fields like any */
    RESPONSE("HTTP/1.1 200 OK\r\nStatus: 500\r\nHost: a\r\nHost: b\r\n\r\n");
    CHECK_EQ_INT(RES.status, 200);
    CHECK_EQ_INT(RES.nheaders, 3);
}

TEST(response_errors)
{
    REFUSE_RESPONSE("\r\n", "malformed status line");
    REFUSE_RESPONSE("\r\nHTTP/1.1 200 OK\r\n\r\n", "malformed status line");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\r\n\r\n", "bare CR in status line");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\rX\r\n\r\n", "bare CR in status line");
    REFUSE_RESPONSE("HTTP/1.1 200\r\r\n\r\n", "bare CR in status line");
    REFUSE_RESPONSE("http/1.1 200 OK\r\n\r\n", "malformed status line");
    REFUSE_RESPONSE("HTTP/1.1  200 OK\r\n\r\n", "invalid status code");
    REFUSE_RESPONSE("HTTP/1.1\t200 OK\r\n\r\n", "malformed status line");
    REFUSE_RESPONSE("HTTP/11 200 OK\r\n\r\n", "malformed status line");
    REFUSE_RESPONSE("HTTP/1.1\r\n\r\n", "malformed status line");
    REFUSE_RESPONSE("HTTP/1.1 200OK\r\n\r\n", "malformed status line");
    REFUSE_RESPONSE("HTTP/1.1 200\tOK\r\n\r\n", "malformed status line");
    REFUSE_RESPONSE("ICY 200 OK\r\n\r\n", "malformed status line");
    REFUSE_RESPONSE("HTTP/2.0 200 OK\r\n\r\n", "HTTP version not supported");
    REFUSE_RESPONSE("HTTP/0.9 200 OK\r\n\r\n", "HTTP version not supported");
    REFUSE_RESPONSE("HTTP/1.1 099 Low\r\n\r\n", "invalid status code");
    REFUSE_RESPONSE("HTTP/1.1 600 High\r\n\r\n", "invalid status code");
    REFUSE_RESPONSE("HTTP/1.1 20 OK\r\n\r\n", "invalid status code");
    REFUSE_RESPONSE("HTTP/1.1 2000 OK\r\n\r\n", "invalid status code");
    REFUSE_RESPONSE("HTTP/1.1 2x0 OK\r\n\r\n", "invalid status code");
    REFUSE_RESPONSE("HTTP/1.1 200 O\x01K\r\n\r\n", "invalid character in reason phrase");
    REFUSE_RESPONSE("HTTP/1.1 200 O\x7fK\r\n\r\n", "invalid character in reason phrase");
    REFUSE_RESPONSE("HTTP/1.1 200 O\0K\r\n\r\n", "invalid character in reason phrase");
    /* the field lines, as strict as a request's */
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\n Folded: a\r\n\r\n",
                    "whitespace before the first header field");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", "obs-fold in header is not allowed");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\nA : b\r\n\r\n", "whitespace between header name and colon");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\nA\t: b\r\n\r\n",
                    "whitespace between header name and colon");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\n: b\r\n\r\n", "empty header name");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
                    "whitespace between header name and colon");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\nNocolon\r\n\r\n", "header line without a colon");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\nA(b): c\r\n\r\n", "invalid character in header name");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\nA\rB: c\r\n\r\n", "bare CR in header");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", "bare CR in header");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\nA: b\0c\r\n\r\n", "invalid character in header value");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\nA: b\x7f\r\n\r\n", "invalid character in header value");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\nA: \x1b[31m\r\n\r\n", "invalid character in header value");
    /* the framing, as strict as a proxy must be */
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
                    "duplicate Content-Length header");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n",
                    "duplicate Content-Length header");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n",
                    "invalid Content-Length value");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\nContent-Length: 5 5\r\n\r\n",
                    "invalid Content-Length value");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
                    "invalid Content-Length value");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                    "invalid Content-Length value");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\n",
                    "invalid Content-Length value");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", "invalid Content-Length value");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\nContent-Length: 4611686018427387905\r\n\r\n",
                    "Content-Length value too large");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                    "unsupported transfer coding");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
                    "unsupported transfer coding");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n",
                    "unsupported transfer coding");
    REFUSE_RESPONSE(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        "duplicate Transfer-Encoding header");
    REFUSE_RESPONSE("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                    "Transfer-Encoding in an HTTP/1.0 response");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                    "both Content-Length and Transfer-Encoding");
    REFUSE_RESPONSE("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                    "both Content-Length and Transfer-Encoding");
}

TEST(block_as_a_cgi_script_writes_it)
{
    /* LF line ends, a Content-Type and a body after the empty line */
    CHECK_EQ_INT(BLOCK("Content-Type: text/html\nX-Script: doc\n\n<p>hi</p>\n"), 39);
    CHECK_EQ_INT(RES.version, 0);
    CHECK_EQ_INT(RES.status, 0);
    CHECK(RES.reason.p == NULL && RES.reason.len == 0);
    CHECK_EQ_INT(RES.content_length, -1);
    CHECK_EQ_INT(RES.keep_alive, 0);
    CHECK_EQ_INT(RES.nheaders, 2);
    CHECK(field_is(0, "Content-Type", "text/html"));
    CHECK(field_is(1, "X-Script", "doc"));
    /* CRLF line ends, a length */
    CHECK_EQ_INT(BLOCK("Content-Type: text/plain\r\nContent-Length: 6\r\n\r\nhello\n"), curlen - 6);
    CHECK_EQ_INT(RES.content_length, 6);
    /* the two mixed, and an empty line of either kind */
    CHECK_EQ_INT(BLOCK("A: 1\r\nB: 2\n\r\n"), curlen);
    CHECK_EQ_INT(BLOCK("A: 1\r\nB: 2\r\n\n"), curlen);
    CHECK_EQ_INT(RES.nheaders, 2);
    /* Status: the code, and the reason if there is one */
    CHECK_EQ_INT(BLOCK("Status: 418 I'm a teapot\nContent-Type: text/plain\n\n"), curlen);
    CHECK_EQ_INT(RES.status, 418);
    CHECK(is(RES.reason, "I'm a teapot"));
    CHECK_EQ_INT(RES.nheaders, 2);
    CHECK(field_is(0, "Status", "418 I'm a teapot"));
    CHECK_EQ_INT(BLOCK("status:302\nLocation: /x\n\n"), curlen);
    CHECK_EQ_INT(RES.status, 302);
    CHECK(is(RES.reason, ""));
    CHECK_EQ_INT(BLOCK("Status: 200  two spaces \n\n"), curlen);
    CHECK(is(RES.reason, " two spaces"));
    CHECK_EQ_INT(BLOCK("Status: 100\n\n"), curlen); /* whether 1xx will do is the caller's call */
    CHECK_EQ_INT(RES.status, 100);
    /* the rest is not framing here: the script's output ends where it ends */
    CHECK_EQ_INT(BLOCK("Transfer-Encoding: gzip\nConnection: keep-alive\nContent-Length: 3\n\n"),
                 curlen);
    CHECK_EQ_INT(RES.chunked, 0);
    CHECK_EQ_INT(RES.keep_alive, 0);
    CHECK_EQ_INT(RES.content_length, 3);
    /* and no status line: this is a field named HTTP/1.1 200 OK, which is not one */
    CHECK_EQ_INT(BLOCK("HTTP/1.1 200 OK\nA: b\n\n"), -1);
}

TEST(block_errors)
{
    REFUSE_BLOCK("\n", "a header block without a field");
    REFUSE_BLOCK("\r\n", "a header block without a field");
    REFUSE_BLOCK("\n\nbody", "a header block without a field");
    REFUSE_BLOCK("this line has no colon\n\nbody\n", "whitespace between header name and colon");
    REFUSE_BLOCK("Nocolon\n\n", "header line without a colon");
    REFUSE_BLOCK(" A: b\n\n", "whitespace before the first header field");
    REFUSE_BLOCK("A: b\n\tc\n\n", "obs-fold in header is not allowed");
    REFUSE_BLOCK("A : b\n\n", "whitespace between header name and colon");
    REFUSE_BLOCK("A: b\rc\n\n", "bare CR in header");
    REFUSE_BLOCK("A: b\x01\n\n", "invalid character in header value");
    REFUSE_BLOCK("HTTP/1.1 200 OK\nA: b\n\n", "invalid character in header name");
    REFUSE_BLOCK("Status: abc\nContent-Type: text/plain\n\nbody\n", "invalid Status field");
    REFUSE_BLOCK("Status: 20\n\n", "invalid Status field");
    REFUSE_BLOCK("Status: 2000\n\n", "invalid Status field");
    REFUSE_BLOCK("Status: 600 Too high\n\n", "invalid Status field");
    REFUSE_BLOCK("Status: 099\n\n", "invalid Status field");
    REFUSE_BLOCK("Status: 200\tOK\n\n", "invalid Status field");
    REFUSE_BLOCK("Status:\n\n", "invalid Status field");
    REFUSE_BLOCK("Status: 200\nStatus: 200\n\n", "duplicate Status field");
    REFUSE_BLOCK("Content-Length: 5\nContent-Length: 5\n\n", "duplicate Content-Length header");
    REFUSE_BLOCK("Content-Length: five\n\n", "invalid Content-Length value");
    REFUSE_BLOCK("Content-Length: 99999999999999999999\n\n", "Content-Length value too large");
}

/* A block that has not ended: each prefix needs more, until max_head. */
TEST(limits)
{
    const char *why = NULL;
    htd_response res;
    htd_head_parser p = {0};
    static const char head[] = "HTTP/1.1 200 OK\r\nA: b\r\n";
    CHECK_EQ_INT(htd_parse_response(&p, head, sizeof head - 1, sizeof head, &res, &why), 0);
    CHECK_EQ_INT(htd_parse_response(&p, head, sizeof head - 1, sizeof head - 1, &res, &why), -1);
    CHECK_STR(why, strlen(why), "response head too large");
    /* a head of exactly max_head bytes is whole, not too large */
    static const char whole[] = "HTTP/1.1 200 OK\r\nA: b\r\n\r\n";
    p = (htd_head_parser){0};
    CHECK_EQ_INT(htd_parse_response(&p, whole, sizeof whole - 1, sizeof whole - 1, &res, &why),
                 sizeof whole - 1);
    p = (htd_head_parser){0};
    CHECK_EQ_INT(htd_parse_header_block(&p, "A: b\n", 5, 5, &res, &why), -1);
    CHECK_STR(why, strlen(why), "header block too large");
    CHECK_EQ_INT(parse(htd_parse_header_block, LIT("A: b\n\n"), 5), -1);
    CHECK_EQ_INT(parse(htd_parse_header_block, LIT("A: b\n\n"), 6), 6);

    /* HTD_MAX_RESP_HEADERS fields, and one more */
    char big[HTD_MAX_RESP_HEADERS * 8 + 64];
    size_t n = (size_t)sprintf(big, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < HTD_MAX_RESP_HEADERS; i++)
        n += (size_t)sprintf(big + n, "F%d: v\r\n", i % 10);
    memcpy(big + n, "\r\n", 2);
    CHECK_EQ_INT(parse(htd_parse_response, big, n + 2, MAXH), n + 2);
    CHECK_EQ_INT(RES.nheaders, HTD_MAX_RESP_HEADERS);
    size_t sl = strlen("HTTP/1.1 200 OK\r\n"); /* the same fields as a block */
    CHECK_EQ_INT(parse(htd_parse_header_block, big + sl, n + 2 - sl, MAXH), n + 2 - sl);
    memcpy(big + n, "X: y\r\n\r\n", 8);
    CHECK_EQ_INT(parse(htd_parse_response, big, n + 8, MAXH), -1);
    CHECK_STR(WHY, strlen(WHY), "too many header fields");
    CHECK_EQ_INT(parse(htd_parse_header_block, big + sl, n + 8 - sl, MAXH), -1);
    CHECK_STR(WHY, strlen(WHY), "too many header fields");
}

/* The answer of parser p to the literal lit, a response head or part of
 * one (res and why are the test's). */
#define ANSWER(p, lit) htd_parse_response(&(p), lit, sizeof lit - 1, MAXH, &res, &why)

/* A parser given a different, shorter buffer than the one it scanned starts
 * over rather than trust its resume offset. */
TEST(resume_state_of_another_buffer)
{
    const char *why = NULL;
    htd_response res;
    htd_head_parser p = {0};
    CHECK_EQ_INT(ANSWER(p, "HTTP/1.1 200 OK\r\nX-Long-Field: aaaaaaaaaaaaaaaa"), 0);
    static const char b[] = "HTTP/1.1 204 \n\n";
    CHECK_EQ_INT(ANSWER(p, b), sizeof b - 1);
    CHECK_EQ_INT(res.status, 204);
}

/* A head that came whole is parsed in one pass, up to the last line there;
 * what is wrong in one is said only once it is whole, as when it comes in
 * pieces: before, more is asked for. */
TEST(a_fault_is_told_once_the_head_is_whole)
{
    const char *why = NULL;
    htd_response res;
    htd_head_parser p = {0}, q = {0}, r = {0};
    static const char whole[] = "HTTP/1.1 200 OK\r\nBad Name: x\r\nA: b\r\n\r\n";
    CHECK_EQ_INT(ANSWER(p, "HTTP/1.1 200 OK\r\nBad Name: x\r\nA: b\r\n"), 0);
    CHECK_EQ_INT(ANSWER(q, whole), -1);
    CHECK(why && strcmp(why, "whitespace between header name and colon") == 0);
    CHECK_EQ_INT(ANSWER(p, whole), -1); /* the same parser, the rest come: the same answer */
    /* a head whose last line has not come: the lines before it are kept */
    static const char all[] = "HTTP/1.1 200 OK\r\nA: b\r\nC: d\r\n\r\n";
    CHECK_EQ_INT(ANSWER(r, "HTTP/1.1 200 OK\r\nA: b\r\nC: d"), 0);
    CHECK_EQ_INT(ANSWER(r, all), sizeof all - 1);
    CHECK_EQ_INT(res.nheaders, 2);
    CHECK(is(res.headers[1].name, "C") && is(res.headers[1].value, "d"));
}

/* The field lines of a request and of a response are one parser's: the same
 * lines give the same fields or the same sentence. */
TEST(request_and_response_read_field_lines_alike)
{
    static const struct {
        const char *s;
        size_t len;
    } lines[] = {
        {LIT("A: b\r\n")},         {LIT("A:b \t\r\n")},   {LIT("A:\r\n")},
        {LIT("A: b\n")},           {LIT("A: \x80\r\n")},  {LIT(" A: b\r\n")},
        {LIT("A : b\r\n")},        {LIT(": b\r\n")},      {LIT("A\r\n")},
        {LIT("A b: c\r\n")},       {LIT("A: b\rc\r\n")},  {LIT("A: b\0\r\n")},
        {LIT("A: b\r\n c\r\n")},   {LIT("A\x80: b\r\n")}, {LIT("{A}: b\r\n")},
        {LIT("A: b\x7f\r\n")},     {LIT("A:\tb\r\n")},    {LIT("A\r: b\r\n")},
        {LIT("A: \"q\" (c)\r\n")},
    };
    static const char rl[] = "GET / HTTP/1.1\r\nHost: h\r\n",
                      sl[] = "HTTP/1.1 200 OK\r\nHost: h\r\n";
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        char req[128], res[128];
        size_t nq = sizeof rl - 1, ns = sizeof sl - 1, ll = lines[i].len;
        memcpy(req, rl, nq);
        memcpy(res, sl, ns);
        memcpy(req + nq, lines[i].s, ll);
        memcpy(res + ns, lines[i].s, ll);
        memcpy(req + nq + ll, "\r\n", 2);
        memcpy(res + ns + ll, "\r\n", 2);
        htd_parser pq = {0};
        htd_head_parser ps = {0};
        static htd_request rq;
        const char *wq = NULL, *ws = NULL;
        int a = htd_parse_request(&pq, req, nq + ll + 2, MAXH, &rq, &wq);
        int b = htd_parse_response(&ps, res, ns + ll + 2, MAXH, &RES, &ws);
        CHECK((a > 0) == (b > 0));
        if (a < 0 && b < 0) CHECK(strcmp(wq, ws) == 0);
        if (a <= 0 || b <= 0) continue;
        CHECK_EQ_INT(rq.nheaders, RES.nheaders);
        for (size_t k = 0; k < rq.nheaders && k < RES.nheaders; k++) {
            htd_header q = rq.headers[k], r = RES.headers[k];
            CHECK(q.name.p - req - nq == r.name.p - res - ns && q.name.len == r.name.len);
            CHECK(q.value.p - req - nq == r.value.p - res - ns && q.value.len == r.value.len);
        }
    }
}

int main(void)
{
    RUN_TESTS();
}
