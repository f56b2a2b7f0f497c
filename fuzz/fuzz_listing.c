/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_listing.c - libFuzzer target for directory listings
 * (src/modules/listing.c): the HTML and JSON escaping of names an attacker
 * may choose, and the Accept field that picks between them.
 *
 * The input is a flags byte, a URL path, and entries, separated by NUL
 * bytes (which no name can hold): each entry is a byte (folder or file, a
 * size, a modification time) and a name. The entries are made for real, in
 * a directory of a temporary directory (see fuzz_tempdir), since
 * a listing is read from the file system; names a file system cannot hold
 * ('/', too long, the same twice) are left out.
 *
 * The listing is rendered in pieces of two sizes taken from the input; both
 * renderings must be the same bytes, and as long as listing_length said.
 * Then the page must be valid UTF-8 with no control character but '\n';
 * every tag and attribute one the page is made of (so a name cannot open a
 * tag or leave an attribute); every '&' a reference the escaper writes;
 * every link one of the entries, percent-encoded, with no ':' (no
 * "javascript:"); the entries in their order; and a name that needs no
 * replacement (valid UTF-8, no control characters, no U+2400..U+2421 or
 * U+FFFD of its own) shown as itself. The JSON must parse strictly, with
 * the same entries, types, sizes and names.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "listing.h"
#include "path.h"

#define MAX_ENTRIES 16

typedef struct ent {
    const char *name;
    size_t len;
    int dir;
    uint64_t size;
} ent;

static char sandbox[PATH_MAX]; /* the temporary directory; the listing is its "d" */
static int dirfd_ = -1;
/* What is in "d" now, names NUL-terminated in names[]: nothing allocated
 * outlives a run, or libFuzzer would look for a leak after each. */
static ent made[MAX_ENTRIES];
static char names[MAX_ENTRIES][256];
static size_t nmade;

static void clean(void)
{
    for (size_t i = 0; i < nmade; i++)
        ENSURE(unlinkat(dirfd_, names[i], made[i].dir ? AT_REMOVEDIR : 0) == 0);
    nmade = 0;
}

static void remove_sandbox(void)
{
    if (dirfd_ < 0) return;
    clean();
    close(dirfd_);
    char d[PATH_MAX + 8];
    snprintf(d, sizeof d, "%s/d", sandbox);
    rmdir(d);
    rmdir(sandbox);
}

static void make_sandbox(void)
{
    fuzz_tempdir(sandbox, sizeof sandbox, "listing");
    char d[PATH_MAX + 8];
    snprintf(d, sizeof d, "%s/d", sandbox);
    ENSURE(mkdir(d, 0700) == 0);
    dirfd_ = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ENSURE(dirfd_ >= 0);
    atexit(remove_sandbox);
}

/* Makes one entry; 0 if the file system cannot hold its name. */
static int make(const char *name, size_t len, unsigned meta)
{
    static const uint64_t sizes[] = {0,
                                     1,
                                     1023,
                                     1024,
                                     1075,
                                     1048575,
                                     1048524,
                                     (uint64_t)1 << 40,
                                     ((uint64_t)1 << 50) - 1,
                                     ((uint64_t)1 << 60) + 12345,
                                     (uint64_t)INT64_MAX};
    static const int64_t times[] = {0,
                                    -1,
                                    1000000000,
                                    2147483648,
                                    253402300799,
                                    253402300800,
                                    1000000000000,
                                    -62135596801,
                                    INT64_MAX / 2};
    if (len == 0 || len > 255 || memchr(name, '/', len) || (len == 1 && name[0] == '.') ||
        (len == 2 && name[0] == '.' && name[1] == '.'))
        return 0;
    char *z = names[nmade];
    memcpy(z, name, len);
    z[len] = '\0';
    int dir = meta & 1, fd;
    if (dir) {
        fd = mkdirat(dirfd_, z, 0700) == 0 ? openat(dirfd_, z, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                                           : -1;
    } else {
        fd = openat(dirfd_, z, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            /* too large for the file system, it stays empty: its size is read back below */
            int rc = ftruncate(fd, (off_t)sizes[(meta >> 1) % 11]);
            (void)rc;
        }
    }
    if (fd < 0) {
        ENSURE(errno == EEXIST);
        return 0;
    }
    struct timespec ts[2] = {{times[(meta >> 5) % 9], 0}, {times[(meta >> 5) % 9], 0}};
    (void)futimens(fd, ts);
    struct stat st;
    ENSURE(fstat(fd, &st) == 0);
    close(fd);
    made[nmade++] = (ent){z, len, dir, dir ? 0 : (uint64_t)st.st_size};
    return 1;
}

/* --- checks --------------------------------------------------------------- */

FUZZ_NO_COVERAGE static int utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t need;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            need = 1, cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2, cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3, cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + need >= n) return 0;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += need + 1;
    }
    return 1;
}

/* Shown as itself: valid UTF-8, no control characters, none of the
 * characters the escaper writes in place of others. */
FUZZ_NO_COVERAGE static int clean_name(const char *s, size_t n)
{
    if (!utf8_valid((const unsigned char *)s, n)) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) return 0;
        if (c == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x90 &&
            (unsigned char)s[i + 2] >= 0x80 && (unsigned char)s[i + 2] <= 0xA1)
            return 0;
        if (c == 0xEF && i + 2 < n && (unsigned char)s[i + 1] == 0xBF &&
            (unsigned char)s[i + 2] == 0xBD)
            return 0;
    }
    return 1;
}

FUZZ_NO_COVERAGE static unsigned char fold(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* The order the listing promises: folders first, then by name, ASCII case
 * folded, then by bytes. */
FUZZ_NO_COVERAGE static int order(const void *a, const void *b)
{
    const ent *x = *(const ent *const *)a, *y = *(const ent *const *)b;
    if (x->dir != y->dir) return x->dir ? -1 : 1;
    size_t n = x->len < y->len ? x->len : y->len;
    for (size_t i = 0; i < n; i++)
        if (fold((unsigned char)x->name[i]) != fold((unsigned char)y->name[i]))
            return fold((unsigned char)x->name[i]) < fold((unsigned char)y->name[i]) ? -1 : 1;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return memcmp(x->name, y->name, n);
}

FUZZ_NO_COVERAGE static int hexv(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

FUZZ_NO_COVERAGE static int in_list(const char *word, size_t n, const char *const *list)
{
    for (; *list; list++)
        if (strlen(*list) == n && memcmp(*list, word, n) == 0) return 1;
    return 0;
}

/* HTML text or an attribute value from the escaper, unescaped into out;
 * its length, after checking that only the references it writes are
 * there. */
FUZZ_NO_COVERAGE static size_t unescape(const char *s, size_t n, char *out)
{
    static const char *const refs[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
    static const char chars[] = "&<>\"'";
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        ENSURE(s[i] != '<' && s[i] != '>' && s[i] != '"' && s[i] != '\'');
        if (s[i] != '&') {
            out[o++] = s[i++];
            continue;
        }
        int k = 0;
        while (k < 5 && (n - i < strlen(refs[k]) || memcmp(s + i, refs[k], strlen(refs[k])) != 0))
            k++;
        ENSURE(k < 5);
        out[o++] = chars[k];
        i += strlen(refs[k]);
    }
    return o;
}

/* Percent-decodes an href from the escaper into out, checking that it kept
 * only what it promises to. */
FUZZ_NO_COVERAGE static size_t pct_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            ENSURE(i + 2 < n && hexv((unsigned char)s[i + 1]) >= 0 &&
                   hexv((unsigned char)s[i + 2]) >= 0);
            out[o++] = (char)(hexv((unsigned char)s[i + 1]) * 16 + hexv((unsigned char)s[i + 2]));
            i += 2;
        } else {
            ENSURE((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   (c && strchr("-._~!$()*+,;=", c)));
            out[o++] = (char)c;
        }
    }
    return o;
}

FUZZ_NO_COVERAGE static void check_html(const char *p, size_t n, ent *const *want, size_t nwant,
                                        const char *path, size_t plen)
{
    static const char *const tags[] = {"html", "head", "meta",  "title",  "style", "body", "main",
                                       "h1",   "span", "table", "thead",  "tr",    "th",   "tbody",
                                       "td",   "a",    "time",  "footer", NULL};
    static const char *const attrs[] = {"lang", "charset", "name",     "content", "class",
                                        "href", "title",   "datetime", "colspan", NULL};
    static const char doctype[] = "<!doctype html>\n";
    ENSURE(n > sizeof doctype && memcmp(p, doctype, sizeof doctype - 1) == 0);
    char *tmp = malloc(n + 1);
    ENSURE(tmp != NULL);
    size_t entry = 0; /* the entries' links met so far */
    for (size_t i = sizeof doctype - 1; i < n;) {
        if (p[i] != '<') {
            /* text, up to the next tag */
            size_t e = i;
            while (e < n && p[e] != '<')
                e++;
            unescape(p + i, e - i, tmp);
            i = e;
            continue;
        }
        size_t t = ++i;
        if (t < n && p[t] == '/') t++;
        size_t te = t;
        while (te < n && p[te] >= 'a' && p[te] <= 'z')
            te++;
        if (te < n && te == t + 1 && p[t] == 'h' && p[te] == '1') te++;
        ENSURE(in_list(p + t, te - t, tags));
        int is_style = te - t == 5 && memcmp(p + t, "style", 5) == 0 && p[i] != '/';
        int is_a = te - t == 1 && p[t] == 'a' && p[i] != '/';
        const char *href = NULL, *cls = NULL;
        size_t href_len = 0, cls_len = 0;
        i = te;
        /* attributes: ( " " name "=" '"' value '"' )* */
        while (i < n && p[i] == ' ') {
            size_t a = ++i;
            while (i < n && ((p[i] >= 'a' && p[i] <= 'z')))
                i++;
            ENSURE(in_list(p + a, i - a, attrs));
            ENSURE(i + 1 < n && p[i] == '=' && p[i + 1] == '"');
            size_t v = i + 2, ve = v;
            while (ve < n && p[ve] != '"')
                ve++;
            ENSURE(ve < n);
            unescape(p + v, ve - v, tmp);
            if (i - a == 4 && memcmp(p + a, "href", 4) == 0) href = p + v, href_len = ve - v;
            if (i - a == 5 && memcmp(p + a, "class", 5) == 0) cls = p + v, cls_len = ve - v;
            i = ve + 1;
        }
        ENSURE(i < n && p[i] == '>');
        i++;
        if (is_style) {
            /* the page's own style sheet, markup-like text and all */
            const char *end = memmem(p + i, n - i, "</style>", 8);
            ENSURE(end != NULL);
            i = (size_t)(end - p);
        }
        if (is_a && cls && cls_len == 1 && (cls[0] == 'd' || cls[0] == 'f')) {
            /* an entry: its link, then its name as text */
            ENSURE(entry < nwant);
            const ent *e = want[entry++];
            ENSURE((cls[0] == 'd') == e->dir);
            ENSURE(href && href_len >= 1);
            size_t hl = href_len;
            if (e->dir) ENSURE(href[--hl] == '/');
            size_t dl = pct_decode(href, hl, tmp);
            ENSURE(dl == e->len && memcmp(tmp, e->name, dl) == 0);
            const char *close = memmem(p + i, n - i, "</a>", 4);
            ENSURE(close != NULL);
            size_t tl = unescape(p + i, (size_t)(close - p) - i, tmp);
            if (e->dir) ENSURE(tl >= 1 && tmp[--tl] == '/');
            if (clean_name(e->name, e->len)) ENSURE(tl == e->len && memcmp(tmp, e->name, tl) == 0);
        } else if (is_a) {
            /* a link up: "../" as many times as it climbs */
            ENSURE(href && href_len % 3 == 0 && href_len > 0);
            for (size_t k = 0; k < href_len; k += 3)
                ENSURE(memcmp(href + k, "../", 3) == 0);
        }
    }
    ENSURE(entry == nwant);

    /* the path, in the title */
    const char *title = memmem(p, n, "<title>Index of ", 16);
    ENSURE(title != NULL);
    title += 16;
    const char *tend = memmem(title, (size_t)(p + n - title), "</title>", 8);
    ENSURE(tend != NULL);
    size_t tl = unescape(title, (size_t)(tend - title), tmp);
    if (clean_name(path, plen)) ENSURE(tl == plen && memcmp(tmp, path, plen) == 0);
    free(tmp);
}

/* --- a strict JSON reader, for the listing's shape ------------------------ */

typedef struct json {
    const char *p;
    size_t i, n;
} json;

FUZZ_NO_COVERAGE static void lit(json *j, const char *s)
{
    size_t k = strlen(s);
    ENSURE(j->n - j->i >= k && memcmp(j->p + j->i, s, k) == 0);
    j->i += k;
}

/* A string (RFC 8259), decoded into out; its length. */
FUZZ_NO_COVERAGE static size_t jstring(json *j, char *out)
{
    size_t o = 0;
    lit(j, "\"");
    for (;;) {
        ENSURE(j->i < j->n);
        unsigned char c = (unsigned char)j->p[j->i++];
        if (c == '"') break;
        ENSURE(c >= 0x20);
        if (c != '\\') {
            out[o++] = (char)c;
            continue;
        }
        ENSURE(j->i < j->n);
        char e = j->p[j->i++];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            out[o++] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            continue;
        }
        ENSURE(e == 'u' && j->n - j->i >= 4);
        unsigned v = 0;
        for (int k = 0; k < 4; k++) {
            char h = j->p[j->i++];
            int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : -1;
            ENSURE(d >= 0); /* the escaper writes lower-case hex */
            v = v << 4 | (unsigned)d;
        }
        ENSURE(v < 0x20 || v == 0xFFFD); /* all it escapes so */
        if (v < 0x20) {
            out[o++] = (char)v;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
        }
    }
    return o;
}

FUZZ_NO_COVERAGE static void check_json(const char *p, size_t n, ent *const *want, size_t nwant,
                                        const char *path, size_t plen)
{
    char *tmp = malloc(n + 1);
    ENSURE(tmp != NULL);
    json j = {p, 0, n};
    lit(&j, "{\"path\":");
    size_t l = jstring(&j, tmp);
    if (utf8_valid((const unsigned char *)path, plen))
        ENSURE(l == plen && memcmp(tmp, path, plen) == 0);
    lit(&j, ",\"entries\":[");
    for (size_t k = 0; k < nwant; k++) {
        const ent *e = want[k];
        if (k) lit(&j, ",");
        lit(&j, "{\"name\":");
        l = jstring(&j, tmp);
        if (utf8_valid((const unsigned char *)e->name, e->len))
            ENSURE(l == e->len && memcmp(tmp, e->name, l) == 0);
        if (e->dir) {
            lit(&j, ",\"type\":\"dir\"");
        } else {
            char s[64];
            snprintf(s, sizeof s, ",\"type\":\"file\",\"size\":%llu", (unsigned long long)e->size);
            lit(&j, s);
        }
        lit(&j, ",\"mtime\":");
        l = jstring(&j, tmp);
        ENSURE(l >= 20 && tmp[l - 1] == 'Z');
        lit(&j, "}");
    }
    lit(&j, "]}");
    ENSURE(j.i == n);
    free(tmp);
}

/* --- the target ----------------------------------------------------------- */

/* Valid UTF-8 with no control characters (JSON has no line breaks, and DEL
 * is fine in its strings; a page breaks lines and shows every control
 * character), then the format's own checks. */
FUZZ_NO_COVERAGE static void check(const char *p, size_t n, int json, ent *const *want,
                                   size_t nwant, const char *path, size_t plen)
{
    ENSURE(utf8_valid((const unsigned char *)p, n));
    for (size_t i = 0; i < n; i++)
        ENSURE(json ? (unsigned char)p[i] >= 0x20
                    : ((unsigned char)p[i] >= 0x20 && p[i] != 0x7f) || p[i] == '\n');
    if (json)
        check_json(p, n, want, nwant, path, plen);
    else
        check_html(p, n, want, nwant, path, plen);
}

/* The whole rendering, in pieces of at least want bytes. */
static char *render(listing *l, size_t want, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *out = malloc(cap);
    ENSURE(out != NULL);
    int more;
    do {
        const char *p;
        size_t k;
        more = listing_next(l, want, &p, &k);
        ENSURE(more >= 0);
        ENSURE(k >= want || !more); /* only the last piece is short */
        while (cap - n < k) {
            out = realloc(out, cap *= 2);
            ENSURE(out != NULL);
        }
        memcpy(out + n, p, k);
        n += k;
    } while (more);
    *len = n;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t wants[] = {1, 7, 64, 300, 4096, 16384, 65536, 1 << 20};
    if (size < 1) return 0;
    if (dirfd_ < 0) make_sandbox();
    clean();

    unsigned flags = data[0];
    int json = flags & 1, hide_dot = flags >> 1 & 1;
    const char *in = (const char *)data + 1, *end = (const char *)data + size;

    /* the path, decoded and normalised as a request's, with its '/' */
    const char *z = memchr(in, '\0', (size_t)(end - in));
    const char *pe = z ? z : end;
    size_t raw = (size_t)(pe - in);
    char *path = malloc(raw + 3);
    ENSURE(path != NULL);
    const char *why;
    int plen = raw ? htd_path_normalize(in, raw, path, raw + 2, &why) : -1;
    if (plen < 0) plen = 1, path[0] = '/';
    if (path[plen - 1] != '/') path[plen++] = '/';

    /* the Accept field, from the same bytes */
    if (listing_wants_json((htd_str){in, raw})) {
        /* only application/json, application/(any) or (any)/(any) make JSON win */
        int named = memchr(in, '*', raw) != NULL;
        for (size_t i = 0; i + 4 <= raw && !named; i++)
            named = strncasecmp(in + i, "json", 4) == 0;
        ENSURE(named);
    }

    /* the entries */
    for (const char *e = z ? z + 1 : end; e < end && nmade < MAX_ENTRIES;) {
        const char *next = memchr(e, '\0', (size_t)(end - e));
        const char *ee = next ? next : end;
        if (ee > e) make(e + 1, (size_t)(ee - e - 1), (unsigned char)e[0]);
        e = next ? next + 1 : end;
    }
    ent *shown[MAX_ENTRIES];
    size_t nshown = 0;
    for (size_t i = 0; i < nmade; i++)
        if (!(hide_dot && made[i].name[0] == '.')) shown[nshown++] = &made[i];
    qsort(shown, nshown, sizeof *shown, order);

    /* hide_dot: a root to check against (the entries are no symlinks, so only
     * names starting with a dot are left out), else -1 for no dotfile rule. */
    int root_fd = hide_dot ? dirfd_ : -1;
    listing *l = listing_read(dirfd_, path, (size_t)plen, json, root_fd);
    ENSURE(l != NULL);
    uint64_t measured;
    ENSURE(listing_length(l, &measured) == 0);
    size_t n1, n2;
    char *a = render(l, wants[flags >> 2 & 7], &n1);
    listing_free(l);
    l = listing_read(dirfd_, path, (size_t)plen, json, root_fd);
    ENSURE(l != NULL);
    char *b = render(l, wants[flags >> 5], &n2);
    listing_free(l);
    ENSURE(n1 == measured && n2 == n1 && memcmp(a, b, n1) == 0);

    check(a, n1, json, shown, nshown, path, (size_t)plen);

    free(a);
    free(b);
    free(path);
    return 0;
}
