/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * brotli.h - compressing response bodies on the fly with brotli (--brotli,
 * brotli = true;): the brotli filter, as gzip.h's for gzip.
 */
#ifndef HTD_BROTLI_H
#define HTD_BROTLI_H

struct htd_req;

#include "module.h"

/* The module (its filter is installed by the static module, for files). */
extern const htd_module brotli_module;

/* Makes brotli the filter of hr's body: what its generator gives
 * response_body is compressed before it is framed. The caller's head says
 * Content-Encoding: br and gives no length. -1 if it cannot (the memory
 * budget is spent, or out of memory): nothing is changed. */
int brotli_install(struct htd_req *hr);

#endif
