/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_connlimit.c - the key a client address counts under: IPv4 whole,
 * IPv6 cut to its prefix.
 */
#include "connlimit.h"
#include "test.h"

#include <arpa/inet.h>
#include <string.h>

static void key_of(const char *addr, unsigned prefix6, uint8_t key[16])
{
    struct sockaddr_in6 sa;
    memset(&sa, 0, sizeof sa);
    if (strchr(addr, ':')) {
        sa.sin6_family = AF_INET6;
        inet_pton(AF_INET6, addr, &sa.sin6_addr);
    } else {
        struct sockaddr_in *v4 = (struct sockaddr_in *)&sa;
        v4->sin_family = AF_INET;
        inet_pton(AF_INET, addr, &v4->sin_addr);
    }
    connlimit_key(&sa, prefix6, key);
}

static int same(const char *a, const char *b, unsigned prefix6)
{
    uint8_t ka[16], kb[16];
    key_of(a, prefix6, ka);
    key_of(b, prefix6, kb);
    return memcmp(ka, kb, 16) == 0;
}

TEST(ipv4_addresses_count_whole_whatever_the_ipv6_prefix)
{
    CHECK(same("192.0.2.7", "192.0.2.7", 64));
    CHECK(!same("192.0.2.7", "192.0.2.8", 64));
    CHECK(!same("192.0.2.7", "192.0.2.8", 8));
    uint8_t k[16];
    key_of("192.0.2.7", 64, k);
    static const uint8_t want[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7};
    CHECK(memcmp(k, want, 16) == 0);
}

TEST(ipv6_addresses_in_one_prefix_count_as_one)
{
    CHECK(same("2001:db8:1:2::1", "2001:db8:1:2:ffff::9", 64));
    CHECK(!same("2001:db8:1:2::1", "2001:db8:1:3::1", 64));
    CHECK(same("2001:db8:1:2::1", "2001:db8:1:3::1", 48));
    CHECK(same("2001:db8:1:ff::1", "2001:db8:1:80::1", 57)); /* a prefix within a byte */
    CHECK(!same("2001:db8:1:ff::1", "2001:db8:1:7f::1", 57));
    CHECK(!same("2001:db8::1", "2001:db8::2", 128));
    CHECK(same("2001:db8::1", "2001:db8::1", 128));
    /* An IPv6 address never meets an IPv4 one's key (::ffff:0:0/96 aside). */
    CHECK(!same("::c000:207", "192.0.2.7", 128));
}

int main(void)
{
    RUN_TESTS();
}
