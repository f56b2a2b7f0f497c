/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mime.c - Content-Type by file name extension.
 *
 * Built once at start-up from /etc/mime.types (lines "type ext1 ext2 ...",
 * '#' to the end of a line is a comment; Debian's media-types package) and a
 * built-in table of the common web types, into an open-addressing hash table
 * keyed by lower-case extension. Everything lives in one allocation: the
 * htd_mime, its slots, and an arena holding the keys and the finished
 * Content-Type values, "; charset=utf-8" included, so a lookup is a hash, a
 * probe or two and a pointer, with no allocation and no copying.
 *
 * Precedence: a few types are forced whatever the file says (forced[]); then
 * the file, where the first line to name an extension wins; then the built-in
 * table for extensions the file does not know.
 */
#include "mime.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_TYPE "application/octet-stream"
#define CHARSET "; charset=utf-8"
#define MAX_FILE (16u << 20) /* a larger mime.types is not one */

typedef struct mime_entry {
    const char *ext, *type;
} mime_entry;

/* Always these, whatever the file says: JavaScript is text/javascript since
 * RFC 9239 (older files say application/javascript), and browsers compile
 * WebAssembly in streaming mode only when served as application/wasm. */
static const mime_entry forced[] = {
    {"js", "text/javascript"},
    {"mjs", "text/javascript"},
    {"wasm", "application/wasm"},
};

/* For extensions the file lacks, or when there is no file. */
static const mime_entry builtin[] = {
    {"html", "text/html"},
    {"htm", "text/html"},
    {"xhtml", "application/xhtml+xml"},
    {"css", "text/css"},
    {"js", "text/javascript"},
    {"mjs", "text/javascript"},
    {"json", "application/json"},
    {"map", "application/json"}, /* source maps */
    {"jsonld", "application/ld+json"},
    {"webmanifest", "application/manifest+json"},
    {"txt", "text/plain"},
    {"md", "text/markdown"},
    {"csv", "text/csv"},
    {"ics", "text/calendar"},
    {"xml", "application/xml"},
    {"rss", "application/rss+xml"},
    {"atom", "application/atom+xml"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"apng", "image/apng"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"bmp", "image/bmp"},
    {"ico", "image/vnd.microsoft.icon"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"otf", "font/otf"},
    {"eot", "application/vnd.ms-fontobject"},
    {"wasm", "application/wasm"},
    {"pdf", "application/pdf"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"br", "application/x-brotli"}, /* no registered type; the common name */
    {"tar", "application/x-tar"},
    {"mp4", "video/mp4"},
    {"m4a", "audio/mp4"},
    {"webm", "video/webm"},
    {"ogv", "video/ogg"},
    {"mov", "video/quicktime"},
    {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},
    {"oga", "audio/ogg"},
    {"flac", "audio/flac"},
    {"wav", "audio/wav"},
};

typedef struct slot {
    const char *ext; /* lower case, NUL-terminated; NULL for an empty slot */
    const char *type;
    uint32_t hash, len;
} slot;

struct htd_mime {
    slot *slots;
    size_t mask; /* slots - 1, a power of two minus one */
};

/* While building: first a dry run that only counts (m == NULL), then the
 * real one into the memory the count asked for. */
typedef struct build {
    htd_mime *m;
    char *arena;
    size_t nexts, bytes;
} build;

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* FNV-1a over the lower-cased bytes. */
static uint32_t hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ lower((unsigned char)s[i])) * 16777619u;
    return h;
}

static int iequal(const char *a, const char *b, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i])) return 0;
    return 1;
}

static int ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && iequal(s + len - n, suffix, n);
}

static int is(const char *s, size_t len, const char *name)
{
    return len == strlen(name) && iequal(s, name, len);
}

/*
 * Which types get "; charset=utf-8": every text/ type, JSON, JavaScript and XML
 * under their application/ names, and every type with the +json or +xml
 * structured syntax suffix (image/svg+xml, application/xhtml+xml,
 * application/manifest+json, ...). A static file server cannot know a file's
 * encoding; UTF-8 is what the web writes, and for JSON the only one allowed.
 */
static int is_text(const char *t, size_t len)
{
    return (len > 5 && iequal(t, "text/", 5)) || is(t, len, "application/json") ||
           is(t, len, "application/javascript") || is(t, len, "application/ecmascript") ||
           is(t, len, "application/xml") || ends_with(t, len, "+json") || ends_with(t, len, "+xml");
}

/* A type goes into a header as it is, so it must be one visible token with
 * a '/' that has something on both sides. */
static int valid_type(const char *t, size_t len)
{
    const char *slash = memchr(t, '/', len);
    if (!slash || slash == t || slash == t + len - 1) return 0;
    for (size_t i = 0; i < len; i++)
        if (t[i] < 0x21 || t[i] > 0x7e || t[i] == ';' || t[i] == ',') return 0;
    return 1;
}

/* The slot for ext: the one holding it, or the empty one where it belongs. */
static slot *find(const htd_mime *m, const char *ext, size_t len, uint32_t h)
{
    for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
        slot *s = &m->slots[i];
        if (!s->ext || (s->hash == h && s->len == len && iequal(s->ext, ext, len))) return s;
    }
}

/* Stores the Content-Type value for type t. (The dry run returns t itself,
 * which nothing keeps.) */
static const char *put_type(build *b, const char *t, size_t len)
{
    size_t extra = is_text(t, len) ? sizeof CHARSET - 1 : 0;
    if (!b->m) {
        b->bytes += len + extra + 1;
        return t;
    }
    char *p = b->arena;
    memcpy(p, t, len);
    memcpy(p + len, CHARSET, extra);
    p[len + extra] = '\0';
    b->arena += len + extra + 1;
    return p;
}

/* Maps ext to type: over an existing mapping only if force. */
static void put_ext(build *b, const char *ext, size_t len, const char *type, int force)
{
    if (!b->m) {
        b->nexts++;
        b->bytes += len + 1;
        return;
    }
    uint32_t h = hash(ext, len);
    slot *s = find(b->m, ext, len, h);
    if (s->ext) {
        if (force) s->type = type;
        return;
    }
    char *p = b->arena;
    for (size_t i = 0; i < len; i++)
        p[i] = (char)lower((unsigned char)ext[i]);
    p[len] = '\0';
    b->arena += len + 1;
    *s = (slot){p, type, h, (uint32_t)len};
}

static void put_table(build *b, const mime_entry *e, size_t n, int force)
{
    for (size_t i = 0; i < n; i++) {
        const char *type = put_type(b, e[i].type, strlen(e[i].type));
        put_ext(b, e[i].ext, strlen(e[i].ext), type, force);
    }
}

/* Every line of a mime.types text. */
static void put_file(build *b, const char *p, const char *end)
{
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *hash_mark = memchr(p, '#', (size_t)(eol - p));
        const char *stop = hash_mark ? hash_mark : eol;

        const char *type = NULL, *value = NULL;
        size_t tlen = 0;
        while (p < stop) {
            while (p < stop && is_space(*p))
                p++;
            const char *tok = p;
            while (p < stop && !is_space(*p))
                p++;
            size_t len = (size_t)(p - tok);
            if (len == 0) break;
            if (!type) {
                if (!valid_type(tok, len)) break;
                type = tok;
                tlen = len;
                continue;
            }
            /* An extension with a '.' or '/' could never match a lookup. */
            if (len > UINT32_MAX || memchr(tok, '.', len) || memchr(tok, '/', len)) continue;
            /* The type is stored once, when the line turns out to need it. */
            if (!value) value = put_type(b, type, tlen);
            put_ext(b, tok, len, value, 0);
        }
        p = eol + 1;
    }
}

/* Reads a regular file whole into a new buffer; *buf is NULL when there is
 * none to read. Returns -1 only when out of memory. */
static int read_file(const char *path, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > MAX_FILE) {
        close(fd);
        return 0;
    }
    size_t size = (size_t)st.st_size, got = 0;
    char *p = malloc(size);
    if (!p) {
        close(fd);
        return -1;
    }
    while (got < size) {
        ssize_t r = read(fd, p + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    *buf = p;
    *len = got;
    return 0;
}

/* Everything, in the order of precedence. */
static void put_all(build *b, const char *file, size_t flen)
{
    put_table(b, forced, sizeof forced / sizeof forced[0], 1);
    if (file) put_file(b, file, file + flen);
    put_table(b, builtin, sizeof builtin / sizeof builtin[0], 0);
}

htd_mime *htd_mime_new(const char *path)
{
    char *file;
    size_t flen;
    if (read_file(path ? path : "/etc/mime.types", &file, &flen) != 0) return NULL;

    build b = {0};
    put_all(&b, file, flen);

    size_t nslots = 64;
    while (nslots < 2 * b.nexts) /* load factor at most 1/2 */
        nslots *= 2;
    htd_mime *m = malloc(sizeof *m + nslots * sizeof(slot) + b.bytes);
    if (!m) {
        free(file);
        return NULL;
    }
    m->slots = (slot *)(m + 1);
    m->mask = nslots - 1;
    memset(m->slots, 0, nslots * sizeof(slot));

    char *arena = (char *)(m->slots + nslots);
    size_t bytes = b.bytes;
    b = (build){.m = m, .arena = arena};
    put_all(&b, file, flen);
    assert((size_t)(b.arena - arena) <= bytes); /* the dry run counted it all */
    (void)bytes;
    free(file);
    return m;
}

void htd_mime_free(htd_mime *m)
{
    free(m);
}

const char *htd_mime_type(const htd_mime *m, const char *name, size_t len)
{
    /* The extension is what follows the last '.' of the last segment, unless
     * that '.' starts the segment: ".bashrc" has none. */
    const char *end = name + len, *dot = NULL, *p = end;
    while (p > name && p[-1] != '/') {
        p--;
        if (*p == '.' && !dot) dot = p;
    }
    if (!dot || dot == p || dot + 1 == end) return DEFAULT_TYPE;

    const char *ext = dot + 1;
    size_t elen = (size_t)(end - ext);
    const slot *s = find(m, ext, elen, hash(ext, elen));
    return s->ext ? s->type : DEFAULT_TYPE;
}
