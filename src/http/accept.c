/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * accept.c - the Accept field (RFC 9110 section 12.5.1): which of two media
 * types a client prefers (accept.h).
 */
#include "accept.h"

#include <string.h>

#include "encoding.h"
#include "fields.h"
#include "parser.h"

static size_t skip_ows(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

static size_t skip_token(const char *s, size_t i, size_t n)
{
    while (i < n && htd_is_tchar((unsigned char)s[i]))
        i++;
    return i;
}

/* After a malformed element: on to the next ',' that is not in a quoted
 * string. */
static size_t skip_element(const char *s, size_t i, size_t n)
{
    int quoted = 0;
    for (; i < n; i++) {
        if (quoted && s[i] == '\\') {
            i++;
        } else if (s[i] == '"') {
            quoted = !quoted;
        } else if (!quoted && s[i] == ',') {
            break;
        }
    }
    return i;
}

/* How specifically the media range t/st matches the media type
 * want_type/want_sub: 2 exactly, 1 by a wildcard subtype, 0 by the wildcard
 * for every type, -1 not at all (a wildcard type with a named subtype is not
 * a range). */
static int match(const char *t, size_t tn, const char *st, size_t sn, const char *want_type,
                 const char *want_sub)
{
    int star_t = tn == 1 && t[0] == '*', star_s = sn == 1 && st[0] == '*';
    if (star_t) return star_s ? 0 : -1;
    if (!htd_str_ieq((htd_str){t, tn}, want_type, strlen(want_type))) return -1;
    if (star_s) return 1;
    return htd_str_ieq((htd_str){st, sn}, want_sub, strlen(want_sub)) ? 2 : -1;
}

int accept_prefers(htd_str accept, const char *type, const char *sub, const char *other_type,
                   const char *other_sub)
{
    const char *s = accept.p;
    size_t n = s ? accept.len : 0, i = 0;
    int a_spec = -1, a_q = 0, b_spec = -1, b_q = 0;

    while (i < n) {
        i = skip_ows(s, i, n);
        if (i < n && s[i] == ',') { /* an empty list element */
            i++;
            continue;
        }
        if (i >= n) break;
        /* type "/" subtype */
        size_t t = i, te = skip_token(s, i, n);
        if (te == t || te >= n || s[te] != '/') goto malformed;
        size_t st = te + 1, ste = skip_token(s, st, n);
        if (ste == st) goto malformed;
        i = ste;
        /* *( OWS ";" OWS name "=" value ); only q counts. Parameters after
         * q are accept-ext, ignored like the media type's own. */
        int q = 1000, seen_q = 0;
        for (;;) {
            i = skip_ows(s, i, n);
            if (i >= n || s[i] == ',') break;
            if (s[i] != ';') goto malformed;
            i = skip_ows(s, i + 1, n);
            if (i >= n || s[i] == ',') break; /* a bare ";" at the end */
            size_t pn = i, pne = skip_token(s, i, n);
            if (pne == pn || pne >= n || s[pne] != '=') goto malformed;
            size_t v = pne + 1, ve;
            if (v < n && s[v] == '"') {
                ve = v + 1;
                while (ve < n && s[ve] != '"')
                    ve += s[ve] == '\\' ? 2 : 1;
                if (ve >= n) goto malformed;
                ve++;
            } else {
                ve = skip_token(s, v, n);
                if (ve == v) goto malformed;
            }
            if (!seen_q && htd_str_ieq((htd_str){s + pn, pne - pn}, "q", 1)) {
                q = htd_qvalue(s + v, ve - v);
                if (q < 0) goto malformed;
                seen_q = 1;
            }
            i = ve;
        }
        int ma = match(s + t, te - t, s + st, ste - st, type, sub);
        int mb = match(s + t, te - t, s + st, ste - st, other_type, other_sub);
        if (ma > a_spec) a_spec = ma, a_q = q;
        if (mb > b_spec) b_spec = mb, b_q = q;
        continue;
    malformed:
        i = skip_element(s, i, n);
    }
    return a_q > b_q;
}
