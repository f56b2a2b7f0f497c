/*
 * fields.h - the syntax of HTTP header fields (RFC 9110 section 5, RFC 9112
 * section 5): which bytes a token or a field value may hold, one table of
 * them for every parser, and the validators the rest of htd checks names and
 * values with before they go into a head.
 */
#ifndef HTD_FIELDS_H
#define HTD_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include "htd.h"

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

/* Whether p[0..n) is a token: one or more tchar. Field names are tokens. */
int htd_is_token(const char *p, size_t n);

/* Whether p[0..n) may be a field value: HTAB, SP, VCHAR and obs-text only, so
 * no CR, LF, NUL or other control character. Empty is allowed. */
int htd_field_value_ok(const char *p, size_t n);

#endif
