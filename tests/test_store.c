/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_store.c - the store's pure parts: sizes ("512K", "10M", "1G") and
 * writable area specs ("PREFIX", "PREFIX:SIZE", "PREFIX:SIZE:QUOTA",
 * "PREFIX::QUOTA"), normalised, with the size limit and the quota apart.
 */
#include "store.h"
#include "test.h"

static int area(const char *spec, char *norm, uint64_t *max, uint64_t *quota)
{
    const char *why;
    return store_parse_area(spec, norm, 4096, max, quota, &why);
}

TEST(sizes_with_and_without_a_unit)
{
    uint64_t v;
    CHECK_EQ_INT(store_parse_size("512", 3, &v), 0);
    CHECK_EQ_INT(v, 512);
    CHECK_EQ_INT(store_parse_size("10M", 3, &v), 0);
    CHECK_EQ_INT(v, 10 << 20);
    CHECK_EQ_INT(store_parse_size("1g", 2, &v), 0);
    CHECK_EQ_INT(v, 1 << 30);
    CHECK_EQ_INT(store_parse_size("0", 1, &v), -1);
    CHECK_EQ_INT(store_parse_size("", 0, &v), -1);
    CHECK_EQ_INT(store_parse_size("1T", 2, &v), -1);
    CHECK_EQ_INT(store_parse_size("M", 1, &v), -1);
}

TEST(an_area_alone_with_a_size_limit_with_a_quota_or_both)
{
    char norm[4096];
    uint64_t max, quota;
    CHECK_EQ_INT(area("/dav/", norm, &max, &quota), 0);
    CHECK(!strcmp(norm, "/dav/") && max == 0 && quota == 0);
    CHECK_EQ_INT(area("/docs/:10M", norm, &max, &quota), 0);
    CHECK(!strcmp(norm, "/docs/") && max == 10 << 20 && quota == 0);
    CHECK_EQ_INT(area("/dav/:10M:1G", norm, &max, &quota), 0);
    CHECK(!strcmp(norm, "/dav/") && max == 10 << 20 && quota == 1 << 30);
    CHECK_EQ_INT(area("/dav/::1G", norm, &max, &quota), 0);
    CHECK(!strcmp(norm, "/dav/") && max == 0 && quota == 1 << 30);
    CHECK_EQ_INT(area("/a/b/../c:1K", norm, &max, &quota), 0);
    CHECK(!strcmp(norm, "/a/c") && max == 1024);
}

TEST(a_colon_that_is_no_size_belongs_to_the_prefix)
{
    char norm[4096];
    uint64_t max, quota;
    CHECK_EQ_INT(area("/a:b/", norm, &max, &quota), 0);
    CHECK(!strcmp(norm, "/a:b/") && max == 0 && quota == 0);
    CHECK_EQ_INT(area("/a:b:2K", norm, &max, &quota), 0);
    CHECK(!strcmp(norm, "/a:b") && max == 2048 && quota == 0);
    CHECK_EQ_INT(area("/x:y:1K:2K", norm, &max, &quota), 0);
    CHECK(!strcmp(norm, "/x:y") && max == 1024 && quota == 2048);
}

TEST(a_size_with_a_unit_it_does_not_know_is_refused)
{
    char norm[4096];
    uint64_t max, quota;
    CHECK(area("/uploads/:1MB", norm, &max, &quota) < 0); /* not an area "/uploads/:1MB" */
    CHECK(area("/uploads/:1M:2GB", norm, &max, &quota) < 0);
    CHECK(area("/uploads/:10x:1G", norm, &max, &quota) < 0);
    CHECK_EQ_INT(area("/uploads/:1M", norm, &max, &quota), 0);
}

TEST(an_area_must_be_an_absolute_path_inside_the_root)
{
    char norm[4096];
    uint64_t max, quota;
    CHECK_EQ_INT(area("dav/", norm, &max, &quota), -1);
    CHECK_EQ_INT(area(":1M", norm, &max, &quota), -1);
    CHECK_EQ_INT(area("/../x", norm, &max, &quota), -1);
}

int main(void)
{
    RUN_TESTS();
}
