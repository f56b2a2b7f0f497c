/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * proxyproto.h - the PROXY protocol preamble (versions 1 and 2, as HAProxy,
 * AWS NLB and nginx send it) that a proxy puts before a connection's first
 * byte to say whom it relays. Pure: no I/O, no state; it reads only the bytes
 * it is given, so it can be unit-tested and fuzzed alone.
 *
 * A listener takes the preamble only where its configuration says so: a
 * client that could choose to send one could claim any address.
 */
#ifndef HTD_PROXYPROTO_H
#define HTD_PROXYPROTO_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define HTD_PROXY_V1_MAX 107 /* a version 1 line, CRLF included, is at most this long */
/* Version 2's addresses and TLVs after its 16-byte head are at most this many
 * bytes (the head allows 65535). A sender puts the whole preamble in one
 * segment, and what HAProxy and the load balancers send (TCP over IPv6: 36
 * bytes of addresses; TLVs for ALPN, the SNI of up to 255 bytes, a unique ID
 * of up to 128, TLS details, a CRC, the AWS endpoint ID) stays under 1 KiB;
 * more is refused rather than held in the connection's read buffer. */
#define HTD_PROXY_V2_MAX_BLOCK 1024
#define HTD_PROXY_V2_MAX (16 + HTD_PROXY_V2_MAX_BLOCK)

typedef struct htd_proxy_hdr {
    uint8_t version; /* 1 or 2 */
    /* 1 when the preamble names no addresses to use, so the connection keeps
     * its own: v1 "UNKNOWN", v2 LOCAL (the proxy's health checks), and a v2
     * PROXY header whose family or transport is not TCP over IPv4 or IPv6
     * (UNSPEC, UDP, unix sockets). src and dst are then zeroed. */
    uint8_t local;
    /* Otherwise the client's address and port (src) and the address it
     * connected to (dst): an AF_INET sockaddr_in kept in sockaddr_in6 storage,
     * or an AF_INET6 sockaddr_in6, as struct conn keeps its peer. */
    struct sockaddr_in6 src, dst;
} htd_proxy_hdr;

/*
 * Parses the PROXY protocol preamble at the start of buf[0..len), which must
 * begin the connection's bytes; call it again with more bytes (it starts over,
 * the header is small). Returns:
 *   > 0: the preamble's length, with *out filled; the request starts there;
 *   0:   more bytes are needed; *need (when need is not NULL) is a length
 *        no preamble that starts with these bytes is shorter than: len + 1
 *        or more, and the exact length for v2 once its 16-byte head is in;
 *   -1:  not a valid preamble, with *why a short static sentence; the
 *        connection should be closed.
 * It never reads buf[len] or beyond. Every prefix of a valid preamble answers
 * 0, and once an answer is not 0 more bytes do not change it. Strict, as the
 * specification asks: v1 is "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" with
 * single spaces, addresses of the family named (no leading zeros in IPv4),
 * ports 0..65535 written without sign or leading zero, a CRLF within 107
 * bytes and only printable US-ASCII before it; or "PROXY UNKNOWN", then
 * CRLF or a space and any printable text to the CRLF. v2 is the 12-byte
 * signature, version 2, command LOCAL or PROXY, one of the seven family and
 * transport bytes the specification defines (under LOCAL too), a block of at
 * most HTD_PROXY_V2_MAX_BLOCK bytes that holds the family's addresses, and
 * TLVs after them that fill it exactly (skipped; under LOCAL and UNSPEC the
 * block is skipped unread). *out is written only when the answer is > 0.
 */
int htd_proxy_parse(const char *buf, size_t len, htd_proxy_hdr *out, size_t *need,
                    const char **why);

#endif
