/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_htpasswd.c - libFuzzer target for the htpasswd loader and the Basic
 * credentials parser (src/modules/auth.c).
 *
 * The input is an htpasswd file, loaded by auth_load_text, which is what
 * auth_load does once it has read the file. Loaded, every user line of the
 * input (read again here: lines, CR stripped, blanks and comments skipped)
 * must be found by auth_lookup with its hash, a name that is not there must
 * not be, and the dummy hash must exist exactly when a user does. Refused,
 * the message must name the file and never show a hash.
 *
 * The same input is then an Authorization value for auth_parse_basic: what it
 * accepts has a non-empty user without ':' and no control characters, and its
 * base64 has one spelling, so encoding "user:pass" again must give back the
 * input's base64 byte for byte.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "fuzz.h"

#define NAME "fuzz.htpasswd"

typedef struct line {
    const char *name, *hash;
    size_t nlen, hlen;
} line;

/* The user lines of text[0..len), as the loader reads them. */
static size_t user_lines(const char *text, size_t len, line *out)
{
    size_t n = 0;
    for (size_t s = 0; s < len;) {
        const char *nl = memchr(text + s, '\n', len - s);
        size_t e = nl ? (size_t)(nl - text) : len, next = nl ? e + 1 : len;
        if (e > s && text[e - 1] == '\r') e--;
        size_t b = s;
        while (b < e && (text[b] == ' ' || text[b] == '\t'))
            b++;
        if (b < e && text[s] != '#') {
            const char *colon = memchr(text + s, ':', e - s);
            ENSURE(colon != NULL); /* or the loader would have refused */
            out[n++] = (line){text + s, colon + 1, (size_t)(colon - text) - s,
                              e - (size_t)(colon + 1 - text)};
        }
        s = next;
    }
    return n;
}

/* The name on line number ln of text[0..len) (up to its ':'), or an empty one. */
static line line_name(const char *text, size_t len, unsigned long ln)
{
    size_t s = 0;
    for (unsigned long i = 1; i < ln && s < len; i++) {
        const char *nl = memchr(text + s, '\n', len - s);
        s = nl ? (size_t)(nl - text) + 1 : len;
    }
    const char *nl = memchr(text + s, '\n', len - s);
    size_t e = nl ? (size_t)(nl - text) : len;
    const char *colon = memchr(text + s, ':', e - s);
    return (line){text + s, NULL, colon ? (size_t)(colon - text) - s : 0, 0};
}

/* Refused: the message names the file and a line, and after the user name
 * it may show, no hash. A hash is what follows a line's ':' from its first
 * '$' or '{' on (where every hash format starts), if it is long enough to be
 * told from the messages' own words. */
static void check_refused(const char *text, size_t len, const char *err)
{
    ENSURE(strncmp(err, NAME ":", strlen(NAME ":")) == 0);
    char *end;
    unsigned long ln = strtoul(err + strlen(NAME ":"), &end, 10);
    ENSURE(ln >= 1 && end[0] == ':' && end[1] == ' ');
    const char *rest = end + 2;
    line who = line_name(text, len, ln);
    if (strncmp(rest, "user ", 5) == 0 && strncmp(rest + 5, who.name, who.nlen) == 0 &&
        strncmp(rest + 5 + who.nlen, ": ", 2) == 0)
        rest += 5 + who.nlen + 2;
    for (size_t s = 0; s < len;) {
        const char *nl = memchr(text + s, '\n', len - s);
        size_t e = nl ? (size_t)(nl - text) : len;
        const char *h = memchr(text + s, ':', e - s);
        while (h && h < text + e && *h != '$' && *h != '{')
            h++;
        size_t hl = h ? (size_t)(text + e - h) : 0;
        if (hl && h[hl - 1] == '\r') hl--;
        if (hl >= 8 && !memchr(h, '\0', hl)) {
            char *hs = strndup(h, hl);
            ENSURE(hs != NULL);
            ENSURE(strstr(rest, hs) == NULL);
            free(hs);
        }
        s = nl ? e + 1 : len;
    }
}

static void check_load(const char *text, size_t len)
{
    static char err[8192]; /* room for any name, so nothing is cut */
    err[0] = '\0';
    auth_users *u = auth_load_text(text, len, NAME, err, sizeof err);
    if (!u) {
        check_refused(text, len, err);
        return;
    }
    line *lines = malloc((len + 1) * sizeof *lines);
    ENSURE(lines != NULL);
    size_t n = user_lines(text, len, lines);
    for (size_t i = 0; i < n; i++) {
        const char *h = auth_lookup(u, (htd_str){lines[i].name, lines[i].nlen});
        ENSURE(h != NULL && strlen(h) == lines[i].hlen &&
               memcmp(h, lines[i].hash, lines[i].hlen) == 0);
        ENSURE(lines[i].nlen > 0 && !memchr(lines[i].name, ':', lines[i].nlen));
        for (size_t k = 0; k < lines[i].nlen; k++)
            ENSURE((unsigned char)lines[i].name[k] >= 0x20 && lines[i].name[k] != 0x7f);
        ENSURE(h[0] == '$');
        /* one byte more is another name, which no line has (names hold no ':') */
        char *longer = malloc(lines[i].nlen + 1);
        ENSURE(longer != NULL);
        memcpy(longer, lines[i].name, lines[i].nlen);
        longer[lines[i].nlen] = ':';
        ENSURE(auth_lookup(u, (htd_str){longer, lines[i].nlen + 1}) == NULL);
        free(longer);
    }
    ENSURE((auth_dummy(u) != NULL) == (n > 0));
    ENSURE(auth_lookup(u, (htd_str){"", 0}) == NULL);
    free(lines);
    auth_free(u);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t encode64(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? b64[v & 63] : '=';
    }
    return o;
}

static void check_basic(const char *v, size_t len, size_t cap)
{
    char *buf = malloc(cap ? cap : 1);
    ENSURE(buf != NULL);
    htd_str user, pass;
    if (auth_parse_basic((htd_str){v, len}, buf, cap, &user, &pass) == 0) {
        ENSURE(user.p == buf && user.len > 0 && !memchr(user.p, ':', user.len));
        ENSURE(pass.p == user.p + user.len + 1 && pass.p + pass.len <= buf + cap);
        for (size_t i = 0; i < user.len + 1 + pass.len; i++)
            ENSURE((unsigned char)buf[i] >= 0x20 && buf[i] != 0x7f);
        /* "Basic" in any case, spaces, then the one spelling of the bytes */
        ENSURE(len > 6 && strncasecmp(v, "basic ", 6) == 0);
        size_t at = 6;
        while (at < len && v[at] == ' ')
            at++;
        size_t dn = user.len + 1 + pass.len;
        char *enc = malloc((dn + 2) / 3 * 4 + 1);
        ENSURE(enc != NULL);
        size_t en = encode64((const unsigned char *)buf, dn, enc);
        ENSURE(en == len - at && memcmp(enc, v + at, en) == 0);
        free(enc);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A buffer of its own, so that a read past the input is caught. */
    char *text = malloc(size ? size : 1);
    ENSURE(text != NULL);
    memcpy(text, data, size);
    check_load(text, size);
    check_basic(text, size, 512);
    check_basic(text, size, fuzz_hash(data, size) % 64);
    free(text);
    return 0;
}
