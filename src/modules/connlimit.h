/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connlimit.h - connections per client address (max_conns_per_ip), as
 * nginx's limit_conn keyed by $binary_remote_addr.
 *
 * Counted when a connection is accepted (its peer known) and let go when it
 * closes, over every worker: a client spreads its connections over the
 * workers (SO_REUSEPORT), so the count is the server's, in a table split
 * into shards each with its own lock, taken once per accept and per close,
 * never per request. An IPv6 client usually owns a whole prefix (a /64 for
 * a home or a cloud machine), so its addresses count as one by ipv6_prefix.
 * The table holds an entry per address with connections open: bounded by
 * the connections themselves.
 */
#ifndef HTD_CONNLIMIT_H
#define HTD_CONNLIMIT_H

#include <netinet/in.h>
#include <stdint.h>

#include "module.h"

extern const htd_module connlimit_module;

/* The key a peer counts under: an IPv4 address whole (as ::ffff:a.b.c.d),
 * an IPv6 one cut to its first prefix6 bits. */
void connlimit_key(const struct sockaddr_in6 *peer, unsigned prefix6, uint8_t key[16]);

#endif
