/*
 * fields.c - the syntax of header fields, shared by every parser and every
 * place that checks a name or a value before it goes into a head.
 *
 * The table is the one definition of which byte belongs where; the request
 * parser, the chunked decoder and the validators below all read it, so they
 * cannot drift apart. No class contains '\n', which lets a parser scan a run
 * of one class inside a buffer known to end in '\n' without a bounds check.
 */
#include "fields.h"

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
