/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_chunked.c - unit tests of src/chunked.c.
 *
 * Every body goes through decode(), which decodes it whole, then split at
 * every point into two pieces, then one byte at a time, each piece in a heap
 * buffer of exactly its size, and checks that all agree on the status, the
 * bytes consumed, the decoded bytes and the sentence.
 */
#include <stdlib.h>

#include "chunked.h"
#include "test.h"

#define BODY(lit) lit, sizeof(lit) - 1

/* The result of decoding a body fed in some pieces. */
struct result {
    ssize_t consumed; /* total input consumed, or -1 */
    int done;
    char out[65536];
    size_t out_len;
    const char *why;
};

static struct result whole_, split_; /* too big for the stack of a test */

/* Feeds s[0..len) in pieces that end at cuts[0..ncuts) and at len. */
static void feed(const char *s, size_t len, const size_t *cuts, size_t ncuts, struct result *res)
{
    htd_chunked c = {0};
    size_t at = 0;
    res->consumed = 0;
    res->out_len = 0;
    res->why = NULL;
    for (size_t k = 0; k <= ncuts && at < len; k++) {
        size_t end = k < ncuts ? cuts[k] : len;
        size_t n = end - at;
        char *b = malloc(n ? n : 1);
        if (!b) abort();
        memcpy(b, s + at, n);
        size_t out = 0;
        ssize_t r = htd_chunked_decode(&c, b, n, &out, &res->why);
        if (r < 0) {
            res->consumed = -1;
            free(b);
            break;
        }
        if ((size_t)r > n || out > (size_t)r || res->out_len + out > sizeof res->out) abort();
        memcpy(res->out + res->out_len, b, out);
        res->out_len += out;
        res->consumed += r;
        free(b);
        if (c.done) break;
        CHECK_EQ_INT(r, n);
        at = end;
    }
    res->done = c.done;
}

static int same(const struct result *a, const struct result *b)
{
    if (a->consumed < 0 || b->consumed < 0) return a->consumed == b->consumed && a->why == b->why;
    return a->consumed == b->consumed && a->done == b->done && a->out_len == b->out_len &&
           memcmp(a->out, b->out, a->out_len) == 0;
}

/* Decodes s whole and in every split; returns the consumed count. */
static ssize_t decode(const char *s, size_t len)
{
    feed(s, len, NULL, 0, &whole_);
    for (size_t k = 1; k < len; k++) {
        size_t cut = k;
        feed(s, len, &cut, 1, &split_);
        if (!same(&whole_, &split_)) {
            failures_++;
            fprintf(stderr, "split at %zu of \"%.*s\" differs\n", k, (int)len, s);
        }
    }
    size_t *cuts = malloc((len ? len : 1) * sizeof *cuts);
    if (!cuts) abort();
    for (size_t k = 0; k + 1 < len; k++)
        cuts[k] = k + 1;
    feed(s, len, cuts, len ? len - 1 : 0, &split_);
    if (!same(&whole_, &split_)) {
        failures_++;
        fprintf(stderr, "bytewise feeding of \"%.*s\" differs\n", (int)len, s);
    }
    free(cuts);
    return whole_.consumed;
}

#define CHECK_OUT(lit) CHECK_STR(whole_.out, whole_.out_len, lit)

TEST(single_chunk)
{
    CHECK_EQ_INT(decode(BODY("5\r\nhello\r\n0\r\n\r\n")), 15);
    CHECK_EQ_INT(whole_.done, 1);
    CHECK_OUT("hello");
}

TEST(empty_body)
{
    CHECK_EQ_INT(decode(BODY("0\r\n\r\n")), 5);
    CHECK_EQ_INT(whole_.done, 1);
    CHECK_EQ_INT(whole_.out_len, 0);
}

TEST(several_chunks_and_hex_case)
{
    CHECK_EQ_INT(decode(BODY("a\r\n0123456789\r\nA\r\nabcdefghij\r\n1\r\n!\r\n0\r\n\r\n")), 41);
    CHECK_OUT("0123456789abcdefghij!");
    CHECK_EQ_INT(decode(BODY("0005\r\nhello\r\n000\r\n\r\n")), 20);
    CHECK_OUT("hello");
}

TEST(bytes_after_the_body_are_not_consumed)
{
    static const char s[] = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    CHECK_EQ_INT(decode(BODY(s)), 13);
    CHECK_EQ_INT(whole_.done, 1);
    CHECK_OUT("abc");
}

TEST(data_may_contain_crlf_and_any_byte)
{
    CHECK_EQ_INT(decode(BODY("6\r\n\r\n0\r\n\0\r\n0\r\n\r\n")), 16);
    CHECK_EQ_INT(whole_.out_len, 6);
    CHECK(memcmp(whole_.out, "\r\n0\r\n\0", 6) == 0);
}

TEST(incomplete_body_is_consumed_whole)
{
    CHECK_EQ_INT(decode(BODY("5\r\nhel")), 6);
    CHECK_EQ_INT(whole_.done, 0);
    CHECK_OUT("hel");
    CHECK_EQ_INT(decode(BODY("5\r\nhello\r\n0\r\nX: y\r\n")), 19);
    CHECK_EQ_INT(whole_.done, 0);
    CHECK_OUT("hello");
}

TEST(extensions)
{
    CHECK_EQ_INT(decode(BODY("5;foo=bar\r\nhello\r\n0\r\n\r\n")), 23);
    CHECK_OUT("hello");
    CHECK(decode(BODY("5 ; foo = \"b\\\"a;r\" ; baz\t;q=1\r\nhello\r\n0;last\r\n\r\n")) > 0);
    CHECK_OUT("hello");
    CHECK_EQ_INT(whole_.done, 1);
    CHECK(decode(BODY("5;a=\"\"\r\nhello\r\n0\r\n\r\n")) > 0);
    CHECK(decode(BODY("5;a=\"\xff \t!#\"\r\nhello\r\n0\r\n\r\n")) > 0);
    CHECK(decode(BODY("5;a=\"x\" ;b\r\nhello\r\n0\r\n\r\n")) > 0);
    CHECK_OUT("hello");
}

TEST(trailers)
{
    static const char s[] = "1\r\nx\r\n0\r\nX-Sum: abc\r\nY:\r\nZ: a \t b\r\n\r\n";
    CHECK_EQ_INT(decode(BODY(s)), sizeof s - 1);
    CHECK_EQ_INT(whole_.done, 1);
    CHECK_OUT("x");
}

TEST(bare_lf_ends_size_and_trailer_lines)
{
    CHECK_EQ_INT(decode(BODY("5\nhello\r\n0\n\n")), 12);
    CHECK_OUT("hello");
    CHECK_EQ_INT(whole_.done, 1);
    CHECK_EQ_INT(decode(BODY("5;a=b\nhello\r\n0\nT: 1\nU: 2\r\n\r\n")), 28);
    CHECK_EQ_INT(whole_.done, 1);
}

TEST(size_limits)
{
    /* 16 digits and 2^62 are the most allowed */
    CHECK_EQ_INT(decode(BODY("000000000000000a\r\n0123456789\r\n0\r\n\r\n")), 35);
    CHECK_OUT("0123456789");
    CHECK_EQ_INT(decode(BODY("4000000000000000\r\nab")), 20);
    CHECK_EQ_INT(whole_.done, 0);
    CHECK_OUT("ab");
}

struct bad {
    const char *body;
    size_t len;
    const char *why;
};
#define BAD(lit, why)                                                                              \
    {                                                                                              \
        lit, sizeof(lit) - 1, why                                                                  \
    }

TEST(malformed_bodies)
{
    static const struct bad cases[] = {
        BAD("\r\n", "invalid chunk size"),
        BAD("x\r\n", "invalid chunk size"),
        BAD("+5\r\nhello\r\n0\r\n\r\n", "invalid chunk size"),
        BAD("-1\r\n", "invalid chunk size"),
        BAD(" 5\r\nhello\r\n", "invalid chunk size"),
        BAD("0x5\r\nhello\r\n", "invalid chunk size"),
        BAD("5g\r\nhello\r\n", "invalid chunk size"),
        BAD("00000000000000000\r\n\r\n", "chunk size too large"),
        BAD("4000000000000001\r\n", "chunk size too large"),
        BAD("ffffffffffffffff\r\n", "chunk size too large"),
        BAD("10000000000000000\r\n", "chunk size too large"),
        BAD("5 \r\nhello\r\n", "misplaced whitespace in chunk size line"),
        BAD("5\t\r\nhello\r\n", "misplaced whitespace in chunk size line"),
        BAD("5;a \r\nhello\r\n", "misplaced whitespace in chunk size line"),
        BAD("5;a=b \r\nhello\r\n", "misplaced whitespace in chunk size line"),
        BAD("5 x\r\nhello\r\n", "misplaced whitespace in chunk size line"),
        BAD("5\rhello\r\n", "bare CR in chunk size line"),
        BAD("5;a\r\r\nhello\r\n", "bare CR in chunk size line"),
        BAD("5;\r\nhello\r\n", "invalid character in chunk extension"),
        BAD("5;=b\r\nhello\r\n", "invalid character in chunk extension"),
        BAD("5;a=\r\nhello\r\n", "invalid character in chunk extension"),
        BAD("5;a=b=c\r\nhello\r\n", "invalid character in chunk extension"),
        BAD("5;a(\r\nhello\r\n", "invalid character in chunk extension"),
        BAD("5;a\0\r\nhello\r\n", "invalid character in chunk extension"),
        BAD("5;a=\"x\r\nhello\r\n", "invalid character in chunk extension"),
        BAD("5;a=\"x\"y\r\nhello\r\n", "invalid character in chunk extension"),
        BAD("5;a=\"\\\n\"\r\nhello\r\n", "invalid character in chunk extension"),
        BAD("5;a=\"\x7f\"\r\nhello\r\n", "invalid character in chunk extension"),
        BAD("5\r\nhelloX\r\n0\r\n\r\n", "missing CRLF after chunk data"),
        BAD("5\r\nhello\n0\r\n\r\n", "missing CRLF after chunk data"),
        BAD("5\r\nhello\rX0\r\n\r\n", "missing CRLF after chunk data"),
        BAD("5\r\nhello\r\r\n0\r\n\r\n", "missing CRLF after chunk data"),
        BAD("3\r\nhello\r\n0\r\n\r\n", "missing CRLF after chunk data"),
        BAD("0\r\n X: a\r\n\r\n", "obs-fold in trailer is not allowed"),
        BAD("0\r\nX: a\r\n\tb\r\n\r\n", "obs-fold in trailer is not allowed"),
        BAD("0\r\n:a\r\n\r\n", "invalid character in trailer field name"),
        BAD("0\r\nX(: a\r\n\r\n", "invalid character in trailer field name"),
        BAD("0\r\nX : a\r\n\r\n", "whitespace between trailer field name and colon"),
        BAD("0\r\nX\r\n\r\n", "trailer line without a colon"),
        BAD("0\r\nX: a\0\r\n\r\n", "invalid character in trailer field value"),
        BAD("0\r\nX: a\x7f\r\n\r\n", "invalid character in trailer field value"),
        BAD("0\r\nX: a\rb\r\n\r\n", "bare CR in trailer section"),
        BAD("0\r\n\rX", "bare CR in trailer section"),
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ssize_t r = decode(cases[i].body, cases[i].len);
        if (r != -1 || !whole_.why || strcmp(whole_.why, cases[i].why) != 0) {
            failures_++;
            fprintf(stderr, "case %zu: got %zd \"%s\", expected -1 \"%s\"\n", i, r,
                    whole_.why ? whole_.why : "(null)", cases[i].why);
        }
    }
}

static char *build(const char *pre, char c, size_t n, const char *post, size_t *len)
{
    size_t a = strlen(pre), b = strlen(post);
    char *s = malloc(a + n + b);
    if (!s) abort();
    memcpy(s, pre, a);
    memset(s + a, c, n);
    memcpy(s + a + n, post, b);
    *len = a + n + b;
    return s;
}

TEST(line_and_trailer_limits)
{
    size_t len;
    /* a size line of 4096 bytes with its CRLF is allowed, 4097 is not */
    char *s = build("1;", 'a', 4092, "\r\nx\r\n0\r\n\r\n", &len);
    CHECK_EQ_INT(decode(s, len), len);
    CHECK_OUT("x");
    free(s);
    s = build("1;", 'a', 4093, "\r\nx\r\n0\r\n\r\n", &len);
    CHECK_EQ_INT(decode(s, len), -1);
    CHECK_STR(whole_.why, strlen(whole_.why), "chunk size line too long");
    free(s);
    /* 8192 bytes of trailer section in all, the final empty line included */
    s = build("0\r\nX: ", 'a', 8192 - 7, "\r\n\r\n", &len);
    CHECK_EQ_INT(decode(s, len), len);
    free(s);
    s = build("0\r\nX: ", 'a', 8192 - 6, "\r\n\r\n", &len);
    CHECK_EQ_INT(decode(s, len), -1);
    CHECK_STR(whole_.why, strlen(whole_.why), "trailer section too large");
    free(s);
}

TEST(decoder_stays_failed_and_stays_done)
{
    htd_chunked c = {0};
    char a[] = "zz", b[] = "0\r\n\r\nmore";
    size_t out = 99;
    const char *why = NULL;
    CHECK_EQ_INT(htd_chunked_decode(&c, a, 2, &out, &why), -1);
    CHECK(why != NULL);
    CHECK_EQ_INT(htd_chunked_decode(&c, b, 9, &out, &why), -1);

    htd_chunked d = {0};
    CHECK_EQ_INT(htd_chunked_decode(&d, b, 9, &out, &why), 5);
    CHECK_EQ_INT(d.done, 1);
    CHECK_EQ_INT(htd_chunked_decode(&d, b + 5, 4, &out, &why), 0);
    CHECK_EQ_INT(out, 0);
}

TEST(decodes_in_place)
{
    char buf[] = "2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n";
    htd_chunked c = {0};
    size_t out;
    const char *why;
    CHECK_EQ_INT(htd_chunked_decode(&c, buf, sizeof buf - 1, &out, &why), sizeof buf - 1);
    CHECK_STR(buf, out, "abcde");
}

int main(void)
{
    RUN_TESTS();
}
