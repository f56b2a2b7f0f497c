/*
 * json.c - JSON string escaping (json.h).
 */
#include "json.h"

#include <stdio.h>
#include <string.h>

size_t json_escape(char *out, size_t cap, const char *s, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        char e[8];
        size_t el = 1;
        e[0] = (char)ch;
        if (ch == '"' || ch == '\\') {
            e[0] = '\\';
            e[1] = (char)ch;
            el = 2;
        } else if (ch < 0x20 || ch == 0x7f) {
            snprintf(e, sizeof e, "\\u%04x", ch);
            el = 6;
        }
        if (len + el < cap) memcpy(out + len, e, el);
        len += el;
    }
    if (cap) out[len < cap ? len : cap - 1] = 0;
    return len;
}
