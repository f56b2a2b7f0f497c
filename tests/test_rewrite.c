/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_rewrite.c - rewrite_check and rewrite_expand: each variable, the
 * percent-encoding of substitutions (never a CR or LF in the output), the
 * query kept or dropped, the scheme-relative guard, overflow, and the
 * template errors found at load.
 */
#include "rewrite.h"
#include "test.h"

#include <stdint.h>

static char out_[512];
static char err_[256];

#define S(lit) ((htd_str){(lit), sizeof(lit) - 1})
#define NONE ((htd_str){NULL, 0})

/* Expands into out_, and checks that the result is a C string of the length
 * returned with no CR or LF in it. */
static int expand_full(const char *tmpl, const htd_str *caps, int ncaps, htd_str path,
                       htd_str query, htd_str host, int keep_query)
{
    memset(out_, 0x55, sizeof out_);
    int n = rewrite_expand(tmpl, caps, ncaps, path, query, host, keep_query, out_, sizeof out_);
    if (n >= 0) {
        CHECK_EQ_INT(strlen(out_), n);
        CHECK(memchr(out_, '\r', (size_t)n) == NULL);
        CHECK(memchr(out_, '\n', (size_t)n) == NULL);
    }
    return n;
}

/* The same for the request "/old/a b?x=1" to host example.com, query dropped. */
static int expand(const char *tmpl, const htd_str *caps, int ncaps)
{
    return expand_full(tmpl, caps, ncaps, S("/old/a b"), S("x=1"), S("example.com"), 0);
}

static int check(const char *tmpl, int max_capture)
{
    err_[0] = '\0';
    int rc = rewrite_check(tmpl, max_capture, err_, sizeof err_);
    if (rc == 0) CHECK_EQ_INT(err_[0], '\0');
    if (rc != 0) CHECK(err_[0] != '\0' && strchr(err_, '\n') == NULL);
    return rc;
}

#define EXPANDS(call, lit)                                                                         \
    do {                                                                                           \
        int n_ = (call);                                                                           \
        CHECK_STR(out_, n_ < 0 ? 0 : n_, lit);                                                     \
        CHECK_EQ_INT(n_, strlen(lit));                                                             \
    } while (0)

TEST(dollar_one_from_a_prefix_rule)
{
    /* prefix "/old/" on "/old/docs/x.html": $0 is the path, $1 the rest */
    htd_str caps[] = {S("/old/docs/x.html"), S("docs/x.html")};
    CHECK_EQ_INT(check("/new/$1", 1), 0);
    EXPANDS(expand("/new/$1", caps, 2), "/new/docs/x.html");
    EXPANDS(expand("https://example.org/$1", caps, 2), "https://example.org/docs/x.html");
}

TEST(two_groups_swapped)
{
    htd_str caps[] = {S("/u/ann/posts"), S("ann"), S("posts")};
    CHECK_EQ_INT(check("/$2/$1", 2), 0);
    EXPANDS(expand("/$2/$1", caps, 3), "/posts/ann");
    EXPANDS(expand("/$2$2$1", caps, 3), "/postspostsann");
}

TEST(dollar_zero_is_the_whole_match)
{
    htd_str caps[] = {S("/exact")};
    CHECK_EQ_INT(check("/moved$0", 0), 0);
    EXPANDS(expand("/moved$0", caps, 1), "/moved/exact");
}

TEST(a_digit_is_one_capture)
{
    htd_str caps[] = {S("zero"), S("one")};
    EXPANDS(expand("/$10", caps, 2), "/one0");
}

TEST(missing_and_unset_captures_expand_to_nothing)
{
    htd_str caps[] = {S("/a"), NONE, S("b")};
    EXPANDS(expand("/x$1y", caps, 3), "/xy");
    EXPANDS(expand("/x$2y", caps, 3), "/xby");
    EXPANDS(expand("/x$3y$9", caps, 3), "/xy");
    EXPANDS(expand("/x$1y", NULL, 0), "/xy");
}

TEST(path_query_and_host)
{
    EXPANDS(expand("https://$host$path", NULL, 0), "https://example.com/old/a%20b");
    EXPANDS(expand("/search?$query&from=old", NULL, 0), "/search?x=1&from=old");
    EXPANDS(expand_full("/s?q=$query", NULL, 0, S("/"), NONE, S("h"), 0), "/s?q=");
    EXPANDS(expand_full("$host:8443$path", NULL, 0, S("/"), NONE, S("[::1]"), 0), "[::1]:8443/");
    EXPANDS(expand_full("/$host", NULL, 0, S("/"), NONE, NONE, 0), "/");
}

TEST(double_dollar_is_a_dollar)
{
    CHECK_EQ_INT(check("/price$$/$$$1", 1), 0);
    htd_str caps[] = {S("/x"), S("5")};
    EXPANDS(expand("/price$$/$$$1", caps, 2), "/price$/$5");
    EXPANDS(expand("/$$path", caps, 2), "/$path");
}

TEST(template_text_is_copied_as_is)
{
    EXPANDS(expand("/a%20b/%3F/caf\xc3\xa9?x=[1]", NULL, 0), "/a%20b/%3F/caf\xc3\xa9?x=[1]");
}

TEST(captures_and_path_are_percent_encoded)
{
    htd_str sp[] = {S(""), S("a b")};
    EXPANDS(expand("/$1", sp, 2), "/a%20b");
    htd_str pct[] = {S(""), S("100%/%41")};
    EXPANDS(expand("/$1", pct, 2), "/100%25/%2541");
    htd_str utf8[] = {S(""), S("caf\xc3\xa9\xff\x80")};
    EXPANDS(expand("/$1", utf8, 2), "/caf%C3%A9%FF%80");
    htd_str marks[] = {S(""), S("a?b#c\"d<e>f\\g^h`i{j|k}l[m]n")};
    EXPANDS(expand("/$1", marks, 2), "/a%3Fb%23c%22d%3Ce%3Ef%5Cg%5Eh%60i%7Bj%7Ck%7Dl%5Bm%5Dn");
    htd_str kept[] = {S(""), S("AZaz09-._~!$&'()*+,;=:@/")};
    EXPANDS(expand("/$1", kept, 2), "/AZaz09-._~!$&'()*+,;=:@/");
    htd_str nul[] = {S(""), {"a\0b", 3}};
    EXPANDS(expand("/$1", nul, 2), "/a%00b");
    EXPANDS(expand_full("$path", NULL, 0, S("/d\xc3\xa9j\xc3\xa0 vu/100%"), NONE, NONE, 0),
            "/d%C3%A9j%C3%A0%20vu/100%25");
}

TEST(cr_lf_never_reach_the_output)
{
    htd_str crlf[] = {S("/x\r\nSet-Cookie: a=b"), S("x\r\nSet-Cookie: a=b")};
    EXPANDS(expand("/$1", crlf, 2), "/x%0D%0ASet-Cookie:%20a=b");
    EXPANDS(expand("$0", crlf, 2), "/x%0D%0ASet-Cookie:%20a=b");
    EXPANDS(expand_full("$path", NULL, 0, S("/\r\n"), NONE, NONE, 0), "/%0D%0A");
    EXPANDS(expand_full("/?$query", NULL, 0, S("/"), S("a=1\r\nX: y\t\x7f"), NONE, 0),
            "/?a=1%0D%0AX:%20y%09%7F");
    EXPANDS(expand_full("https://$host/", NULL, 0, S("/"), NONE, S("h\r\nX: y"), 0),
            "https://h%0D%0AX:%20y/");
    EXPANDS(expand_full("/", NULL, 0, S("/"), S("a\r\nb"), NONE, 1), "/?a%0D%0Ab");
}

TEST(query_and_host_keep_uri_characters)
{
    EXPANDS(expand_full("/?$query", NULL, 0, S("/"), S("a=%20&b=/?:@!$'()*+,;c#"), NONE, 0),
            "/?a=%20&b=/?:@!$'()*+,;c#");
    EXPANDS(expand_full("/?$query", NULL, 0, S("/"), S("\"<>\\^`{|}\x80\xff"), NONE, 0),
            "/?%22%3C%3E%5C%5E%60%7B%7C%7D%80%FF");
    EXPANDS(expand_full("//$host/", NULL, 0, S("/"), NONE, S("[fe80::1%25eth0]:80"), 0),
            "//[fe80::1%25eth0]:80/");
}

TEST(keep_query_appends_with_the_right_separator)
{
    htd_str q = S("a=1&b=2");
    EXPANDS(expand_full("/new", NULL, 0, S("/old"), q, S("h"), 1), "/new?a=1&b=2");
    EXPANDS(expand_full("/new?src=old", NULL, 0, S("/old"), q, S("h"), 1), "/new?src=old&a=1&b=2");
    EXPANDS(expand_full("/new?", NULL, 0, S("/old"), q, S("h"), 1), "/new?&a=1&b=2");
    /* a '?' that a capture held is encoded, so it is no query */
    htd_str caps[] = {S("/x?y"), S("x?y")};
    EXPANDS(expand_full("/$1", caps, 2, S("/old"), q, S("h"), 1), "/x%3Fy?a=1&b=2");
}

TEST(without_keep_query_the_query_is_dropped)
{
    EXPANDS(expand_full("/new", NULL, 0, S("/old"), S("a=1"), S("h"), 0), "/new");
    EXPANDS(expand_full("/new?src=old", NULL, 0, S("/old"), S("a=1"), S("h"), 0), "/new?src=old");
}

TEST(an_empty_or_absent_query_is_not_appended)
{
    EXPANDS(expand_full("/new", NULL, 0, S("/old"), S(""), S("h"), 1), "/new");
    EXPANDS(expand_full("/new?k=v", NULL, 0, S("/old"), S(""), S("h"), 1), "/new?k=v");
    EXPANDS(expand_full("/new", NULL, 0, S("/old"), NONE, S("h"), 1), "/new");
}

TEST(a_substitution_cannot_make_the_target_scheme_relative)
{
    htd_str caps[] = {S("/r/evil.example"), S("/evil.example")};
    EXPANDS(expand("/$1", caps, 2), "/%2Fevil.example");
    htd_str two[] = {S("//evil.example"), S("//evil.example")};
    EXPANDS(expand("$1", two, 2), "/%2Fevil.example");
    htd_str one[] = {S("/"), S("/")};
    EXPANDS(expand("$1/evil.example", one, 2), "/%2Fevil.example");
    EXPANDS(expand_full("/$query", NULL, 0, S("/"), S("/evil.example"), NONE, 0),
            "/%2Fevil.example");
    /* The template's own "//" and later slashes are left alone. */
    EXPANDS(expand("//cdn.example/$1", caps, 2), "//cdn.example//evil.example");
    EXPANDS(expand("/a/$1", caps, 2), "/a//evil.example");
}

TEST(output_that_does_not_fit_is_refused)
{
    char buf[8];
    htd_str caps[] = {S("/x"), S("abc")};
    htd_str p = S("/"), none = NONE, h = S("h");
    /* "/n/abc" is 6 bytes and its NUL the 7th */
    CHECK_EQ_INT(rewrite_expand("/n/$1", caps, 2, p, none, h, 0, buf, 7), 6);
    CHECK_STR(buf, 6, "/n/abc");
    CHECK_EQ_INT(buf[6], '\0');
    CHECK_EQ_INT(rewrite_expand("/n/$1", caps, 2, p, none, h, 0, buf, 6), -1);
    CHECK_EQ_INT(rewrite_expand("/n/$1", caps, 2, p, none, h, 0, buf, 1), -1);
    CHECK_EQ_INT(rewrite_expand("/n/$1", caps, 2, p, none, h, 0, buf, 0), -1);
    CHECK_EQ_INT(rewrite_expand("", caps, 2, p, none, h, 0, buf, 1), 0);
    /* an escape cut in the middle */
    htd_str sp[] = {S("/x"), S("a b")};
    CHECK_EQ_INT(rewrite_expand("/$1", sp, 2, p, none, h, 0, buf, 6), -1);
    CHECK_EQ_INT(rewrite_expand("/$1", sp, 2, p, none, h, 0, buf, 7), 6);
    /* the appended query counts too */
    CHECK_EQ_INT(rewrite_expand("/n", caps, 2, p, S("a=1"), h, 1, buf, 6), -1);
    CHECK_EQ_INT(rewrite_expand("/n", caps, 2, p, S("a=1"), h, 1, buf, 7), 6);

    /* Nothing is written past cap. */
    char big[64];
    memset(big, 'Z', sizeof big);
    htd_str longcap[] = {S("/x"), S("0123456789012345678901234567890123456789")};
    CHECK_EQ_INT(rewrite_expand("/$1", longcap, 2, p, none, h, 0, big, 16), -1);
    for (size_t i = 16; i < sizeof big; i++)
        CHECK_EQ_INT(big[i], 'Z');
}

TEST(check_accepts_every_variable)
{
    CHECK_EQ_INT(check("/", 0), 0);
    CHECK_EQ_INT(check("https://$host$path?$query", 0), 0);
    CHECK_EQ_INT(check("/$0$1$2$3$4$5$6$7$8$9", 9), 0);
    CHECK_EQ_INT(check("/$9", 12), 0);
    CHECK_EQ_INT(check("/$path.html", 0), 0);
    CHECK_EQ_INT(check("/$host:8080/$1-$path", 1), 0);
    CHECK_EQ_INT(check("/$$", 0), 0);
}

TEST(check_refuses_unknown_variables)
{
    CHECK_EQ_INT(check("/$foo", 1), -1);
    CHECK_STR(err_, strlen(err_),
              "unknown variable $foo in redirect target; use $0-$9, $path, $query, $host or $$");
    CHECK_EQ_INT(check("https://$hostname/", 0), -1);
    CHECK(strstr(err_, "$hostname") != NULL);
    CHECK_EQ_INT(check("/$Path", 0), -1);
    CHECK_EQ_INT(check("/$path_info", 0), -1);
    CHECK_EQ_INT(check("/$_", 0), -1);
    CHECK_EQ_INT(check("/${path}", 0), -1);
    CHECK_EQ_INT(check("/$-1", 0), -1);
    CHECK_EQ_INT(check("/$ x", 0), -1);
}

TEST(check_refuses_a_dollar_at_the_end)
{
    CHECK_EQ_INT(check("/x$", 0), -1);
    CHECK(strstr(err_, "end") != NULL);
    CHECK_EQ_INT(check("$", 0), -1);
    CHECK_EQ_INT(check("/x$$$", 0), -1);
}

TEST(check_refuses_captures_the_rule_cannot_supply)
{
    CHECK_EQ_INT(check("/$3/$1", 2), -1);
    CHECK_STR(err_, strlen(err_), "$3 but the regex has only 2 groups");
    CHECK_EQ_INT(check("/$2", 1), -1);
    CHECK_EQ_INT(check("/$1", 0), -1);
    CHECK_EQ_INT(check("/$0", 0), 0);
    CHECK_EQ_INT(check("/$2", 2), 0);
    CHECK_EQ_INT(check("/$$3", 0), 0);
}

TEST(check_refuses_empty_spaces_and_control_characters)
{
    CHECK_EQ_INT(check("", 0), -1);
    CHECK_EQ_INT(check("/a b", 0), -1);
    CHECK_EQ_INT(check("/a\r\nX: y", 0), -1);
    CHECK_EQ_INT(check("/a\t", 0), -1);
    CHECK_EQ_INT(check("/a\x7f", 0), -1);
    CHECK_EQ_INT(check("/$\n", 0), -1);
    /* Were such a template expanded anyway, those bytes would be encoded. */
    EXPANDS(expand("/a b\r\n", NULL, 0), "/a%20b%0D%0A");
}

TEST(unchecked_unknown_variables_stay_as_text)
{
    EXPANDS(expand("/$foo/$", NULL, 0), "/$foo/$");
    EXPANDS(expand("/$hostname", NULL, 0), "/$hostname");
}

TEST(random_substitutions_never_produce_control_bytes)
{
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    char bytes[4][24];
    for (int iter = 0; iter < 20000; iter++) {
        htd_str v[4];
        for (int k = 0; k < 4; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t len = x % sizeof bytes[k];
            for (size_t i = 0; i < len; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                bytes[k][i] = (char)(x >> 24);
            }
            v[k] = (htd_str){bytes[k], len};
        }
        static const char *const tmpls[] = {"$1", "/$1", "https://$host$path", "/?$query", "$0$1"};
        const char *t = tmpls[iter % 5];
        int n = expand_full(t, v, 2, v[2], v[3], v[3], iter & 1);
        CHECK(n >= 0);
        for (int i = 0; i < n; i++)
            CHECK((unsigned char)out_[i] >= 0x21 && (unsigned char)out_[i] != 0x7f);
        CHECK(n < 2 || out_[0] != '/' || out_[1] != '/'); /* no template starts with "//" */
    }
}

int main(void)
{
    RUN_TESTS();
}
