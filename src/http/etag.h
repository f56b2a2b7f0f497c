/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * etag.h - entity-tags (RFC 9110 section 8.8.3): a file's, and matching
 * the lists of If-Match and If-None-Match (section 13.1).
 */
#ifndef HTD_ETAG_H
#define HTD_ETAG_H

#include <stddef.h>
#include <sys/stat.h>

#include "htd.h"

/* A file's strong entity-tag, with its quotes: "ino-size-mtime_ns" in hex.
 * Returns its length, as snprintf. */
int etag_of_file(const struct stat *st, char *out, size_t cap);

/* Does the entity-tag list v (If-Match, If-None-Match) contain etag? "*"
 * matches. weak: compare ignoring W/ (If-None-Match); else W/ never matches. */
int etag_match(htd_str v, htd_str etag, int weak);

#endif
