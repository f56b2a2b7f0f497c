/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * https.h - what a site asks of its HTTPS: a request over TLS must name the
 * host its handshake named (else 421 Misdirected Request), and gets
 * Strict-Transport-Security where its vhost asks for it; a plain HTTP
 * request to a vhost that is HTTPS-only is redirected to https:// (301 or
 * 308).
 */
#ifndef HTD_HTTPS_H
#define HTD_HTTPS_H

#include "module.h"

extern const htd_module https_module;

#endif
