/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * gzip.h - compressing response bodies on the fly (--gzip): the gzip filter.
 */
#ifndef HTD_GZIP_H
#define HTD_GZIP_H

struct htd_req;

#include <stdint.h>

#include "module.h"

#define GZIP_MIN 256 /* smaller files gain too little to be worth it */

/* The module (its filter is installed by the static module, for files). */
extern const htd_module gzip_module;

/* Is a Content-Type worth compressing (text, JSON, JavaScript, XML, SVG)? */
int gzip_compressible(const char *ctype);

/* Makes gzip the filter of hr's body (module.h): the pieces its generator
 * gives response_body are compressed, as a gzip stream, before they are
 * framed; a body of len bytes (-1: not known beforehand) no longer than
 * GZ_WHOLE_MAX (gzip.c) is compressed whole, once its last piece comes.
 * The caller's head says Content-Encoding: gzip and gives no length. -1 if
 * it cannot (out of memory): nothing is changed. */
int gzip_install(struct htd_req *hr, int64_t len);

#endif
