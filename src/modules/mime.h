/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mime.h - Content-Type by file name extension, from /etc/mime.types with a
 * built-in table of the common web types as a fallback.
 */
#ifndef HTD_MIME_H
#define HTD_MIME_H

#include <stddef.h>

typedef struct htd_mime htd_mime;

/* Loads path (NULL means /etc/mime.types); a missing file leaves only the
 * built-in table. Returns NULL only when out of memory. */
htd_mime *htd_mime_new(const char *path);
void htd_mime_free(htd_mime *m);

/* The Content-Type for a file name, including "; charset=utf-8" for text
 * types; "application/octet-stream" when the extension is unknown. The
 * returned string lives as long as m. */
const char *htd_mime_type(const htd_mime *m, const char *name, size_t len);

#endif
