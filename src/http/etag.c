/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * etag.c - entity-tags: a file's, and matching a list of them.
 */
#include "etag.h"

#include <stdio.h>
#include <string.h>

int etag_of_file(const struct stat *st, char *out, size_t cap)
{
    return snprintf(out, cap, "\"%llx-%llx-%llx\"", (unsigned long long)st->st_ino,
                    (unsigned long long)st->st_size,
                    (unsigned long long)st->st_mtim.tv_sec * 1000000000ull +
                        (unsigned long long)st->st_mtim.tv_nsec);
}

int etag_match(htd_str v, htd_str etag, int weak)
{
    const char *p = v.p, *e = v.p + v.len;
    while (p < e) {
        while (p < e && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        if (p == e) break;
        if (*p == '*') return 1;
        int is_weak = 0;
        if (e - p >= 2 && p[0] == 'W' && p[1] == '/') {
            is_weak = 1;
            p += 2;
        }
        if (p == e || *p != '"') return 0; /* not a list of entity-tags */
        const char *q = memchr(p + 1, '"', (size_t)(e - p - 1));
        if (!q) return 0;
        size_t n = (size_t)(q - p + 1);
        if ((weak || !is_weak) && n == etag.len && memcmp(p, etag.p, n) == 0) return 1;
        p = q + 1;
    }
    return 0;
}
