/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_proxyproto.c - libFuzzer target for the PROXY protocol parser.
 *
 * The input is the start of a connection. It is parsed whole and as a prefix
 * of a length taken from the input, each from a buffer of exactly its size:
 * an answer for the prefix other than "more" must be the whole's, and a
 * preamble found whole must be "more" at any shorter length, and no shorter
 * than the length a "more" names. What a preamble gives is checked against
 * its bytes: a v1 TCP4 line is the one its addresses print as, v2 addresses
 * are the block's bytes, and a v1 result written out again as v2 parses to
 * the same addresses. Any broken invariant aborts.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "proxyproto.h"

static int parse(const uint8_t *data, size_t len, htd_proxy_hdr *h, size_t *need, const char **why)
{
    char *b = malloc(len ? len : 1);
    ENSURE(b != NULL);
    memcpy(b, data, len);
    memset(h, 0xa5, sizeof *h);
    *need = 0;
    *why = NULL;
    int r = htd_proxy_parse(b, len, h, need, why);
    free(b);
    ENSURE(r >= -1);
    if (r < 0) ENSURE(*why != NULL && (*why)[0] != '\0');
    if (r == 0) ENSURE(*need > len && *need <= HTD_PROXY_V2_MAX);
    if (r > 0) ENSURE((size_t)r <= len && r <= HTD_PROXY_V2_MAX);
    return r;
}

static int zeroed(const struct sockaddr_in6 *sa)
{
    static const struct sockaddr_in6 zero;
    return memcmp(sa, &zero, sizeof zero) == 0;
}

static int family(const struct sockaddr_in6 *sa)
{
    return sa->sin6_family;
}

static const uint8_t *addr_bytes(const struct sockaddr_in6 *sa)
{
    if (family(sa) == AF_INET)
        return (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    return sa->sin6_addr.s6_addr;
}

static uint16_t port_be(const struct sockaddr_in6 *sa)
{
    if (family(sa) == AF_INET) return ((const struct sockaddr_in *)(const void *)sa)->sin_port;
    return sa->sin6_port;
}

static void check_result(const uint8_t *data, int r, const htd_proxy_hdr *h)
{
    ENSURE(h->version == 1 || h->version == 2);
    if (h->local) {
        ENSURE(zeroed(&h->src) && zeroed(&h->dst));
    } else {
        ENSURE(family(&h->src) == AF_INET || family(&h->src) == AF_INET6);
        ENSURE(family(&h->dst) == family(&h->src));
    }
    if (h->version == 1) {
        ENSURE(r >= 15 && r <= HTD_PROXY_V1_MAX);
        ENSURE(memcmp(data, "PROXY ", 6) == 0 && data[r - 2] == '\r' && data[r - 1] == '\n');
        for (int i = 6; i < r - 2; i++)
            ENSURE(data[i] >= 0x20 && data[i] <= 0x7e);
        if (!h->local && family(&h->src) == AF_INET) {
            /* IPv4 and ports have one spelling: the line must be it */
            char s[INET_ADDRSTRLEN], d[INET_ADDRSTRLEN], line[HTD_PROXY_V1_MAX + 1];
            inet_ntop(AF_INET, addr_bytes(&h->src), s, sizeof s);
            inet_ntop(AF_INET, addr_bytes(&h->dst), d, sizeof d);
            int n = snprintf(line, sizeof line, "PROXY TCP4 %s %s %u %u\r\n", s, d,
                             ntohs(port_be(&h->src)), ntohs(port_be(&h->dst)));
            ENSURE(n == r && memcmp(line, data, (size_t)r) == 0);
        }
    } else {
        ENSURE(r >= 16 && r == 16 + (data[14] << 8 | data[15]));
        ENSURE((data[12] & 0xf) == 1 || h->local);
        if (!h->local) {
            size_t al = family(&h->src) == AF_INET ? 4 : 16;
            ENSURE(data[13] == (al == 4 ? 0x11 : 0x21));
            ENSURE(memcmp(addr_bytes(&h->src), data + 16, al) == 0);
            ENSURE(memcmp(addr_bytes(&h->dst), data + 16 + al, al) == 0);
            uint16_t sp = port_be(&h->src), dp = port_be(&h->dst);
            ENSURE(memcmp(&sp, data + 16 + 2 * al, 2) == 0);
            ENSURE(memcmp(&dp, data + 18 + 2 * al, 2) == 0);
        }
    }
}

/* A v1 result written as v2 must parse to the same addresses. */
static void check_as_v2(const htd_proxy_hdr *h)
{
    uint8_t b[16 + 36];
    size_t al = family(&h->src) == AF_INET ? 4 : 16;
    memcpy(b, "\r\n\r\n\0\r\nQUIT\n\x21", 13);
    b[13] = al == 4 ? 0x11 : 0x21;
    b[14] = 0;
    b[15] = (uint8_t)(2 * al + 4);
    memcpy(b + 16, addr_bytes(&h->src), al);
    memcpy(b + 16 + al, addr_bytes(&h->dst), al);
    uint16_t sp = port_be(&h->src), dp = port_be(&h->dst);
    memcpy(b + 16 + 2 * al, &sp, 2);
    memcpy(b + 18 + 2 * al, &dp, 2);
    htd_proxy_hdr h2;
    size_t need;
    const char *why;
    ENSURE(parse(b, 20 + 2 * al, &h2, &need, &why) == (int)(20 + 2 * al));
    ENSURE(h2.version == 2 && !h2.local);
    ENSURE(memcmp(&h2.src, &h->src, sizeof h->src) == 0);
    ENSURE(memcmp(&h2.dst, &h->dst, sizeof h->dst) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t hash = fuzz_hash(data, size);
    htd_proxy_hdr whole, part;
    size_t need, pneed;
    const char *why, *pwhy;
    int r = parse(data, size, &whole, &need, &why);
    if (r > 0) {
        check_result(data, r, &whole);
        if (whole.version == 1 && !whole.local) check_as_v2(&whole);
    }

    /* a prefix: its answer, unless "more", is the whole's */
    size_t k = size ? hash % (size + 1) : 0;
    int rk = parse(data, k, &part, &pneed, &pwhy);
    if (rk != 0) {
        ENSURE(rk == r);
        if (r < 0) ENSURE(pwhy == why);
        if (r > 0) ENSURE(memcmp(&part, &whole, sizeof part) == 0);
    } else {
        if (r > 0) ENSURE(k < (size_t)r && pneed <= (size_t)r);
        /* no preamble is shorter than the length "more" names */
        size_t m = pneed - 1;
        if (m > k && m <= size) ENSURE(parse(data, m, &part, &need, &pwhy) <= 0);
    }
    /* a preamble found is "more" at any shorter length */
    if (r > 0) ENSURE(parse(data, (hash >> 16) % (size_t)r, &part, &pneed, &pwhy) == 0);
    return 0;
}
