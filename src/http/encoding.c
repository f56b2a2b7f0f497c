/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * encoding.c - Accept-Encoding. A list of codings, each with an optional
 * weight: "gzip;q=0.8, br, *;q=0". Parsed without allocating; pure.
 */
#include "encoding.h"

#include <string.h>

#include "parser.h"
#include "word.h"

int htd_qvalue(const char *p, size_t n)
{
    if (n == 0 || n > 5 || (p[0] != '0' && p[0] != '1')) return -1;
    int q = (p[0] - '0') * 1000;
    if (n == 1) return q;
    if (p[1] != '.') return -1;
    int scale = 100;
    for (size_t i = 2; i < n; i++, scale /= 10) {
        if (p[i] < '0' || p[i] > '9') return -1;
        q += (p[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

void htd_accept_encoding(htd_str v, unsigned q[ENC_COUNT])
{
    int named[ENC_COUNT] = {0}, star = -1;
    q[ENC_IDENTITY] = 1000;
    q[ENC_GZIP] = q[ENC_BR] = 0;
    if (!v.p) return;
    /* Acceptable unless refused, but the last choice: a client that lists
     * codings wants one of them. */
    q[ENC_IDENTITY] = 1;
    const char *p = v.p, *end = v.p + v.len;
    while (p < end) {
        const char *e = memchr(p, ',', (size_t)(end - p));
        if (!e) e = end;
        /* one element: coding [; q=x] */
        const char *s = p, *t = e;
        while (s < t && (*s == ' ' || *s == '\t'))
            s++;
        const char *semi = s < t ? memchr(s, ';', (size_t)(t - s)) : NULL;
        const char *ce = semi ? semi : t;
        while (ce > s && (ce[-1] == ' ' || ce[-1] == '\t'))
            ce--;
        int w = 1000;
        if (semi) {
            const char *a = semi + 1;
            while (a < t && (*a == ' ' || *a == '\t'))
                a++;
            const char *b = t;
            while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
                b--;
            w = b - a > 2 && (a[0] == 'q' || a[0] == 'Q') && a[1] == '='
                    ? htd_qvalue(a + 2, (size_t)(b - a - 2))
                    : -1;
        }
        if (w >= 0 && ce > s) {
            size_t n = (size_t)(ce - s);
            int k = htd_str_ieq((htd_str){s, n}, "identity", 8) ? ENC_IDENTITY
                    : htd_str_ieq((htd_str){s, n}, "gzip", 4) ||
                            htd_str_ieq((htd_str){s, n}, "x-gzip", 6)
                        ? ENC_GZIP
                    : htd_str_ieq((htd_str){s, n}, "br", 2) ? ENC_BR
                                                            : -1;
            if (k >= 0) {
                q[k] = (unsigned)w;
                named[k] = 1;
            } else if (n == 1 && *s == '*') {
                star = w;
            }
        }
        p = e + 1;
    }
    if (star >= 0)
        for (int k = 0; k < ENC_COUNT; k++)
            if (!named[k]) q[k] = (unsigned)star;
}

/* Whether the word w has a '*', or a 'y' or 'Y' (with 0x20 set: 'y'). */
static inline int star_or_y(uint64_t w)
{
    return (WORD_HASLESS(w ^ (WORD_ONES * '*'), 1) |
            WORD_HASLESS((w | WORD_ONES * 0x20) ^ (WORD_ONES * 'y'), 1)) != 0;
}

int htd_accept_may_refuse_identity(htd_str v)
{
    const unsigned char *p = (const unsigned char *)v.p;
    if (v.len < 8) {
        for (size_t i = 0; i < v.len; i++)
            if (p[i] == '*' || (p[i] | 0x20) == 'y') return 1;
        return 0;
    }
    /* Words of eight, the last one ending where the value does (it may
     * look at some bytes twice). */
    for (size_t i = 0; i + 8 < v.len; i += 8)
        if (star_or_y(word_load(p + i))) return 1;
    return star_or_y(word_load(p + v.len - 8));
}

int htd_choose_encoding(const unsigned q[ENC_COUNT], unsigned available)
{
    static const int order[] = {ENC_BR, ENC_GZIP, ENC_IDENTITY};
    int best = -1;
    for (int i = 0; i < 3; i++) {
        int k = order[i];
        if (!(available & (1u << k)) || q[k] == 0) continue;
        if (best < 0 || q[k] > q[best]) best = k;
    }
    return best;
}
