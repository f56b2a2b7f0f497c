/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_accept.c - accept_prefers: the most specific matching range gives
 * each type its q, the first wins only with a strictly higher q, malformed
 * elements are skipped, and an absent field prefers neither.
 */
#include "accept.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

/* JSON over text/plain, as the metrics ask, from an exact-size copy. */
static int json(const char *v)
{
    size_t n = strlen(v);
    char *copy = malloc(n ? n : 1);
    if (!copy) return -1;
    memcpy(copy, v, n);
    int r = accept_prefers((htd_str){copy, n}, "application", "json", "text", "plain");
    free(copy);
    return r;
}

TEST(json_only_when_it_has_the_higher_q)
{
    CHECK_EQ_INT(accept_prefers((htd_str){NULL, 0}, "application", "json", "text", "plain"), 0);
    CHECK_EQ_INT(json(""), 0);
    CHECK_EQ_INT(json("*/*"), 0);
    CHECK_EQ_INT(json("application/json"), 1);
    CHECK_EQ_INT(json("application/*"), 1);
    CHECK_EQ_INT(json("text/plain, application/json"), 0);
    CHECK_EQ_INT(json("application/json, text/plain;q=0.5"), 1);
    CHECK_EQ_INT(json("text/*, application/json;q=0.9"), 0);
    CHECK_EQ_INT(json("*/*;q=0.1, application/json"), 1);
    CHECK_EQ_INT(json("application/json;q=0, */*"), 0);
    CHECK_EQ_INT(json("APPLICATION/JSON"), 1);
}

TEST(malformed_elements_are_skipped)
{
    CHECK_EQ_INT(json("garbage, application/json"), 1);
    CHECK_EQ_INT(json("application/json;q=2, text/plain;q=0.1"), 0);
    CHECK_EQ_INT(json("text/plain;q=\"0.1, application/json"), 0);
    CHECK_EQ_INT(json(";;,,application/json;"), 1);
}

int main(void)
{
    RUN_TESTS();
}
