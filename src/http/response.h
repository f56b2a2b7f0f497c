/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * response.h - response heads, and the bodies that generators make. One
 * function writes every head htd sends, so that the status line, Date,
 * Server, framing and Connection are always consistent with what the
 * connection will do next; one path takes a generator's pieces through the
 * request's filter, if it has one, to the framing and the out queue.
 */
#ifndef HTD_RESPONSE_H
#define HTD_RESPONSE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "htd.h"

struct conn;
struct htd_req;

typedef struct resp {
    int status;
    const char *reason; /* a reason phrase of its own (a script's), or NULL for the usual */
    size_t reason_len;
    const char *ctype;    /* Content-Type, or NULL */
    int64_t length;       /* Content-Length, or -1 for none (304, 204) */
    time_t last_modified; /* 0 for none */
    htd_str etag;         /* with its quotes; len 0 for none */
    htd_str location;     /* len 0 for none */
    const char *pre;      /* header lines formatted beforehand, each ending in CRLF */
    size_t pre_len;
    const char *extra; /* more header lines, each ending in CRLF */
    size_t extra_len;
} resp;

const char *htd_reason(int status);

/* Is name a header that frames the message or that htd writes itself
 * (Content-Length, Transfer-Encoding, Connection, Date, Server, Keep-Alive,
 * Upgrade, Trailer)? Nobody else may set those: handlers, config, scripts.
 * name is a token (htd_token_ieq), as every caller has checked. */
int response_owns_header(htd_str name);

/* Asks the server's body encoder (module.h) about the response r that
 * hr's handler makes: 1 if its body is coded (see encode), else 0; the
 * header lines to add are in lines[0..*nlines). */
int response_encode(struct htd_req *hr, const resp *r, char *lines, size_t cap, size_t *nlines);

/* Does a block of header lines, each ending in CRLF, have a field called
 * lower (a lowercase name of len bytes)? */
int response_lines_have(const char *p, size_t n, const char *lower, size_t len);
/* The same field's value, as its offset in p (after the colon and blanks),
 * or -1. */
long response_lines_find(const char *p, size_t n, const char *lower, size_t len);

/* Queues the head of r on c (nothing for an HTTP/0.9 request). 0, or -1 if it
 * does not fit. */
int response_head(struct conn *c, const resp *r);

/* A body that hr's generator (module.h) makes piece by piece follows the
 * head queued for status: in chunks (the head said Transfer-Encoding:
 * chunked) or as it is (the head gave its length, or the connection ends
 * it). Its pieces go through hr->filter when one is set (module.h). */
void response_body_start(struct htd_req *hr, int status, int chunked);

/* The generator's next piece of c's body, p[0..len), the last if last:
 * through the filter, if any, then framed and queued. p must stay as it is
 * until the generator is called again, and the last piece until the
 * request ends (the generator's release hook): a filter may take several
 * turns over a piece. Once the last piece is through, the body ends: the
 * last chunk, the log. 0, or -1 if the response cannot go on (the caller
 * closes the connection). */
int response_body(struct conn *c, const char *p, size_t len, int last);

/* For the filter: passes on p[0..len) of what it made, framed and queued;
 * last ends the body. p must stay as it is until the filter is called
 * again; the last piece is copied. 0, or -1 when out of memory. */
int response_body_out(struct conn *c, const char *p, size_t len, int last);

/* For the connection: the filter said FILTER_MORE; it is called again for
 * the rest of its piece. 0, or -1 when it failed (the connection closes). */
int response_body_more(struct conn *c);

/* Logs a response on c through every module's log hook. */
void conn_log(const struct conn *c, int status, uint64_t bytes);

#endif
