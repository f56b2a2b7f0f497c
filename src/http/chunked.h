/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * chunked.h - incremental decoder for the chunked transfer coding of a request
 * body (RFC 9112 section 7.1). Pure and byte-driven: it can be fed any split of
 * the input, and it decodes in place.
 */
#ifndef HTD_CHUNKED_H
#define HTD_CHUNKED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct htd_chunked {
    int state;            /* private */
    uint64_t remaining;   /* private: data bytes left in the current chunk */
    size_t line_bytes;    /* private: bytes of the current size or trailer line */
    size_t trailer_bytes; /* private: bytes of trailer fields so far */
    int done;             /* set once the last chunk and the trailer section are read */
} htd_chunked;

/*
 * Decodes buf[0..len) in place: the data bytes found are moved to the front of
 * buf and their count stored in *out_len. Returns how many input bytes were
 * consumed; that is len unless the body ended inside buf (done is then set and
 * the rest belongs to the next request). Returns -1 for a malformed body
 * (bad size, size overflow, missing CRLF, bad extension or trailer
 * characters, overlong lines or trailers), with *why set to a short sentence.
 */
ssize_t htd_chunked_decode(htd_chunked *c, char *buf, size_t len, size_t *out_len,
                           const char **why);

#endif
