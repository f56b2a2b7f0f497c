/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * proxyproto.c - the PROXY protocol preamble, versions 1 (a text line) and 2
 * (binary), as HAProxy's proxy-protocol.txt defines them.
 *
 * The parser starts over on every call: the preamble is at most 1040 bytes
 * and comes in one segment, so keeping state between calls would cost more
 * than it saves. Each byte is judged as soon as it can be, in order, and the
 * first fault found is the answer; so a prefix that fails fails for the same
 * reason as anything longer, and the answer for a prefix that does not fail
 * is 0 (more bytes): no guess is made from a part of the preamble.
 *
 * The specification asks a receiver to refuse whatever does not match it
 * exactly, and htd does: a lenient parser here would let two readers of the
 * same bytes (a proxy's logs, htd) disagree about who the client is.
 */
#include "proxyproto.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#define V1_MIN 15 /* "PROXY UNKNOWN\r\n" */
#define V2_HEAD 16

static const char v1_sig[6] = "PROXY ";
static const char v2_sig[12] = "\r\n\r\n\0\r\nQUIT\n";

static int fail(const char **why, const char *msg)
{
    *why = msg;
    return -1;
}

static int more(size_t *need, size_t n)
{
    *need = n;
    return 0;
}

static void set_addr(struct sockaddr_in6 *sa, int family, const void *addr, uint16_t port_be)
{
    memset(sa, 0, sizeof *sa);
    if (family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)sa;
        s4->sin_family = AF_INET;
        s4->sin_port = port_be;
        memcpy(&s4->sin_addr, addr, 4);
    } else {
        sa->sin6_family = AF_INET6;
        sa->sin6_port = port_be;
        memcpy(&sa->sin6_addr, addr, 16);
    }
}

/* The next field of a v1 line in p[*at..end): up to the next space, which is
 * then skipped, or to the end when last. Returns its length, 0 if it is empty
 * (two spaces, or a space at an end) or the fields are one too few or many. */
static size_t v1_field(const char *p, size_t *at, size_t end, int last)
{
    const char *sp = memchr(p + *at, ' ', end - *at);
    if (last ? sp != NULL : sp == NULL) return 0;
    size_t n = last ? end - *at : (size_t)(sp - (p + *at));
    *at += n + !last;
    return n;
}

/* An address of the family named, as inet_pton takes it: IPv4 as four
 * decimal octets without leading zeros, IPv6 in any of its text forms. */
static int v1_addr(const char *s, size_t n, int family, uint8_t *addr)
{
    char buf[INET6_ADDRSTRLEN];
    if (n == 0 || n >= sizeof buf) return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return inet_pton(family, buf, addr) == 1;
}

/* A port: 0..65535 in decimal, no sign, no leading zero (the specification
 * forbids them, lest they be read as octal). */
static int v1_port(const char *s, size_t n, uint16_t *port_be)
{
    if (n == 0 || n > 5 || (s[0] == '0' && n > 1)) return 0;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535) return 0;
    *port_be = htons((uint16_t)v);
    return 1;
}

/* "TCP4 " or "TCP6 " has been read; p[at..end) is the rest of the line. */
static int v1_tcp(const char *p, size_t at, size_t end, int family, htd_proxy_hdr *h,
                  const char **why)
{
    uint8_t src[16], dst[16];
    uint16_t sport, dport;
    size_t f[4], n[4];
    for (int i = 0; i < 4; i++) {
        f[i] = at;
        n[i] = v1_field(p, &at, end, i == 3);
        if (n[i] == 0)
            return fail(why, "a PROXY line needs four fields after the protocol, one space apart");
    }
    if (!v1_addr(p + f[0], n[0], family, src) || !v1_addr(p + f[1], n[1], family, dst))
        return fail(why, family == AF_INET ? "a PROXY TCP4 line with a bad IPv4 address"
                                           : "a PROXY TCP6 line with a bad IPv6 address");
    if (!v1_port(p + f[2], n[2], &sport) || !v1_port(p + f[3], n[3], &dport))
        return fail(why, "a PROXY line with a bad port");
    set_addr(&h->src, family, src, sport);
    set_addr(&h->dst, family, dst, dport);
    return 0;
}

static int parse_v1(const char *b, size_t len, htd_proxy_hdr *out, size_t *need, const char **why)
{
    if (memcmp(b, v1_sig, len < sizeof v1_sig ? len : sizeof v1_sig) != 0)
        return fail(why, "not a PROXY protocol preamble");
    size_t cr = 0;
    for (size_t i = sizeof v1_sig; i < len && !cr; i++) {
        unsigned char c = (unsigned char)b[i];
        if (i > HTD_PROXY_V1_MAX - 2) return fail(why, "no CRLF in a PROXY line's 107 bytes");
        if (c == '\r')
            cr = i;
        else if (c == '\n')
            return fail(why, "a bare LF in a PROXY line");
        else if (c < 0x20 || c > 0x7e)
            return fail(why, "a byte in a PROXY line that is not printable US-ASCII");
    }
    if (!cr) return more(need, len + 1 > V1_MIN ? len + 1 : V1_MIN);
    if (cr + 1 == len) return more(need, len + 1);
    if (b[cr + 1] != '\n') return fail(why, "a CR without LF in a PROXY line");

    htd_proxy_hdr h = {.version = 1};
    const char *p = b + sizeof v1_sig;
    size_t n = cr - sizeof v1_sig;
    if (n >= 7 && memcmp(p, "UNKNOWN", 7) == 0 && (n == 7 || p[7] == ' ')) {
        h.local = 1; /* whatever follows is to be ignored */
    } else if (n >= 5 && (memcmp(p, "TCP4 ", 5) == 0 || memcmp(p, "TCP6 ", 5) == 0)) {
        if (v1_tcp(p, 5, n, p[3] == '4' ? AF_INET : AF_INET6, &h, why) < 0) return -1;
    } else {
        return fail(why, "a PROXY line's protocol is not TCP4, TCP6 or UNKNOWN");
    }
    *out = h;
    return (int)(cr + 2);
}

/* The length of the addresses (and ports) of v2's family and transport byte,
 * for the seven combinations the specification defines; -1 for the rest. */
static int v2_addr_len(unsigned char fam)
{
    switch (fam) {
    case 0x00: /* UNSPEC */
        return 0;
    case 0x11: /* TCP over IPv4 */
    case 0x12: /* UDP over IPv4 */
        return 12;
    case 0x21: /* TCP over IPv6 */
    case 0x22: /* UDP over IPv6 */
        return 36;
    case 0x31: /* unix stream */
    case 0x32: /* unix datagram */
        return 216;
    }
    return -1;
}

static int parse_v2(const unsigned char *b, size_t len, htd_proxy_hdr *out, size_t *need,
                    const char **why)
{
    if (memcmp(b, v2_sig, len < sizeof v2_sig ? len : sizeof v2_sig) != 0)
        return fail(why, "not a PROXY protocol preamble");
    if (len > 12 && b[12] >> 4 != 2) return fail(why, "a PROXY preamble of a version other than 2");
    if (len > 12 && (b[12] & 0xf) > 1)
        return fail(why, "a PROXY v2 command other than LOCAL or PROXY");
    if (len > 13 && v2_addr_len(b[13]) < 0)
        return fail(why, "a PROXY v2 family and transport the specification does not define");
    if (len < V2_HEAD) return more(need, V2_HEAD);
    size_t blen = (size_t)b[14] << 8 | b[15];
    if (blen > HTD_PROXY_V2_MAX_BLOCK) return fail(why, "a PROXY v2 preamble over 1040 bytes");
    if (len < V2_HEAD + blen) return more(need, V2_HEAD + blen);

    htd_proxy_hdr h = {.version = 2, .local = 1};
    const unsigned char *blk = b + V2_HEAD;
    int local = (b[12] & 0xf) == 0;
    size_t alen = (size_t)v2_addr_len(b[13]);
    /* LOCAL: the block is to be discarded, family and all. UNSPEC: the
     * addresses, if any, are to be ignored; so is what would follow them. */
    if (!local && alen > 0) {
        if (blen < alen) return fail(why, "a PROXY v2 block too short for its addresses");
        for (size_t at = alen; at < blen;) {
            if (blen - at < 3) return fail(why, "a PROXY v2 TLV cut short");
            size_t vlen = (size_t)blk[at + 1] << 8 | blk[at + 2];
            if (vlen > blen - at - 3) return fail(why, "a PROXY v2 TLV longer than its block");
            at += 3 + vlen;
        }
        uint16_t sport, dport;
        if (b[13] == 0x11) {
            memcpy(&sport, blk + 8, 2);
            memcpy(&dport, blk + 10, 2);
            set_addr(&h.src, AF_INET, blk, sport);
            set_addr(&h.dst, AF_INET, blk + 4, dport);
            h.local = 0;
        } else if (b[13] == 0x21) {
            memcpy(&sport, blk + 32, 2);
            memcpy(&dport, blk + 34, 2);
            set_addr(&h.src, AF_INET6, blk, sport);
            set_addr(&h.dst, AF_INET6, blk + 16, dport);
            h.local = 0;
        }
        /* UDP and unix sockets: an HTTP connection that came that way has no
         * client address htd could use; the specification lets a receiver
         * treat them as UNSPEC and keep the connection's own. */
    }
    *out = h;
    return (int)(V2_HEAD + blen);
}

int htd_proxy_parse(const char *buf, size_t len, htd_proxy_hdr *out, size_t *need, const char **why)
{
    size_t ignored;
    if (!need) need = &ignored;
    if (len == 0) return more(need, V1_MIN);
    if (buf[0] == v1_sig[0]) return parse_v1(buf, len, out, need, why);
    return parse_v2((const unsigned char *)buf, len, out, need, why);
}
