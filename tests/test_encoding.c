/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_encoding.c - Accept-Encoding: q-values, "*", identity refused by name
 * or by "*", x-gzip, malformed elements skipped, and the choice among the
 * codings a file has.
 */
#include "encoding.h"
#include "test.h"

#include <stdlib.h>

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

int main(void)
{
    RUN_TESTS();
}
