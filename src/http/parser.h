/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * parser.h - the HTTP/1.x request-head parser. Pure: it does no I/O and keeps
 * no state but a resume offset, so it can be unit-tested and fuzzed alone.
 *
 * Every slice it returns points into the caller's buffer. It is strict in the
 * way RFC 9112 asks of a server that must not be fooled into request
 * smuggling: anything ambiguous about where a message ends is an error.
 */
#ifndef HTD_PARSER_H
#define HTD_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include "fields.h"
#include "htd.h"

#define HTD_MAX_HEADERS 64  /* more fields than this: 431 */
#define HTD_MAX_TARGET 8192 /* a longer request-target: 414 */

enum htd_method {
    HTD_M_UNKNOWN = 0, /* a valid token, but not a method htd knows: 501 */
    HTD_M_GET,
    HTD_M_HEAD,
    HTD_M_POST,
    HTD_M_PUT,
    HTD_M_DELETE,
    HTD_M_OPTIONS,
    HTD_M_TRACE,
    HTD_M_CONNECT,
    HTD_M_PATCH,
    /* WebDAV (RFC 4918) */
    HTD_M_PROPFIND,
    HTD_M_PROPPATCH,
    HTD_M_MKCOL,
    HTD_M_COPY,
    HTD_M_MOVE,
    HTD_M_LOCK,
    HTD_M_UNLOCK,
};

/* The fields htd itself reads, found once when the head is parsed. */
enum {
    HTD_H_ACCEPT,
    HTD_H_ACCEPT_ENCODING,
    HTD_H_AUTHORIZATION,
    HTD_H_CONTENT_TYPE,
    HTD_H_IF_MATCH,
    HTD_H_IF_MODIFIED_SINCE,
    HTD_H_IF_NONE_MATCH,
    HTD_H_IF_RANGE,
    HTD_H_IF_UNMODIFIED_SINCE,
    HTD_H_RANGE,
    HTD_H_COUNT
};

typedef struct htd_request {
    htd_str method;          /* the token as sent */
    int method_id;           /* enum htd_method */
    htd_str target;          /* the request-target as sent */
    htd_str path;            /* still percent-encoded; "/..." (or "*" for OPTIONS *) */
    htd_str query;           /* after the first '?', without it; p == NULL if there was no '?' */
    htd_str host;            /* from an absolute-form target, else the Host field; len 0 if none */
    int version;             /* 9 (one-line request), 10 or 11 (any HTTP/1.x with x >= 1) */
    int64_t content_length;  /* -1 if absent */
    unsigned chunked : 1;    /* Transfer-Encoding: chunked */
    unsigned keep_alive : 1; /* by version and the Connection field */
    unsigned expect_continue : 1;  /* Expect: 100-continue */
    unsigned connection_names : 1; /* Connection lists more than close and keep-alive */
    size_t head_len;               /* bytes of the head, including the empty line */
    size_t nheaders;
    uint8_t known[HTD_H_COUNT]; /* for each, 1 + the index of its first field, or 0 */
    htd_header headers[HTD_MAX_HEADERS];
} htd_request;

/* Resume state: how far a previous call already looked for the end of the
 * head, so that a head trickled in byte by byte is scanned once. Zero it for
 * each new request. */
typedef struct htd_parser {
    size_t scanned;
    int reqline_done; /* private: the request line was whole at scanned */
} htd_parser;

/*
 * Parses the request head at the start of buf[0..len).
 * Returns head_len (> 0) and fills *req when a whole head is there;
 * 0 when more bytes are needed (and len < max_head);
 * a negative HTTP status (-400, -414, -431, -505) when the request is bad, with
 * *why set to a short static sentence for the response body.
 * An unknown but well-formed method is not an error: method_id is HTD_M_UNKNOWN.
 * Once len reaches max_head without a whole head, the answer is -414 if the
 * request line is not complete yet, else -431.
 */
int htd_parse_request(htd_parser *p, const char *buf, size_t len, size_t max_head, htd_request *req,
                      const char **why);

/* htd_parse_request in two halves, for a caller that moves the head
 * between them. htd_find_head: where the head at the start of buf[0..len)
 * ends: its length once it is whole, else as htd_parse_request (0, -414 or
 * -431); *p keeps the scan's place as there. htd_parse_head: parses a head
 * htd_find_head found, buf[0..len) exactly, or a copy of it, into *req:
 * len, or a refusal as htd_parse_request's. */
int htd_find_head(htd_parser *p, const char *buf, size_t len, size_t max_head, const char **why);
int htd_parse_head(const char *buf, size_t len, htd_request *req, const char **why);

/* The first look at a head, in one pass: buf[0..len) parsed up to its last
 * '\n' (within max_head), where a head most often is whole already, into
 * *req with its slices in buf. The head's length when that gave a whole,
 * good head, as htd_find_head and htd_parse_head would; 0 otherwise (more
 * to come, a fault, or not a first look: p has scanned some), and the
 * caller goes their way, which answers as always. So a fault costs a second
 * parse, and a head that trickles in is parsed whole only on its first
 * look. htd_parse_request does this first. */
int htd_parse_at_once(const htd_parser *p, const char *buf, size_t len, size_t max_head,
                      htd_request *req);

/* Moves req's slices from its head at from to a copy of the head at to. */
void htd_request_move(htd_request *req, const char *from, const char *to);

/* Whether the request in buf[0..len), refused by htd_parse_request, began
 * "HEAD ": its error then goes without a body (RFC 9110 section 9.3.2), as
 * the client will read none. */
int htd_refused_is_head(const char *buf, size_t len);

/* The enum htd_method of a method's name m[0..n) (case-sensitive, as
 * methods are), or HTD_M_UNKNOWN. */
int htd_method_id(const char *m, size_t n);

/* The value of the first header named name (case-insensitive), or {NULL,0}.
 * The fields of HTD_H_* are found without a scan. */
htd_str htd_request_header(const htd_request *req, const char *name, size_t namelen);

/* The value of the first of the fields htd reads (HTD_H_*), or {NULL,0}. */
static inline htd_str htd_request_known(const htd_request *req, int which)
{
    return req->known[which] ? req->headers[req->known[which] - 1].value : (htd_str){NULL, 0};
}

#endif
