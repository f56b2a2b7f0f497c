/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * errbuf.h - reporting a failure as a sentence in the caller's buffer, the
 * convention of every function here that parses what people write (config
 * values, access rules, redirect templates): -1 and the reason in err.
 */
#ifndef HTD_ERRBUF_H
#define HTD_ERRBUF_H

#include <stddef.h>

/* Formats the reason into err (when err is not NULL) and returns -1. */
int errbuf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
