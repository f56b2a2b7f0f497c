/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pattern.c - the rules' regular expressions through PCRE2; see pattern.h.
 *
 * A match needs a match data block; rather than one allocated per
 * request, each thread has one in a buffer of its own, handed to PCRE2 by
 * an allocator that gives that buffer out (a thread matches one subject
 * at a time). Nothing is freed: the buffer goes with the thread.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "pattern.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GROUPS 10

static _Thread_local _Alignas(16) char md_buf[1024];

static void *md_alloc(size_t size, void *data)
{
    (void)data;
    return size <= sizeof md_buf ? md_buf : NULL;
}

static void md_free(void *p, void *data)
{
    (void)p, (void)data;
}

static pcre2_general_context *md_ctx;

static void make_ctx(void)
{
    md_ctx = pcre2_general_context_create(md_alloc, md_free, NULL);
}

/* What a pattern that starts with '^' says every match starts with: its
 * characters up to the first that is not a plain one (a character before a
 * quantifier is left out: it may be absent). */
static size_t literal_prefix(const char *pat, char *out)
{
    if (pat[0] != '^') return 0;
    size_t n = 0;
    for (const char *p = pat + 1; *p && !strchr(".[]()*+?{}|\\^$", *p); p++)
        out[n++] = *p;
    const char *next = pat + 1 + n;
    if (n && (*next == '?' || *next == '*' || *next == '{')) n--;
    return n;
}

pcre2_code *regex_compile(const char *pat, int *nsub, char **lit, size_t *lit_len, char *err,
                          size_t errlen)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make_ctx);
    int code;
    PCRE2_SIZE at;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, 0, &code, &at, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        snprintf(err, errlen, "%s at offset %zu", (const char *)msg, (size_t)at);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* without a JIT, the interpreter matches */
    uint32_t groups = 0;
    pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &groups);
    *nsub = (int)groups;
    *lit = malloc(strlen(pat) + 1);
    *lit_len = *lit ? literal_prefix(pat, *lit) : 0;
    if (!*lit || !md_ctx) {
        free(*lit);
        pcre2_code_free(re);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return re;
}

void regex_free(pcre2_code *re)
{
    pcre2_code_free(re);
}

int regex_match(const pcre2_code *re, const char *subject, size_t len, htd_str *caps, int max)
{
    pcre2_match_data *md = pcre2_match_data_create(GROUPS, md_ctx);
    if (!md) return 0;
    int rc = pcre2_match(re, (PCRE2_SPTR)subject, len, 0, 0, md, NULL);
    if (rc <= 0) return 0; /* no match, or a limit reached: not a match either */
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    uint32_t groups = 0;
    pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &groups);
    int n = (int)groups + 1 < max ? (int)groups + 1 : max;
    for (int k = 0; k < n; k++)
        caps[k] = k >= rc || ov[2 * k] == PCRE2_UNSET
                      ? (htd_str){NULL, 0}
                      : (htd_str){subject + ov[2 * k], (size_t)(ov[2 * k + 1] - ov[2 * k])};
    return n;
}

int regex_group(const pcre2_code *re, const char *name)
{
    int n = pcre2_substring_number_from_name(re, (PCRE2_SPTR)name);
    return n > 0 ? n : -1;
}

/* ---- constructs of other dialects ----
 *
 * A config written for nginx, Apache, lighttpd or Caddy, or by someone who
 * knows sed and grep, can hold a pattern that PCRE2 compiles without a word
 * and then reads otherwise: "\<" is a word boundary to GNU and a '<' here.
 * Such patterns load (they are valid PCRE), so the loader warns of them;
 * this is the pure half that finds them. It scans the text once, skipping
 * what cannot hold one (escapes, classes, comments), and reports only
 * constructs whose meaning here is known to differ. */

typedef struct {
    regex_trap *v;
    size_t n, max;
} traps;

static void trap(traps *t, size_t at, size_t len, const char *why, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void trap(traps *t, size_t at, size_t len, const char *why, const char *fmt, ...)
{
    if (t->n++ >= t->max) return; /* counted all the same */
    regex_trap *r = &t->v[t->n - 1];
    *r = (regex_trap){.at = at, .len = len, .why = why};
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->instead, sizeof r->instead, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof r->instead) /* cut: say so rather than suggest half a pattern */
        memcpy(r->instead + sizeof r->instead - 4, "...", 4);
}

static int is_hex(char c)
{
    return c && strchr("0123456789abcdefABCDEF", c) != NULL;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A character that stands for itself in a path and in a pattern. */
static int is_plain(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' ||
           c == '_' || c == '~';
}

static int hex_value(char c)
{
    return is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* nginx's location modifiers and Apache's '!' at the start: text to PCRE2.
 * How much of p they take. */
static size_t leading(const char *p, traps *t)
{
    static const struct {
        const char *mod, *why, *instead;
    } mods[] = {
        {"~*", "is nginx's case-insensitive location modifier, and text in a regex rule", "(?i)%s"},
        {"^~", "is nginx's prefix location modifier, and text in a regex rule",
         "a prefix rule: prefix = \"%s\""},
        {"~", "is nginx's location modifier, and text in a regex rule", "%s"},
        {"=", "is nginx's exact location modifier, and text in a regex rule",
         "an exact rule: exact = \"%s\""},
    };
    for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++) {
        size_t n = strlen(mods[i].mod);
        if (strncmp(p, mods[i].mod, n) != 0 || p[n] != ' ') continue;
        while (p[n] == ' ')
            n++;
        trap(t, 0, n, mods[i].why, mods[i].instead, p + n);
        return n;
    }
    if (p[0] == '!') {
        /* Apache's RewriteRule !PATTERN: the paths that do not match */
        const char *rest = p[1] == '^' ? p + 2 : p + 1;
        trap(t, 0, 1, "is Apache's negation, and a literal '!' in PCRE2 (no path starts with it)",
             p[1] == '^' ? "a lookahead: ^(?!%s)" : "a lookahead: ^(?!.*%s)", rest);
        return 1;
    }
    return 0;
}

/* After a backslash at p[i]: GNU's anchors, and a '?' that can only be
 * the query's. Where the scan goes on. */
static size_t escape(const char *p, size_t i, traps *t)
{
    switch (p[i + 1]) {
    case 0:
        return i + 1;
    case 'Q': { /* \Q...\E is all literal */
        const char *e = strstr(p + i + 2, "\\E");
        return e ? (size_t)(e - p) + 2 : strlen(p);
    }
    case '<':
        trap(t, i, 2, "is a literal '<' in PCRE2, not GNU's start of a word", "\\b");
        break;
    case '>':
        trap(t, i, 2, "is a literal '>' in PCRE2, not GNU's end of a word", "\\b");
        break;
    case '`':
        trap(t, i, 2, "is a literal '`' in PCRE2, not GNU's start of the subject", "\\A or ^");
        break;
    case '\'':
        trap(t, i, 2, "is a literal quote in PCRE2, not GNU's end of the subject", "\\z or $");
        break;
    case '?':
        trap(t, i, 2,
             "is a literal '?', and htd matches the path without its query (where a '?' was "
             "sent as %3F)",
             "a pattern for the path alone (a target has the query as $query)");
        break;
    case '%':
        return i + 1; /* "\%20" is as much a trap as "%20" */
    default:
        if (strchr("xopPgkN", p[i + 1]) && p[i + 2] == '{') { /* \x{41}, \p{L}: not a count */
            const char *e = strchr(p + i + 3, '}');
            return e ? (size_t)(e - p) + 1 : strlen(p);
        }
    }
    return i + 2;
}

/* A "%XX" at p[i]: htd matches the decoded path, where it is one byte. */
static void percent(const char *p, size_t i, traps *t)
{
    if (!is_hex(p[i + 1]) || !is_hex(p[i + 2])) return;
    int c = hex_value(p[i + 1]) * 16 + hex_value(p[i + 2]);
    const char *why = "is three characters here: htd matches a regex against the decoded "
                      "path, where a request's %XX has become one";
    if (c > 0x20 && c < 0x7f && !strchr(".[]()*+?{}|\\^$#%", c))
        trap(t, i, 3, why, "%c or \\x%02X", c, c);
    else
        trap(t, i, 3, why, "\\x%02X", c);
}

/* A class from p[i] = '['; where it ends. "[%20]" is the same trap. */
static size_t class_end(const char *p, size_t i, traps *t)
{
    size_t j = i + 1;
    if (p[j] == '^') j++;
    if (p[j] == ']') j++; /* a ']' first is a member */
    while (p[j] && p[j] != ']') {
        if (p[j] == '\\' && p[j + 1]) {
            j += 2;
            continue;
        }
        if (p[j] == '[' && p[j + 1] == ':') { /* [:alpha:], and [:<:], which PCRE2 has */
            const char *e = strstr(p + j + 2, ":]");
            if (e) {
                j = (size_t)(e - p) + 2;
                continue;
            }
        }
        if (p[j] == '%') percent(p, j, t);
        j++;
    }
    return p[j] ? j + 1 : j;
}

/* A '{' at p[i] that Perl and PCRE2 10.43 read as a count and PCRE2 10.42
 * (Debian 12's) as text: "{,3}" (also GNU's), "{ 2 }", "{2, 3}". */
static void count(const char *p, size_t i, traps *t)
{
    if (i == 0 || strchr("(|^", p[i - 1])) return; /* nothing to repeat: text everywhere */
    size_t j = i + 1, spaces = 0, lo, lo_len, hi, hi_len;
    int comma = 0;
    for (; p[j] == ' '; j++)
        spaces++;
    for (lo = j; is_digit(p[j]); j++) {
    }
    lo_len = j - lo;
    for (; p[j] == ' '; j++)
        spaces++;
    if (p[j] == ',') {
        comma = 1;
        for (j++; p[j] == ' '; j++)
            spaces++;
    }
    for (hi = j; is_digit(p[j]); j++) {
    }
    hi_len = j - hi;
    for (; p[j] == ' '; j++)
        spaces++;
    if (p[j] != '}' || (!lo_len && !hi_len) || (!spaces && lo_len)) return;
    if (!lo_len && !comma) return;
    const char *why = lo_len ? "is text to PCRE2 before 10.43 (Debian 12's is 10.42), but a "
                               "count to Perl and later PCRE2"
                             : "is text to PCRE2 before 10.43 (Debian 12's is 10.42), but "
                               "{0,n} to GNU regex and later PCRE2";
    trap(t, i, j + 1 - i, why, "{%.*s%s%.*s}", lo_len ? (int)lo_len : 1, lo_len ? p + lo : "0",
         comma ? "," : "", (int)hi_len, p + hi);
}

/* A '$' at p[i] followed by "/flags" to the end: a Perl or JavaScript
 * /pattern/i written whole. */
static void delimiter(const char *p, size_t i, traps *t)
{
    if (p[i + 1] != '/') return;
    size_t j = i + 2;
    char flags[8];
    size_t nf = 0;
    for (; p[j] && strchr("gimsuxy", p[j]); j++)
        if (strchr("imsx", p[j]) && nf < sizeof flags - 1) flags[nf++] = p[j];
    if (p[j]) return;
    flags[nf] = 0;
    size_t from = p[0] == '/' ? 1 : 0;
    trap(t, i, j - i,
         "is the end of a Perl or JavaScript /pattern/ and its flags: here, text after '$' that "
         "no path has",
         "%s%s%s%.*s", nf ? "(?" : "", flags, nf ? ")" : "", (int)(i + 1 - from), p + from);
}

static void scan_regex(const char *p, traps *t)
{
    size_t i = leading(p, t);
    while (p[i]) {
        char c = p[i];
        if (c == '\\') {
            i = escape(p, i, t);
            continue;
        }
        if (c == '[') {
            i = class_end(p, i, t);
            continue;
        }
        if (c == '(' && p[i + 1] == '?' && p[i + 2] == '#') { /* a comment */
            const char *e = strchr(p + i, ')');
            i = e ? (size_t)(e - p) + 1 : strlen(p);
            continue;
        }
        if (c == '{') count(p, i, t);
        if (c == '%') percent(p, i, t);
        if (c == '$') delimiter(p, i, t);
        if (c == '^' && is_plain(p[i + 1]) && !(i >= 2 && p[i - 1] == '?' && p[i - 2] == '(')) {
            /* Apache's per-directory rules see "blog/x" where htd sees "/blog/x"
             * ("(?^i)" resets options: no anchor) */
            size_t n = 1;
            while (is_plain(p[i + n]))
                n++;
            trap(t, i, n,
                 "never matches: a path starts with '/' (Apache's per-directory rules see it "
                 "without)",
                 "^/%.*s", (int)(n - 1), p + i + 1);
        }
        if (c == '/' && p[i + 1] == '*' && p[i + 2] == '.')
            trap(t, i, 3, "looks like a shell glob, but '*' repeats the '/' before it",
                 "/[^/]*\\.");
        i++;
    }
}

/* What a Caddy placeholder or an Apache variable is in htd's targets. */
static const char *variable_for(const char *name, size_t len)
{
    static const struct {
        const char *name, *var;
    } vars[] = {
        {"path", "$path"},
        {"query", "$query"},
        {"host", "$host"},
        {"hostport", "$host"},
        {"uri", "$path (the query follows unless query = \"drop\")"},
        {"http.request.uri.path", "$path"},
        {"http.request.uri.query", "$query"},
        {"http.request.host", "$host"},
        {"http.request.hostport", "$host"},
        {"http.request.uri", "$path (the query follows unless query = \"drop\")"},
        {"REQUEST_URI", "$path"},
        {"QUERY_STRING", "$query"},
        {"HTTP_HOST", "$host"},
        {"SERVER_NAME", "$host"},
    };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (strlen(vars[i].name) == len && memcmp(vars[i].name, name, len) == 0) return vars[i].var;
    return "$1, ${name}, $path, $query or $host";
}

/* How long the name at p is: letters, digits, '_', '.', '-'. */
static size_t name_len(const char *p)
{
    size_t n = 0;
    while (is_plain(p[n]) || p[n] == '.')
        n++;
    return n;
}

static void scan_target(const char *p, traps *t)
{
    for (size_t i = 0; p[i]; i++) {
        if (p[i] == '$') { /* htd's own: ${name}, $$ */
            if (p[i + 1] == '{') {
                const char *e = strchr(p + i, '}');
                i = e ? (size_t)(e - p) : strlen(p) - 1;
            } else if (p[i + 1] == '$') {
                i++;
            }
            continue;
        }
        if (p[i] == '\\' && is_digit(p[i + 1]))
            trap(t, i, 2, "is sed's back-reference, and text in htd's targets", "$%c", p[i + 1]);
        if (p[i] == '%' && is_digit(p[i + 1]) && !is_hex(p[i + 2])) /* not a %XX escape */
            trap(t, i, 2,
                 "is Apache's and lighttpd's back-reference to a condition, and text in htd's "
                 "targets (htd's captures are the rule's regex's)",
                 "$%c", p[i + 1]);
        size_t n;
        if (p[i] == '%' && p[i + 1] == '{' && (n = name_len(p + i + 2)) && p[i + 2 + n] == '}') {
            trap(t, i, n + 3, "is an Apache variable, and text in htd's targets", "%s",
                 variable_for(p + i + 2, n));
            i += n + 2;
            continue;
        }
        if (p[i] == '{' && (n = name_len(p + i + 1)) && p[i + 1 + n] == '}' &&
            !is_digit(p[i + 1])) {
            const char *var = variable_for(p + i + 1, n);
            /* {re.NAME.1} and {http.regexp.NAME.1}: a regex matcher's group */
            const char *dot = memchr(p + i + 1, '.', n);
            char group[3] = {'$', p[i + n], 0};
            if (dot &&
                (strncmp(p + i + 1, "re.", 3) == 0 ||
                 strncmp(p + i + 1, "http.regexp.", 12) == 0) &&
                is_digit(p[i + n]) && !is_digit(p[i + n - 1]))
                var = group;
            trap(t, i, n + 2, "is a Caddy placeholder, and text in htd's targets", "%s", var);
        }
    }
}

size_t regex_traps(const char *s, int target, regex_trap *out, size_t max)
{
    traps t = {out, 0, max};
    if (target)
        scan_target(s, &t);
    else
        scan_regex(s, &t);
    return t.n;
}
