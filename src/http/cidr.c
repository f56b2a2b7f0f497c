/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cidr.c - parsing CIDR ranges once, at configuration load, and matching
 * addresses against them on every request.
 *
 * Parsing is strict because a range that means something other than what its
 * author read is a hole: "10.0.0.1/8" is refused rather than silently widened
 * to 10.0.0.0/8, and a hostname is refused rather than resolved (once, at
 * load, to whatever DNS said then).
 */
#include "cidr.h"

#include "errbuf.h"

#include <arpa/inet.h>
#include <assert.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int htd_prefix_match(const uint8_t net[16], unsigned bits, const uint8_t a[16])
{
    assert(bits <= 128);
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(net, a, whole) != 0) return 0;
    if (rest == 0) return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[whole] & mask) == net[whole];
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

int htd_cidr_parse(const char *s, size_t len, htd_cidr *out, char *err, size_t errlen)
{
    int shown = len > 80 ? 80 : (int)len; /* how much of s a message quotes */
    if (len == 0) return errbuf(err, errlen, "an empty address");
    if (memchr(s, '\0', len))
        return errbuf(err, errlen, "%.*s is not an IP address or a CIDR", shown, s);

    htd_cidr r = {0};
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    int v6 = memchr(s, ':', alen) != NULL;
    char buf[INET6_ADDRSTRLEN];
    int ok = alen < sizeof buf;
    if (ok) {
        memcpy(buf, s, alen);
        buf[alen] = '\0';
        ok = v6 ? inet_pton(AF_INET6, buf, r.addr) == 1 : inet_pton(AF_INET, buf, r.addr + 12) == 1;
    }
    if (!ok && !v6 && has_letter(s, alen))
        return errbuf(err, errlen,
                      "%.*s is a hostname; write an address (hostnames are not resolved)", shown,
                      s);
    if (!ok) return errbuf(err, errlen, "%.*s is not an IP address or a CIDR", shown, s);
    if (!v6) memcpy(r.addr, v4_mapped, sizeof v4_mapped);

    unsigned max = v6 ? 128 : 32, prefix = max;
    if (slash) {
        const char *d = slash + 1;
        size_t dlen = len - alen - 1;
        size_t digits = 0;
        while (digits < dlen && d[digits] >= '0' && d[digits] <= '9')
            digits++;
        if (dlen == 0 || dlen > 3 || digits != dlen)
            return errbuf(err, errlen, "%.*s: the prefix length after '/' must be a number", shown,
                          s);
        prefix = 0;
        for (size_t i = 0; i < dlen; i++)
            prefix = prefix * 10 + (unsigned)(d[i] - '0');
        if (prefix > max)
            return errbuf(err, errlen, "%.*s: /%u is longer than an IPv%d address (%u bits)", shown,
                          s, prefix, v6 ? 6 : 4, max);
    }
    r.bits = (uint8_t)(v6 ? prefix : 96 + prefix);
    /* IPv4 addresses are compared as ::ffff:a.b.c.d, so a short IPv6 prefix
     * (::/8, even ::/0) would cover them all: an IPv6 range matches IPv6
     * addresses only, unless it is itself within ::ffff:0:0/96. */
    r.family = !v6 || (r.bits >= 96 && memcmp(r.addr, v4_mapped, sizeof v4_mapped) == 0) ? 4 : 6;

    if (clear_host_bits(r.addr, r.bits)) {
        char net[INET6_ADDRSTRLEN];
        if (v6)
            inet_ntop(AF_INET6, r.addr, net, sizeof net);
        else
            inet_ntop(AF_INET, r.addr + 12, net, sizeof net);
        return errbuf(err, errlen, "%.*s has bits set past /%u; did you mean %s/%u?", shown, s,
                      prefix, net, prefix);
    }
    *out = r;
    return 0;
}

int htd_cidr_key(const struct sockaddr_in6 *sa, uint8_t a[16])
{
    if (sa->sin6_family == AF_INET6) {
        memcpy(a, &sa->sin6_addr, 16);
        return memcmp(a, v4_mapped, sizeof v4_mapped) == 0 ? 4 : 6;
    }
    if (sa->sin6_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)sa;
        memcpy(a, v4_mapped, sizeof v4_mapped);
        memcpy(a + 12, &v4->sin_addr, 4);
        return 4;
    }
    memset(a, 0, 16);
    return 0;
}

int htd_cidr_list_match(const htd_cidr *list, size_t n, const struct sockaddr_in6 *sa)
{
    uint8_t a[16];
    int family = htd_cidr_key(sa, a);
    for (size_t i = 0; i < n; i++)
        if (htd_cidr_match(&list[i], family, a)) return 1;
    return 0;
}
