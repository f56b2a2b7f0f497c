/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * forwarded.h - the client's address behind trusted proxies, from the
 * Forwarded field (RFC 7239) or X-Forwarded-For. Pure: no I/O, no allocation.
 *
 * Each proxy on the way appends the address it received the request from, so
 * the list reads from the client (left) to the last proxy (right), and only
 * its right end is to be believed: anything a client sends, it can make up.
 * The walk starts at the connection's peer and goes left while the hop is a
 * trusted proxy; the first hop that is not one is the client.
 */
#ifndef HTD_FORWARDED_H
#define HTD_FORWARDED_H

#include <netinet/in.h>
#include <stddef.h>

#include "cidr.h"
#include "htd.h"

/* Which field the proxies in front of htd write. One is chosen by
 * configuration, never both: a proxy that appends to one passes the other on
 * as the client wrote it. */
enum htd_fwd_field {
    HTD_FWD_XFF,       /* X-Forwarded-For: addresses, comma-separated */
    HTD_FWD_FORWARDED, /* Forwarded: for= of each element */
};

/*
 * The client's address for a request that came from peer, given the values
 * of the field's lines in the order they came (several lines are one list; a
 * value may be {NULL, 0}), and the trusted proxies' ranges. *client is always
 * set:
 *   - peer itself, returning 0, when peer is not trusted (the field is then
 *     not even read: anyone can write it), or the field names no hop;
 *   - the right-most hop that is not trusted, returning 1, walking from the
 *     right over trusted addresses; the left-most hop if every hop is trusted;
 *   - where the walk meets a hop that names no address ("unknown", an
 *     obfuscated "_name", or a Forwarded element without for=): the client
 *     cannot be named, so *client is the nearest trusted hop to its right (the
 *     proxy that wrote it), returning 1, or peer, returning 0, if it is the
 *     right-most;
 *   - peer, returning -1 with *why a short sentence, when the hop where the
 *     walk must look is malformed. (Malformed hops to the left of the client
 *     found are never looked at: a client cannot hide behind garbage it sends.
 *     A caller that grants the proxies' own addresses more than the public's
 *     may prefer to refuse the request on -1.)
 * A hop's address is AF_INET (a sockaddr_in in sockaddr_in6 storage) or
 * AF_INET6 as written (IPv4-mapped stays AF_INET6, and matches IPv4 ranges),
 * with its port if the hop gave one, else port 0.
 *
 * X-Forwarded-For: elements separated by commas with optional spaces or tabs
 * around them, empty ones skipped; each is an IPv4 address, optionally with
 * ":port", an IPv6 address, bare or in brackets, the bracketed form optionally
 * with ":port", or "unknown". Forwarded: the RFC 7239 grammar: elements of
 * name=value pairs separated by ';' (spaces around ';' and ',' allowed, none
 * around '='), values tokens or quoted strings, no parameter twice in an
 * element, for= a node: IPv4, "[IPv6]" (quoted, as the grammar requires),
 * "unknown" or "_obfuscated", with ":port" or ":_obfport" (quoted).
 */
int htd_forwarded_client(enum htd_fwd_field field, const htd_str *values, size_t nvalues,
                         const struct sockaddr_in6 *peer, const htd_cidr *trusted, size_t ntrusted,
                         struct sockaddr_in6 *client, const char **why);

#endif
