/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * json.c - JSON string escaping (json.h). The output is always valid JSON
 * and valid UTF-8, whatever the input: bytes that are not well-formed UTF-8
 * become U+FFFD, one for each maximal ill-formed subpart (as the WHATWG
 * decoder does), and a well-formed sequence is never split when the output
 * is cut short.
 */
#include "json.h"

#include <string.h>

int json_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    int need;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return -1;
    }
    for (int i = 1; i <= need; i++) {
        if ((size_t)i >= n || s[i] < lo || s[i] > hi) return -i;
        lo = 0x80, hi = 0xBF;
    }
    return need + 1;
}

size_t json_escape(char *out, size_t cap, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t len = 0, written = 0; /* once a piece does not fit, nothing after it is written */
    for (size_t i = 0; i < n;) {
        unsigned char ch = s[i];
        char e[8];
        const char *src = e;
        size_t el = 1, used = 1;
        e[0] = (char)ch;
        if (ch >= 0x80) {
            int l = json_utf8_len(s + i, n - i);
            if (l > 0) {
                src = (const char *)s + i;
                el = used = (size_t)l;
            } else {
                src = "\\ufffd";
                el = 6;
                used = (size_t)-l;
            }
        } else if (ch == '"' || ch == '\\') {
            e[0] = '\\';
            e[1] = (char)ch;
            el = 2;
        } else if (ch < 0x20 || ch == 0x7f) {
            memcpy(e, "\\u00", 4);
            e[4] = hex[ch >> 4];
            e[5] = hex[ch & 15];
            el = 6;
        }
        if (written == len && len + el < cap) {
            memcpy(out + len, src, el);
            written += el;
        }
        len += el;
        i += used;
    }
    if (cap) out[written] = 0;
    return len;
}
