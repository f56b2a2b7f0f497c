/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * json.h - text made safe inside a JSON string: for what htd writes as JSON
 * (a job's monitor, a 402's offer, a directory listing, an access log line)
 * from bytes it did not choose (paths, names, a script's stderr, a client's
 * headers).
 */
#ifndef HTD_JSON_H
#define HTD_JSON_H

#include <stddef.h>

/* s[0..n) as the inside of a JSON string (no quotes), valid UTF-8 always:
 * '"' and '\\' escaped, control bytes and DEL as \u00XX, bytes that are not
 * well-formed UTF-8 (overlong forms, surrogates, truncated sequences, code
 * points past U+10FFFF) as \ufffd; the rest as it is. Writes at most
 * cap - 1 bytes and a NUL (when cap > 0), never part of an escape or of a
 * character; returns the length the whole would take. */
size_t json_escape(char *out, size_t cap, const char *s, size_t n);

/* The length of the well-formed UTF-8 sequence at s[0..n) (n > 0), or, if
 * there is none, minus the length of the maximal ill-formed subpart there,
 * which one U+FFFD replaces (Unicode 3.9): 0xff 0xfe is two, a truncated
 * 3-byte sequence one. */
int json_utf8_len(const unsigned char *s, size_t n);

#endif
