/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * accept.h - the Accept field: which of two media types a client prefers,
 * for what can answer in either (a directory listing's HTML or JSON, the
 * metrics' text or JSON).
 */
#ifndef HTD_ACCEPT_H
#define HTD_ACCEPT_H

#include "htd.h"

/* Does the Accept field value prefer type/sub to other_type/other_sub? Each
 * gets the q-value of the most specific media range that matches it (an
 * exact type/subtype, then a wildcard subtype, then the wildcard for every
 * type; the first of equally specific ones; q=0 if none matches), and the
 * first wins only with a strictly higher q. Media type parameters other than
 * q are ignored; a malformed element is skipped. An absent (v.p == NULL) or
 * empty field prefers neither: 0. */
int accept_prefers(htd_str accept, const char *type, const char *sub, const char *other_type,
                   const char *other_sub);

#endif
