/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_access.c - access_parse and access_check: the accepted and refused
 * rule forms, IPv4, IPv6 and IPv4-mapped peers against CIDRs of every edge
 * length, first-match order and the empty list.
 */
#include "access.h"
#include "test.h"

#include <arpa/inet.h>
#include <sys/socket.h>

static char err_[256];

/* access_parse on s, which must succeed; a failure is reported with err_. */
static access_rule rule(const char *s)
{
    access_rule r;
    memset(&r, 0xaa, sizeof r);
    err_[0] = '\0';
    int rc = access_parse(s, &r, err_, sizeof err_);
    if (rc != 0) {
        fprintf(stderr, "  \"%s\": %s\n", s, err_);
        r.bits = 128; /* a valid rule that matches none of the peers used here */
    }
    CHECK_EQ_INT(rc, 0);
    return r;
}

/* access_parse on s, which must fail, leave the rule untouched and say why in err_. */
static void refused(const char *s)
{
    access_rule r, before;
    memset(&r, 0xaa, sizeof r);
    before = r;
    err_[0] = '\0';
    int rc = access_parse(s, &r, err_, sizeof err_);
    if (rc != -1) fprintf(stderr, "  \"%s\" was accepted\n", s);
    CHECK_EQ_INT(rc, -1);
    CHECK(memcmp(&r, &before, sizeof r) == 0);
    CHECK(err_[0] != '\0');
    CHECK(strchr(err_, '\n') == NULL);
}

static struct sockaddr_in6 peer4(const char *a)
{
    struct sockaddr_in6 ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(40000);
    CHECK_EQ_INT(inet_pton(AF_INET, a, &sin->sin_addr), 1);
    return ss;
}

static struct sockaddr_in6 peer6(const char *a)
{
    struct sockaddr_in6 ss;
    memset(&ss, 0, sizeof ss);
    ss.sin6_family = AF_INET6;
    ss.sin6_port = htons(40000);
    CHECK_EQ_INT(inet_pton(AF_INET6, a, &ss.sin6_addr), 1);
    return ss;
}

/* access_check of a peer against rules given as strings. */
static int check_rules(const char *const *spec, size_t n, struct sockaddr_in6 peer)
{
    access_rule rules[8];
    CHECK(n <= 8);
    for (size_t i = 0; i < n && i < 8; i++)
        rules[i] = rule(spec[i]);
    return access_check(rules, n, &peer);
}

/* Whether the operand X matches the peer: a lone "deny X" denies exactly
 * the peers it matches. */
static int matches(const char *operand, struct sockaddr_in6 peer)
{
    char s[128];
    snprintf(s, sizeof s, "deny %s", operand);
    const char *spec[] = {s};
    return check_rules(spec, 1, peer) == 0;
}

TEST(parses_all_and_keeps_allow_or_deny)
{
    access_rule r = rule("allow all");
    CHECK_EQ_INT(r.allow, 1);
    CHECK_EQ_INT(r.bits, 0);
    static const uint8_t zero[16];
    CHECK(memcmp(r.addr, zero, 16) == 0);
    r = rule("deny all");
    CHECK_EQ_INT(r.allow, 0);
    CHECK_EQ_INT(r.bits, 0);
}

TEST(ipv4_is_stored_mapped_with_96_more_bits)
{
    static const uint8_t net10[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 0};
    access_rule r = rule("allow 10.0.0.0/8");
    CHECK_EQ_INT(r.allow, 1);
    CHECK_EQ_INT(r.bits, 104);
    CHECK(memcmp(r.addr, net10, 16) == 0);

    static const uint8_t host[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 1, 7};
    r = rule("deny 192.168.1.7");
    CHECK_EQ_INT(r.allow, 0);
    CHECK_EQ_INT(r.bits, 128);
    CHECK(memcmp(r.addr, host, 16) == 0);
    CHECK_EQ_INT(rule("deny 192.168.1.7/32").bits, 128);
    CHECK_EQ_INT(rule("deny 0.0.0.0/0").bits, 96);
    CHECK_EQ_INT(rule("deny 10.0.0.0/08").bits, 104);
}

TEST(ipv6_forms)
{
    static const uint8_t fd[16] = {0xfd};
    access_rule r = rule("allow fd00::/8");
    CHECK_EQ_INT(r.bits, 8);
    CHECK(memcmp(r.addr, fd, 16) == 0);
    static const uint8_t one[16] = {[15] = 1};
    r = rule("allow ::1/128");
    CHECK_EQ_INT(r.bits, 128);
    CHECK(memcmp(r.addr, one, 16) == 0);
    CHECK_EQ_INT(rule("allow ::1").bits, 128);
    CHECK_EQ_INT(rule("deny ::/0").bits, 0);
    CHECK_EQ_INT(rule("deny 2001:DB8::/32").bits, 32);
    CHECK_EQ_INT(rule("deny ::ffff:10.0.0.0/104").bits, 104);
    CHECK_EQ_INT(rule("deny 2001:db8:1:2:3:4:5:6").bits, 128);
}

TEST(host_bits_past_the_prefix_are_refused_with_the_network)
{
    refused("allow 10.0.0.1/8");
    CHECK_STR(err_, strlen(err_), "10.0.0.1/8 has bits set past /8; did you mean 10.0.0.0/8?");
    refused("deny 192.168.1.130/25");
    CHECK_STR(err_, strlen(err_),
              "192.168.1.130/25 has bits set past /25; did you mean 192.168.1.128/25?");
    refused("allow fd00::1/8");
    CHECK_STR(err_, strlen(err_), "fd00::1/8 has bits set past /8; did you mean fd00::/8?");
    refused("allow 1.2.3.4/0");
    CHECK_STR(err_, strlen(err_), "1.2.3.4/0 has bits set past /0; did you mean 0.0.0.0/0?");
    refused("allow ::1/0");
}

TEST(prefixes_longer_than_the_address_are_refused)
{
    refused("allow 10.0.0.0/33");
    refused("allow ::/129");
    refused("allow 10.0.0.0/999");
    refused("allow 10.0.0.0/1000");
    refused("allow 10.0.0.0/4294967304");
}

TEST(hostnames_and_garbage_are_refused)
{
    refused("allow localhost");
    CHECK(strstr(err_, "hostname") != NULL);
    refused("allow example.com");
    refused("allow example.com/8");
    refused("allow 10.0.0");
    refused("allow 10.0.0.256");
    refused("allow 10.0.0.0.0");
    refused("allow 010.0.0.1");
    refused("allow 10.0.0.0/");
    refused("allow 10.0.0.0/8/8");
    refused("allow 10.0.0.0/-8");
    refused("allow 10.0.0.0/+8");
    refused("allow 10.0.0.0/8x");
    refused("allow /8");
    refused("allow fe80::1%eth0");
    refused("allow :::1");
    refused("allow 1:2:3:4:5:6:7:8:9");
    refused("allow ALL");
    refused("allow all/0");
    refused("allow 0000:0000:0000:0000:0000:ffff:255.255.255.255/128xxxxxxxxxxxxxxxxxxx");
    refused("allow 00000000000000000000000000000000000000000000000000000000000000000000000::1");
    refused("allow 1111111111111111111111111111111111111111111111111111111111111111111111");
}

TEST(keyword_and_spacing_are_exact)
{
    refused("allow");
    refused("allow ");
    refused("deny");
    refused("deny ");
    refused("");
    refused("permit 10.0.0.0/8");
    refused("Allow 10.0.0.0/8");
    refused("allowall");
    refused("allow  10.0.0.0/8");
    refused(" allow 10.0.0.0/8");
    refused("allow\t10.0.0.0/8");
    refused("allow 10.0.0.0/8 ");
    refused("allow 10.0.0.0/8 # office");
    refused("allow all\n");
    refused("deny 10.0.0.0 /8");
}

TEST(v4_peer_against_v4_cidr)
{
    CHECK(matches("10.0.0.0/8", peer4("10.255.0.1")));
    CHECK(matches("10.0.0.0/8", peer4("10.0.0.0")));
    CHECK(!matches("10.0.0.0/8", peer4("11.0.0.1")));
    CHECK(!matches("10.0.0.0/8", peer4("9.255.255.255")));
    CHECK(matches("192.168.1.128/25", peer4("192.168.1.255")));
    CHECK(!matches("192.168.1.128/25", peer4("192.168.1.127")));
    CHECK(matches("172.16.0.0/12", peer4("172.31.255.255")));
    CHECK(!matches("172.16.0.0/12", peer4("172.32.0.0")));
}

TEST(v6_peer_against_v6_cidr)
{
    CHECK(matches("fd00::/8", peer6("fd12:3456::1")));
    CHECK(!matches("fd00::/8", peer6("fe80::1")));
    CHECK(matches("2001:db8::/33", peer6("2001:db8:7fff::1")));
    CHECK(!matches("2001:db8::/33", peer6("2001:db8:8000::1")));
}

TEST(mapped_peer_counts_as_its_ipv4_address)
{
    CHECK(matches("10.0.0.0/8", peer6("::ffff:10.1.2.3")));
    CHECK(!matches("10.0.0.0/8", peer6("::ffff:11.1.2.3")));
    CHECK(matches("10.1.2.3", peer6("::ffff:10.1.2.3")));
    CHECK(matches("0.0.0.0/0", peer6("::ffff:1.2.3.4")));
    /* ...and a v4 peer meets a rule written in mapped form. */
    CHECK(matches("::ffff:10.0.0.0/104", peer4("10.9.9.9")));
}

TEST(v4_rules_never_match_native_v6_peers_nor_the_reverse)
{
    CHECK(!matches("0.0.0.0/0", peer6("::1")));
    CHECK(!matches("0.0.0.0/0", peer6("2001:db8::1")));
    CHECK(!matches("0.0.0.0/0", peer6("::10.1.2.3"))); /* IPv4-compatible is not mapped */
    CHECK(!matches("fd00::/8", peer4("10.0.0.1")));
    CHECK(!matches("::1", peer4("127.0.0.1")));
}

TEST(prefix_lengths_at_the_edges)
{
    /* /0 */
    CHECK(matches("0.0.0.0/0", peer4("255.255.255.255")));
    CHECK(matches("0.0.0.0/0", peer4("0.0.0.0")));
    CHECK(matches("::/0", peer6("ffff::1")));
    /* An IPv6 rule is for IPv6 peers: ::/0 is every IPv6 address, and no
     * short IPv6 prefix covers IPv4 clients through their mapped form. */
    CHECK(!matches("::/0", peer4("1.2.3.4")));
    CHECK(!matches("::/8", peer4("127.0.0.1")));
    CHECK(matches("::ffff:127.0.0.0/104", peer4("127.0.0.1")));
    /* /32 is one IPv4 address */
    CHECK(matches("10.1.2.3/32", peer4("10.1.2.3")));
    CHECK(!matches("10.1.2.3/32", peer4("10.1.2.2")));
    CHECK(!matches("10.1.2.3/32", peer4("10.1.2.4")));
    CHECK(matches("10.1.2.2/31", peer4("10.1.2.3")));
    CHECK(!matches("10.1.2.2/31", peer4("10.1.2.4")));
    /* /128 is one IPv6 address */
    CHECK(matches("::1/128", peer6("::1")));
    CHECK(!matches("::1/128", peer6("::")));
    CHECK(!matches("::1/128", peer6("::2")));
    CHECK(matches("2001:db8::ffff/128", peer6("2001:db8::ffff")));
    CHECK(!matches("2001:db8::ffff/128", peer6("2001:db8::fffe")));
    /* a prefix that ends inside a byte */
    CHECK(matches("2001:db8::/31", peer6("2001:db9::1")));
    CHECK(!matches("2001:db8::/31", peer6("2001:dba::1")));
    CHECK(matches("128.0.0.0/1", peer4("200.0.0.1")));
    CHECK(!matches("128.0.0.0/1", peer4("127.255.255.255")));
}

TEST(deny_all_after_allows)
{
    const char *spec[] = {"allow 10.0.0.0/8", "allow fd00::/8", "allow 127.0.0.1", "deny all"};
    CHECK_EQ_INT(check_rules(spec, 4, peer4("10.2.3.4")), 1);
    CHECK_EQ_INT(check_rules(spec, 4, peer6("fd00::5")), 1);
    CHECK_EQ_INT(check_rules(spec, 4, peer4("127.0.0.1")), 1);
    CHECK_EQ_INT(check_rules(spec, 4, peer6("::ffff:127.0.0.1")), 1);
    CHECK_EQ_INT(check_rules(spec, 4, peer4("127.0.0.2")), 0);
    CHECK_EQ_INT(check_rules(spec, 4, peer4("8.8.8.8")), 0);
    CHECK_EQ_INT(check_rules(spec, 4, peer6("::1")), 0);
    CHECK_EQ_INT(check_rules(spec, 4, peer6("2001:db8::1")), 0);
}

TEST(first_matching_rule_decides)
{
    const char *deny_first[] = {"deny 10.1.0.0/16", "allow 10.0.0.0/8", "deny all"};
    CHECK_EQ_INT(check_rules(deny_first, 3, peer4("10.1.2.3")), 0);
    CHECK_EQ_INT(check_rules(deny_first, 3, peer4("10.2.2.3")), 1);
    CHECK_EQ_INT(check_rules(deny_first, 3, peer4("11.0.0.1")), 0);

    const char *allow_first[] = {"allow 10.0.0.0/8", "deny 10.1.0.0/16"};
    CHECK_EQ_INT(check_rules(allow_first, 2, peer4("10.1.2.3")), 1);

    const char *all_first[] = {"allow all", "deny 10.0.0.0/8"};
    CHECK_EQ_INT(check_rules(all_first, 2, peer4("10.1.2.3")), 1);
    const char *deny_all_first[] = {"deny all", "allow 10.0.0.0/8"};
    CHECK_EQ_INT(check_rules(deny_all_first, 2, peer4("10.1.2.3")), 0);
}

TEST(no_matching_rule_allows)
{
    const char *spec[] = {"deny 10.0.0.0/8", "deny fd00::/8"};
    CHECK_EQ_INT(check_rules(spec, 2, peer4("192.0.2.1")), 1);
    CHECK_EQ_INT(check_rules(spec, 2, peer6("2001:db8::1")), 1);
}

TEST(empty_list_allows_everyone)
{
    struct sockaddr_in6 p4 = peer4("10.0.0.1"), p6 = peer6("::1");
    CHECK_EQ_INT(access_check(NULL, 0, &p4), 1);
    CHECK_EQ_INT(access_check(NULL, 0, &p6), 1);
}

TEST(another_family_meets_only_all_rules)
{
    struct sockaddr_in6 unix_peer;
    memset(&unix_peer, 0, sizeof unix_peer);
    unix_peer.sin6_family = AF_UNIX;
    const char *zeros[] = {"deny ::/1", "deny 0.0.0.0/0"};
    CHECK_EQ_INT(check_rules(zeros, 2, unix_peer), 1);
    const char *allowlist[] = {"allow 0.0.0.0/0", "allow ::/1", "deny all"};
    CHECK_EQ_INT(check_rules(allowlist, 3, unix_peer), 0);
}

int main(void)
{
    RUN_TESTS();
}
