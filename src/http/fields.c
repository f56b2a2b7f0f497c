/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fields.c - the syntax of header fields, shared by the request parser
 * (parser.c), the parser of response heads and header blocks at the end of
 * this file, and every place that checks a name or a value before it goes
 * into a head.
 *
 * The table is the one definition of which byte belongs where; the parsers,
 * the chunked decoder and the validators all read it, so they cannot drift
 * apart. No class contains '\n', which lets a parser scan a run of one class
 * inside a head known to end in '\n' without a bounds check; htd_field_line
 * relies on that, and on a '\r' in such a head always having a byte after it.
 *
 * Strict as parser.c is: a field line is a token, a colon, optional
 * whitespace and a value without control characters but HTAB, and nothing
 * about where a body ends may be left to a guess.
 */
#include "fields.h"

#include <assert.h>
#include <limits.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "word.h"

const uint8_t htd_chars[256] = {
    0,  0,  0,  0,  0,  0,  0,  0,  0,  20, 0,  0,  0,  0,  0,  0,  /* 0x00 */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0x10 */
    20, 31, 6,  23, 31, 31, 31, 31, 30, 30, 31, 31, 30, 31, 31, 22, /* 0x20 */
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 30, 30, 22, 30, 22, 22, /* 0x30 */
    22, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, /* 0x40 */
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 30, 6,  30, 23, 31, /* 0x50 */
    23, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, /* 0x60 */
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 22, 23, 22, 31, 0,  /* 0x70 */
    20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, /* 0x80 */
    20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, /* 0x90 */
    20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, /* 0xA0 */
    20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, /* 0xB0 */
    20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, /* 0xC0 */
    20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, /* 0xD0 */
    20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, /* 0xE0 */
    20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, /* 0xF0 */
};

int htd_is_token(const char *p, size_t n)
{
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (!htd_is_tchar((unsigned char)p[i])) return 0;
    return 1;
}

int htd_field_value_ok(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(htd_chars[(unsigned char)p[i]] & HTD_C_VALUE)) return 0;
    return 1;
}

/*
 * The two long runs of a head, field values and the request-target, are
 * scanned sixteen bytes at a time with SSE2 where it is (every x86-64),
 * then eight at a time (word.h), while every byte is plainly allowed; the
 * first block or word with anything else (even HTAB) says where the table
 * takes over. A block that stops the scan sets end there, so that the word
 * loop has nothing left to do.
 */
/* A field value, as htd_scan_target: the first byte at or after i that is
 * not field-value. */
static inline size_t scan_value(const unsigned char *b, size_t i, size_t end)
{
#ifdef __SSE2__
    /* A byte below 0x20 (min with 0x1F is itself) or DEL. */
    const __m128i ctl = _mm_set1_epi8(0x1F), del = _mm_set1_epi8(0x7F);
    for (; end - i >= 16; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(x, ctl), x), _mm_cmpeq_epi8(x, del)));
        if (m) {
            end = i += (unsigned)__builtin_ctz(m);
            break;
        }
    }
#endif
    for (; end - i >= 8; i += 8) {
        uint64_t w = word_load(b + i), del = w ^ (WORD_ONES * 0x7F);
        uint64_t m = WORD_HASLESS(w, 0x20) | WORD_HASLESS(del, 1);
        if (m) {
            i += word_first(m);
            break;
        }
    }
    while (htd_chars[b[i]] & HTD_C_VALUE)
        i++;
    return i;
}

size_t htd_scan_target(const unsigned char *b, size_t i, size_t end)
{
#ifdef __SSE2__
    /* A byte below 0x21 or above 0x7E. */
    const __m128i lo = _mm_set1_epi8(0x20), hi = _mm_set1_epi8(0x7F);
    for (; end - i >= 16; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
            _mm_cmpeq_epi8(_mm_min_epu8(x, lo), x), _mm_cmpeq_epi8(_mm_max_epu8(x, hi), x)));
        if (m) {
            end = i += (unsigned)__builtin_ctz(m);
            break;
        }
    }
#endif
    for (; end - i >= 8; i += 8) {
        uint64_t w = word_load(b + i);
        uint64_t m = WORD_HASLESS(w, 0x21) | WORD_HASMORE(w, 0x7E);
        if (m) {
            i += word_first(m);
            break;
        }
    }
    while (htd_chars[b[i]] & HTD_C_TARGET)
        i++;
    return i;
}

static inline unsigned char lower(unsigned char c)
{
    return (unsigned)(c - 'A') < 26 ? (unsigned char)(c + 32) : c;
}

static inline int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t';
}

int htd_str_ieq(htd_str s, const char *lower_lit, size_t len)
{
    if (s.len != len) return 0;
    for (size_t i = 0; i < len; i++)
        if (lower((unsigned char)s.p[i]) != (unsigned char)lower_lit[i]) return 0;
    return 1;
}

htd_str htd_header_find(const htd_header *h, size_t n, const char *name, size_t namelen)
{
    for (size_t k = 0; k < n; k++) {
        if (h[k].name.len != namelen) continue;
        size_t j = 0;
        while (j < namelen && lower((unsigned char)h[k].name.p[j]) == lower((unsigned char)name[j]))
            j++;
        if (j == namelen) return h[k].value;
    }
    return (htd_str){NULL, 0};
}

/* Inlined into both head parsers' loops (with LTO across files): a call
 * per field line cost more than the line's name (bench/README.md). */
__attribute__((always_inline)) inline int htd_field_line(const char *buf, size_t *at, size_t end,
                                                         size_t n, size_t max, htd_header *h,
                                                         const char **why)
{
    const unsigned char *b = (const unsigned char *)buf;
    size_t i = *at, s = i;
    if (b[i] == '\n') {
        *at = i + 1;
        return 0;
    }
    if (b[i] == '\r' && b[i + 1] == '\n') {
        *at = i + 2;
        return 0;
    }
    if (is_ws(b[i]))
        return htd_refuse(why,
                          n ? "obs-fold in header is not allowed"
                            : "whitespace before the first header field",
                          400);
    if (n == max) return htd_refuse(why, "too many header fields", 431);

    /* The name, four bytes to a test of their classes' meet while four are
     * left before the head's end, then a byte at a time. */
    while (end - i >= 4 && (htd_chars[b[i]] & htd_chars[b[i + 1]] & htd_chars[b[i + 2]] &
                            htd_chars[b[i + 3]] & HTD_C_TCHAR))
        i += 4;
    while (htd_chars[b[i]] & HTD_C_TCHAR)
        i++;
    if (b[i] != ':' || i == s) {
        if (b[i] == ':') return htd_refuse(why, "empty header name", 400);
        if (is_ws(b[i])) return htd_refuse(why, "whitespace between header name and colon", 400);
        if (b[i] == '\n' || (b[i] == '\r' && b[i + 1] == '\n'))
            return htd_refuse(why, "header line without a colon", 400);
        if (b[i] == '\r') return htd_refuse(why, "bare CR in header", 400);
        return htd_refuse(why, "invalid character in header name", 400);
    }
    h->name = (htd_str){buf + s, i - s};

    i++;
    i += b[i] == ' '; /* the one space most senders put there */
    while (is_ws(b[i]))
        i++;
    size_t vs = i;
    i = scan_value(b, i, end);
    size_t ve = i;
    if (b[i] == '\n') {
        i++;
    } else if (b[i] == '\r' && b[i + 1] == '\n') {
        i += 2;
    } else {
        return htd_refuse(
            why, b[i] == '\r' ? "bare CR in header" : "invalid character in header value", 400);
    }
    while (ve > vs && is_ws(b[ve - 1]))
        ve--;
    h->value = (htd_str){buf + vs, ve - vs};
    *at = i;
    return 1;
}

/* Content-Length above this is refused; it keeps every sum of offsets safe. */
#define CL_MAX ((uint64_t)1 << 62)

/* Content-Length = 1*DIGIT, or where list is set a list of identical values
 * (RFC 9110 8.6). Returns 0 and *out, or the failure. */
static int parse_content_length(htd_str v, int list, int64_t *out, const char **why)
{
    const unsigned char *s = (const unsigned char *)v.p;
    size_t i = 0;
    int64_t first = -1;
    for (;;) {
        if (i == v.len || !htd_is_digit(s[i]))
            return htd_refuse(why, "invalid Content-Length value", 400);
        uint64_t x = 0;
        while (i < v.len && htd_is_digit(s[i])) {
            unsigned d = s[i++] - '0';
            if (x > (CL_MAX - d) / 10)
                return htd_refuse(why, "Content-Length value too large", 400);
            x = x * 10 + d;
        }
        if (first >= 0 && (int64_t)x != first)
            return htd_refuse(why, "conflicting Content-Length values", 400);
        first = (int64_t)x;
        while (i < v.len && is_ws(s[i]))
            i++;
        if (i == v.len) break;
        if (s[i++] != ',' || !list) return htd_refuse(why, "invalid Content-Length value", 400);
        while (i < v.len && is_ws(s[i]))
            i++;
    }
    *out = first;
    return 0;
}

/* Connection = #connection-option; only "close" and "keep-alive" matter. */
static void connection_options(htd_str v, htd_framing *f)
{
    const char *p = v.p, *end = v.p + v.len;
    while (p < end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *z = c ? c : end;
        while (p < z && is_ws((unsigned char)*p))
            p++;
        while (z > p && is_ws((unsigned char)z[-1]))
            z--;
        htd_str o = {p, (size_t)(z - p)};
        /* htd_token_ieq is exact on a value too: no byte of one (no CR, no
         * control but HTAB) meets a letter or '-' in the 0x20 bit alone */
        if (htd_token_ieq(o, "close", 5))
            f->close = 1;
        else if (htd_token_ieq(o, "keep-alive", 10))
            f->keep = 1;
        else if (o.len)
            f->names = 1;
        if (!c) break;
        p = c + 1;
    }
}

/* The switch on the name's length keeps the common, uninteresting field to
 * one comparison; inlined, as htd_field_line, into the parsers' loops. */
__attribute__((always_inline)) inline int htd_framing_field(htd_framing *f, enum htd_message kind,
                                                            int version, htd_str name,
                                                            htd_str value, const char **why)
{
    int response = kind == HTD_MSG_RESPONSE;
    switch (name.len) {
    case 10:
        if (htd_token_ieq(name, "connection", 10)) connection_options(value, f);
        break;
    case 14: {
        if (!htd_token_ieq(name, "content-length", 14)) break;
        if (response && f->content_length >= 0)
            return htd_refuse(why, "duplicate Content-Length header", 400);
        int64_t n;
        int r = parse_content_length(value, !response, &n, why);
        if (r) return r;
        if (f->content_length >= 0 && f->content_length != n)
            return htd_refuse(why, "conflicting Content-Length values", 400);
        f->content_length = n;
        break;
    }
    case 17:
        if (!htd_token_ieq(name, "transfer-encoding", 17)) break;
        if (version == 10)
            return htd_refuse(why,
                              response ? "Transfer-Encoding in an HTTP/1.0 response"
                                       : "Transfer-Encoding in an HTTP/1.0 request",
                              400);
        if (f->chunked) return htd_refuse(why, "duplicate Transfer-Encoding header", 400);
        if (!htd_str_ieq(value, "chunked", 7))
            return htd_refuse(why, "unsupported transfer coding", 400);
        f->chunked = 1;
        break;
    }
    return 0;
}

int htd_framing_end(const htd_framing *f, const char **why)
{
    if (f->chunked && f->content_length >= 0)
        return htd_refuse(why, "both Content-Length and Transfer-Encoding", 400);
    return 0;
}

/* ---- response heads and header blocks ---- */

static int bad(const char **why, const char *msg)
{
    *why = msg;
    return -1;
}

/* status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF, in
 * buf[0..end), which ends in '\n'; sets *at past it. */
static int status_line(const char *buf, size_t end, htd_response *res, size_t *at, const char **why)
{
    const unsigned char *b = (const unsigned char *)buf;
    /* "HTTP/1.1 200" and a '\n': every read below is in the head */
    if (end < 13 || memcmp(b, "HTTP/", 5) != 0 || !htd_is_digit(b[5]) || b[6] != '.' ||
        !htd_is_digit(b[7]) || b[8] != ' ')
        return bad(why, "malformed status line");
    if (b[5] != '1') return bad(why, "HTTP version not supported");
    res->version = b[7] == '0' ? 10 : 11;
    if (b[9] < '1' || b[9] > '5' || !htd_is_digit(b[10]) || !htd_is_digit(b[11]))
        return bad(why, "invalid status code");
    res->status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
    size_t i = 12, rs = 12;
    if (b[i] == ' ') {
        rs = ++i;
        i = scan_value(b, i, end);
    }
    res->reason = (htd_str){buf + rs, i - rs};
    if (b[i] == '\n') {
        *at = i + 1;
    } else if (b[i] == '\r' && b[i + 1] == '\n') {
        *at = i + 2;
    } else {
        return bad(why, b[i] == '\r'         ? "bare CR in status line"
                        : htd_is_digit(b[i]) ? "invalid status code"
                        : i > 12             ? "invalid character in reason phrase"
                                             : "malformed status line");
    }
    return 0;
}

/* Status = 3DIGIT [ SP reason-phrase ] (RFC 3875 6.3.3), the value trimmed. */
static int status_field(htd_str v, htd_response *res, const char **why)
{
    const unsigned char *s = (const unsigned char *)v.p;
    if (res->status) return bad(why, "duplicate Status field");
    if (v.len < 3 || s[0] < '1' || s[0] > '5' || !htd_is_digit(s[1]) || !htd_is_digit(s[2]) ||
        (v.len > 3 && s[3] != ' '))
        return bad(why, "invalid Status field");
    res->status = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    res->reason = v.len > 4 ? (htd_str){v.p + 4, v.len - 4} : (htd_str){v.p + v.len, 0};
    return 0;
}

/* Validates the head at the start of buf[0..end), whose last byte is '\n':
 * 1 with *at past its empty line, 0 with *at at the start of the first line
 * not in buf[0..end) (the head goes on beyond it), or -1. */
static int parse_head(const char *buf, size_t end, int block, htd_response *res, size_t *at,
                      const char **why)
{
    size_t i = 0, n = 0;
    res->version = res->status = 0;
    res->reason = (htd_str){NULL, 0};
    if (!block && status_line(buf, end, res, &i, why) < 0) return -1;

    htd_framing f = HTD_FRAMING_INIT;
    int r = 1;
    while (i < end &&
           (r = htd_field_line(buf, &i, end, n, HTD_MAX_RESP_HEADERS, &res->headers[n], why)) > 0) {
        htd_header *h = &res->headers[n++];
        if (!block)
            r = htd_framing_field(&f, HTD_MSG_RESPONSE, res->version, h->name, h->value, why);
        else if (htd_str_ieq(h->name, "status", 6))
            r = status_field(h->value, res, why);
        else if (htd_str_ieq(h->name, "content-length", 14))
            r = htd_framing_field(&f, HTD_MSG_RESPONSE, 11, h->name, h->value, why);
        if (r < 0) return -1;
        r = 1;
    }
    if (r < 0) return -1;
    *at = i;
    if (r > 0) return 0; /* every line of buf[0..end) was a field */
    if (block && n == 0) return bad(why, "a header block without a field");
    if (htd_framing_end(&f, why) < 0) return -1;
    res->nheaders = n;
    res->content_length = f.content_length;
    res->chunked = f.chunked;
    res->keep_alive = !block && !f.close && (res->version == 11 || f.keep);
    res->connection_names = f.names;
    return 1;
}

/* Both kinds of head end with the first empty line; a found head leaves *p
 * alone, so a repeated call gives the same answer.
 *
 * The first look at a head parses it as far as it goes, up to the last '\n'
 * in the buffer, in one pass: a head that came whole (the usual case) is
 * read once, not searched for its end and then parsed. A head that goes on
 * beyond that is searched for its end from the first line not parsed, and
 * from where the last search stopped after that, so that one trickled in
 * is looked at once more, not once per piece. What is wrong in a head is
 * said only once the head is whole, however its bytes came. */
static int parse(htd_head_parser *p, const char *buf, size_t len, size_t max_head, int block,
                 htd_response *res, const char **why)
{
    size_t lim = len < max_head ? len : max_head;
    size_t i = p->scanned <= len ? p->scanned : 0; /* else not the buffer scanned before */
    if (i == 0 && lim > 0) {
        const char *nl = memrchr(buf, '\n', lim);
        if (nl) {
            int r = parse_head(buf, (size_t)(nl - buf) + 1, block, res, &i, why);
            if (r > 0) goto found;
            if (r < 0) { /* said once the head is whole, as it would be had it come in pieces */
                *why = NULL;
                i = 0;
            }
        }
    }
    while (i < lim && htd_next_line(buf, &i, lim))
        if (htd_empty_line(buf, i - 1)) {
            /* buf[0..i) ends with its first empty line: parse_head ends there */
            int r = parse_head(buf, i, block, res, &i, why);
            assert(r != 0);
            if (r < 0) return -1;
            goto found;
        }
    p->scanned = i;
    if (len >= max_head)
        return bad(why, block ? "header block too large" : "response head too large");
    return 0;

found:
    if (i > INT_MAX) return bad(why, block ? "header block too large" : "response head too large");
    res->head_len = i;
    return (int)i;
}

int htd_parse_response(htd_head_parser *p, const char *buf, size_t len, size_t max_head,
                       htd_response *res, const char **why)
{
    return parse(p, buf, len, max_head, 0, res, why);
}

int htd_parse_header_block(htd_head_parser *p, const char *buf, size_t len, size_t max_head,
                           htd_response *res, const char **why)
{
    return parse(p, buf, len, max_head, 1, res, why);
}

htd_str htd_host_without_port(htd_str h)
{
    size_t hl = h.len;
    if (hl && h.p[0] == '[') {
        const char *rb = memchr(h.p, ']', hl);
        if (rb) hl = (size_t)(rb - h.p) + 1;
    } else if (hl) {
        const char *colon = memchr(h.p, ':', hl);
        if (colon) hl = (size_t)(colon - h.p);
    }
    return (htd_str){h.p, hl};
}
