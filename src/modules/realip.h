/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * realip.h - the client's address behind trusted proxies: a request whose
 * peer is in trusted_proxies has its client (hr->client) taken from
 * X-Forwarded-For, or Forwarded (RFC 7239) if real_ip_header says so,
 * before anything looks at it: the rules choosing access, rate limits,
 * the access log, scripts' REMOTE_ADDR. One header, never both: a client
 * could add the one the proxies do not write.
 */
#ifndef HTD_REALIP_H
#define HTD_REALIP_H

#include "module.h"

extern const htd_module realip_module;

#endif
