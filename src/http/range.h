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

#define HTD_MAX_RANGES 16

/*
 * Parses a Range value against a representation of size bytes, into at most
 * max ranges (clipped to the size, in the order given).
 * Returns the count (> 0) of satisfiable ranges; 0 when the field must be
 * ignored and the whole representation sent (not "bytes=", bad syntax, more
 * than max ranges); -1 when it is valid but no range is satisfiable (416).
 */
int htd_range_parse(const char *v, size_t len, uint64_t size, htd_range *out, int max);

#endif
