/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_forwarded.c - htd_forwarded_client: the walk from the right over
 * trusted proxies, for X-Forwarded-For and for Forwarded (RFC 7239's grammar
 * and examples), with several field lines, ports, IPv6, "unknown" and
 * obfuscated nodes, and malformed hops where the walk looks and where it does
 * not.
 *
 * Every value is given to the parser in a heap buffer of exactly its length,
 * so ASan sees any read past it.
 */
#include "forwarded.h"
#include "test.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/socket.h>

#define PEER "10.0.0.1"
#define PROXIES "10.0.0.0/8 fd00::/8"

static char client_[80];
static const char *why_;

/* An address as text, "[v6]:port" or "v4:port", the port only when not 0. */
static void format(const struct sockaddr_in6 *sa, char *out, size_t cap)
{
    char a[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sin6_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, a, sizeof a);
        port = ntohs(s4->sin_port);
        if (port)
            snprintf(out, cap, "%s:%u", a, port);
        else
            snprintf(out, cap, "%s", a);
        return;
    }
    inet_ntop(AF_INET6, &sa->sin6_addr, a, sizeof a);
    port = ntohs(sa->sin6_port);
    if (port)
        snprintf(out, cap, "[%s]:%u", a, port);
    else
        snprintf(out, cap, "[%s]", a);
}

static struct sockaddr_in6 sockaddr(const char *a)
{
    struct sockaddr_in6 sa;
    memset(&sa, 0, sizeof sa);
    if (strchr(a, ':')) {
        sa.sin6_family = AF_INET6;
        sa.sin6_port = htons(50000);
        CHECK_EQ_INT(inet_pton(AF_INET6, a, &sa.sin6_addr), 1);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)&sa;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(50000);
        CHECK_EQ_INT(inet_pton(AF_INET, a, &s4->sin_addr), 1);
    }
    return sa;
}

/* The client for a request from peer through the proxies in trusted (ranges
 * separated by spaces) with the field's lines values[0..n); client_ is its
 * address as text, or "peer" when it is the peer itself. */
static int client(enum htd_fwd_field field, const char *peer, const char *trusted,
                  const char *const *values, size_t n)
{
    htd_cidr ranges[8];
    size_t nranges = 0;
    char err[200];
    for (const char *t = trusted; *t && nranges < 8;) {
        size_t len = strcspn(t, " ");
        if (htd_cidr_parse(t, len, &ranges[nranges++], err, sizeof err) < 0)
            fprintf(stderr, "  %s\n", err);
        t += len;
        t += strspn(t, " ");
    }
    htd_str v[8];
    for (size_t i = 0; i < n && i < 8; i++) {
        size_t len = strlen(values[i]);
        char *copy = malloc(len ? len : 1);
        if (!copy) abort();
        memcpy(copy, values[i], len);
        v[i] = (htd_str){copy, len};
    }
    struct sockaddr_in6 p = sockaddr(peer), c;
    memset(&c, 0xaa, sizeof c);
    why_ = NULL;
    int r = htd_forwarded_client(field, v, n, &p, ranges, nranges, &c, &why_);
    for (size_t i = 0; i < n && i < 8; i++)
        free((void *)v[i].p);
    if (memcmp(&c, &p, sizeof c) == 0)
        strcpy(client_, "peer");
    else
        format(&c, client_, sizeof client_);
    CHECK(r == -1 ? why_ != NULL && why_[0] != '\0' : why_ == NULL);
    if (r == 0 || r == -1) CHECK_STR(client_, strlen(client_), "peer");
    return r;
}

static int xff(const char *value)
{
    const char *v[] = {value};
    return client(HTD_FWD_XFF, PEER, PROXIES, v, 1);
}

static int fwd(const char *value)
{
    const char *v[] = {value};
    return client(HTD_FWD_FORWARDED, PEER, PROXIES, v, 1);
}

#define IS(s) CHECK_STR(client_, strlen(client_), s)

/* ---- whom to believe ---- */

TEST(an_untrusted_peer_is_the_client_whatever_it_sends)
{
    const char *v[] = {"203.0.113.7"};
    CHECK_EQ_INT(client(HTD_FWD_XFF, "198.51.100.1", PROXIES, v, 1), 0);
    IS("peer");
    const char *f[] = {"for=203.0.113.7"};
    CHECK_EQ_INT(client(HTD_FWD_FORWARDED, "198.51.100.1", PROXIES, f, 1), 0);
    IS("peer");
    /* not even read: garbage from an untrusted peer is no error */
    const char *g[] = {"garbage"};
    CHECK_EQ_INT(client(HTD_FWD_XFF, "198.51.100.1", PROXIES, g, 1), 0);
    /* no trusted proxies at all */
    CHECK_EQ_INT(client(HTD_FWD_XFF, PEER, "", v, 1), 0);
    IS("peer");
    CHECK_EQ_INT(client(HTD_FWD_XFF, "2001:db8::1", PROXIES, v, 1), 0);
}

TEST(a_trusted_peer_without_the_field_is_the_client)
{
    CHECK_EQ_INT(client(HTD_FWD_XFF, PEER, PROXIES, NULL, 0), 0);
    IS("peer");
    CHECK_EQ_INT(xff(""), 0);
    CHECK_EQ_INT(xff(" , ,, "), 0);
    CHECK_EQ_INT(fwd(""), 0);
    CHECK_EQ_INT(fwd(",,"), 0);
    IS("peer");
    /* an absent value, {NULL, 0}, is an empty line */
    htd_cidr proxy;
    CHECK_EQ_INT(htd_cidr_parse("10.0.0.0/8", 10, &proxy, NULL, 0), 0);
    struct sockaddr_in6 p = sockaddr(PEER), c;
    const char *why = NULL;
    htd_str none[] = {{NULL, 0}, {"203.0.113.7", 11}, {NULL, 0}};
    CHECK_EQ_INT(htd_forwarded_client(HTD_FWD_XFF, none, 1, &p, &proxy, 1, &c, &why), 0);
    CHECK_EQ_INT(htd_forwarded_client(HTD_FWD_FORWARDED, none, 1, &p, &proxy, 1, &c, &why), 0);
    CHECK_EQ_INT(htd_forwarded_client(HTD_FWD_XFF, none, 3, &p, &proxy, 1, &c, &why), 1);
    CHECK_EQ_INT(c.sin6_family, AF_INET);
}

TEST(the_right_most_untrusted_hop_is_the_client)
{
    CHECK_EQ_INT(xff("203.0.113.7"), 1);
    IS("203.0.113.7");
    CHECK_EQ_INT(xff("203.0.113.7, 10.0.0.2"), 1);
    IS("203.0.113.7");
    CHECK_EQ_INT(xff("192.0.2.66, 203.0.113.7, 10.9.9.9, 10.0.0.2"), 1);
    IS("203.0.113.7");
    /* what a client prepends does not matter */
    CHECK_EQ_INT(xff("10.1.1.1, 203.0.113.7, 10.0.0.2"), 1);
    IS("203.0.113.7");
    CHECK_EQ_INT(fwd("for=192.0.2.66, for=203.0.113.7, for=10.0.0.2"), 1);
    IS("203.0.113.7");
}

TEST(every_hop_trusted_gives_the_left_most)
{
    CHECK_EQ_INT(xff("10.0.0.3, 10.0.0.2"), 1);
    IS("10.0.0.3");
    CHECK_EQ_INT(xff("10.0.0.1"), 1);
    IS("10.0.0.1");
    CHECK_EQ_INT(fwd("for=\"[fd00::5]\", for=10.0.0.2"), 1);
    IS("[fd00::5]");
}

TEST(several_field_lines_are_one_list)
{
    const char *v[] = {"192.0.2.1, 192.0.2.2", "203.0.113.7, 10.0.0.5", "10.0.0.6"};
    CHECK_EQ_INT(client(HTD_FWD_XFF, PEER, PROXIES, v, 3), 1);
    IS("203.0.113.7");
    const char *t[] = {"192.0.2.1", "10.0.0.4, 10.0.0.5", "10.0.0.6"};
    CHECK_EQ_INT(client(HTD_FWD_XFF, PEER, PROXIES, t, 3), 1);
    IS("192.0.2.1");
    const char *f[] = {"for=192.0.2.1;proto=https", "for=\"[2001:db8::7]:443\"", "for=10.0.0.2"};
    CHECK_EQ_INT(client(HTD_FWD_FORWARDED, PEER, PROXIES, f, 3), 1);
    IS("[2001:db8::7]:443");
}

TEST(ipv6_and_mapped_peers_and_hops)
{
    const char *v[] = {"2001:db8::7, fd00::2"};
    CHECK_EQ_INT(client(HTD_FWD_XFF, "fd00::1", PROXIES, v, 1), 1);
    IS("[2001:db8::7]");
    /* a peer on a dual-stack socket, IPv4-mapped, meets the IPv4 ranges */
    const char *w[] = {"203.0.113.7"};
    CHECK_EQ_INT(client(HTD_FWD_XFF, "::ffff:10.0.0.1", PROXIES, w, 1), 1);
    IS("203.0.113.7");
    /* and so does a mapped hop */
    CHECK_EQ_INT(xff("203.0.113.7, ::ffff:10.0.0.2"), 1);
    IS("203.0.113.7");
    CHECK_EQ_INT(xff("::ffff:203.0.113.7"), 1);
    IS("[::ffff:203.0.113.7]");
    /* no IPv6 range covers IPv4 */
    const char *x[] = {"203.0.113.7"};
    CHECK_EQ_INT(client(HTD_FWD_XFF, PEER, "::/0", x, 1), 0);
    CHECK_EQ_INT(client(HTD_FWD_XFF, "::1", "::1", x, 1), 1);
    IS("203.0.113.7");
}

/* ---- X-Forwarded-For ---- */

TEST(xff_address_forms)
{
    CHECK_EQ_INT(xff("203.0.113.7:5678"), 1);
    IS("203.0.113.7:5678");
    CHECK_EQ_INT(xff("2001:db8::7"), 1);
    IS("[2001:db8::7]");
    CHECK_EQ_INT(xff("[2001:db8::7]"), 1);
    IS("[2001:db8::7]");
    CHECK_EQ_INT(xff("[2001:db8::7]:443"), 1);
    IS("[2001:db8::7]:443");
    CHECK_EQ_INT(xff("203.0.113.7:0"), 1);
    IS("203.0.113.7");
    CHECK_EQ_INT(xff("203.0.113.7:65535"), 1);
    IS("203.0.113.7:65535");
    CHECK_EQ_INT(xff("\t203.0.113.7\t,\t10.0.0.2  "), 1);
    IS("203.0.113.7");
    CHECK_EQ_INT(xff(",203.0.113.7,,10.0.0.2,"), 1);
    IS("203.0.113.7");
    CHECK_EQ_INT(xff("1::"), 1);
    IS("[1::]");
}

TEST(xff_malformed_where_the_walk_looks_keeps_the_peer)
{
    static const char *const bad[] = {
        "garbage",
        "203.0.113.7:",
        "203.0.113.7:65536",
        "203.0.113.7:-1",
        "203.0.113.7:1:2",
        "[2001:db8::7",
        "[2001:db8::7]x",
        "[203.0.113.7]",
        "2001:db8::7]",
        "01.2.3.4",
        "1.2.3",
        "256.0.0.1",
        "\"203.0.113.7\"",
        "203.0.113.7 8.8.8.8",
        "fe80::1%eth0",
        "example.com",
        "[]",
        "[2001:db8::7]:",
        "203.0.113.7:123456",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = xff(bad[i]);
        if (r != -1) fprintf(stderr, "  \"%s\" was taken\n", bad[i]);
        CHECK_EQ_INT(r, -1);
        IS("peer");
    }
    /* right of trusted hops, or between them */
    CHECK_EQ_INT(xff("garbage, 10.0.0.2"), -1);
    CHECK_EQ_INT(xff("203.0.113.7, garbage, 10.0.0.2"), -1);
    CHECK_EQ_INT(xff("203.0.113.7, garbage"), -1);
    IS("peer");
    CHECK(strstr(why_, "IP address") != NULL);
}

TEST(xff_malformed_left_of_the_client_is_never_looked_at)
{
    CHECK_EQ_INT(xff("garbage, 203.0.113.7"), 1);
    IS("203.0.113.7");
    CHECK_EQ_INT(xff("\"\", [, ]]], 203.0.113.7, 10.0.0.2"), 1);
    IS("203.0.113.7");
    const char *v[] = {"not an address", "203.0.113.7"};
    CHECK_EQ_INT(client(HTD_FWD_XFF, PEER, PROXIES, v, 2), 1);
    IS("203.0.113.7");
}

TEST(unknown_hops_give_the_proxy_that_wrote_them)
{
    CHECK_EQ_INT(xff("unknown, 10.0.0.2"), 1);
    IS("10.0.0.2");
    CHECK_EQ_INT(xff("203.0.113.7, unknown, 10.0.0.3, 10.0.0.2"), 1);
    IS("10.0.0.3");
    CHECK_EQ_INT(xff("UNKNOWN"), 0);
    IS("peer");
    /* the proxy is the one right of the right-most unknown hop */
    CHECK_EQ_INT(xff("unknown, 10.0.0.3, unknown"), 0);
    IS("peer");
    CHECK_EQ_INT(xff("unknown, 10.0.0.4, unknown, 10.0.0.3, 10.0.0.2"), 1);
    IS("10.0.0.3");
    CHECK_EQ_INT(fwd("for=unknown, for=10.0.0.2"), 1);
    IS("10.0.0.2");
    CHECK_EQ_INT(fwd("for=\"_gazonk\""), 0);
    IS("peer");
    CHECK_EQ_INT(fwd("for=_hidden, for=10.0.0.2"), 1);
    IS("10.0.0.2");
    CHECK_EQ_INT(fwd("for=\"_hidden:_port\", for=10.0.0.2"), 1);
    IS("10.0.0.2");
    CHECK_EQ_INT(fwd("for=\"unknown:8080\""), 0);
    /* an untrusted address right of it decides first */
    CHECK_EQ_INT(fwd("for=unknown, for=203.0.113.7, for=10.0.0.2"), 1);
    IS("203.0.113.7");
    /* and an element without for= names no one */
    CHECK_EQ_INT(fwd("for=203.0.113.7, proto=https;host=example.com, for=10.0.0.2"), 1);
    IS("10.0.0.2");
    CHECK_EQ_INT(fwd("proto=https"), 0);
    CHECK_EQ_INT(fwd(";"), 0);
}

/* ---- Forwarded ---- */

TEST(forwarded_rfc_7239_examples)
{
    CHECK_EQ_INT(fwd("for=\"_gazonk\""), 0);
    CHECK_EQ_INT(fwd("For=\"[2001:db8:cafe::17]:4711\""), 1);
    IS("[2001:db8:cafe::17]:4711");
    CHECK_EQ_INT(fwd("for=192.0.2.60;proto=http;by=203.0.113.43"), 1);
    IS("192.0.2.60");
    CHECK_EQ_INT(fwd("for=192.0.2.43, for=198.51.100.17"), 1);
    IS("198.51.100.17");
    const char *v[] = {"for=192.0.2.43, for=198.51.100.17"};
    CHECK_EQ_INT(client(HTD_FWD_FORWARDED, PEER, "10.0.0.0/8 198.51.100.0/24", v, 1), 1);
    IS("192.0.2.43");
    CHECK_EQ_INT(fwd("for=192.0.2.43,for=\"[2001:db8:cafe::17]\",for=unknown"), 0);
}

TEST(forwarded_syntax_that_is_accepted)
{
    CHECK_EQ_INT(fwd("FOR=203.0.113.7"), 1);
    IS("203.0.113.7");
    CHECK_EQ_INT(fwd("for=\"203.0.113.7:8080\""), 1);
    IS("203.0.113.7:8080");
    CHECK_EQ_INT(fwd("for=\"203.0.113.7:_abc\""), 1);
    IS("203.0.113.7");
    CHECK_EQ_INT(fwd("for=\"203.0.113.7\""), 1);
    CHECK_EQ_INT(fwd("for=\"2\\03.0.113.\\7\""), 1); /* quoted-pairs */
    IS("203.0.113.7");
    CHECK_EQ_INT(fwd("proto=https;for=203.0.113.7;host=\"a;b,c\""), 1);
    IS("203.0.113.7");
    CHECK_EQ_INT(fwd("for=203.0.113.7 ; proto=https , for=10.0.0.2"), 1);
    IS("203.0.113.7");
    CHECK_EQ_INT(fwd("for=203.0.113.7;;proto=https;"), 1);
    CHECK_EQ_INT(fwd("for=203.0.113.7;secret=\"x\";Ext-1=y"), 1);
    CHECK_EQ_INT(fwd("  for=203.0.113.7  "), 1);
    CHECK_EQ_INT(fwd("for=203.0.113.7;by=\"[2001:db8::1]:80\";host=\"\""), 1);
    IS("203.0.113.7");
    /* a comma in a quoted string does not end the element */
    CHECK_EQ_INT(fwd("for=203.0.113.9;ext=\"a, for=192.0.2.1\", for=10.0.0.2"), 1);
    IS("203.0.113.9");
    /* obs-text and escaped quotes in other parameters */
    CHECK_EQ_INT(fwd("for=203.0.113.7;ext=\"\xe2\x82\xac \\\" x\""), 1);
}

TEST(forwarded_malformed_where_the_walk_looks_keeps_the_peer)
{
    static const char *const bad[] = {
        "for=[2001:db8::7]",                      /* IPv6 must be quoted */
        "for=203.0.113.7:80",                     /* so must a port */
        "for=\"2001:db8::7\"",                    /* IPv6 needs its brackets */
        "for=\"[2001:db8::7]:\"",                 /* an empty port */
        "for=\"[2001:db8::7]:99999\"",            /* a port out of range */
        "for=\"203.0.113.7:_\"",                  /* an obfport needs a character */
        "for=\"_\"",                              /* so does an obfnode */
        "for=\"_a b\"",                           /* and only those of the grammar */
        "for=203.0.113.7;for=10.0.0.2",           /* for= twice */
        "proto=http;for=203.0.113.7;proto=https", /* proto= twice */
        "for = 203.0.113.7",                      /* spaces around '=' */
        "for =203.0.113.7",
        "for= 203.0.113.7",
        "for=",                             /* no value */
        "for",                              /* no '=' */
        "=203.0.113.7",                     /* no name */
        "for=203.0.113.7 proto=https",      /* no ';' */
        "for=\"203.0.113.7",                /* unterminated */
        "for=\"203.0.113.7\\\"",            /* the quote escaped */
        "for=\"203.0.113.7\"x",             /* text after the quoted string */
        "for=\"203.0.\x01\x31\x31\x33.7\"", /* a control character */
        "for=garbage",
        "for=01.2.3.4",
        "for=\"\"",
        "f\"or=203.0.113.7",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = fwd(bad[i]);
        if (r != -1) fprintf(stderr, "  \"%s\" was taken\n", bad[i]);
        CHECK_EQ_INT(r, -1);
        IS("peer");
    }
    /* a for= value longer than any node */
    char longv[400] = "for=\"_";
    memset(longv + 6, 'a', 300);
    strcpy(longv + 306, "\"");
    CHECK_EQ_INT(fwd(longv), -1);
    /* but long values of other parameters are no matter */
    char longext[400] = "for=203.0.113.7;ext=\"";
    memset(longext + 21, 'a', 300);
    strcpy(longext + 321, "\"");
    CHECK_EQ_INT(fwd(longext), 1);
}

TEST(forwarded_malformed_left_of_the_client_is_never_looked_at)
{
    CHECK_EQ_INT(fwd("for=garbage, for=203.0.113.7, for=10.0.0.2"), 1);
    IS("203.0.113.7");
    CHECK_EQ_INT(fwd("for=[::1];;=, for=203.0.113.7"), 1);
    IS("203.0.113.7");
    /* an unterminated quote on a line of its own ends with that line */
    const char *v[] = {"for=\"garbage", "for=203.0.113.7"};
    CHECK_EQ_INT(client(HTD_FWD_FORWARDED, PEER, PROXIES, v, 2), 1);
    IS("203.0.113.7");
    /* a quote a client opens swallows what a proxy appends to its line: the
     * hop the walk needs is malformed, and the peer is kept */
    CHECK_EQ_INT(fwd("for=\"garbage, for=203.0.113.7"), -1);
    CHECK_EQ_INT(fwd("for=203.0.113.9;x=\"a, for=\"[2001:db8::7]\""), -1);
    IS("peer");
}

int main(void)
{
    RUN_TESTS();
}
