/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * access.c - "allow" / "deny" rules over client addresses, parsed once at
 * configuration load and checked on every request.
 *
 * The addresses and ranges are src/http/cidr.c's, which parses and matches
 * them for trusted proxies too: IPv4 lives inside the IPv6 space as
 * ::ffff:a.b.c.d, in rules and in the peer checked against them, so a peer
 * that reaches a dual-stack socket as ::ffff:10.1.2.3 meets exactly the rules
 * that 10.1.2.3 on an IPv4 socket would. What is the rules' own: the keyword,
 * "all", and the first match deciding.
 */
#include "access.h"

#include "cidr.h"
#include "errbuf.h"

#include <string.h>

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
    if (strcmp(x, "all") != 0) {
        htd_cidr c;
        if (htd_cidr_parse(x, len, &c, err, errlen) < 0) return -1;
        r.family = c.family;
        r.bits = c.bits;
        memcpy(r.addr, c.addr, sizeof r.addr);
    }
    *out = r;
    return 0;
}

int access_check(const access_rule *rules, size_t n, const struct sockaddr_in6 *peer)
{
    uint8_t a[16];
    int family = htd_cidr_key(peer, a);
    for (size_t i = 0; i < n; i++) {
        const access_rule *r = &rules[i];
        if (r->family == 0 ||
            (family != 0 && r->family == family && htd_prefix_match(r->addr, r->bits, a)))
            return r->allow != 0;
    }
    return 1;
}
