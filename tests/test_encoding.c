/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_encoding.c - Accept-Encoding: q-values, "*", identity refused by name
 * or by "*", x-gzip, malformed elements skipped, and the choice among the
 * codings a file has.
 */
#include "encoding.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static unsigned q_[ENC_COUNT];

static unsigned *ae(const char *v)
{
    /* An exact-size copy without a NUL, so ASan sees any read past the end. */
    size_t n = v ? strlen(v) : 0;
    char *copy = v ? malloc(n ? n : 1) : NULL;
    if (copy) memcpy(copy, v, n);
    htd_accept_encoding((htd_str){copy, n}, q_);
    free(copy);
    return q_;
}

#define ALL ((1u << ENC_IDENTITY) | (1u << ENC_GZIP) | (1u << ENC_BR))
#define ID_GZ ((1u << ENC_IDENTITY) | (1u << ENC_GZIP))
#define ID (1u << ENC_IDENTITY)

TEST(absent_field_means_identity_only)
{
    unsigned *q = ae(NULL);
    CHECK_EQ_INT(q[ENC_IDENTITY], 1000);
    CHECK_EQ_INT(q[ENC_GZIP], 0);
    CHECK_EQ_INT(htd_choose_encoding(q, ALL), ENC_IDENTITY);
}

TEST(plain_lists_prefer_br_then_gzip)
{
    CHECK_EQ_INT(htd_choose_encoding(ae("gzip, deflate, br"), ALL), ENC_BR);
    CHECK_EQ_INT(htd_choose_encoding(ae("gzip, deflate, br"), ID_GZ), ENC_GZIP);
    CHECK_EQ_INT(htd_choose_encoding(ae("gzip"), ALL), ENC_GZIP);
    CHECK_EQ_INT(htd_choose_encoding(ae("x-gzip"), ALL), ENC_GZIP);
    CHECK_EQ_INT(htd_choose_encoding(ae("GZIP"), ALL), ENC_GZIP);
    CHECK_EQ_INT(htd_choose_encoding(ae(""), ALL), ENC_IDENTITY);
}

TEST(q_values_decide)
{
    CHECK_EQ_INT(htd_choose_encoding(ae("br;q=0.5, gzip;q=0.8"), ALL), ENC_GZIP);
    CHECK_EQ_INT(htd_choose_encoding(ae("br;q=0.5, gzip;q=0.8, identity;q=0.9"), ALL),
                 ENC_IDENTITY);
    CHECK_EQ_INT(htd_choose_encoding(ae("gzip;q=0, br;q=0"), ALL), ENC_IDENTITY);
    CHECK_EQ_INT(htd_choose_encoding(ae("gzip ; q=0.001"), ALL), ENC_GZIP);
    CHECK_EQ_INT(htd_choose_encoding(ae("br;Q=1.000"), ALL), ENC_BR);
}

TEST(star_covers_what_is_not_named)
{
    CHECK_EQ_INT(htd_choose_encoding(ae("*"), ALL), ENC_BR);
    CHECK_EQ_INT(htd_choose_encoding(ae("*;q=0.5, gzip"), ALL), ENC_GZIP);
    CHECK_EQ_INT(htd_choose_encoding(ae("br;q=0, *"), ALL), ENC_GZIP);
    unsigned *q = ae("*;q=0");
    CHECK_EQ_INT(q[ENC_IDENTITY], 0);
    CHECK_EQ_INT(htd_choose_encoding(q, ID), -1);
    CHECK_EQ_INT(htd_choose_encoding(ae("*;q=0, identity"), ID), ENC_IDENTITY);
}

TEST(identity_refused_by_name_leaves_only_codings_or_nothing)
{
    CHECK_EQ_INT(htd_choose_encoding(ae("identity;q=0"), ID), -1);
    CHECK_EQ_INT(htd_choose_encoding(ae("identity;q=0"), ALL), -1); /* gzip was not named */
    CHECK_EQ_INT(htd_choose_encoding(ae("gzip, identity;q=0"), ID_GZ), ENC_GZIP);
    CHECK_EQ_INT(htd_choose_encoding(ae("gzip, identity;q=0"), ID), -1);
}

TEST(malformed_elements_are_skipped)
{
    CHECK_EQ_INT(htd_choose_encoding(ae("gzip;q=2, br"), ALL), ENC_BR);
    CHECK_EQ_INT(htd_choose_encoding(ae("gzip;q=x"), ALL), ENC_IDENTITY);
    CHECK_EQ_INT(htd_choose_encoding(ae("gzip;q=0.1234"), ALL), ENC_IDENTITY);
    CHECK_EQ_INT(htd_choose_encoding(ae("gzip;level=1"), ALL), ENC_IDENTITY);
    CHECK_EQ_INT(htd_choose_encoding(ae(",,, ,br,,"), ALL), ENC_BR);
    CHECK_EQ_INT(htd_choose_encoding(ae(";q=1"), ALL), ENC_IDENTITY);
}

/* A value that cannot refuse identity (neither '*' nor 'y' in it) leaves
 * identity acceptable, over every value of up to six elements drawn from
 * a few; and the values that can refuse it are said to maybe. */
TEST(a_value_without_star_or_y_cannot_refuse_identity)
{
    static const char *const parts[] = {
        "gzip", "br", "identity;q=0", "*;q=0",    "IDENTITY;q=0", "x-gzip;q=0.5", "deflate",
        "zstd", "*",  "identity",     "gzip;q=0", " br ; q=0 "};
    const size_t np = sizeof parts / sizeof *parts;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int iter = 0; iter < 20000; iter++) {
        char v[256] = "";
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int n = 1 + (int)(x % 6);
        for (int i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            if (i) strcat(v, ", ");
            strcat(v, parts[x % np]);
        }
        size_t len = strlen(v);
        char *copy = malloc(len);
        if (!copy) return;
        memcpy(copy, v, len);
        int may = htd_accept_may_refuse_identity((htd_str){copy, len});
        free(copy);
        if (!may) CHECK_EQ_INT(htd_choose_encoding(ae(v), ID), ENC_IDENTITY);
        if (strchr(v, '*') || strstr(v, "identity") || strstr(v, "IDENTITY")) CHECK(may);
    }
    CHECK_EQ_INT(htd_accept_may_refuse_identity((htd_str){"gzip, deflate, br, zstd", 23}), 0);
    CHECK_EQ_INT(htd_accept_may_refuse_identity((htd_str){"gzip, deflate, br, zstd, *", 26}), 1);
    CHECK_EQ_INT(htd_accept_may_refuse_identity((htd_str){"gzip, deflate, br;q=0, Y", 24}), 1);
    CHECK_EQ_INT(htd_accept_may_refuse_identity((htd_str){"", 0}), 0);
}

int main(void)
{
    RUN_TESTS();
}
