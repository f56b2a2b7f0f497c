/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_path.c - libFuzzer target for request paths (src/http/path.c):
 * percent-decoding and normalisation, percent-encoding back, the prefix rule
 * and the dotfile rule.
 *
 * The input is a path. htd_path_normalize must agree with a plain model of
 * it written here (decode everything, split at '/', keep a stack of
 * segments), and what it gives is checked for what the file system relies
 * on: it starts with '/', has no empty, "." or ".." segment, is no longer
 * than the input, is its own normal form (when it has no '%', which would be
 * decoded again), and comes back the same from its percent-encoding. A small out buffer must give
 * the same answer or "too long". Every buffer is exactly as large as it is said to be, so a read or
 * write past it is caught.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "path.h"

static int hex(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The model: in[0..len) decoded into d, then normalised into out (room for
 * 2 * len + 2). Returns the length, or -1 where htd refuses. */
static long model(const char *in, size_t len, char *d, char *out)
{
    if (len == 0 || in[0] != '/') return -1;
    size_t dn = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)in[i];
        if (c == '%') {
            if (i + 2 >= len || hex((unsigned char)in[i + 1]) < 0 ||
                hex((unsigned char)in[i + 2]) < 0)
                return -1;
            c = hex((unsigned char)in[i + 1]) * 16 + hex((unsigned char)in[i + 2]);
            i += 2;
        }
        if (c == 0) return -1;
        d[dn++] = (char)c;
    }
    /* Segments as (start, length) in d, on a stack. */
    size_t *segs = malloc((dn + 1) * 2 * sizeof *segs), nseg = 0;
    ENSURE(segs != NULL);
    int trailing = 0; /* the last segment read was empty, "." or ".." */
    for (size_t s = 1; s <= dn;) {
        size_t e = s;
        while (e < dn && d[e] != '/')
            e++;
        size_t n = e - s;
        trailing = n == 0 || (n == 1 && d[s] == '.') || (n == 2 && d[s] == '.' && d[s + 1] == '.');
        if (n == 2 && d[s] == '.' && d[s + 1] == '.') {
            if (nseg == 0) {
                free(segs);
                return -1;
            }
            nseg--;
        } else if (!trailing) {
            segs[2 * nseg] = s, segs[2 * nseg + 1] = n, nseg++;
        }
        s = e + 1;
    }
    size_t n = 0;
    out[n++] = '/';
    for (size_t k = 0; k < nseg; k++) {
        memcpy(out + n, d + segs[2 * k], segs[2 * k + 1]);
        n += segs[2 * k + 1];
        if (k + 1 < nseg || trailing) out[n++] = '/';
    }
    free(segs);
    return (long)n;
}

/* A segment of p[0..n) starting with '.', other than a first ".well-known". */
static int hidden_model(const char *p, size_t n)
{
    for (size_t s = 1; s < n;) {
        size_t e = s;
        while (e < n && p[e] != '/')
            e++;
        if (e > s && p[s] == '.' &&
            !(s == 1 && e - s == 11 && memcmp(p + s, ".well-known", 11) == 0))
            return 1;
        s = e + 1;
    }
    return 0;
}

static int normalize(const char *in, size_t len, char **out, size_t cap, const char **why)
{
    *out = malloc(cap ? cap : 1);
    ENSURE(*out != NULL);
    *why = NULL;
    int dotless;
    int r = htd_path_normalize_dotless(in, len, *out, cap, why, &dotless);
    ENSURE(r >= -1);
    /* A path said to have no segment that starts with '.' has none. */
    ENSURE(!dotless || (r >= 0 && !hidden_model(*out, (size_t)r)));
    ENSURE(r >= 0 || *why != NULL);
    ENSURE(r < 0 || ((size_t)r < cap && (*out)[r] == '\0'));
    return r;
}

static void check_prefixes(const char *p, size_t n, uint32_t h)
{
    ENSURE(htd_path_under(p, n, p, n));
    ENSURE(htd_path_under(p, n, "/", 1) && htd_path_under(p, n, "", 0));
    /* Every cut of the path is a prefix of it by whole segments exactly when
     * it ends at a '/' or before one, or at the end. */
    size_t k = h % (n + 1);
    char *pre = malloc(k ? k : 1);
    ENSURE(pre != NULL);
    memcpy(pre, p, k);
    int whole = k == 0 || k == n || p[k - 1] == '/' || p[k] == '/';
    ENSURE(htd_path_under(p, n, pre, k) == whole);
    /* and no path is under a longer one */
    if (k < n) ENSURE(!htd_path_under(pre, k, p, n));
    free(pre);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    uint32_t h = fuzz_hash(data, size);
    size_t big = 2 * size + 2;

    /* the model, in buffers of their own */
    char *d = malloc(size + 1), *want = malloc(big);
    ENSURE(d && want);
    long m = model(in, size, d, want);

    char *out;
    const char *why;
    int r = normalize(in, size, &out, big, &why);
    ENSURE(r == m);
    if (r >= 0) ENSURE(memcmp(out, want, (size_t)r) == 0);

    /* A small buffer: the same answer when it fits, "too long" when not. */
    char *small;
    const char *why2;
    size_t cap = h % (size + 2);
    int r2 = normalize(in, size, &small, cap, &why2);
    if (r < 0) {
        ENSURE(r2 < 0);
    } else if ((size_t)r < cap) {
        ENSURE(r2 == r && memcmp(small, out, (size_t)r) == 0);
    } else {
        ENSURE(r2 < 0 && strcmp(why2, "path too long") == 0);
    }
    free(small);

    if (r >= 0) {
        size_t n = (size_t)r;
        ENSURE(n >= 1 && n <= size && out[0] == '/');
        ENSURE(strlen(out) == n);
        ENSURE(!strstr(out, "//") && !strstr(out, "/./") && !strstr(out, "/../"));
        ENSURE(!(n >= 2 && memcmp(out + n - 2, "/.", 2) == 0));
        ENSURE(!(n >= 3 && memcmp(out + n - 3, "/..", 3) == 0));

        /* Its own normal form, when it has no '%' to decode again (a
         * decoded "%2e" is a name, not a dot); in a buffer of its size. */
        char *p = malloc(n), *again;
        ENSURE(p != NULL);
        memcpy(p, out, n);
        if (!memchr(p, '%', n)) {
            ENSURE(normalize(p, n, &again, n + 1, &why2) == r && memcmp(again, out, n) == 0);
            free(again);
        }

        /* Encoded and decoded again, the same path; whole encoded bytes only
         * when the room is short, and the same length said either way. */
        size_t elen = htd_pct_encode(p, n, HTD_PCT_PATH, NULL, 0);
        ENSURE(elen >= n && elen <= 3 * n);
        char *enc = malloc(elen);
        ENSURE(enc != NULL);
        ENSURE(htd_pct_encode(p, n, HTD_PCT_PATH, enc, elen) == elen);
        for (size_t i = 0; i < elen; i++) {
            unsigned char c = (unsigned char)enc[i];
            if (c == '%') {
                ENSURE(i + 2 < elen && strchr("0123456789ABCDEF", enc[i + 1]) &&
                       strchr("0123456789ABCDEF", enc[i + 2]));
                i += 2;
            } else {
                ENSURE(c && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                             (c >= '0' && c <= '9') || strchr(HTD_PCT_PATH, c)));
            }
        }
        size_t ecap = h % (elen + 1);
        char *part = malloc(ecap ? ecap : 1);
        ENSURE(part != NULL);
        ENSURE(htd_pct_encode(p, n, HTD_PCT_PATH, part, ecap) == elen);
        size_t whole = 0; /* the encoded bytes that fit whole */
        for (size_t i = 0; i < elen && whole < ecap;) {
            size_t w = enc[i] == '%' ? 3 : 1;
            if (whole + w > ecap) break;
            whole += w, i += w;
        }
        ENSURE(memcmp(part, enc, whole) == 0);
        free(part);
        ENSURE(normalize(enc, elen, &again, n + 1, &why2) == r && memcmp(again, out, n) == 0);
        free(again);
        free(enc);

        ENSURE(htd_path_hidden(p, n) == hidden_model(p, n));
        check_prefixes(p, n, h >> 8);
        free(p);
    }

    /* The prefix and dotfile rules take any bytes, not only normal paths. */
    (void)htd_path_hidden(in, size);
    if (size > 0) {
        size_t k = (h >> 16) % size;
        ENSURE(htd_path_under(in, size, in, k) == (k == 0 || in[k - 1] == '/' || in[k] == '/'));
    }

    free(out);
    free(d);
    free(want);
    return 0;
}
