/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_etag.c - a file's entity-tag, and matching the lists of If-Match
 * (strong comparison) and If-None-Match (weak comparison), RFC 9110 8.8.3.
 */
#include "etag.h"
#include "test.h"

#include <string.h>

#define S(x) ((htd_str){(x), strlen(x)})
#define MATCH(list, tag, weak) etag_match(S(list), S(tag), (weak))

TEST(a_files_tag_is_its_inode_size_and_nanosecond_mtime_in_hex)
{
    struct stat st = {0};
    st.st_ino = 0x1f;
    st.st_size = 4096;
    st.st_mtim.tv_sec = 1;
    st.st_mtim.tv_nsec = 5;
    char buf[64];
    int n = etag_of_file(&st, buf, sizeof buf);
    CHECK_STR(buf, (size_t)n, "\"1f-1000-3b9aca05\"");
    CHECK_EQ_INT(n, (int)strlen(buf));
}

TEST(a_list_matches_any_member_and_star_matches_all)
{
    CHECK(MATCH("\"a\"", "\"a\"", 0));
    CHECK(MATCH("\"x\", \"a\"", "\"a\"", 0));
    CHECK(MATCH("\"x\",\t\"a\" ,", "\"a\"", 0));
    CHECK(MATCH("*", "\"a\"", 0));
    CHECK(!MATCH("\"x\"", "\"a\"", 0));
    CHECK(!MATCH("\"ab\"", "\"a\"", 0));
    CHECK(!MATCH("", "\"a\"", 1));
}

TEST(weak_tags_match_only_in_the_weak_comparison)
{
    CHECK(MATCH("W/\"a\"", "\"a\"", 1));
    CHECK(!MATCH("W/\"a\"", "\"a\"", 0));
    CHECK(MATCH("W/\"x\", \"a\"", "\"a\"", 0));
}

TEST(what_is_not_a_list_of_tags_matches_nothing)
{
    CHECK(!MATCH("a", "\"a\"", 1));
    CHECK(!MATCH("\"a", "\"a\"", 1));
    CHECK(!MATCH("W/", "\"a\"", 1));
}

int main(void)
{
    RUN_TESTS();
}
