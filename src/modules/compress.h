/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * compress.h - content codings on the fly: which of gzip and brotli a
 * response may go out in, which one its client gets, and the body encoder
 * (module.h) that codes what handlers answer. The filters are gzip.h's and
 * brotli.h's.
 */
#ifndef HTD_COMPRESS_H
#define HTD_COMPRESS_H

#include <stdint.h>

#include "module.h"

struct htd_req;

/* The module: its body encoder codes handlers' responses. */
extern const htd_module compress_module;

/* The codings (bits 1 << ENC_GZIP, 1 << ENC_BR) a body of type ctype and
 * length len (-1: not known beforehand) may be coded in on the fly for hr:
 * those its rule, vhost or server has on (gzip, brotli), for a type worth
 * compressing and a body not too small to gain. 0 for none. */
unsigned compress_on_the_fly(const struct htd_req *hr, const char *ctype, int64_t len);

/* The coding among fly that hr's client takes best (Accept-Encoding),
 * ENC_IDENTITY when it takes none of them. */
int compress_pick(const struct htd_req *hr, unsigned fly);

/* Makes coding k (ENC_GZIP or ENC_BR) the filter of hr's body, len bytes
 * long (-1: not known beforehand). -1 if it cannot (the memory budget
 * spent): nothing is changed. */
int compress_install(struct htd_req *hr, int k, int64_t len);

/* The header lines of a body coded in k: Content-Encoding and Vary. */
const char *compress_lines(int k);

#endif
