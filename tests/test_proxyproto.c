/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_proxyproto.c - htd_proxy_parse: v1 lines (TCP4, TCP6, UNKNOWN) and v2
 * headers (PROXY and LOCAL, every family byte, TLVs), byte-exact results,
 * every prefix of a valid preamble answering "more", faults found as early as
 * their byte and for the same reason at every longer length, and the limits.
 *
 * Every parse gets its bytes in a heap buffer of exactly their length, so
 * ASan sees any read past it.
 */
#include "proxyproto.h"
#include "test.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/socket.h>

#define LIT(s) s, sizeof(s) - 1

static htd_proxy_hdr hdr_;
static const char *why_;
static size_t need_;

/* Parses s[0..len) from an exact-size copy. */
static int parse(const void *s, size_t len)
{
    char *b = malloc(len ? len : 1);
    if (!b) abort();
    memcpy(b, s, len);
    memset(&hdr_, 0xaa, sizeof hdr_);
    why_ = NULL;
    need_ = 0;
    int r = htd_proxy_parse(b, len, &hdr_, &need_, &why_);
    free(b);
    if (r < 0) CHECK(why_ != NULL && why_[0] != '\0');
    if (r == 0) CHECK(need_ > len);
    if (r > 0) CHECK((size_t)r <= len);
    return r;
}

/* A valid preamble of len bytes: every proper prefix answers 0 with a need
 * no greater than len, and the whole, alone or followed by a request, answers
 * len. Leaves the whole's result in hdr_. */
static void valid(const void *s, size_t len)
{
    const char *p = s;
    for (size_t k = 0; k < len; k++) {
        int r = parse(p, k);
        if (r != 0) fprintf(stderr, "  prefix %zu of a valid preamble: %d (%s)\n", k, r, why_);
        CHECK_EQ_INT(r, 0);
        CHECK(need_ <= len);
    }
    char *more = malloc(len + 18);
    if (!more) abort();
    memcpy(more, s, len);
    memcpy(more + len, "GET / HTTP/1.1\r\n\r\n", 18);
    CHECK_EQ_INT(parse(more, len + 18), (int)len);
    free(more);
    int r = parse(s, len);
    if (r != (int)len) fprintf(stderr, "  a valid preamble: %d (%s)\n", r, why_ ? why_ : "");
    CHECK_EQ_INT(r, (int)len);
}

/* An invalid preamble: the whole answers -1, and so does every prefix that
 * does not answer 0, for the same reason; longer inputs do too. Leaves the
 * whole's reason in why_. */
static void invalid(const void *s, size_t len)
{
    int r = parse(s, len);
    const char *why = why_;
    if (r != -1) fprintf(stderr, "  \"%.*s\" was not refused\n", (int)len, (const char *)s);
    CHECK_EQ_INT(r, -1);
    for (size_t k = 0; k < len; k++) {
        int rk = parse(s, k);
        CHECK(rk == 0 || (rk == -1 && why_ == why));
    }
    char *more = malloc(len + 200);
    if (!more) abort();
    memcpy(more, s, len);
    memset(more + len, '\n', 200);
    CHECK_EQ_INT(parse(more, len + 200), -1);
    CHECK(why_ == why);
    free(more);
    why_ = why;
}

static void check_v4(const struct sockaddr_in6 *sa, const char *addr, unsigned port)
{
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
    CHECK_EQ_INT(s4->sin_family, AF_INET);
    char buf[INET_ADDRSTRLEN] = "";
    inet_ntop(AF_INET, &s4->sin_addr, buf, sizeof buf);
    CHECK_STR(buf, strlen(buf), addr);
    CHECK_EQ_INT(ntohs(s4->sin_port), port);
}

static void check_v6(const struct sockaddr_in6 *sa, const char *addr, unsigned port)
{
    CHECK_EQ_INT(sa->sin6_family, AF_INET6);
    char buf[INET6_ADDRSTRLEN] = "";
    inet_ntop(AF_INET6, &sa->sin6_addr, buf, sizeof buf);
    CHECK_STR(buf, strlen(buf), addr);
    CHECK_EQ_INT(ntohs(sa->sin6_port), port);
    CHECK_EQ_INT(sa->sin6_flowinfo, 0);
    CHECK_EQ_INT(sa->sin6_scope_id, 0);
}

static void check_local(void)
{
    static const struct sockaddr_in6 zero;
    CHECK_EQ_INT(hdr_.local, 1);
    CHECK(memcmp(&hdr_.src, &zero, sizeof zero) == 0);
    CHECK(memcmp(&hdr_.dst, &zero, sizeof zero) == 0);
}

/* ---- version 1 ---- */

TEST(v1_tcp4_gives_both_addresses_and_ports)
{
    valid(LIT("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"));
    CHECK_EQ_INT(hdr_.version, 1);
    CHECK_EQ_INT(hdr_.local, 0);
    check_v4(&hdr_.src, "192.168.0.1", 56324);
    check_v4(&hdr_.dst, "192.168.0.11", 443);
}

TEST(v1_tcp4_longest_line_and_edge_values)
{
    valid(LIT("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n"));
    check_v4(&hdr_.src, "255.255.255.255", 65535);
    valid(LIT("PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n"));
    check_v4(&hdr_.src, "0.0.0.0", 0);
    check_v4(&hdr_.dst, "0.0.0.0", 0);
    valid(LIT("PROXY TCP4 10.0.0.1 10.0.0.2 1 10\r\n"));
    check_v4(&hdr_.src, "10.0.0.1", 1);
    check_v4(&hdr_.dst, "10.0.0.2", 10);
}

TEST(v1_tcp6_forms)
{
    valid(LIT("PROXY TCP6 2001:db8::1 2001:db8::2 40000 8443\r\n"));
    CHECK_EQ_INT(hdr_.local, 0);
    check_v6(&hdr_.src, "2001:db8::1", 40000);
    check_v6(&hdr_.dst, "2001:db8::2", 8443);
    /* the longest line of all but UNKNOWN's: 104 bytes */
    static const char longest[] = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                                  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe 65535 65535\r\n";
    CHECK_EQ_INT(sizeof longest - 1, 104);
    valid(LIT(longest));
    check_v6(&hdr_.src, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
    check_v6(&hdr_.dst, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535);
    valid(LIT("PROXY TCP6 ::1 :: 1 2\r\n"));
    check_v6(&hdr_.src, "::1", 1);
    check_v6(&hdr_.dst, "::", 2);
    valid(LIT("PROXY TCP6 2001:DB8:0:0:0:0:0:1 2001:0db8::2 3 4\r\n"));
    check_v6(&hdr_.src, "2001:db8::1", 3);
    check_v6(&hdr_.dst, "2001:db8::2", 4);
    /* IPv4-mapped stays IPv6, as a dual-stack socket gives it */
    valid(LIT("PROXY TCP6 ::ffff:192.0.2.1 ::ffff:192.0.2.2 5 6\r\n"));
    check_v6(&hdr_.src, "::ffff:192.0.2.1", 5);
}

TEST(v1_unknown_keeps_the_connections_addresses)
{
    valid(LIT("PROXY UNKNOWN\r\n"));
    CHECK_EQ_INT(hdr_.version, 1);
    check_local();
    valid(LIT("PROXY UNKNOWN 192.168.0.1 192.168.0.11 56324 443\r\n"));
    check_local();
    valid(LIT("PROXY UNKNOWN anything at all, even \"this\"\r\n"));
    check_local();
    /* the worst case the specification counts: 107 bytes */
    static const char worst[] = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    CHECK_EQ_INT(sizeof worst - 1, HTD_PROXY_V1_MAX);
    valid(LIT(worst));
    check_local();
}

TEST(v1_the_line_ends_within_107_bytes)
{
    char line[200];
    /* CRLF at 105..106: 107 bytes, accepted */
    memcpy(line, "PROXY UNKNOWN ", 14);
    memset(line + 14, 'x', 91);
    memcpy(line + 105, "\r\n", 2);
    valid(line, 107);
    /* one byte more: refused as soon as the 107th byte is not the LF */
    memset(line + 14, 'x', 92);
    memcpy(line + 106, "\r\n", 2);
    invalid(line, 108);
    CHECK_STR(why_, strlen(why_), "no CRLF in a PROXY line's 107 bytes");
    CHECK_EQ_INT(parse(line, 106), 0);
    CHECK_EQ_INT(parse(line, 107), -1);
    /* no CR at all */
    memset(line + 14, 'x', 150);
    invalid(line, 164);
    CHECK_EQ_INT(parse(line, 106), 0);
    CHECK_EQ_INT(parse(line, 107), -1);
}

TEST(v1_line_ends_are_exactly_crlf)
{
    invalid(LIT("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"));
    CHECK_STR(why_, strlen(why_), "a bare LF in a PROXY line");
    invalid(LIT("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX"));
    CHECK_STR(why_, strlen(why_), "a CR without LF in a PROXY line");
    invalid(LIT("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n"));
    invalid(LIT("PROXY UNKNOWN\n"));
    invalid(LIT("PROXY UNKNOWN\n\r\n"));
    invalid(LIT("PROXY UNKNOWN x\ry\r\n"));
    /* a CR as the last byte so far: wait for the next one */
    CHECK_EQ_INT(parse(LIT("PROXY UNKNOWN\r")), 0);
    CHECK_EQ_INT(need_, 15);
}

TEST(v1_bytes_that_are_not_printable_are_refused_at_once)
{
    invalid(LIT("PROXY UNKNOWN \x01\r\n"));
    CHECK_STR(why_, strlen(why_), "a byte in a PROXY line that is not printable US-ASCII");
    CHECK_EQ_INT(parse(LIT("PROXY UNKNOWN \x01")), -1);
    invalid("PROXY UNKNOWN \0\r\n", 17);
    invalid(LIT("PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n"));
    invalid(LIT("PROXY UNKNOWN \x80\r\n"));
    invalid(LIT("PROXY UNKNOWN \x7f\r\n"));
    invalid(LIT("PROXY UNKNOWN \xff\r\n"));
}

TEST(v1_protocol_is_tcp4_tcp6_or_unknown)
{
    invalid(LIT("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"));
    CHECK_STR(why_, strlen(why_), "a PROXY line's protocol is not TCP4, TCP6 or UNKNOWN");
    invalid(LIT("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"));
    invalid(LIT("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n"));
    invalid(LIT("PROXY unknown\r\n"));
    invalid(LIT("PROXY UNKNOWNX\r\n"));
    invalid(LIT("PROXY UNKNOW\r\n"));
    invalid(LIT("PROXY TCP4\r\n"));
    invalid(LIT("PROXY TCP6\r\n"));
    invalid(LIT("PROXY \r\n"));
    invalid(LIT("PROXY  UNKNOWN\r\n"));
    invalid(LIT("PROXY TCP4 \r\n"));
}

TEST(v1_fields_are_four_and_one_space_apart)
{
    static const char *const bad[] = {
        "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
        "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",
        "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1  2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8  1 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8\r\n",
        "PROXY TCP4 1.2.3.4\r\n",
        " PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        invalid(bad[i], strlen(bad[i]));
    invalid(LIT("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"));
    CHECK_STR(why_, strlen(why_),
              "a PROXY line needs four fields after the protocol, one space apart");
}

TEST(v1_addresses_must_be_of_the_family_named)
{
    static const char *const bad[] = {
        "PROXY TCP4 ::1 ::1 1 2\r\n",                /* v6 in a TCP4 line */
        "PROXY TCP4 1.2.3.4 ::1 1 2\r\n",            /* mixed */
        "PROXY TCP4 ::ffff:1.2.3.4 1.2.3.4 1 2\r\n", /* mapped is IPv6 text */
        "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",        /* v4 in a TCP6 line */
        "PROXY TCP6 ::1 5.6.7.8 1 2\r\n",            /* mixed */
        "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",       /* leading zero */
        "PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n",       /* leading zero */
        "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",          /* three octets */
        "PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n",      /* five */
        "PROXY TCP4 256.2.3.4 5.6.7.8 1 2\r\n",      /* out of range */
        "PROXY TCP4 1.2.3.-4 5.6.7.8 1 2\r\n",       /* sign */
        "PROXY TCP4 0x1.2.3.4 5.6.7.8 1 2\r\n",      /* hex */
        "PROXY TCP4 localhost 5.6.7.8 1 2\r\n",      /* a name */
        "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n",       /* a zone */
        "PROXY TCP6 [::1] ::1 1 2\r\n",              /* brackets */
        "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n",  /* nine groups */
        "PROXY TCP6 12345:: ::1 1 2\r\n",            /* five digits */
        "PROXY TCP6 1::2::3 ::1 1 2\r\n",            /* two "::" */
        "PROXY TCP6 ::1 ::g 1 2\r\n",                /* not hex */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        invalid(bad[i], strlen(bad[i]));
    invalid(LIT("PROXY TCP4 ::1 ::1 1 2\r\n"));
    CHECK_STR(why_, strlen(why_), "a PROXY TCP4 line with a bad IPv4 address");
    invalid(LIT("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n"));
    CHECK_STR(why_, strlen(why_), "a PROXY TCP6 line with a bad IPv6 address");
}

TEST(v1_ports_are_0_to_65535_without_sign_or_leading_zero)
{
    static const char *const bad[] = {
        "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",  "PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 100000 2\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n",     "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",     "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 0x10\r\n",   "PROXY TCP4 1.2.3.4 5.6.7.8 1a 2\r\n",
        "PROXY TCP6 ::1 ::1 1 065535\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        invalid(bad[i], strlen(bad[i]));
    invalid(LIT("PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n"));
    CHECK_STR(why_, strlen(why_), "a PROXY line with a bad port");
}

TEST(not_a_preamble_is_refused_at_the_first_byte_that_says_so)
{
    invalid(LIT("GET / HTTP/1.1\r\n\r\n"));
    CHECK_STR(why_, strlen(why_), "not a PROXY protocol preamble");
    CHECK_EQ_INT(parse(LIT("G")), -1);
    CHECK_EQ_INT(parse(LIT("PROXZ")), -1);
    CHECK_EQ_INT(parse(LIT("PROXY")), 0);
    CHECK_EQ_INT(parse(LIT("PROXYX")), -1);
    invalid(LIT("proxy UNKNOWN\r\n"));
    invalid(LIT("\x16\x03\x01\x02\x00")); /* a TLS ClientHello */
    invalid(LIT("\r\n\r\nGET / HTTP/1.1\r\n\r\n"));
    invalid("\0", 1);
}

TEST(nothing_yet_needs_at_least_the_shortest_preamble)
{
    CHECK_EQ_INT(parse("", 0), 0);
    CHECK_EQ_INT(need_, 15);
    CHECK_EQ_INT(parse(LIT("PROXY ")), 0);
    CHECK_EQ_INT(need_, 15);
    CHECK_EQ_INT(parse(LIT("PROXY TCP4 1.2.3.4 5.6.7.8 1")), 0);
    CHECK_EQ_INT(need_, 29);
    /* need may be NULL */
    htd_proxy_hdr h;
    const char *why = NULL;
    CHECK_EQ_INT(htd_proxy_parse("PROX", 4, &h, NULL, &why), 0);
}

TEST(the_result_is_written_only_on_success)
{
    htd_proxy_hdr h;
    memset(&h, 0x5a, sizeof h);
    htd_proxy_hdr before = h;
    const char *why = NULL;
    size_t need = 0;
    CHECK_EQ_INT(htd_proxy_parse("PROXY TCP4 1.2.3.4", 18, &h, &need, &why), 0);
    CHECK(memcmp(&h, &before, sizeof h) == 0);
    static const char bad[] = "PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n";
    CHECK_EQ_INT(htd_proxy_parse(bad, sizeof bad - 1, &h, &need, &why), -1);
    CHECK(memcmp(&h, &before, sizeof h) == 0);
}

/* ---- version 2 ---- */

static const unsigned char sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                      0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* A v2 header into out: the signature, ver_cmd, fam, the length of block and
 * the block. Returns its length. */
static size_t v2(unsigned char *out, unsigned char ver_cmd, unsigned char fam,
                 const unsigned char *block, size_t blen)
{
    memcpy(out, sig, 12);
    out[12] = ver_cmd;
    out[13] = fam;
    out[14] = (unsigned char)(blen >> 8);
    out[15] = (unsigned char)blen;
    if (blen) memcpy(out + 16, block, blen);
    return 16 + blen;
}

static const unsigned char tcp4_block[12] = {192, 0, 2, 1, 198, 51, 100, 2, 0xdb, 0xf0, 0x01, 0xbb};

static const unsigned char tcp6_block[36] = {
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, /* 2001:db8::1 */
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, /* 2001:db8::2 */
    0xff, 0xff, 0x00, 0x50};

TEST(v2_proxy_tcp4_is_byte_exact)
{
    unsigned char b[64];
    size_t n = v2(b, 0x21, 0x11, tcp4_block, 12);
    CHECK_EQ_INT(n, 28);
    valid(b, n);
    CHECK_EQ_INT(hdr_.version, 2);
    CHECK_EQ_INT(hdr_.local, 0);
    check_v4(&hdr_.src, "192.0.2.1", 0xdbf0);
    check_v4(&hdr_.dst, "198.51.100.2", 443);
}

TEST(v2_proxy_tcp6_is_byte_exact)
{
    unsigned char b[64];
    size_t n = v2(b, 0x21, 0x21, tcp6_block, 36);
    CHECK_EQ_INT(n, 52);
    valid(b, n);
    CHECK_EQ_INT(hdr_.local, 0);
    check_v6(&hdr_.src, "2001:db8::1", 65535);
    check_v6(&hdr_.dst, "2001:db8::2", 80);
}

TEST(v2_tlvs_are_skipped_and_counted)
{
    unsigned char block[512], b[600];
    memcpy(block, tcp4_block, 12);
    size_t n = 12;
    /* PP2_TYPE_ALPN "h2" */
    memcpy(block + n, "\x01\x00\x02h2", 5);
    n += 5;
    /* PP2_TYPE_NOOP, empty */
    memcpy(block + n, "\x04\x00\x00", 3);
    n += 3;
    /* PP2_TYPE_AUTHORITY of 255 bytes */
    block[n] = 0x02;
    block[n + 1] = 0;
    block[n + 2] = 255;
    memset(block + n + 3, 'a', 255);
    n += 258;
    /* PP2_TYPE_SSL with sub-TLVs: client, verify, VERSION "TLSv1.3" */
    static const unsigned char ssl[] = {0x20, 0x00, 0x0f, 0x01, 0,   0,   0,   0,   0x21,
                                        0x00, 0x07, 'T',  'L',  'S', 'v', '1', '.', '3'};
    memcpy(block + n, ssl, sizeof ssl);
    n += sizeof ssl;
    /* the AWS VPC endpoint ID (0xEA) */
    static const char aws[] = "\xea\x00\x17\x01vpce-08d2bf15fac5001c9";
    memcpy(block + n, aws, sizeof aws - 1);
    n += sizeof aws - 1;
    size_t len = v2(b, 0x21, 0x11, block, n);
    valid(b, len);
    check_v4(&hdr_.src, "192.0.2.1", 0xdbf0);
    /* after IPv6 addresses too */
    memcpy(block, tcp6_block, 36);
    memcpy(block + 36, "\x01\x00\x02h2\x03\x00\x04\x01\x02\x03\x04", 12);
    len = v2(b, 0x21, 0x21, block, 48);
    valid(b, len);
    check_v6(&hdr_.src, "2001:db8::1", 65535);
}

TEST(v2_tlvs_must_fit_the_block_exactly)
{
    unsigned char block[64], b[128];
    memcpy(block, tcp4_block, 12);
    /* two bytes left: no room for a TLV's type and length */
    memcpy(block + 12, "\x04\x00", 2);
    size_t len = v2(b, 0x21, 0x11, block, 14);
    invalid(b, len);
    CHECK_STR(why_, strlen(why_), "a PROXY v2 TLV cut short");
    /* a value longer than what is left */
    memcpy(block + 12, "\x01\x00\x05h2", 5);
    len = v2(b, 0x21, 0x11, block, 17);
    invalid(b, len);
    CHECK_STR(why_, strlen(why_), "a PROXY v2 TLV longer than its block");
    /* one byte */
    block[12] = 0x04;
    invalid(b, v2(b, 0x21, 0x11, block, 13));
    /* a good TLV, then a short one */
    memcpy(block + 12, "\x04\x00\x00\x04\x00\x01", 6);
    invalid(b, v2(b, 0x21, 0x11, block, 18));
    memcpy(block + 12, "\x04\x00\x00\x04\x00\x01z", 7);
    valid(b, v2(b, 0x21, 0x11, block, 19));
}

TEST(v2_local_keeps_the_connections_addresses_and_skips_the_block)
{
    unsigned char b[128], junk[40];
    valid(b, v2(b, 0x20, 0x00, NULL, 0));
    CHECK_EQ_INT(hdr_.version, 2);
    check_local();
    /* addresses after LOCAL are discarded, family and all */
    valid(b, v2(b, 0x20, 0x11, tcp4_block, 12));
    check_local();
    valid(b, v2(b, 0x20, 0x21, tcp6_block, 36));
    check_local();
    /* and not read as TLVs, nor required to fit the family */
    memset(junk, 0xee, sizeof junk);
    valid(b, v2(b, 0x20, 0x00, junk, sizeof junk));
    check_local();
    valid(b, v2(b, 0x20, 0x11, junk, 3));
    check_local();
}

TEST(v2_unspec_udp_and_unix_are_accepted_and_keep_the_connections_addresses)
{
    unsigned char block[300], b[400];
    memset(block, 0x11, sizeof block);
    valid(b, v2(b, 0x21, 0x00, NULL, 0));
    check_local();
    valid(b, v2(b, 0x21, 0x00, block, 7)); /* UNSPEC: whatever is there is ignored */
    check_local();
    valid(b, v2(b, 0x21, 0x12, tcp4_block, 12)); /* UDP over IPv4 */
    check_local();
    valid(b, v2(b, 0x21, 0x22, tcp6_block, 36)); /* UDP over IPv6 */
    check_local();
    memset(block, 0, 216);
    memcpy(block, "/run/a.sock", 11);
    valid(b, v2(b, 0x21, 0x31, block, 216)); /* unix stream */
    check_local();
    valid(b, v2(b, 0x21, 0x32, block, 216)); /* unix datagram */
    check_local();
    /* their blocks still hold their addresses, and TLVs that fit */
    invalid(b, v2(b, 0x21, 0x31, block, 215));
    invalid(b, v2(b, 0x21, 0x12, tcp4_block, 11));
    memcpy(block + 216, "\x04\x00\x01x", 4);
    valid(b, v2(b, 0x21, 0x31, block, 220));
    invalid(b, v2(b, 0x21, 0x31, block, 219));
}

TEST(v2_block_must_hold_the_familys_addresses)
{
    unsigned char b[128];
    invalid(b, v2(b, 0x21, 0x11, tcp4_block, 11));
    CHECK_STR(why_, strlen(why_), "a PROXY v2 block too short for its addresses");
    invalid(b, v2(b, 0x21, 0x11, NULL, 0));
    invalid(b, v2(b, 0x21, 0x21, tcp6_block, 35));
    invalid(b, v2(b, 0x21, 0x21, tcp4_block, 12)); /* mixed: IPv4 addresses, IPv6 family */
}

TEST(v2_signature_is_exact)
{
    unsigned char b[64];
    size_t n = v2(b, 0x21, 0x11, tcp4_block, 12);
    for (size_t i = 0; i < 12; i++) {
        b[i] ^= 0x20;
        invalid(b, n);
        CHECK_STR(why_, strlen(why_), "not a PROXY protocol preamble");
        CHECK_EQ_INT(parse(b, i + 1), -1); /* refused at the byte that is wrong */
        b[i] ^= 0x20;
    }
    valid(b, n);
}

TEST(v2_version_is_2_and_command_local_or_proxy)
{
    unsigned char b[64];
    static const unsigned char bad[] = {0x11, 0x01, 0x31, 0xf1, 0x00, 0x22, 0x2f, 0x23};
    for (size_t i = 0; i < sizeof bad; i++) {
        size_t n = v2(b, bad[i], 0x11, tcp4_block, 12);
        invalid(b, n);
        CHECK_EQ_INT(parse(b, 13), -1); /* as soon as the byte is in */
    }
    invalid(b, v2(b, 0x11, 0x11, tcp4_block, 12));
    CHECK_STR(why_, strlen(why_), "a PROXY preamble of a version other than 2");
    invalid(b, v2(b, 0x22, 0x11, tcp4_block, 12));
    CHECK_STR(why_, strlen(why_), "a PROXY v2 command other than LOCAL or PROXY");
}

TEST(v2_family_and_transport_are_the_seven_defined)
{
    unsigned char b[300], block[216] = {0};
    for (unsigned fam = 0; fam < 256; fam++) {
        int ok = fam == 0x00 || fam == 0x11 || fam == 0x12 || fam == 0x21 || fam == 0x22 ||
                 fam == 0x31 || fam == 0x32;
        size_t n = v2(b, 0x21, (unsigned char)fam, block, 216);
        if (ok) {
            CHECK_EQ_INT(parse(b, n), (int)n);
        } else {
            invalid(b, n);
            CHECK_EQ_INT(parse(b, 14), -1);
            /* under LOCAL too: no sender emits these */
            invalid(b, v2(b, 0x20, (unsigned char)fam, NULL, 0));
        }
    }
    invalid(b, v2(b, 0x21, 0x13, tcp4_block, 12));
    CHECK_STR(why_, strlen(why_),
              "a PROXY v2 family and transport the specification does not define");
}

TEST(v2_length_is_capped)
{
    static unsigned char block[HTD_PROXY_V2_MAX_BLOCK + 1], b[HTD_PROXY_V2_MAX + 1];
    memcpy(block, tcp4_block, 12);
    /* one NOOP TLV filling the block to the cap exactly */
    size_t v = HTD_PROXY_V2_MAX_BLOCK - 15;
    block[12] = 0x04;
    block[13] = (unsigned char)(v >> 8);
    block[14] = (unsigned char)v;
    size_t n = v2(b, 0x21, 0x11, block, HTD_PROXY_V2_MAX_BLOCK);
    CHECK_EQ_INT(n, HTD_PROXY_V2_MAX);
    CHECK_EQ_INT(parse(b, n), (int)n);
    check_v4(&hdr_.src, "192.0.2.1", 0xdbf0);
    /* one more is refused once the length is in, without waiting for it */
    v++;
    block[13] = (unsigned char)(v >> 8);
    block[14] = (unsigned char)v;
    n = v2(b, 0x21, 0x11, block, HTD_PROXY_V2_MAX_BLOCK + 1);
    CHECK_EQ_INT(parse(b, 15), 0);
    CHECK_EQ_INT(parse(b, 16), -1);
    CHECK_STR(why_, strlen(why_), "a PROXY v2 preamble over 1040 bytes");
    invalid(b, n);
    b[14] = b[15] = 0xff;
    CHECK_EQ_INT(parse(b, 16), -1);
}

TEST(v2_need_is_exact_once_the_head_is_in)
{
    unsigned char b[64];
    size_t n = v2(b, 0x21, 0x21, tcp6_block, 36);
    CHECK_EQ_INT(parse(b, 1), 0);
    CHECK_EQ_INT(need_, 16);
    CHECK_EQ_INT(parse(b, 15), 0);
    CHECK_EQ_INT(need_, 16);
    for (size_t k = 16; k < n; k++) {
        CHECK_EQ_INT(parse(b, k), 0);
        CHECK_EQ_INT(need_, 52);
    }
}

TEST(v1_and_v2_do_not_mix)
{
    unsigned char b[128];
    /* a v1 line after the v2 signature is a bad version byte */
    memcpy(b, sig, 12);
    memcpy(b + 12, "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 32);
    invalid(b, 44);
    /* a v2 header after "PROXY ": its CRLF ends an empty line */
    memcpy(b, "PROXY ", 6);
    size_t n = v2(b + 6, 0x21, 0x11, tcp4_block, 12);
    invalid(b, 6 + n);
    CHECK_STR(why_, strlen(why_), "a PROXY line's protocol is not TCP4, TCP6 or UNKNOWN");
}

int main(void)
{
    RUN_TESTS();
}
