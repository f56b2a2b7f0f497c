/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_pattern.c - the rules' regexes through PCRE2: Perl classes and
 * named groups, the literal prefix that keeps other paths off the matcher,
 * captures (unset ones empty), a bad pattern's message with its offset,
 * and the constructs of other dialects (GNU, nginx, Apache, sed, Caddy)
 * that PCRE2 or htd reads otherwise, found where they are and nowhere else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"
#include "test.h"

static struct pcre2_real_code_8 *compile(const char *pat, int *nsub, char **lit, size_t *lit_len)
{
    char err[300];
    return regex_compile(pat, nsub, lit, lit_len, err, sizeof err);
}

TEST(perl_syntax_matches)
{
    int nsub;
    char *lit;
    size_t ll;
    struct pcre2_real_code_8 *re = compile("^/y/(\\d+)$", &nsub, &lit, &ll);
    CHECK(re != NULL);
    CHECK_EQ_INT(nsub, 1);
    htd_str caps[10];
    CHECK_EQ_INT(regex_match(re, "/y/2024", 7, caps, 10), 2);
    CHECK(caps[1].len == 4 && memcmp(caps[1].p, "2024", 4) == 0);
    CHECK_EQ_INT(regex_match(re, "/y/ddd", 6, caps, 10), 0); /* \d is a digit, not a 'd' */
    regex_free(re);
    free(lit);
}

TEST(named_groups_and_unset_ones)
{
    int nsub;
    char *lit;
    size_t ll;
    struct pcre2_real_code_8 *re = compile("^/u/(?<user>\\w+)(/(?<rest>.*))?", &nsub, &lit, &ll);
    CHECK(re != NULL);
    CHECK_EQ_INT(regex_group(re, "user"), 1);
    CHECK_EQ_INT(regex_group(re, "rest"), 3);
    CHECK_EQ_INT(regex_group(re, "none"), -1);
    htd_str caps[10];
    CHECK_EQ_INT(regex_match(re, "/u/ann", 6, caps, 10), 4);
    CHECK(caps[1].len == 3 && caps[3].p == NULL && caps[3].len == 0);
    regex_free(re);
    free(lit);
}

TEST(literal_prefixes)
{
    static const struct {
        const char *pat, *lit;
    } cases[] = {
        {"^/api/v1/(\\d+)", "/api/v1/"},
        {"^/ab?c", "/a"}, /* b may be absent: its 'a' is all that is sure */
        {"^/x*", "/"},
        {"/no/anchor", ""},
        {"^(?i)/A", ""},
        {"^\\/escaped", ""},
        {"^/exact$", "/exact"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int nsub;
        char *lit;
        size_t ll;
        struct pcre2_real_code_8 *re = compile(cases[i].pat, &nsub, &lit, &ll);
        CHECK(re != NULL);
        CHECK(ll == strlen(cases[i].lit) && memcmp(lit, cases[i].lit, ll) == 0);
        regex_free(re);
        free(lit);
    }
}

TEST(a_bad_pattern_says_why_and_where)
{
    int nsub;
    char *lit;
    size_t ll;
    char err[300];
    CHECK(regex_compile("^/a/(b", &nsub, &lit, &ll, err, sizeof err) == NULL);
    CHECK(strstr(err, "missing closing parenthesis") != NULL);
    CHECK(strstr(err, "at offset 6") != NULL);
}

/* The one trap in s, its construct and what to write; or a failure. */
static void one_trap(const char *s, int target, const char *construct, const char *instead)
{
    regex_trap t[4];
    size_t n = regex_traps(s, target, t, 4);
    if (n != 1) fprintf(stderr, "%s: %zu traps\n", s, n);
    CHECK_EQ_INT(n, 1);
    if (n != 1) return;
    CHECK_STR(s + t[0].at, t[0].len, construct);
    CHECK_STR(t[0].instead, strlen(t[0].instead), instead);
    CHECK(t[0].why && *t[0].why);
}

TEST(gnu_word_boundaries_and_subject_anchors)
{
    one_trap("^/\\<word", 0, "\\<", "\\b");
    one_trap("^/word\\>", 0, "\\>", "\\b");
    one_trap("\\`/x", 0, "\\`", "\\A or ^");
    one_trap("^/x\\'", 0, "\\'", "\\z or $");
    /* PCRE2 has the BSD boundaries [[:<:]] and [[:>:]] itself */
    CHECK_EQ_INT(regex_traps("^/[[:<:]]word[[:>:]]", 0, NULL, 0), 0);
}

TEST(counts_that_pcre2_10_42_takes_as_text)
{
    one_trap("^/a{,3}$", 0, "{,3}", "{0,3}");
    one_trap("^/a{ 2 }$", 0, "{ 2 }", "{2}");
    one_trap("^/a{2, 5}$", 0, "{2, 5}", "{2,5}");
    one_trap("^/a{3 ,}$", 0, "{3 ,}", "{3,}");
    static const char *const fine[] = {"^/a{3}",    "^/a{2,}", "^/a{2,5}", "^/({,3})",  "^/a\\{,3}",
                                       "^/a[{,3}]", "^/a{,}",  "^/a{x,3}", "\\x{41}{2}"};
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++)
        CHECK_EQ_INT(regex_traps(fine[i], 0, NULL, 0), 0);
}

TEST(percent_escapes_in_a_regex_of_the_decoded_path)
{
    one_trap("^/a%20b$", 0, "%20", "\\x20");
    one_trap("^/a%2Fb$", 0, "%2F", "/ or \\x2F");
    one_trap("^/a%2eb$", 0, "%2e", "\\x2E"); /* a '.' would need its backslash */
    one_trap("^/a\\%41", 0, "%41", "A or \\x41");
    one_trap("^/a[%20]", 0, "%20", "\\x20");
    static const char *const fine[] = {"^/100%$", "^/a%/b", "^/a%zz", "[^%]", "\\Q%20\\E"};
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++)
        CHECK_EQ_INT(regex_traps(fine[i], 0, NULL, 0), 0);
}

TEST(web_server_habits_that_never_match_here)
{
    one_trap("~* \\.jpg$", 0, "~* ", "(?i)\\.jpg$");
    one_trap("~ ^/a/", 0, "~ ", "^/a/");
    one_trap("^~ /images/", 0, "^~ ", "a prefix rule: prefix = \"/images/\"");
    one_trap("= /exact", 0, "= ", "an exact rule: exact = \"/exact\"");
    one_trap("!\\.php$", 0, "!", "a lookahead: ^(?!.*\\.php$)");
    one_trap("!^/admin", 0, "!", "a lookahead: ^(?!/admin)");
    one_trap("^blog/(.*)$", 0, "^blog", "^/blog");
    one_trap("^/q\\?id=(\\d+)", 0, "\\?",
             "a pattern for the path alone (a target has the "
             "query as $query)");
    one_trap("/images/*.jpg", 0, "/*.", "/[^/]*\\.");
    one_trap("/\\.gif$/i", 0, "$/i", "(?i)\\.gif$");
    one_trap("\\.gif$/", 0, "$/", "\\.gif$");
}

TEST(correct_pcre_has_no_traps)
{
    static const char *const fine[] = {
        "^/y/(\\d+)$",
        "^/u/(?<user>\\w+)(/(?<rest>.*))?",
        "(?i)^/CaSe/(.+)",
        "^/blog/([0-9]{4})/(.*)$",
        "\\bword\\b",
        "\\.(jpg|png|gif)$",
        "^/a\\.b\\$",
        "^/user/(?P<id>\\d+)$",
        "^/(?!admin)",
        "^/~(\\w+)/(.*)$",
        "^/$",
        "(?#a \\< comment)^/x",
        "\\p{L}{1,3}",
        "[\\]%]",
        "\\Aabc\\z",
        "(?^i)/x",
    };
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
        size_t n = regex_traps(fine[i], 0, NULL, 0);
        if (n) fprintf(stderr, "%s: %zu traps\n", fine[i], n);
        CHECK_EQ_INT(n, 0);
    }
}

TEST(other_dialects_in_targets)
{
    one_trap("/new/\\1", 1, "\\1", "$1");
    one_trap("/new/%2", 1, "%2", "$2");
    one_trap("/new?p=%1&x=y", 1, "%1", "$1");
    one_trap("/new%{REQUEST_URI}", 1, "%{REQUEST_URI}", "$path");
    one_trap("/new?%{QUERY_STRING}", 1, "%{QUERY_STRING}", "$query");
    one_trap("https://%{HTTP_HOST}/x", 1, "%{HTTP_HOST}", "$host");
    one_trap("/new{path}", 1, "{path}", "$path");
    one_trap("/new/{re.old.2}", 1, "{re.old.2}", "$2");
    one_trap("/new/{http.regexp.old.1}", 1, "{http.regexp.old.1}", "$1");
    one_trap("/new/{unknown}", 1, "{unknown}", "$1, ${name}, $path, $query or $host");
    static const char *const fine[] = {
        "/posts/$2?year=$1",
        "https://$host/p$path?q=$query&d=$$&all=$0",
        "/people/${user}?p=${page}",
        "/a%20b/%2F/%C3%A9",
        "/x?y=%1A",
        "/$$1",
    };
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++)
        CHECK_EQ_INT(regex_traps(fine[i], 1, NULL, 0), 0);
}

TEST(traps_are_counted_past_max_and_a_long_suggestion_says_it_is_cut)
{
    regex_trap t[2];
    CHECK_EQ_INT(regex_traps("\\<a\\>b\\<c", 0, t, 2), 3);
    CHECK(t[0].at == 0 && t[1].at == 3);
    char long_pat[200];
    snprintf(long_pat, sizeof long_pat, "~* %0150d", 0);
    CHECK_EQ_INT(regex_traps(long_pat, 0, t, 1), 1);
    size_t l = strlen(t[0].instead);
    CHECK(l == sizeof t[0].instead - 1 && strcmp(t[0].instead + l - 3, "...") == 0);
}

int main(void)
{
    RUN_TESTS();
}
