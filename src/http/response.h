/*
 * response.h - response heads. One function writes every head htd sends, so
 * that the status line, Date, Server, framing and Connection are always
 * consistent with what the connection will do next.
 */
#ifndef HTD_RESPONSE_H
#define HTD_RESPONSE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "htd.h"

struct conn;

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
 * Upgrade, Trailer)? Nobody else may set those: handlers, config, scripts. */
int response_owns_header(htd_str name);

/* Queues the head of r on c (nothing for an HTTP/0.9 request). 0, or -1 if it
 * does not fit. */
int response_head(struct conn *c, const resp *r);

#endif
