/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * listing.c - directory listings: an HTML page for people, JSON for
 * programs, and the Accept field that chooses between them.
 *
 * A listing is read in two steps: one pass of readdir that stats each
 * entry and copies its name into one growing arena, and a qsort. So 10,000
 * entries cost 10,000 stats and a few dozen allocations, not one per entry.
 * The directory is read through a descriptor opened from dirfd ("."), not a
 * dup: a dup would share dirfd's file offset with every other thread
 * listing the same directory at the same time.
 *
 * It is then rendered in pieces of whole parts (the page's head, an entry,
 * its foot) into one buffer that is reused for each piece, so a directory
 * of 10,000 entries (1.8 MB of HTML) never needs its page in memory at
 * once. The rendering depends on nothing but the entries read, so a first
 * pass that only counts the bytes gives the length a second one will
 * make.
 *
 * Names are bytes an attacker may choose, so nothing is written raw. In an
 * href a name is percent-encoded down to the unreserved characters and most
 * sub-delims; ':' is encoded too, so no name can turn a relative link into
 * "javascript:". In text it is HTML-escaped, with bytes that are not UTF-8
 * shown as U+FFFD (one per maximal ill-formed subpart, as browsers decode)
 * and control characters as their pictures (U+2400..), so a name can
 * neither inject markup nor make the page invalid. JSON strings get the
 * same treatment per RFC 8259, invalid bytes as \ufffd, so the output is
 * always valid UTF-8 and valid JSON.
 *
 * No static mutable state, no locale (strcoll and friends are not
 * thread-safe with setlocale): the sort is a byte-wise compare.
 */
#include "listing.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "accept.h"
#include "beneath.h"
#include "encoding.h"
#include "fields.h"
#include "json.h"
#include "parser.h"
#include "path.h"

/* --- Accept ------------------------------------------------------------- */

int listing_wants_json(htd_str accept)
{
    return accept_prefers(accept, "application", "json", "text", "html");
}

/* --- The output buffer -------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
    int failed; /* out of memory: every later write is a no-op */
} buf;

/* Room for more bytes at p + len; -1 (and failed) if there cannot be. */
static int reserve(buf *b, size_t more)
{
    if (b->failed) return -1;
    if (more <= b->cap - b->len) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < more) {
        if (cap > SIZE_MAX / 2) {
            b->failed = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static void put(buf *b, const char *s, size_t n)
{
    if (reserve(b, n)) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void puts_(buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* Reserves n * per bytes for an escaping loop, and says where to write. */
static char *room(buf *b, size_t n, size_t per)
{
    if (n > (SIZE_MAX - 2) / per) {
        b->failed = 1;
        return NULL;
    }
    return reserve(b, n * per + 2) ? NULL : b->p + b->len;
}

/* --- Escaping ----------------------------------------------------------- */

#define REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD in UTF-8 */

/* Text content or an attribute value: & < > " ' as references, control
 * characters as their U+2400 pictures, invalid UTF-8 as U+FFFD. */
static void put_html(buf *b, const char *str, size_t n)
{
    static const char *const refs[0x80] = {
        ['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;", ['\''] = "&#39;"};
    const unsigned char *s = (const unsigned char *)str;
    char *o = room(b, n, 6), *start = o;
    if (!o) return;
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c >= 0x80) {
            int l = json_utf8_len(s + i, n - i);
            if (l > 0) {
                memcpy(o, s + i, (size_t)l);
                o += l, i += (size_t)l;
            } else {
                memcpy(o, REPLACEMENT, 3);
                o += 3, i += (size_t)-l;
            }
            continue;
        }
        const char *rep = refs[c];
        if (rep) {
            size_t rl = strlen(rep);
            memcpy(o, rep, rl);
            o += rl;
        } else if (c < 0x20 || c == 0x7F) {
            /* U+2400 + c, or U+2421 for DEL: E2 90 80+c / E2 90 A1 */
            *o++ = '\xE2', *o++ = '\x90';
            *o++ = (char)(c == 0x7F ? 0xA1 : 0x80 + c);
        } else {
            *o++ = (char)c;
        }
        i++;
    }
    b->len += (size_t)(o - start);
}

/* A path segment of an href: everything but unreserved characters and the
 * sub-delims other than & and ' (RFC 3986) percent-encoded. */
static void put_href(buf *b, const char *str, size_t n)
{
    char *o = room(b, n, 3);
    if (o) b->len += htd_pct_encode(str, n, "-._~!$()*+,;=", o, 3 * n);
}

/* A JSON string with its quotes (RFC 8259): \" \\ \n \t, \u00XX for other
 * control characters, \ufffd for invalid UTF-8, the rest as it is. */
static void put_json(buf *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    char *o = room(b, n, 6), *start = o;
    if (!o) return;
    *o++ = '"';
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c >= 0x80) {
            int l = json_utf8_len(s + i, n - i);
            if (l > 0) {
                memcpy(o, s + i, (size_t)l);
                o += l, i += (size_t)l;
            } else {
                memcpy(o, "\\ufffd", 6);
                o += 6, i += (size_t)-l;
            }
            continue;
        }
        if (c == '"' || c == '\\') {
            *o++ = '\\', *o++ = (char)c;
        } else if (c == '\n') {
            *o++ = '\\', *o++ = 'n';
        } else if (c == '\t') {
            *o++ = '\\', *o++ = 't';
        } else if (c < 0x20) {
            memcpy(o, "\\u00", 4);
            o += 4;
            *o++ = hex[c >> 4], *o++ = hex[c & 15];
        } else {
            *o++ = (char)c;
        }
        i++;
    }
    *o++ = '"';
    b->len += (size_t)(o - start);
}

/* --- Sizes and times ---------------------------------------------------- */

/* "512 B", "1.4 KiB", "3.0 MiB": one decimal, rounded, and a value that
 * rounds to 1024.0 goes up a unit ("1.0 MiB", not "1024.0 KiB"). */
static void put_size(buf *b, uint64_t size)
{
    static const char units[][4] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    char s[48];
    if (size < 1024) {
        snprintf(s, sizeof s, "%u B", (unsigned)size);
    } else {
        int u = 0;
        uint64_t unit = 1024;
        while (u < 5 && size / 1024 >= unit)
            unit *= 1024, u++;
        /* Tenths of the unit, without overflow: size % unit < 2^60. */
        uint64_t tenths = size / unit * 10 + (size % unit * 10 + unit / 2) / unit;
        if (tenths >= 10240 && u < 5) {
            unit *= 1024, u++;
            tenths = size / unit * 10 + (size % unit * 10 + unit / 2) / unit;
        }
        snprintf(s, sizeof s, "%llu.%u %s", (unsigned long long)(tenths / 10),
                 (unsigned)(tenths % 10), units[u]);
    }
    puts_(b, s);
}

/* "2026-11-25T10:00:00Z" (iso) or "2026-11-25 10:00", UTC. */
static void put_time(buf *b, time_t t, int iso)
{
    struct tm tm;
    char s[96];
    if (!gmtime_r(&t, &tm)) {
        t = 0;
        gmtime_r(&t, &tm);
    }
    if (iso)
        snprintf(s, sizeof s, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    else
        snprintf(s, sizeof s, "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min);
    puts_(b, s);
}

/* --- Reading the directory ---------------------------------------------- */

typedef struct {
    const char *name; /* into the arena, once reading is done */
    size_t off;       /* the name's offset in the arena while reading */
    size_t namelen;
    int dir;
    uint64_t size;
    time_t mtime;
} entry;

typedef struct {
    entry *v;
    size_t n, cap;
    char *names; /* the arena: every name, back to back */
    size_t names_len, names_cap;
} entries;

static void entries_free(entries *es)
{
    free(es->v);
    free(es->names);
}

/* p grown by doubling (from first) to hold need items of size; NULL, with p
 * left as it was, if it cannot be. */
static void *grow(void *p, size_t *cap, size_t need, size_t size, size_t first)
{
    if (need <= *cap) return p;
    size_t c = *cap ? *cap : first;
    while (c < need) {
        if (c > SIZE_MAX / 2 / size) return NULL;
        c *= 2;
    }
    void *np = realloc(p, c * size);
    if (np) *cap = c;
    return np;
}

static int add(entries *es, const char *name, size_t namelen, const struct stat *st)
{
    entry *v = grow(es->v, &es->cap, es->n + 1, sizeof *es->v, 64);
    if (v) es->v = v;
    char *names = v ? grow(es->names, &es->names_cap, es->names_len + namelen, 1, 4096) : NULL;
    if (!names) {
        errno = ENOMEM;
        return -1;
    }
    es->names = names;
    entry *e = &es->v[es->n++];
    e->off = es->names_len;
    e->namelen = namelen;
    e->dir = S_ISDIR(st->st_mode);
    e->size = e->dir || st->st_size < 0 ? 0 : (uint64_t)st->st_size;
    e->mtime = st->st_mtim.tv_sec;
    memcpy(es->names + es->names_len, name, namelen);
    es->names_len += namelen;
    return 0;
}

/* Does the symlink name in the directory at path (a URL path, relative to
 * root_fd) lead, beneath root_fd, to a path the dotfile rule lets through?
 * One that cannot be followed there would be refused as well. */
static int link_shown(int root_fd, const char *path, size_t path_len, const char *name)
{
    char rel[PATH_MAX], where[PATH_MAX];
    size_t nl = strlen(name);
    if (path_len + nl > sizeof rel) return 0;
    memcpy(rel, path + 1, path_len - 1);
    memcpy(rel + path_len - 1, name, nl + 1);
    int fd = htd_open_resolved(root_fd, rel, O_PATH, where, sizeof where);
    if (fd < 0) return 0;
    close(fd);
    return !htd_path_hidden(where, strlen(where));
}

static int read_entries(int dirfd, int root_fd, const char *path, size_t path_len, entries *es)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno) rc = -1;
            break;
        }
        const char *name = de->d_name;
        if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
        struct stat st;
        if (root_fd >= 0) { /* the dotfile rule, on names and on where links lead */
            if (name[0] == '.') continue;
            int link = de->d_type == DT_LNK;
            if (de->d_type == DT_UNKNOWN)
                link = fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
            if (link && !link_shown(root_fd, path, path_len, name)) continue;
        }
        if (fstatat(fd, name, &st, 0) != 0) continue; /* dangling, vanished, unreadable */
        if (add(es, name, strlen(name), &st)) {
            rc = -1;
            break;
        }
    }
    int e = errno;
    closedir(d);
    errno = e;
    if (rc) return -1;
    for (size_t i = 0; i < es->n; i++)
        es->v[i].name = es->names + es->v[i].off;
    return 0;
}

static unsigned char fold(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* Folders first; then by name with ASCII case folded; then by bytes. */
static int compare(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->dir != y->dir) return x->dir ? -1 : 1;
    const unsigned char *p = (const unsigned char *)x->name, *q = (const unsigned char *)y->name;
    size_t n = x->namelen < y->namelen ? x->namelen : y->namelen;
    for (size_t i = 0; i < n; i++)
        if (fold(p[i]) != fold(q[i])) return fold(p[i]) < fold(q[i]) ? -1 : 1;
    if (x->namelen != y->namelen) return x->namelen < y->namelen ? -1 : 1;
    return memcmp(p, q, n);
}

/* --- The listing ------------------------------------------------------- */

enum { L_HEAD, L_ENTRIES, L_END }; /* where the rendering is */

struct listing {
    entries es;  /* sorted */
    size_t dirs; /* how many of them are folders */
    int json;
    int stage;   /* L_* */
    size_t next; /* the entry to render next */
    buf b;       /* the piece being rendered */
    size_t path_len;
    char path[]; /* the URL path, NUL-terminated */
};

/* --- The two formats ---------------------------------------------------- */

static void json_head(buf *b, const listing *l)
{
    puts_(b, "{\"path\":");
    put_json(b, l->path, l->path_len);
    puts_(b, ",\"entries\":[");
}

static void json_entry(buf *b, const entry *e, size_t i)
{
    puts_(b, i ? ",{\"name\":" : "{\"name\":");
    put_json(b, e->name, e->namelen);
    if (e->dir) {
        puts_(b, ",\"type\":\"dir\"");
    } else {
        char s[48];
        snprintf(s, sizeof s, ",\"type\":\"file\",\"size\":%llu", (unsigned long long)e->size);
        puts_(b, s);
    }
    puts_(b, ",\"mtime\":\"");
    put_time(b, e->mtime, 1);
    puts_(b, "\"}");
}

static void json_foot(buf *b)
{
    puts_(b, "]}");
}

/* Icons are inline SVG in data: URIs, so the page loads nothing else. */
static const char style[] =
    "<style>\n"
    ":root{color-scheme:light dark;--fg:#1f2328;--muted:#59636e;--bg:#fff;--line:#d8dee4;"
    "--hover:#f6f8fa;--link:#0969da}\n"
    "@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;"
    "--line:#30363d;--hover:#161b22;--link:#4493f8}}\n"
    "body{margin:0;padding:2rem 1.25rem;background:var(--bg);color:var(--fg);"
    "font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Noto Sans\",sans-serif}\n"
    "main{max-width:60rem;margin:0 auto}\n"
    "h1{font-size:1.35rem;font-weight:600;margin:0 0 1.25rem;overflow-wrap:anywhere}\n"
    "h1 span{color:var(--muted);font-weight:400}\n"
    "a{color:var(--link);text-decoration:none}a:hover{text-decoration:underline}\n"
    "table{width:100%;border-collapse:collapse}\n"
    "th,td{padding:.45rem .75rem;text-align:left;border-bottom:1px solid var(--line)}\n"
    "th{font-size:.75rem;font-weight:600;letter-spacing:.05em;text-transform:uppercase;"
    "color:var(--muted)}\n"
    "tbody tr:hover{background:var(--hover)}\n"
    "td.n{overflow-wrap:anywhere}\n"
    ".s{text-align:right}.s,.m{white-space:nowrap;font-variant-numeric:tabular-nums;"
    "color:var(--muted)}\n"
    "td.n a::before{content:\"\";display:inline-block;width:16px;height:16px;"
    "margin-right:.6rem;vertical-align:-3px;background-repeat:no-repeat;"
    "background-position:center;background-size:16px}\n"
    "a.d{font-weight:600}\n"
    "a.d::before{background-image:url(\"data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/"
    "svg' viewBox='0 0 16 16'><path fill='%2354aeff' d='M.5 3A1.5 1.5 0 0 1 2 1.5h3.6l1.6 "
    "1.6H14A1.5 1.5 0 0 1 15.5 4.6V13A1.5 1.5 0 0 1 14 14.5H2A1.5 1.5 0 0 1 .5 13z'/></svg>\")}\n"
    "a.f::before{background-image:url(\"data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/"
    "svg' viewBox='0 0 16 16'><path fill='none' stroke='%238b949e' d='M3 .5h6.5l3.5 3.5v11.5H3z"
    "M9.5 .5V4H13'/></svg>\")}\n"
    "a.u::before{background-image:url(\"data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/"
    "svg' viewBox='0 0 16 16'><path fill='none' stroke='%238b949e' stroke-width='1.5' "
    "d='M8 13V3M3.5 7.5 8 3l4.5 4.5'/></svg>\")}\n"
    "td.e{color:var(--muted);font-style:italic}\n"
    "footer{margin-top:1rem;font-size:.85rem;color:var(--muted)}\n"
    "</style>\n";

/* "/docs/sub/" as "/", "docs/", "sub/", each folder above this one a
 * relative link to it ("../../", "../"). */
static void put_breadcrumbs(buf *b, const char *path, size_t path_len)
{
    for (size_t i = 0, end; i < path_len; i = end) {
        const char *slash = memchr(path + i, '/', path_len - i);
        end = slash ? (size_t)(slash - path) + 1 : path_len;
        size_t up = 0;
        for (size_t k = end; k < path_len; k++)
            up += path[k] == '/';
        if (up == 0) {
            put_html(b, path + i, end - i);
            continue;
        }
        puts_(b, "<a href=\"");
        while (up--)
            puts_(b, "../");
        puts_(b, "\">");
        put_html(b, path + i, end - i);
        puts_(b, "</a>");
    }
}

static void html_head(buf *b, const listing *l)
{
    puts_(b, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
             "<title>Index of ");
    put_html(b, l->path, l->path_len);
    puts_(b, "</title>\n");
    put(b, style, sizeof style - 1);
    puts_(b, "</head>\n<body>\n<main>\n<h1><span>Index of</span> ");
    put_breadcrumbs(b, l->path, l->path_len);
    puts_(b, "</h1>\n<table>\n<thead><tr><th>Name</th><th class=\"s\">Size</th>"
             "<th class=\"m\">Modified</th></tr></thead>\n<tbody>\n");
    if (!(l->path_len == 1 && l->path[0] == '/'))
        puts_(b, "<tr><td class=\"n\"><a class=\"u\" href=\"../\">../</a></td>"
                 "<td class=\"s\"></td><td class=\"m\"></td></tr>\n");
}

static void html_entry(buf *b, const entry *e)
{
    puts_(b, e->dir ? "<tr><td class=\"n\"><a class=\"d\" href=\""
                    : "<tr><td class=\"n\"><a class=\"f\" href=\"");
    put_href(b, e->name, e->namelen);
    puts_(b, e->dir ? "/\">" : "\">");
    put_html(b, e->name, e->namelen);
    if (e->dir) {
        puts_(b, "/</a></td><td class=\"s\">-</td>");
    } else {
        char s[64];
        snprintf(s, sizeof s, "</a></td><td class=\"s\" title=\"%llu bytes\">",
                 (unsigned long long)e->size);
        puts_(b, s);
        put_size(b, e->size);
        puts_(b, "</td>");
    }
    puts_(b, "<td class=\"m\"><time datetime=\"");
    put_time(b, e->mtime, 1);
    puts_(b, "\">");
    put_time(b, e->mtime, 0);
    puts_(b, "</time></td></tr>\n");
}

static void html_foot(buf *b, const listing *l)
{
    if (l->es.n == 0)
        puts_(b, "<tr><td class=\"e\" colspan=\"3\">This folder is empty.</td></tr>\n");
    char s[96];
    size_t dirs = l->dirs, files = l->es.n - l->dirs;
    snprintf(s, sizeof s, "</tbody>\n</table>\n<footer>%zu folder%s, %zu file%s</footer>\n", dirs,
             dirs == 1 ? "" : "s", files, files == 1 ? "" : "s");
    puts_(b, s);
    puts_(b, "</main>\n</body>\n</html>\n");
}

/* --- Reading and rendering ---------------------------------------------- */

listing *listing_read(int dirfd, const char *path, size_t path_len, int json, int root_fd)
{
    listing *l = calloc(1, sizeof *l + path_len + 1);
    if (!l) return NULL;
    if (read_entries(dirfd, root_fd, path, path_len, &l->es)) {
        int e = errno;
        listing_free(l);
        errno = e;
        return NULL;
    }
    if (l->es.n > 1) qsort(l->es.v, l->es.n, sizeof *l->es.v, compare);
    for (size_t i = 0; i < l->es.n; i++)
        l->dirs += l->es.v[i].dir != 0;
    l->json = json;
    l->stage = L_HEAD;
    l->path_len = path_len;
    memcpy(l->path, path, path_len);
    return l;
}

int listing_next(listing *l, size_t want, const char **p, size_t *len)
{
    buf *b = &l->b;
    b->len = 0;
    do {
        if (l->stage == L_HEAD) {
            if (l->json)
                json_head(b, l);
            else
                html_head(b, l);
            l->stage = L_ENTRIES;
        } else if (l->stage == L_ENTRIES && l->next < l->es.n) {
            const entry *e = &l->es.v[l->next];
            if (l->json)
                json_entry(b, e, l->next);
            else
                html_entry(b, e);
            l->next++;
        } else if (l->stage == L_ENTRIES) {
            if (l->json)
                json_foot(b);
            else
                html_foot(b, l);
            l->stage = L_END;
        }
    } while (l->stage != L_END && b->len < want);
    if (b->failed) {
        errno = ENOMEM;
        return -1;
    }
    *p = b->p ? b->p : "";
    *len = b->len;
    return l->stage != L_END;
}

int listing_length(listing *l, uint64_t *len)
{
    uint64_t total = 0;
    const char *p;
    size_t n;
    int more;
    /* In pieces, so that measuring takes no more memory than sending. */
    while ((more = listing_next(l, 16384, &p, &n)) >= 0) {
        total += n;
        if (!more) break;
    }
    l->stage = L_HEAD;
    l->next = 0;
    l->b.len = 0;
    if (more < 0) return -1;
    *len = total;
    return 0;
}

void listing_free(listing *l)
{
    if (!l) return;
    entries_free(&l->es);
    free(l->b.p);
    free(l);
}
