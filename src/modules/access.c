/*
 * access.c - "allow" / "deny" rules over client addresses, parsed once at
 * configuration load and checked on every request.
 *
 * IPv4 lives inside the IPv6 space as ::ffff:a.b.c.d, both in rules and in
 * the peer address checked against them. One representation means one
 * comparison, and a peer that reaches a dual-stack socket as ::ffff:10.1.2.3
 * meets exactly the rules that 10.1.2.3 on an IPv4 socket would.
 *
 * Parsing is strict because a rule that means something other than what its
 * author read is a hole: "10.0.0.1/8" is refused rather than silently widened
 * to 10.0.0.0/8, and a hostname is refused rather than resolved (once, at
 * load, to whatever DNS said then).
 */
#include "access.h"

#include "errbuf.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Whether a's first bits bits equal rule's (whose later bits are zero). */
static int in_prefix(const uint8_t *rule, const uint8_t *a, unsigned bits)
{
    assert(bits <= 128);
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(rule, a, whole) != 0) return 0;
    if (rest == 0) return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[whole] & mask) == rule[whole];
}

/* Clears addr's bits past the prefix; returns whether any was set. */
static int clear_host_bits(uint8_t *addr, unsigned bits)
{
    int set = 0;
    for (unsigned i = 0; i < 16; i++) {
        unsigned keep = bits >= 8 * (i + 1) ? 8 : bits > 8 * i ? bits - 8 * i : 0;
        uint8_t mask = keep ? (uint8_t)(0xff << (8 - keep)) : 0;
        set |= (addr[i] & ~mask) != 0;
        addr[i] &= mask;
    }
    return set;
}

static int has_letter(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')) return 1;
    return 0;
}

int access_parse(const char *s, access_rule *out, char *err, size_t errlen)
{
    uint8_t allow;
    const char *x;
    if (strncmp(s, "allow ", 6) == 0) {
        allow = 1;
        x = s + 6;
    } else if (strncmp(s, "deny ", 5) == 0) {
        allow = 0;
        x = s + 5;
    } else {
        return errbuf(err, errlen, "\"%.80s\": expected \"allow ADDRESS\" or \"deny ADDRESS\"", s);
    }
    const char *kw = allow ? "allow" : "deny";

    size_t len = strcspn(x, " \t\r\n\v\f");
    if (len == 0 && x[0] == '\0') return errbuf(err, errlen, "\"%s\" without an address", kw);
    if (len == 0)
        return errbuf(err, errlen, "expected exactly one space between \"%s\" and the address", kw);
    if (x[len] != '\0')
        return errbuf(err, errlen, "unexpected text after \"%s %.*s\"", kw,
                      (int)(len > 80 ? 80 : len), x);

    access_rule r = {.allow = allow};
    if (strcmp(x, "all") == 0) {
        *out = r;
        return 0;
    }

    const char *slash = memchr(x, '/', len);
    size_t alen = slash ? (size_t)(slash - x) : len;
    int v6 = memchr(x, ':', alen) != NULL;
    char buf[INET6_ADDRSTRLEN];
    int ok = alen < sizeof buf;
    if (ok) {
        memcpy(buf, x, alen);
        buf[alen] = '\0';
        ok = v6 ? inet_pton(AF_INET6, buf, r.addr) == 1 : inet_pton(AF_INET, buf, r.addr + 12) == 1;
    }
    if (!ok && !v6 && has_letter(x, alen))
        return errbuf(err, errlen,
                      "%.80s is a hostname; write an address (hostnames are not resolved)", x);
    if (!ok) return errbuf(err, errlen, "%.80s is not \"all\", an IP address or a CIDR", x);
    if (!v6) memcpy(r.addr, v4_mapped, sizeof v4_mapped);

    unsigned max = v6 ? 128 : 32, prefix = max;
    if (slash) {
        const char *d = slash + 1;
        size_t dlen = len - alen - 1;
        if (dlen == 0 || dlen > 3 || strspn(d, "0123456789") != dlen)
            return errbuf(err, errlen, "%.80s: the prefix length after '/' must be a number", x);
        prefix = 0;
        for (size_t i = 0; i < dlen; i++)
            prefix = prefix * 10 + (unsigned)(d[i] - '0');
        if (prefix > max)
            return errbuf(err, errlen, "%.80s: /%u is longer than an IPv%d address (%u bits)", x,
                          prefix, v6 ? 6 : 4, max);
    }
    r.bits = (uint8_t)(v6 ? prefix : 96 + prefix);
    /* IPv4 peers are compared as ::ffff:a.b.c.d, so a short IPv6 prefix
     * (::/8, even ::/0) would cover them all: an IPv6 rule matches IPv6
     * peers only, unless it is itself within ::ffff:0:0/96. */
    r.family = !v6 || (r.bits >= 96 && memcmp(r.addr, v4_mapped, sizeof v4_mapped) == 0) ? 4 : 6;

    if (clear_host_bits(r.addr, r.bits)) {
        char net[INET6_ADDRSTRLEN];
        if (v6)
            inet_ntop(AF_INET6, r.addr, net, sizeof net);
        else
            inet_ntop(AF_INET, r.addr + 12, net, sizeof net);
        return errbuf(err, errlen, "%s has bits set past /%u; did you mean %s/%u?", x, prefix, net,
                      prefix);
    }
    *out = r;
    return 0;
}

int access_check(const access_rule *rules, size_t n, const struct sockaddr_in6 *peer)
{
    uint8_t a[16];
    int family = 6;
    if (peer->sin6_family == AF_INET6) {
        memcpy(a, &peer->sin6_addr, sizeof a);
        if (memcmp(a, v4_mapped, sizeof v4_mapped) == 0) family = 4;
    } else if (peer->sin6_family == AF_INET) {
        family = 4;
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)peer;
        memcpy(a, v4_mapped, sizeof v4_mapped);
        memcpy(a + 12, &v4->sin_addr, 4);
    } else {
        family = 0;
    }

    for (size_t i = 0; i < n; i++) {
        const access_rule *r = &rules[i];
        if (r->family == 0 || (r->family == family && in_prefix(r->addr, a, r->bits)))
            return r->allow != 0;
    }
    return 1;
}
