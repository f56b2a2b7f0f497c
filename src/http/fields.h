/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fields.h - the syntax of HTTP header fields (RFC 9110 section 5, RFC 9112
 * section 5), shared by every parser of a head: which bytes a token or a field
 * value may hold (one table), the field line, and what Content-Length,
 * Transfer-Encoding and Connection say about framing. Also the validators the
 * rest of htd checks names and values with before they go into a head.
 *
 * Pure: no I/O, no allocation; every slice points into the caller's buffer.
 */
#ifndef HTD_FIELDS_H
#define HTD_FIELDS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "htd.h"
#include "word.h"

/* Byte classes, one bit each: htd_chars[c] & HTD_C_... */
enum {
    HTD_C_TCHAR = 1,   /* token (RFC 9110 5.6.2): methods, field names, codings */
    HTD_C_TARGET = 2,  /* request-target: 0x21-0x7E */
    HTD_C_VALUE = 4,   /* field-value: HTAB, SP, VCHAR, obs-text */
    HTD_C_HOST = 8,    /* Host and authority: unreserved, sub-delims, ':', '[', ']', '%' */
    HTD_C_QDTEXT = 16, /* quoted-string text (RFC 9110 5.6.4): field-value but '"' and '\\' */
};

extern const uint8_t htd_chars[256];

static inline int htd_is_tchar(unsigned char c)
{
    return htd_chars[c] & HTD_C_TCHAR;
}

/* A request-target, the longest run of a request line, scanned eight bytes
 * at a time: the first byte at or after i that is not request-target.
 * b[end - 1] must be a byte outside the class (a head ends in '\n'), so the
 * scan stops inside the buffer. */
size_t htd_scan_target(const unsigned char *b, size_t i, size_t end);

/* Whether p[0..n) is a token: one or more tchar. Field names are tokens. */
int htd_is_token(const char *p, size_t n);

/* Whether p[0..n) may be a field value: HTAB, SP, VCHAR and obs-text only, so
 * no CR, LF, NUL or other control character. Empty is allowed. */
int htd_field_value_ok(const char *p, size_t n);

typedef struct htd_header {
    htd_str name;  /* as sent; compare case-insensitively */
    htd_str value; /* leading and trailing whitespace removed */
} htd_header;

/* Case-insensitive compare of a slice against a lowercase literal. */
int htd_str_ieq(htd_str s, const char *lower, size_t len);

/* The value of the first of h[0..n) named name (case-insensitive), or {NULL,0}. */
htd_str htd_header_find(const htd_header *h, size_t n, const char *name, size_t namelen);

/* Moves *i past the next '\n' in buf[*i..lim) and returns 1, the line's '\n'
 * then being at *i - 1; without a '\n' there, sets *i to lim and returns 0. */
static inline int htd_next_line(const char *buf, size_t *i, size_t lim)
{
    const char *nl = memchr(buf + *i, '\n', lim - *i);
    *i = nl ? (size_t)(nl - buf) + 1 : lim;
    return nl != NULL;
}

/* Whether the line whose '\n' is at buf[i] is empty: "" or "\r". Lines start at
 * 0 or right after a '\n', so two bytes of look-back tell. */
static inline int htd_empty_line(const char *buf, size_t i)
{
    if (i == 0 || buf[i - 1] == '\n') return 1;
    return buf[i - 1] == '\r' && (i == 1 || buf[i - 2] == '\n');
}

/*
 * Parses the field line at buf[*i] of a head whose last byte, buf[end - 1], is
 * '\n'; n fields came before it, and at most max may. Returns 1 with *h set and
 * *i moved past the line; 0 with *i moved past the empty line that ends the
 * field section; -431 if the line would be field max + 1; -400 if it is
 * malformed (obs-fold, whitespace before the colon, a name that is not a
 * token, a value with a control character, a bare CR). *why says which.
 */
int htd_field_line(const char *buf, size_t *i, size_t end, size_t n, size_t max, htd_header *h,
                   const char **why);

/* What a message's fields say about where its body ends and about its
 * connection. Start from HTD_FRAMING_INIT. */
typedef struct htd_framing {
    int64_t content_length; /* -1 if absent */
    int chunked;            /* Transfer-Encoding: chunked */
    int close, keep;        /* Connection: close, keep-alive */
    int names;              /* Connection: another option, the name of a field of this hop */
} htd_framing;

#define HTD_FRAMING_INIT ((htd_framing){.content_length = -1})

enum htd_message { HTD_MSG_REQUEST, HTD_MSG_RESPONSE };

/*
 * Takes one field of a message of the given version (10 or 11) into *f if it
 * is Content-Length, Transfer-Encoding or Connection (name a token, as
 * htd_field_line gives it). 0, or -400 with *why if it
 * makes the framing doubtful: a Content-Length that is not digits, or that
 * differs from another (a response may not even repeat it, nor list it),
 * any transfer coding but exactly "chunked", or one in an HTTP/1.0 message.
 */
int htd_framing_field(htd_framing *f, enum htd_message kind, int version, htd_str name,
                      htd_str value, const char **why);

/* After the last field: 0, or -400 with *why if the message has both. */
int htd_framing_end(const htd_framing *f, const char **why);

/* ---- response heads and header blocks ---- */

#define HTD_MAX_RESP_HEADERS 100 /* more fields than this in a response or a script's head: -1 */

typedef struct htd_response {
    int version;             /* 10 or 11 (any HTTP/1.x with x >= 1); 0 for a header block */
    int status;              /* 100-599; in a header block from Status, or 0 if it has none */
    htd_str reason;          /* as sent, maybe empty; p == NULL in a block without Status */
    int64_t content_length;  /* -1 if absent */
    unsigned chunked : 1;    /* Transfer-Encoding: chunked; never in a header block */
    unsigned keep_alive : 1; /* by version and the Connection field; never in a header block */
    unsigned connection_names : 1; /* Connection lists more than close and keep-alive */
    size_t head_len;               /* bytes of the head, including the empty line */
    size_t nheaders;
    htd_header headers[HTD_MAX_RESP_HEADERS]; /* every field as sent, Status too */
} htd_response;

/* Resume state: how far a previous call already looked for the end of the
 * head. Zero it for each new head. */
typedef struct htd_head_parser {
    size_t scanned;
} htd_head_parser;

/*
 * Parses the HTTP/1.x response head at the start of buf[0..len): a status line
 * ("HTTP/1.1 200 OK"; the reason may be empty), then header fields, as strictly
 * as a proxy must read them (RFC 9112): no obs-fold, no whitespace before a
 * colon, names that are tokens, values without control characters but HTAB,
 * one Content-Length of digits only, Transfer-Encoding exactly "chunked" and
 * only in HTTP/1.1, never both. The one leniency: a status line may end right
 * after the code, without the space before an empty reason.
 * Whether a body follows at all (1xx, 204, 304, a response to HEAD) is for the
 * caller to decide; the fields only say how it is framed if it does.
 * Returns head_len (> 0) and fills *res when a whole head is there; 0 when
 * more bytes are needed (and len < max_head); -1 with *why set to a short
 * static sentence when the head is malformed or reaches max_head unfinished.
 */
int htd_parse_response(htd_head_parser *p, const char *buf, size_t len, size_t max_head,
                       htd_response *res, const char **why);

/*
 * The same for a bare header block, as a CGI script writes it (RFC 3875
 * section 6): header fields up to an empty line, each line ending in LF or
 * CRLF, at least one field. Status ("Status: 404 Not Found") gives status and
 * reason; Content-Length is read as in a response; nothing else is
 * interpreted, since the body of a script ends where its output does.
 */
int htd_parse_header_block(htd_head_parser *p, const char *buf, size_t len, size_t max_head,
                           htd_response *res, const char **why);

/* The host of a Host value without its port: "example.com" of
 * "example.com:8080", "[::1]" of "[::1]:8080". */
htd_str htd_host_without_port(htd_str host);

/* For the parsers: says why in *why and returns -status. */
static inline int htd_refuse(const char **why, const char *msg, int status)
{
    *why = msg;
    return -status;
}

static inline int htd_is_digit(unsigned char c)
{
    return (unsigned)(c - '0') < 10;
}

/* Whether each byte of p[0..n), its 0x20 bit set, is lit's: eight bytes at a
 * time from 8 on, the last eight overlapping the word before; two words of
 * four that overlap from 4 to 7; a byte at a time below. */
static inline int htd_or20_eq(const char *p, const char *lit, size_t n)
{
    if (n >= 8) {
        const uint64_t up = WORD_ONES * 0x20;
        uint64_t diff = 0;
        for (size_t i = 0; i + 8 < n; i += 8)
            diff |= (word_load(p + i) | up) ^ word_load(lit + i);
        diff |= (word_load(p + n - 8) | up) ^ word_load(lit + n - 8);
        return diff == 0;
    }
    if (n >= 4) {
        uint32_t a, b, la, lb;
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        memcpy(&la, lit, 4);
        memcpy(&lb, lit + n - 4, 4);
        return (((a | 0x20202020u) ^ la) | ((b | 0x20202020u) ^ lb)) == 0;
    }
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)p[i] | 0x20) != (unsigned char)lit[i]) return 0;
    return 1;
}

/* Whether s is word, a lower-case word of letters only, in any case. Exact
 * for any bytes: the only byte that differs from a letter in the 0x20 bit
 * alone is the same letter in the other case. */
static inline int htd_word_ieq(htd_str s, const char *word, size_t n)
{
    return s.len == n && htd_or20_eq(s.p, word, n);
}

/* Whether the token s (a field name as htd_field_line gives it) is lit, n
 * bytes of lower-case letters, digits and '-', in any case: exact, as the
 * only bytes that differ from one of those in the 0x20 bit alone are its
 * other case, control characters and CR, none of them in a token. */
static inline int htd_token_ieq(htd_str s, const char *lit, size_t n)
{
    return s.len == n && htd_or20_eq(s.p, lit, n);
}

#endif
