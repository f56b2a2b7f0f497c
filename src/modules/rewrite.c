/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rewrite.c - checking redirect templates at load and expanding them into a
 * Location value per request.
 *
 * Everything substituted comes from the request, so the expansion is where a
 * client's bytes meet a response header. Captures and $path are decoded path
 * bytes and are percent-encoded back to what a path may hold; $query and $host
 * are already in URI form and only lose what may never appear in one. Either
 * way no byte below 0x21 is ever written, so a substitution cannot end the
 * Location header or start another.
 *
 * The template's own text is the operator's; rewrite_check refuses spaces and
 * control characters in it at load, when an error can still be shown.
 * rewrite_expand encodes them anyway, so the guarantee above does not depend
 * on the check having been run.
 */
#include "rewrite.h"

#include "errbuf.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "path.h"

#define USE "use $0-$9, $path, $query, $host or $$"

enum var { V_CAPTURE, V_PATH, V_QUERY, V_HOST, V_DOLLAR, V_UNKNOWN };

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* What the text after a '$' names. *len is how many bytes of t the name takes
 * (0 for a '$' followed by no name at all), *n the digit of a capture. */
static enum var variable(const char *t, size_t *len, int *n)
{
    unsigned char c = (unsigned char)t[0];
    *len = 1;
    if (is_digit(c)) {
        *n = c - '0';
        return V_CAPTURE;
    }
    if (c == '$') return V_DOLLAR;
    if (!is_alpha(c) && c != '_') {
        *len = 0;
        return V_UNKNOWN;
    }
    size_t k = 1;
    while (is_alpha((unsigned char)t[k]) || is_digit((unsigned char)t[k]) || t[k] == '_')
        k++;
    *len = k;
    if (k == 4 && memcmp(t, "path", 4) == 0) return V_PATH;
    if (k == 5 && memcmp(t, "query", 5) == 0) return V_QUERY;
    if (k == 4 && memcmp(t, "host", 4) == 0) return V_HOST;
    return V_UNKNOWN;
}

int rewrite_check(const char *tmpl, int max_capture, char *err, size_t errlen)
{
    if (tmpl[0] == '\0') return errbuf(err, errlen, "empty redirect target");
    /* First the bytes, so that the '$' pass below never has to print one. */
    for (size_t i = 0; tmpl[i]; i++) {
        unsigned char c = (unsigned char)tmpl[i];
        if (c < 0x21 || c == 0x7f)
            return errbuf(
                err, errlen,
                "redirect target has a space or control character (0x%02X) at offset %zu; "
                "percent-encode it",
                c, i);
    }
    for (const char *t = tmpl; *t; t++) {
        if (*t != '$') continue;
        size_t len;
        int n = 0;
        enum var v = variable(t + 1, &len, &n);
        if (v == V_UNKNOWN && t[1] == '\0')
            return errbuf(err, errlen,
                          "'$' at the end of redirect target; write $$ for a literal $");
        if (v == V_UNKNOWN && len == 0)
            return errbuf(err, errlen, "'$' before '%c' in redirect target; " USE, t[1]);
        if (v == V_UNKNOWN)
            return errbuf(err, errlen, "unknown variable $%.*s in redirect target; " USE,
                          (int)(len > 32 ? 32 : len), t + 1);
        if (v == V_CAPTURE && n > max_capture) {
            if (max_capture <= 0)
                return errbuf(err, errlen, "$%d but the rule captures nothing (only $0 is set)", n);
            if (max_capture == 1)
                return errbuf(err, errlen, "$%d but the rule has only 1 group", n);
            return errbuf(err, errlen, "$%d but the regex has only %d groups", n, max_capture);
        }
        t += len;
    }
    return 0;
}

/* The output as it is written: bytes past room are not written, only noted. */
typedef struct sink {
    char *p;
    size_t n, room;
    int full;
    int lead_literal; /* p[0] came from the template's text */
} sink;

static void put(sink *s, char c)
{
    if (s->n < s->room)
        s->p[s->n++] = c;
    else
        s->full = 1;
}

/* What $query and $host keep: every printable ASCII byte but those that may
 * never appear in a URI, " < > \ ^ ` { | }. */
#define URI_KEEPS "!#$%&'()*+,-./:;=?@[]_~"

/* Writes byte c, percent-encoded unless keep (as for htd_pct_encode) keeps
 * it; NULL writes it as it is. literal: it is the template's own text. */
static void emit(sink *s, unsigned char c, const char *keep, int literal)
{
    /* No "//" at the start unless the template wrote both (see rewrite.h). */
    if (s->n == 1 && c == '/' && s->p[0] == '/' && !(literal && s->lead_literal)) keep = "";
    if (s->n == 0) s->lead_literal = literal;
    if (!keep) {
        put(s, (char)c);
        return;
    }
    char enc[3];
    size_t n = htd_pct_encode((const char *)&c, 1, keep, enc, sizeof enc);
    for (size_t i = 0; i < n; i++)
        put(s, enc[i]);
}

static void emit_all(sink *s, htd_str v, const char *keep)
{
    for (size_t i = 0; i < v.len; i++)
        emit(s, (unsigned char)v.p[i], keep, 0);
}

int rewrite_expand(const char *tmpl, const htd_str *caps, int ncaps, htd_str path, htd_str query,
                   htd_str host, int keep_query, char *out, size_t cap)
{
    if (cap == 0) return -1;
    sink s = {.p = out, .room = cap - 1 < (size_t)INT_MAX ? cap - 1 : (size_t)INT_MAX};

    for (const char *t = tmpl; *t; t++) {
        unsigned char c = (unsigned char)*t;
        if (c != '$') {
            /* As it is, but for the spaces and controls rewrite_check refuses:
             * "" keeps letters and digits only, so it encodes them. */
            emit(&s, c, c < 0x21 || c == 0x7f ? "" : NULL, 1);
            continue;
        }
        size_t len;
        int n = 0;
        switch (variable(t + 1, &len, &n)) {
        case V_CAPTURE:
            if (n < ncaps && caps[n].p) emit_all(&s, caps[n], HTD_PCT_PATH);
            break;
        case V_PATH:
            if (path.p) emit_all(&s, path, HTD_PCT_PATH);
            break;
        case V_QUERY:
            if (query.p) emit_all(&s, query, URI_KEEPS);
            break;
        case V_HOST:
            if (host.p) emit_all(&s, host, URI_KEEPS);
            break;
        case V_DOLLAR:
            emit(&s, '$', NULL, 1);
            break;
        case V_UNKNOWN:
            /* Unchecked template: the '$' and the name stay as text. */
            emit(&s, '$', NULL, 1);
            len = 0;
            break;
        }
        t += len;
    }

    if (keep_query && query.p && query.len > 0) {
        emit(&s, memchr(out, '?', s.n) ? '&' : '?', NULL, 1);
        emit_all(&s, query, URI_KEEPS);
    }
    if (s.full) return -1;
    out[s.n] = '\0';
    return (int)s.n;
}
