/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * chunked.c - decoder for the chunked transfer coding of a request body
 * (RFC 9112 7.1). A state machine moved on by each byte of the framing; the
 * data bytes of a chunk are moved in bulk. The whole state lives in the
 * htd_chunked, so any split of the input decodes to the same bytes.
 *
 * Decoding is in place: the output cursor never passes the input cursor,
 * because every input byte yields at most one output byte.
 *
 * Strict, as a server must be for bodies a proxy in front may have framed
 * differently: no bare CR, no whitespace where the grammar has none, only CRLF
 * after chunk data, and bounded size lines and trailers.
 */
#include "chunked.h"

#include <string.h>

#include "fields.h"

static const uint8_t hexval[256] = {
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, /* 0x00 */
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, /* 0x10 */
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, /* 0x20 */
    0,   1,   2,   3,   4,   5,   6,   7,   8,   9,   255, 255, 255, 255, 255, 255, /* 0x30 */
    255, 10,  11,  12,  13,  14,  15,  255, 255, 255, 255, 255, 255, 255, 255, 255, /* 0x40 */
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, /* 0x50 */
    255, 10,  11,  12,  13,  14,  15,  255, 255, 255, 255, 255, 255, 255, 255, 255, /* 0x60 */
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, /* 0x70 */
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, /* 0x80 */
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, /* 0x90 */
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, /* 0xA0 */
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, /* 0xB0 */
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, /* 0xC0 */
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, /* 0xD0 */
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, /* 0xE0 */
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, /* 0xF0 */
};

#define MAX_SIZE ((uint64_t)1 << 62) /* largest chunk */
#define MAX_SIZE_DIGITS 16
#define MAX_LINE 4096    /* a chunk-size line with its extensions */
#define MAX_TRAILER 8192 /* the whole trailer section */

/* The size-line states come first and the trailer states last, so that one
 * comparison tells which byte budget a byte counts against. */
enum {
    S_SIZE0,       /* the first hex digit of a chunk-size */
    S_SIZE,        /* more hex digits */
    S_SIZE_WS,     /* BWS after the size: only ';' may follow */
    S_EXT_NAME0,   /* after ';': BWS, then a name */
    S_EXT_NAME,    /* in a chunk-ext-name */
    S_EXT_NAME_WS, /* BWS after a name: '=' or ';' */
    S_EXT_VAL0,    /* after '=': BWS, then a token or a quoted-string */
    S_EXT_TOKEN,   /* in a token value */
    S_EXT_QUOTED,  /* in a quoted-string */
    S_EXT_QPAIR,   /* after a backslash in a quoted-string */
    S_EXT_QEND,    /* right after the closing quote */
    S_EXT_WS,      /* BWS after a value: only ';' may follow */
    S_SIZE_LF,     /* CR seen at the end of the size line */
    S_DATA,        /* chunk data, remaining bytes to go */
    S_DATA_CR,     /* the CR after the data */
    S_DATA_LF,     /* the LF after the data */
    S_TR_START,    /* start of a trailer line, or of the final empty line */
    S_TR_NAME,     /* in a trailer field name */
    S_TR_VALUE,    /* in a trailer field value */
    S_TR_LF,       /* CR seen at the end of a trailer field */
    S_END_LF,      /* CR seen on the final empty line */
    S_DONE,
    S_ERROR,
};

static inline int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static ssize_t broken(htd_chunked *c, const char **why, const char *msg)
{
    c->state = S_ERROR;
    *why = msg;
    return -1;
}

/* The size line ended: data follows, or the trailer after the last chunk. */
static int size_line_done(htd_chunked *c)
{
    c->line_bytes = 0;
    return c->remaining ? S_DATA : S_TR_START;
}

/* The end of an extension token: a name or a token value. */
static int ext_after_token(htd_chunked *c, unsigned char ch)
{
    if (is_ws(ch)) return c->state == S_EXT_NAME ? S_EXT_NAME_WS : S_EXT_WS;
    if (ch == ';') return S_EXT_NAME0;
    if (ch == '=' && c->state == S_EXT_NAME) return S_EXT_VAL0;
    if (ch == '\r') return S_SIZE_LF;
    if (ch == '\n') return size_line_done(c);
    return S_ERROR;
}

ssize_t htd_chunked_decode(htd_chunked *c, char *buf, size_t len, size_t *out_len, const char **why)
{
    size_t i = 0, o = 0;
    *out_len = 0;
    if (c->state == S_ERROR) return broken(c, why, "chunked body already failed");
    if (c->done) return 0;

    while (i < len) {
        if (c->state == S_DATA) {
            size_t n = len - i;
            if (n > c->remaining) n = (size_t)c->remaining;
            if (o != i) memmove(buf + o, buf + i, n);
            o += n;
            i += n;
            c->remaining -= n;
            if (c->remaining == 0) c->state = S_DATA_CR;
            continue;
        }

        unsigned char ch = (unsigned char)buf[i++];
        if (c->state <= S_SIZE_LF && ++c->line_bytes > MAX_LINE)
            return broken(c, why, "chunk size line too long");
        if (c->state >= S_TR_START && ++c->trailer_bytes > MAX_TRAILER)
            return broken(c, why, "trailer section too large");

        int next;
        switch (c->state) {
        case S_SIZE0:
        case S_SIZE:
            if (hexval[ch] < 16) {
                if (c->line_bytes > MAX_SIZE_DIGITS || c->remaining > (MAX_SIZE - hexval[ch]) / 16)
                    return broken(c, why, "chunk size too large");
                c->remaining = c->remaining * 16 + hexval[ch];
                next = S_SIZE;
            } else if (c->state == S_SIZE0) {
                return broken(c, why, "invalid chunk size");
            } else if (ch == ';') {
                next = S_EXT_NAME0;
            } else if (is_ws(ch)) {
                next = S_SIZE_WS;
            } else if (ch == '\r') {
                next = S_SIZE_LF;
            } else if (ch == '\n') {
                next = size_line_done(c);
            } else {
                return broken(c, why, "invalid chunk size");
            }
            break;
        case S_SIZE_WS:
        case S_EXT_WS:
        case S_EXT_NAME_WS:
            if (is_ws(ch))
                next = c->state;
            else if (ch == ';')
                next = S_EXT_NAME0;
            else if (ch == '=' && c->state == S_EXT_NAME_WS)
                next = S_EXT_VAL0;
            else
                return broken(c, why, "misplaced whitespace in chunk size line");
            break;
        case S_EXT_NAME0:
        case S_EXT_VAL0:
            if (is_ws(ch))
                next = c->state;
            else if (htd_chars[ch] & HTD_C_TCHAR)
                next = c->state == S_EXT_NAME0 ? S_EXT_NAME : S_EXT_TOKEN;
            else if (ch == '"' && c->state == S_EXT_VAL0)
                next = S_EXT_QUOTED;
            else
                return broken(c, why, "invalid character in chunk extension");
            break;
        case S_EXT_NAME:
        case S_EXT_TOKEN:
            if (htd_chars[ch] & HTD_C_TCHAR)
                next = c->state;
            else if ((next = ext_after_token(c, ch)) == S_ERROR)
                return broken(c, why, "invalid character in chunk extension");
            break;
        case S_EXT_QUOTED:
            if (htd_chars[ch] & HTD_C_QDTEXT)
                next = S_EXT_QUOTED;
            else if (ch == '\\')
                next = S_EXT_QPAIR;
            else if (ch == '"')
                next = S_EXT_QEND;
            else
                return broken(c, why, "invalid character in chunk extension");
            break;
        case S_EXT_QPAIR:
            if (!(htd_chars[ch] & HTD_C_VALUE))
                return broken(c, why, "invalid character in chunk extension");
            next = S_EXT_QUOTED;
            break;
        case S_EXT_QEND:
            if (is_ws(ch))
                next = S_EXT_WS;
            else if (ch == ';')
                next = S_EXT_NAME0;
            else if (ch == '\r')
                next = S_SIZE_LF;
            else if (ch == '\n')
                next = size_line_done(c);
            else
                return broken(c, why, "invalid character in chunk extension");
            break;
        case S_SIZE_LF:
            if (ch != '\n') return broken(c, why, "bare CR in chunk size line");
            next = size_line_done(c);
            break;
        case S_DATA_CR:
            if (ch != '\r') return broken(c, why, "missing CRLF after chunk data");
            next = S_DATA_LF;
            break;
        case S_DATA_LF:
            if (ch != '\n') return broken(c, why, "missing CRLF after chunk data");
            next = S_SIZE0;
            break;
        case S_TR_START:
            if (ch == '\r') {
                next = S_END_LF;
            } else if (ch == '\n') {
                next = S_DONE;
            } else if (htd_chars[ch] & HTD_C_TCHAR) {
                next = S_TR_NAME;
            } else {
                return broken(c, why,
                              is_ws(ch) ? "obs-fold in trailer is not allowed"
                                        : "invalid character in trailer field name");
            }
            break;
        case S_TR_NAME:
            if (htd_chars[ch] & HTD_C_TCHAR)
                next = S_TR_NAME;
            else if (ch == ':')
                next = S_TR_VALUE;
            else if (is_ws(ch))
                return broken(c, why, "whitespace between trailer field name and colon");
            else if (ch == '\r' || ch == '\n')
                return broken(c, why, "trailer line without a colon");
            else
                return broken(c, why, "invalid character in trailer field name");
            break;
        case S_TR_VALUE:
            if (htd_chars[ch] & HTD_C_VALUE)
                next = S_TR_VALUE;
            else if (ch == '\r')
                next = S_TR_LF;
            else if (ch == '\n')
                next = S_TR_START;
            else
                return broken(c, why, "invalid character in trailer field value");
            break;
        case S_TR_LF:
        case S_END_LF:
            if (ch != '\n') return broken(c, why, "bare CR in trailer section");
            next = c->state == S_TR_LF ? S_TR_START : S_DONE;
            break;
        default:
            return broken(c, why, "chunked decoder in an impossible state");
        }
        c->state = next;
        if (next == S_DONE) {
            c->done = 1;
            break;
        }
    }
    *out_len = o;
    return (ssize_t)i;
}
