/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * range.h - the Range request header for byte ranges (RFC 9110 section 14).
 */
#ifndef HTD_RANGE_H
#define HTD_RANGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct htd_range {
    uint64_t first, last; /* inclusive, last < size */
} htd_range;

/* The most ranges one Range field may name, satisfiable or not; a field
 * with more is ignored (200). It bounds the parts of a multipart response,
 * whose part heads (about 100 bytes each) would otherwise dwarf many tiny
 * ranges, and what one response may queue (conn.c's batchable). */
#define HTD_MAX_RANGES 16

/*
 * Parses a Range value against a representation of size bytes, into at most
 * max ranges (clipped to the size, in the order given).
 * Returns the count (> 0) of satisfiable ranges; 0 when the field must be
 * ignored and the whole representation sent (not "bytes=", bad syntax, more
 * than max ranges); -1 when it is valid but no range is satisfiable (416).
 */
int htd_range_parse(const char *v, size_t len, uint64_t size, htd_range *out, int max);

/*
 * What to send for the n ranges htd_range_parse found in a representation of
 * size bytes (RFC 9110 sections 14.3 and 14.6 allow both steps):
 * - 0, the field to be ignored and the whole representation sent (200), when
 *   the ranges add up to more than size bytes: some bytes are asked for
 *   again and again ("bytes=0-,0-,0-...", the shape of CVE-2011-3192), and
 *   the whole is the most a client may have for one request, as in nginx;
 * - otherwise their count (1..n) once overlapping and adjacent ranges are
 *   merged in place, so that no byte goes out twice and no part borders
 *   another. The client's order is kept: a merged range stands where the
 *   first of its ranges stood; with nothing to merge, r is untouched.
 * Cubic in n at worst, which is at most HTD_MAX_RANGES.
 */
int htd_range_coalesce(htd_range *r, int n, uint64_t size);

#endif
