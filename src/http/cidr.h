/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cidr.h - IP addresses against CIDR ranges: the one matcher behind access
 * rules (src/modules/access.c) and trusted proxies (forwarded.c). Pure.
 *
 * Every address lives in the IPv6 space: an IPv4 address is kept IPv4-mapped
 * (::ffff:a.b.c.d), so a v4 /8 is 96 + 8 bits, and a peer that reaches a
 * dual-stack socket as ::ffff:10.1.2.3 meets exactly the ranges that 10.1.2.3
 * on an IPv4 socket would. A range has a family, 4 or 6, and matches only
 * addresses of its own: a short IPv6 prefix (::/8, even ::/0) covers no IPv4
 * address through its mapped form.
 */
#ifndef HTD_CIDR_H
#define HTD_CIDR_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

typedef struct htd_cidr {
    uint8_t family;   /* 4 or 6: the addresses it can match */
    uint8_t bits;     /* prefix length over addr (0..128; 96 + n for IPv4 /n) */
    uint8_t addr[16]; /* bits past the prefix are zero */
} htd_cidr;

/*
 * Parses s[0..len): an IPv4 or IPv6 address, or a CIDR ("10.0.0.0/8",
 * "fd00::/8", "::ffff:10.0.0.0/104"), with nothing before or after it. A
 * range written in IPv6 within ::ffff:0:0/96 is an IPv4 range. Refuses host
 * bits set past the prefix ("10.0.0.1/8"; the message suggests 10.0.0.0/8), a
 * prefix longer than the address, a prefix with a sign or more than three
 * digits, an octet with a leading zero, a zone ("fe80::1%eth0"), a hostname
 * (never resolved), and anything else. Returns 0 with *out filled, or -1 with
 * a one-line reason in err and *out untouched.
 */
int htd_cidr_parse(const char *s, size_t len, htd_cidr *out, char *err, size_t errlen);

/*
 * The 16 bytes a socket address is matched as, into a: an AF_INET6
 * sockaddr_in6, or an AF_INET sockaddr_in kept in sockaddr_in6 storage.
 * Returns its family: 4 (AF_INET, or IPv4-mapped IPv6), 6, or 0 for any
 * other family (a is then zero, and no range matches it).
 */
int htd_cidr_key(const struct sockaddr_in6 *sa, uint8_t a[16]);

/* Whether a's first bits bits (0..128) equal net's, whose later bits are zero. */
int htd_prefix_match(const uint8_t net[16], unsigned bits, const uint8_t a[16]);

/* Whether the range contains the address of that family and key. */
static inline int htd_cidr_match(const htd_cidr *c, int family, const uint8_t a[16])
{
    return family != 0 && c->family == family && htd_prefix_match(c->addr, c->bits, a);
}

/* Whether any of the n ranges contains sa. */
int htd_cidr_list_match(const htd_cidr *list, size_t n, const struct sockaddr_in6 *sa);

#endif
