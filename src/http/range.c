/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * range.c - parsing a Range field of byte ranges (RFC 9110 section 14.1.2)
 * against the size of the representation it asks about.
 *
 *   Range = "bytes" "=" 1#( first-pos "-" [ last-pos ] / "-" suffix-length )
 *
 * The unit is case-insensitive; list elements are separated by commas with
 * optional whitespace, and empty elements are allowed and skipped, as in every
 * HTTP list. Any other unit or a malformed element makes the whole field
 * invalid, and an invalid field is ignored (the caller sends a 200).
 *
 * Numbers may be longer than 64 bits can hold. Such a number saturates: as a
 * first-pos it is beyond any size (so unsatisfiable), as a last-pos or suffix
 * it is clipped to the size like any large number. Only "first > last" needs
 * the true values, and compares the digit strings when both saturated.
 *
 * htd_range_coalesce then decides what is sent of the ranges parsed: the
 * whole instead, when they ask for more bytes than there are, else the
 * ranges with overlapping and adjacent ones merged. The parts keep the
 * client's order, as RFC 9110 section 14.6 asks (a client may want a later
 * part first): a merged range stands where the first of its ranges stood.
 */
#include "range.h"

/* A run of digits: where it starts and ends, and its value saturated at
 * UINT64_MAX. */
typedef struct num {
    const char *p, *end;
    uint64_t v;
} num;

static const char *number(const char *p, const char *end, num *n)
{
    uint64_t v = 0;
    n->p = p;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    }
    n->end = p;
    n->v = v;
    return p;
}

/* a > b as numbers of any length. */
static int greater(const num *a, const num *b)
{
    if (a->v != b->v) return a->v > b->v;
    if (a->v != UINT64_MAX) return 0;
    const char *x = a->p, *y = b->p;
    while (x < a->end && *x == '0')
        x++;
    while (y < b->end && *y == '0')
        y++;
    size_t lx = (size_t)(a->end - x), ly = (size_t)(b->end - y);
    if (lx != ly) return lx > ly;
    for (; x < a->end; x++, y++)
        if (*x != *y) return *x > *y;
    return 0;
}

static const char *ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

int htd_range_parse(const char *v, size_t len, uint64_t size, htd_range *out, int max)
{
    const char *p = v, *end = v + len;
    int specs = 0, n = 0;

    p = ows(p, end); /* a field value has no leading whitespace, but be kind */
    if (end - p < 6 || (p[0] | 0x20) != 'b' || (p[1] | 0x20) != 'y' || (p[2] | 0x20) != 't' ||
        (p[3] | 0x20) != 'e' || (p[4] | 0x20) != 's' || p[5] != '=')
        return 0;
    p += 6;

    for (;;) {
        /* Skip empty elements: "bytes=, 0-1 ,,2-3". */
        while (p < end && (*p == ',' || *p == ' ' || *p == '\t'))
            p++;
        if (p == end) break;

        num a, b;
        htd_range r = {0, 0};
        int sat; /* satisfiable */
        if (*p == '-') {
            p = number(p + 1, end, &b);
            if (p == b.p) return 0;
            sat = b.v > 0 && size > 0;
            r.first = b.v >= size ? 0 : size - b.v;
            r.last = size - 1;
        } else {
            p = number(p, end, &a);
            if (p == a.p || p == end || *p != '-') return 0;
            p = number(p + 1, end, &b);
            if (p == b.p)
                b.v = UINT64_MAX; /* "first-": to the end */
            else if (greater(&a, &b))
                return 0;
            sat = a.v < size;
            r.first = a.v;
            r.last = b.v >= size ? size - 1 : b.v;
        }
        if (++specs > max) return 0;
        if (sat) out[n++] = r;

        /* After an element: OWS, then a comma or the end. */
        p = ows(p, end);
        if (p < end && *p != ',') return 0;
    }
    if (specs == 0) return 0;
    return n > 0 ? n : -1;
}

/* Do a and b share a byte, or touch? (last < size <= UINT64_MAX, so last + 1
 * does not wrap.) */
static int touch(const htd_range *a, const htd_range *b)
{
    return a->first <= b->last + 1 && b->first <= a->last + 1;
}

int htd_range_coalesce(htd_range *r, int n, uint64_t size)
{
    /* The total, kept at most size so that it cannot wrap: each range is at
     * most size bytes long. */
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        uint64_t len = r[i].last - r[i].first + 1;
        if (len > size - total) return 0;
        total += len;
    }

    /* Each range takes in every later one it touches, which leaves the list.
     * Once r[i] touches nothing after it, nothing can join it later: a
     * union of two touching ranges is one run of bytes, so what touches it
     * touches one of them. */
    for (int i = 0; i < n; i++) {
        for (int j = i + 1; j < n;) {
            if (!touch(&r[i], &r[j])) {
                j++;
                continue;
            }
            if (r[j].first < r[i].first) r[i].first = r[j].first;
            if (r[j].last > r[i].last) r[i].last = r[j].last;
            for (int k = j + 1; k < n; k++)
                r[k - 1] = r[k];
            n--;
            j = i + 1; /* r[i] grew: look again at what it passed */
        }
    }
    return n;
}
