/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_range.c - libFuzzer target for the Range field (src/http/range.c).
 *
 * The input's first byte picks a file size (0, a few bytes, a size of some
 * megabytes, or one near 2^64) and a cap on the ranges; the rest is the field
 * value. htd_range_parse must agree with a model written here the other way
 * round: the value split at commas first, and every number kept as its
 * digits and compared as a decimal string, so no number is ever too long.
 * Whatever it answers, every range it gives lies inside the file, in the
 * order asked, and there are no more than the cap; the output array is
 * exactly the cap long, so a write past it is caught.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "range.h"

/* Digits without their leading zeros. */
typedef struct dec {
    const char *p;
    size_t n;
} dec;

static dec trim_zeros(const char *p, size_t n)
{
    while (n > 0 && *p == '0')
        p++, n--;
    return (dec){p, n};
}

static int cmp(dec a, dec b)
{
    if (a.n != b.n) return a.n < b.n ? -1 : 1;
    int c = memcmp(a.p, b.p, a.n);
    return (c > 0) - (c < 0);
}

/* d as a number, when it is known to be below 2^64. */
static uint64_t value(dec d)
{
    uint64_t v = 0;
    for (size_t i = 0; i < d.n; i++)
        v = v * 10 + (uint64_t)(d.p[i] - '0');
    return v;
}

static size_t digits(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9')
        i++;
    return i;
}

static int ows(char c)
{
    return c == ' ' || c == '\t';
}

/* The model: as htd_range_parse, into out[0..max). */
static int model(const char *v, size_t len, uint64_t size, htd_range *out, int max)
{
    char sz[24];
    snprintf(sz, sizeof sz, "%llu", (unsigned long long)size);
    dec dsize = trim_zeros(sz, strlen(sz));

    size_t i = 0;
    while (i < len && ows(v[i]))
        i++;
    if (len - i < 6 || strncasecmp(v + i, "bytes", 5) != 0 || v[i + 5] != '=') return 0;
    i += 6;
    int specs = 0, n = 0;
    while (i <= len) {
        size_t e = i;
        while (e < len && v[e] != ',')
            e++;
        size_t s = i, t = e;
        while (s < t && ows(v[s]))
            s++;
        while (t > s && ows(v[t - 1]))
            t--;
        i = e + 1;
        if (s == t) continue; /* an empty element */
        htd_range r;
        int sat;
        if (v[s] == '-') {
            size_t k = digits(v + s + 1, t - s - 1);
            if (k == 0 || s + 1 + k != t) return 0;
            dec b = trim_zeros(v + s + 1, k);
            sat = b.n > 0 && size > 0;
            r.first = cmp(b, dsize) >= 0 ? 0 : size - value(b);
            r.last = size - 1;
        } else {
            size_t k = digits(v + s, t - s);
            if (k == 0 || s + k == t || v[s + k] != '-') return 0;
            size_t k2 = digits(v + s + k + 1, t - s - k - 1);
            if (s + k + 1 + k2 != t) return 0;
            dec a = trim_zeros(v + s, k), b = trim_zeros(v + s + k + 1, k2);
            if (k2 > 0 && cmp(a, b) > 0) return 0;
            sat = cmp(a, dsize) < 0;
            r.first = sat ? value(a) : 0;
            r.last = k2 == 0 || cmp(b, dsize) >= 0 ? size - 1 : value(b);
        }
        if (++specs > max) return 0;
        if (sat) out[n++] = r;
    }
    if (specs == 0) return 0;
    return n > 0 ? n : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const uint64_t sizes[] = {0,
                                     1,
                                     2,
                                     10,
                                     100,
                                     1000,
                                     10000,
                                     1 << 20,
                                     123456789,
                                     (uint64_t)1 << 53,
                                     UINT64_MAX / 2,
                                     UINT64_MAX - 1,
                                     UINT64_MAX};
    uint64_t fsize = sizes[(data[0] & 15) % (sizeof sizes / sizeof *sizes)];
    int max = 1 + (data[0] >> 4); /* 1 to 16 */
    /* The value, in a buffer of its own */
    size_t len = size - 1;
    char *v = malloc(len ? len : 1);
    htd_range *out = malloc((size_t)max * sizeof *out);
    htd_range *want = malloc(HTD_MAX_RANGES * sizeof *want);
    htd_range *all = malloc(HTD_MAX_RANGES * sizeof *all);
    ENSURE(v && out && want && all);
    memcpy(v, data + 1, len);

    int n = htd_range_parse(v, len, fsize, out, max);
    ENSURE(n >= -1 && n <= max);
    for (int i = 0; i < n; i++)
        ENSURE(out[i].first <= out[i].last && out[i].last < fsize);
    if (n != 0) ENSURE(fsize > 0 || n == -1);

    int m = model(v, len, fsize, want, max);
    ENSURE(n == m);
    for (int i = 0; i < n; i++)
        ENSURE(out[i].first == want[i].first && out[i].last == want[i].last);

    /* With the largest cap, the same answer whenever the small one allowed it. */
    int k = htd_range_parse(v, len, fsize, all, HTD_MAX_RANGES);
    if (n != 0) {
        ENSURE(k == n);
        for (int i = 0; i < n; i++)
            ENSURE(all[i].first == out[i].first && all[i].last == out[i].last);
    }

    free(v);
    free(out);
    free(want);
    free(all);
    return 0;
}
