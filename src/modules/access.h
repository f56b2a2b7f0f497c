/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * access.h - allowing or denying a request by its client's address, with an
 * ordered list of "allow X" / "deny X" rules as in nginx.
 */
#ifndef HTD_ACCESS_H
#define HTD_ACCESS_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One rule: allow or deny, and a range as src/http/cidr.h keeps it (an IPv4
 * address stored IPv4-mapped, so a v4 /8 is bits 96 + 8 and a v4 rule never
 * matches a native IPv6 peer, nor a short v6 rule an IPv4 one), or "all":
 * family 0, bits 0.
 */
typedef struct access_rule {
    uint8_t allow;    /* 1 allow, 0 deny */
    uint8_t family;   /* 4 or 6: the peers it can match; 0 for "all" */
    uint8_t bits;     /* prefix length over addr (0..128) */
    uint8_t addr[16]; /* bits past the prefix are zero */
} access_rule;

/*
 * Parses "allow X" or "deny X": the keyword, exactly one space, and X, which
 * is "all", or an IPv4 or IPv6 address or a CIDR ("10.0.0.0/8", "fd00::/8",
 * "::1/128") as htd_cidr_parse takes it, with nothing after it: host bits set
 * past the prefix ("10.0.0.1/8"; the message suggests 10.0.0.0/8), a prefix
 * longer than the address (/33 for v4, /129 for v6), a hostname, and anything
 * else are refused.
 * Returns 0 with *out filled, or -1 with a one-line reason in err and *out
 * untouched.
 */
int access_parse(const char *s, access_rule *out, char *err, size_t errlen);

/*
 * Decides for a peer: an AF_INET6 sockaddr_in6, or an AF_INET sockaddr_in
 * kept in the sockaddr_in6 storage it arrived in. An IPv4-mapped IPv6 peer
 * counts as its IPv4 address. The first rule that matches decides; when none
 * does, the peer is allowed. A peer of any other family has no address to
 * compare, so only "all" rules (bits 0) match it. Returns 1 allowed, 0 denied.
 * Does not allocate.
 */
int access_check(const access_rule *rules, size_t n, const struct sockaddr_in6 *peer);

#endif
