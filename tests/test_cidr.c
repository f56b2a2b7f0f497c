/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_cidr.c - htd_cidr_parse over a length (no NUL needed, none allowed),
 * htd_cidr_key's families and htd_cidr_list_match. The forms accepted and
 * refused, and matching at every edge, are in test_access.c, through the
 * access rules that use them.
 */
#include "cidr.h"
#include "test.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/socket.h>

static char err_[256];

/* Parses s[0..len) from an exact-size copy, so ASan sees a read past it. */
static int parse(const char *s, size_t len, htd_cidr *out)
{
    char *b = malloc(len ? len : 1);
    if (!b) abort();
    memcpy(b, s, len);
    err_[0] = '\0';
    int r = htd_cidr_parse(b, len, out, err_, sizeof err_);
    free(b);
    if (r < 0) CHECK(err_[0] != '\0' && strchr(err_, '\n') == NULL);
    return r;
}

static struct sockaddr_in6 sa4(const char *a)
{
    struct sockaddr_in6 sa;
    memset(&sa, 0, sizeof sa);
    struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)&sa;
    s4->sin_family = AF_INET;
    CHECK_EQ_INT(inet_pton(AF_INET, a, &s4->sin_addr), 1);
    return sa;
}

static struct sockaddr_in6 sa6(const char *a)
{
    struct sockaddr_in6 sa;
    memset(&sa, 0, sizeof sa);
    sa.sin6_family = AF_INET6;
    CHECK_EQ_INT(inet_pton(AF_INET6, a, &sa.sin6_addr), 1);
    return sa;
}

TEST(parses_exactly_len_bytes)
{
    htd_cidr c;
    const char *s = "10.0.0.0/8 and more";
    CHECK_EQ_INT(parse(s, 10, &c), 0);
    CHECK_EQ_INT(c.family, 4);
    CHECK_EQ_INT(c.bits, 104);
    CHECK_EQ_INT(parse(s, 8, &c), 0); /* the address alone */
    CHECK_EQ_INT(c.bits, 128);
    CHECK_EQ_INT(parse(s, 9, &c), -1); /* a '/' needs digits */
    CHECK_EQ_INT(parse(s, 11, &c), -1);
    CHECK_EQ_INT(parse("fd00::/8", 8, &c), 0);
    CHECK_EQ_INT(c.family, 6);
    CHECK_EQ_INT(c.bits, 8);
}

TEST(refuses_empty_nul_and_oversized_input)
{
    htd_cidr c, before;
    memset(&c, 0x77, sizeof c);
    before = c;
    CHECK_EQ_INT(parse("", 0, &c), -1);
    CHECK_EQ_INT(parse("10.0.0.1\0", 9, &c), -1);
    CHECK_EQ_INT(parse("10.0.0.0/8\0", 11, &c), -1);
    CHECK_EQ_INT(parse("10.0.0.0\0/8", 11, &c), -1);
    char big[300];
    memset(big, '1', sizeof big);
    CHECK_EQ_INT(parse(big, sizeof big, &c), -1);
    CHECK(strlen(err_) < 200);
    CHECK(memcmp(&c, &before, sizeof c) == 0);
    CHECK_EQ_INT(parse("::ffff:10.0.0.0/104", 19, &c), 0);
    CHECK_EQ_INT(c.family, 4);                       /* an IPv6 range within ::ffff:0:0/96 */
    CHECK_EQ_INT(parse("::fffe:0:0/95", 13, &c), 0); /* one bit short of it */
    CHECK_EQ_INT(c.family, 6);
}

TEST(key_gives_the_family_matched)
{
    uint8_t a[16];
    static const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
    struct sockaddr_in6 s = sa4("192.0.2.1");
    CHECK_EQ_INT(htd_cidr_key(&s, a), 4);
    CHECK(memcmp(a, mapped, 16) == 0);
    s = sa6("::ffff:192.0.2.1");
    CHECK_EQ_INT(htd_cidr_key(&s, a), 4);
    CHECK(memcmp(a, mapped, 16) == 0);
    s = sa6("2001:db8::1");
    CHECK_EQ_INT(htd_cidr_key(&s, a), 6);
    s.sin6_family = AF_UNIX;
    CHECK_EQ_INT(htd_cidr_key(&s, a), 0);
    static const uint8_t zero[16];
    CHECK(memcmp(a, zero, 16) == 0);
}

TEST(list_match_is_any_of_the_ranges)
{
    htd_cidr list[3];
    CHECK_EQ_INT(parse("10.0.0.0/8", 10, &list[0]), 0);
    CHECK_EQ_INT(parse("fd00::/8", 8, &list[1]), 0);
    CHECK_EQ_INT(parse("192.0.2.7", 9, &list[2]), 0);
    struct sockaddr_in6 s = sa4("10.200.0.1");
    CHECK(htd_cidr_list_match(list, 3, &s));
    s = sa6("::ffff:10.200.0.1");
    CHECK(htd_cidr_list_match(list, 3, &s));
    s = sa6("fd12::1");
    CHECK(htd_cidr_list_match(list, 3, &s));
    s = sa4("192.0.2.7");
    CHECK(htd_cidr_list_match(list, 3, &s));
    s = sa4("192.0.2.8");
    CHECK(!htd_cidr_list_match(list, 3, &s));
    s = sa6("2001:db8::1");
    CHECK(!htd_cidr_list_match(list, 3, &s));
    CHECK(!htd_cidr_list_match(list, 0, &s));
    s.sin6_family = AF_UNIX;
    CHECK(!htd_cidr_list_match(list, 3, &s));
    /* ::/0 is every IPv6 address and no IPv4 one */
    htd_cidr any6;
    CHECK_EQ_INT(parse("::/0", 4, &any6), 0);
    s = sa6("2001:db8::1");
    CHECK(htd_cidr_list_match(&any6, 1, &s));
    s = sa4("192.0.2.1");
    CHECK(!htd_cidr_list_match(&any6, 1, &s));
}

int main(void)
{
    RUN_TESTS();
}
