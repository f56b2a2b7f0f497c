/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * path.c - percent-decoding and normalising a request path, the one gate
 * between a request-target and the file system.
 *
 * Decoding comes first and normalisation works on the decoded bytes, so an
 * encoded '/' or '.' ("%2F", "%2e%2e") is a separator or a dot segment like
 * any other: no spelling of ".." gets past the root. Decoding happens once:
 * "%252e" is the three characters "%2e", a plain file name.
 *
 * One pass, left to right, writing into out as it goes. out[0..n) always holds
 * "/" and the kept segments, each followed by '/'; the segment being read is
 * written after it, and on its end is kept, or dropped ("." and ".."), in
 * which case ".." also cuts the last kept segment off out. Whether a segment
 * is "." or ".." is tracked in counters rather than read back from out, so a
 * segment that did not fit is still classified.
 *
 * A result must fit in outcap, but its intermediate forms need not: in
 * "/<long name>/../x" the long name is dropped again. Kept segments that no
 * longer fit are only counted (over) and out stays as it was before them;
 * ".." uncounts them, and once none is left out is again exactly the result
 * so far.
 *
 * Here too, because they work on paths so normalised: htd_pct_encode and
 * htd_path_uri, the way back to a URI, and htd_path_under, the one rule by
 * which a path is under a prefix.
 */
#include "path.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "word.h"

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Where, in the eight bytes at p, a byte is c and the one after it is d or
 * e: a filter (word.h), whose hits the byte loops look at; p[0..9) is read. */
static inline uint64_t pairs(const char *p, char c, char d, char e)
{
    uint64_t next = word_load(p + 1);
    return WORD_HASLESS(word_load(p) ^ (WORD_ONES * (unsigned char)c), 1) &
           (WORD_HASLESS(next ^ (WORD_ONES * (unsigned char)d), 1) |
            WORD_HASLESS(next ^ (WORD_ONES * (unsigned char)e), 1));
}

static int refuse(char *out, size_t outcap, const char **why, const char *msg)
{
    if (outcap > 0) out[0] = '\0';
    if (why) *why = msg;
    return -1;
}

/* The common case, a path that is already its own normal form: nothing
 * encoded, no empty segment and no segment that begins with a dot (which
 * may be "." or ".."; a hidden name is merely left to the full pass). It is
 * copied as it is, which is what the full pass would write. */
static int plain(const char *in, size_t len, char *out, size_t room)
{
    static const unsigned char look[256] = {['%'] = 1, ['\0'] = 1, ['/'] = 1};
    if (len > room) return -1;
    size_t i = 0;
    for (; len - i >= 9; i += 8) { /* words with nothing to look at are copied */
        uint64_t w = word_load(in + i);
        if (WORD_HASLESS(w ^ (WORD_ONES * '%'), 1) | WORD_HASLESS(w, 1) |
            pairs(in + i, '/', '/', '.'))
            break;
        memcpy(out + i, &w, 8);
    }
    for (; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (look[c] && (c != '/' || (i + 1 < len && (in[i + 1] == '/' || in[i + 1] == '.'))))
            return -1;
        out[i] = (char)c;
    }
    out[len] = '\0';
    return (int)len;
}

int htd_path_normalize(const char *in, size_t len, char *out, size_t outcap, const char **why)
{
    int dotless;
    return htd_path_normalize_dotless(in, len, out, outcap, why, &dotless);
}

int htd_path_normalize_dotless(const char *in, size_t len, char *out, size_t outcap,
                               const char **why, int *dotless)
{
    *dotless = 0;
    if (len == 0 || in[0] != '/') return refuse(out, outcap, why, "path does not start with '/'");
    if (outcap < 2) return refuse(out, outcap, why, "path too long");

    /* Room for the result's bytes, without its NUL; no more than an int says. */
    size_t room = outcap - 1 < (size_t)INT_MAX ? outcap - 1 : (size_t)INT_MAX;
    int fast = plain(in, len, out, room);
    if (fast >= 0) {
        *dotless = 1; /* plain has no "/." */
        return fast;
    }
    size_t n = 1;    /* out[0..n) is "/" and the kept segments */
    size_t over = 0; /* kept segments past room, not in out */
    size_t seg = 0;  /* length of the segment being read */
    int dots = 1;    /* it is all '.' so far */
    out[0] = '/';

    for (size_t i = 1; i <= len; i++) {
        unsigned char c;
        if (i == len) {
            c = '/'; /* the end closes the last segment like a separator */
        } else {
            c = (unsigned char)in[i];
            if (c == '%') {
                int hi = i + 2 < len ? hexval((unsigned char)in[i + 1]) : -1;
                int lo = hi >= 0 ? hexval((unsigned char)in[i + 2]) : -1;
                if (lo < 0) return refuse(out, outcap, why, "bad percent-encoding");
                c = (unsigned char)(hi << 4 | lo);
                i += 2;
            }
            if (c == '\0') return refuse(out, outcap, why, "NUL byte in path");
        }

        if (c != '/') {
            if (over == 0 && n + seg < room) out[n + seg] = (char)c;
            seg++;
            dots &= c == '.';
            continue;
        }

        /* A segment ends. Empty ones ("//") and "." leave no trace. */
        if (seg == 0 || (dots && seg == 1)) {
            /* nothing */
        } else if (dots && seg == 2) {
            if (over > 0) {
                over--;
            } else {
                if (n == 1) return refuse(out, outcap, why, "path escapes the document root");
                n--; /* the '/' after the last kept segment */
                while (out[n - 1] != '/')
                    n--;
            }
        } else if (i == len) {
            /* The last segment, with no '/' after it. */
            if (over > 0 || n + seg > room) return refuse(out, outcap, why, "path too long");
            n += seg;
        } else if (over > 0) {
            over++;
        } else if (n + seg + 1 > room) {
            over = 1;
        } else {
            out[n + seg] = '/';
            n += seg + 1;
        }
        seg = 0;
        dots = 1;
    }
    if (over > 0) return refuse(out, outcap, why, "path too long");
    out[n] = '\0';
    return (int)n;
}

size_t htd_pct_encode(const char *in, size_t len, const char *keep, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            (c && strchr(keep, c))) {
            if (n < cap) out[n] = (char)c;
            n++;
        } else {
            if (n + 3 <= cap) out[n] = '%', out[n + 1] = hex[c >> 4], out[n + 2] = hex[c & 15];
            n += 3;
        }
    }
    return n;
}

size_t htd_path_uri(const char *path, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        const char *keep = i == 1 && path[0] == '/' && path[1] == '/' ? "" : HTD_PCT_PATH;
        n += htd_pct_encode(path + i, 1, keep, out + (n < cap ? n : cap), n < cap ? cap - n : 0);
    }
    return n;
}

int htd_path_under(const char *path, size_t len, const char *prefix, size_t plen)
{
    return len >= plen && memcmp(path, prefix, plen) == 0 &&
           (plen == 0 || prefix[plen - 1] == '/' || len == plen || path[plen] == '/');
}

int htd_path_hidden(const char *path, size_t len)
{
    size_t i = 0;
    for (; len - i >= 9; i += 8) /* words without a "/." are passed over */
        if (pairs(path + i, '/', '.', '.')) break;
    for (; i + 1 < len; i++) {
        if (path[i] == '/' && path[i + 1] == '.') {
            if (i == 0 && len >= 12 && memcmp(path + 1, ".well-known", 11) == 0 &&
                (len == 12 || path[12] == '/'))
                continue;
            return 1;
        }
    }
    return 0;
}
