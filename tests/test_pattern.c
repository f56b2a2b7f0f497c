/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_pattern.c - the rules' regexes through PCRE2: Perl classes and
 * named groups, the literal prefix that keeps other paths off the matcher,
 * captures (unset ones empty), and a bad pattern's message with its offset.
 */
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

int main(void)
{
    RUN_TESTS();
}
