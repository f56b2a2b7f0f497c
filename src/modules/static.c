/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * static.c - files from the document root: GET, HEAD and OPTIONS, with
 * index.html, validators (RFC 9110 section 13), and byte ranges (section 14).
 *
 * Safety rests on two things: the path is decoded and normalised before it
 * gets here (path.c refuses anything climbing above the root), and every file
 * is opened with openat2(RESOLVE_BENEATH) relative to the root's descriptor,
 * so that the kernel refuses any symlink or ".." that would leave the root,
 * whatever a racing rename does to the tree. The dotfile rule is applied to
 * the URL and, once a file is open, to where it is (open_file), so a link
 * "envlink -> .env" is refused like /.env; that is done when a cache entry
 * is made, never on a hit.
 */
#include "static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "beneath.h"
#include "cache.h"
#include "compress.h"
#include "conn.h"
#include "date.h"
#include "encoding.h"
#include "etag.h"
#include "jobs.h"
#include "listing.h"
#include "mime.h"
#include "module.h"
#include "path.h"
#include "range.h"
#include "req.h"
#include "response.h"
#include "site.h"
#include "store.h"

#define ALLOW "Allow: GET, HEAD, OPTIONS\r\n"
#define ALLOW_W "Allow: GET, HEAD, OPTIONS, PUT, POST, DELETE\r\n"

static const char *const coding_name[ENC_COUNT] = {NULL, "gzip", "br"};
static const char *const coding_ext[ENC_COUNT] = {NULL, ".gz", ".br"};

/* Opens rel beneath root_fd; -1 with errno, or with *hidden set when the
 * file, its symlinks followed, is where the dotfile rule refuses: the rule
 * is the same for a URL and for what it leads to. */
static int open_file(int root_fd, const char *rel, int flags, int *hidden)
{
    char where[PATH_MAX];
    int fd = htd_open_resolved(root_fd, rel, flags, where, sizeof where);
    *hidden = fd >= 0 && htd_path_hidden(where, strlen(where));
    if (*hidden) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Which precompressed files stand beside rel: FILE.gz, FILE.br. */
static unsigned siblings(int root_fd, const char *rel, size_t rlen)
{
    unsigned found = 0;
    char sib[REQ_PATH_MAX + 24];
    for (int k = ENC_GZIP; k <= ENC_BR; k++) {
        memcpy(sib, rel, rlen);
        memcpy(sib + rlen, coding_ext[k], 4);
        int hidden;
        int fd = open_file(root_fd, sib, O_PATH, &hidden);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) found |= 1u << k;
        if (fd >= 0) close(fd);
    }
    return found;
}

/* Is v (a field's value, or absent) an HTTP-date? Then it is *t. */
static int date_of(htd_str v, time_t *t)
{
    return v.p && htd_date_parse(v.p, v.len, t) == 0;
}

static void finish(struct htd_req *hr, int status, uint64_t bytes)
{
    hr->responded = 1;
    conn_log(hr->c, status, bytes);
}

/* 301 to the directory's slash form, keeping the query. */
static void redirect_to_slash(struct htd_req *hr)
{
    const htd_request *r = hr->r;
    /* From the normalised path, encoded again: the raw one could say
     * "//evil.example/..%2fdir", which a browser would take for another host. */
    char loc[3 * REQ_PATH_MAX + 16];
    if (3 * hr->path_len + 2 + r->query.len >= sizeof loc) {
        conn_error(hr->c, 414, "request-target too long to redirect", 1);
        return;
    }
    size_t n = htd_path_uri(hr->path, hr->path_len, loc, sizeof loc);
    loc[n++] = '/';
    if (r->query.p) {
        loc[n++] = '?';
        memcpy(loc + n, r->query.p, r->query.len);
        n += r->query.len;
    }
    static const char body[] = "moved to the directory's URL with a trailing slash\n";
    resp rs = {.status = 301,
               .ctype = "text/plain; charset=utf-8",
               .length = sizeof body - 1,
               .location = {loc, n}};
    if (response_head(hr->c, &rs) < 0 || conn_out_copy(hr->c, body, sizeof body - 1) < 0) {
        conn_error(hr->c, 500, "response too large", 1);
        return;
    }
    finish(hr, 301, sizeof body - 1);
}

static void entry_ref(void *e)
{
    cache_ref(e);
}

static void entry_unref(void *e)
{
    cache_unref(e);
}

/* Queues bytes off..off+len of a cache entry, held until they are sent. */
static int out_entry(conn *c, cache_entry *e, uint64_t off, uint64_t len)
{
    const outq_hold h = {e, entry_ref, entry_unref};
    return conn_out_held(c, &h, e->data ? e->data + off : NULL, e->fd, off, len);
}

static void send_ranges(struct htd_req *hr, cache_entry *e, const htd_range *rg, int n)
{
    conn *c = hr->c;
    char extra[96];
    resp rs = {.status = 206, .pre = e->hdrs, .pre_len = e->hdrs_len};
    if (n == 1) {
        rs.length = (int64_t)(rg[0].last - rg[0].first + 1);
        rs.extra = extra;
        rs.extra_len =
            (size_t)snprintf(extra, sizeof extra, "Content-Range: bytes %llu-%llu/%llu\r\n",
                             (unsigned long long)rg[0].first, (unsigned long long)rg[0].last,
                             (unsigned long long)e->size);
        if (response_head(c, &rs) < 0 || out_entry(c, e, rg[0].first, (uint64_t)rs.length) < 0) {
            conn_error(hr->c, 500, "response too large", 1);
            return;
        }
        finish(hr, 206, (uint64_t)rs.length);
        return;
    }
    /* multipart/byteranges: the part heads are formatted first so that the
     * total length is known for Content-Length. */
    char boundary[24];
    unsigned long long seed = ((unsigned long long)e->ino * 0x9E3779B97F4A7C15ull) ^
                              ((unsigned long long)c->w->now << 20) ^ (uintptr_t)c ^ c->nreq;
    snprintf(boundary, sizeof boundary, "%016llx", seed);
    char parts[HTD_MAX_RANGES][320];
    size_t plen[HTD_MAX_RANGES];
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        int pn =
            snprintf(parts[i], sizeof parts[i],
                     "\r\n--%s\r\nContent-Type: %s\r\nContent-Range: bytes %llu-%llu/%llu\r\n\r\n",
                     boundary, e->ctype, (unsigned long long)rg[i].first,
                     (unsigned long long)rg[i].last, (unsigned long long)e->size);
        if (pn < 0 || (size_t)pn >= sizeof parts[i]) {
            conn_error(hr->c, 500, "content type too long for a multipart response", 1);
            return;
        }
        plen[i] = (size_t)pn;
        total += plen[i] + (rg[i].last - rg[i].first + 1);
    }
    char tail[40];
    size_t tlen = (size_t)snprintf(tail, sizeof tail, "\r\n--%s--\r\n", boundary);
    total += tlen;
    char mctype[64];
    snprintf(mctype, sizeof mctype, "multipart/byteranges; boundary=%s", boundary);
    rs.ctype = mctype;
    rs.length = (int64_t)total;
    rs.pre = e->hdrs + e->vhdrs_off; /* the entry's own Content-Type is the parts' */
    rs.pre_len = e->hdrs_len - e->vhdrs_off;
    int bad = response_head(c, &rs) < 0;
    for (int i = 0; i < n && !bad; i++) {
        bad |= conn_out_copy(c, parts[i], plen[i]) < 0;
        bad |= out_entry(c, e, rg[i].first, rg[i].last - rg[i].first + 1) < 0;
    }
    if (!bad) bad = conn_out_copy(c, tail, tlen) < 0;
    if (bad) {
        conn_error(hr->c, 500, "response too large", 1);
        return;
    }
    finish(hr, 206, total);
}

/* ---- gzip on the fly ---- */

/* A file given to a generated body piece by piece, for the gzip filter to
 * compress: FILE_PIECE bytes at a time, read into a buffer of its own
 * unless the file is in memory, so that a response holds one piece of the
 * file whatever its size. Its state is in the request's slot of
 * file_module, which is in no registry: its release hook is what matters. */
#define FILE_PIECE 32768

typedef struct file_stream {
    cache_entry *e;  /* held */
    struct site *st; /* held: the request's vhost, and e's cache, live in it */
    uint64_t off;    /* given so far */
    char in[];       /* FILE_PIECE bytes, for a file not in memory */
} file_stream;

static void file_release(struct htd_req *hr);
static const htd_module file_module = {.name = "static-file", .release = file_release};

static void file_release(struct htd_req *hr)
{
    void **slot = req_slot(hr, &file_module);
    file_stream *fs = *slot;
    *slot = NULL;
    cache_unref(fs->e);
    site_release(fs->st);
    free(fs);
}

/* The generator: the file's next piece. */
static int file_gen(conn *c)
{
    file_stream *fs = req_get(c->req, &file_module);
    cache_entry *e = fs->e;
    size_t n = e->size - fs->off < FILE_PIECE ? (size_t)(e->size - fs->off) : FILE_PIECE;
    const char *p = e->data ? e->data + fs->off : fs->in;
    if (!e->data && n) {
        ssize_t got = pread(e->fd, fs->in, n, (off_t)fs->off);
        if (got <= 0) { /* the file shrank under us: the response cannot be finished */
            conn_close(c);
            return GEN_GONE;
        }
        n = (size_t)got;
    }
    fs->off += n;
    int last = fs->off == e->size;
    if (response_body(c, p, n, last) < 0) {
        conn_close(c);
        return GEN_GONE;
    }
    return last ? GEN_DONE : GEN_MORE;
}

/* The file's entity-tag with "-gz" or "-br" (coding k) before its closing
 * quote. */
static size_t coded_etag(const cache_entry *e, int k, char *out, size_t cap)
{
    if (e->etag.len < 2 || e->etag.len + 4 > cap) return 0;
    memcpy(out, e->etag.p, e->etag.len - 1);
    memcpy(out + e->etag.len - 1, k == ENC_BR ? "-br\"" : "-gz\"", 4);
    return e->etag.len + 3;
}

/* Answers hr with e compressed as it is sent in coding k (gzip or br):
 * 200, chunked (HTTP/1.0: until the connection closes), the file through
 * the coding's filter; or 304. The variant has its own entity-tag (the
 * file's, with "-gz" or "-br" inside the quotes), so a cache never takes
 * one for another. -1 if it cannot (nothing queued): the caller sends
 * identity. */
static int serve_coded(struct htd_req *hr, cache_entry *e, int k)
{
    conn *c = hr->c;
    const htd_request *r = hr->r;
    char tag[96];
    size_t tl = coded_etag(e, k, tag, sizeof tag);
    if (!tl) return -1;
    htd_str etag = {tag, tl};
    const char *vary = compress_lines(k);

    /* Validators of the variant: its own tag, the file's date. */
    htd_str v = htd_request_known(r, HTD_H_IF_NONE_MATCH);
    time_t t;
    int not_modified = v.p ? etag_match(v, etag, 1) : 0;
    if (!v.p) {
        htd_str ims = htd_request_known(r, HTD_H_IF_MODIFIED_SINCE);
        not_modified = ims.p && htd_date_parse(ims.p, ims.len, &t) == 0 && e->mtime <= t;
    }
    if (not_modified) {
        resp nm = {.status = 304,
                   .length = -1,
                   .last_modified = e->mtime,
                   .etag = etag,
                   .extra = "Vary: Accept-Encoding\r\n",
                   .extra_len = 23};
        if (response_head(c, &nm) < 0) return -1;
        finish(hr, 304, 0);
        return 0;
    }
    htd_str im = htd_request_known(r, HTD_H_IF_MATCH);
    if (im.p && !etag_match(im, etag, 0)) return -1; /* the identity path answers 412 */

    void **slot = c->head_only ? NULL : req_slot(hr, &file_module);
    file_stream *fs = slot ? malloc(sizeof *fs + (e->data ? 0 : FILE_PIECE)) : NULL;
    if (!c->head_only && !fs) return -1;
    int chunked = r->version == 11 && !c->head_only;
    char extra[96];
    size_t xl = strlen(vary);
    memcpy(extra, vary, xl);
    if (chunked) {
        memcpy(extra + xl, "Transfer-Encoding: chunked\r\n", 28);
        xl += 28;
    } else if (!c->head_only) {
        c->keep_alive = 0; /* HTTP/1.0: the body ends with the connection */
    }
    resp rs = {.status = 200,
               .ctype = e->ctype,
               .length = -1,
               .last_modified = e->mtime,
               .etag = etag,
               .extra = extra,
               .extra_len = xl};
    if (response_head(c, &rs) < 0) {
        free(fs);
        return -1;
    }
    if (c->head_only) {
        finish(hr, 200, 0);
        return 0;
    }
    if (compress_install(hr, k, (int64_t)e->size) < 0) {
        conn_out_rollback(c);
        free(fs);
        return -1;
    }
    cache_ref(e);
    *fs = (file_stream){.e = e, .st = site_hold(c->w->site)};
    *slot = fs;
    hr->responded = 1;
    response_body_start(hr, 200, chunked);
    hr->gen = file_gen; /* once the head is out */
    return 0;
}

/* ---- directory listings ---- */

/* A directory is read, sorted and its listing measured on the pool (a
 * directory of 10,000 entries takes tens of milliseconds to read): the
 * request is suspended (CS_WAIT) and, when the listing is back, runs its
 * phases again and finds it here. Its head gives the measured length, and
 * the page follows from a generator, LIST_PIECE bytes at a time as the
 * client takes them, so that it is never in memory whole. */
#define LIST_PIECE 16384

/* The listing of c's request (its slot: NULL when none). */
#define LJ_OF(c) (*(struct list_job **)req_slot((c)->req, &static_module))

typedef struct list_job {
    htd_job job;
    conn *c;         /* NULL once the connection has gone */
    struct site *st; /* held: the vhost, and its root_fd, live in it */
    int root_fd;     /* links in the listing are followed beneath it */
    int dirfd, json, done, err;
    listing *ls;   /* read and measured, or NULL */
    uint64_t len;  /* of its rendering */
    uint64_t left; /* of it still to give the body */
    size_t path_len;
    char path[REQ_PATH_MAX + 1];
} list_job;

static void list_work(htd_job *j)
{
    list_job *lj = (list_job *)j;
    lj->ls = listing_read(lj->dirfd, lj->path, lj->path_len, lj->json, lj->root_fd);
    if (lj->ls && listing_length(lj->ls, &lj->len) < 0) {
        listing_free(lj->ls);
        lj->ls = NULL;
        errno = ENOMEM;
    }
    if (!lj->ls) lj->err = errno;
    lj->left = lj->len;
}

static void list_free(list_job *lj)
{
    if (lj->dirfd >= 0) close(lj->dirfd);
    listing_free(lj->ls);
    site_release(lj->st);
    free(lj);
}

static void list_done(htd_job *j)
{
    list_job *lj = (list_job *)j;
    close(lj->dirfd);
    lj->dirfd = -1;
    lj->done = 1;
    if (lj->c)
        conn_resume_request(lj->c); /* asks the module again: list_dir below answers */
    else
        list_free(lj);
}

void static_list_detach(conn *c)
{
    list_job *lj = LJ_OF(c);
    LJ_OF(c) = NULL;
    if (lj->done) {
        list_free(lj);
    } else {
        lj->c = NULL;     /* list_done frees it */
        c->w->jobs_out--; /* conn_resume_request will not run for it */
    }
}

/* The generator: the listing's next piece. */
static int list_gen(conn *c)
{
    list_job *lj = LJ_OF(c);
    const char *p;
    size_t n;
    int more = listing_next(lj->ls, LIST_PIECE, &p, &n);
    /* Out of memory, or (never) a rendering other than the one measured,
     * which would leave the connection out of step with its client. */
    if (more < 0 || n > lj->left || (!more && n != lj->left)) {
        conn_close(c);
        return GEN_GONE;
    }
    lj->left -= n;
    if (response_body(c, p, n, !more) < 0) {
        conn_close(c);
        return GEN_GONE;
    }
    return more ? GEN_MORE : GEN_DONE;
}

/* Lists the directory open at fd (taken) for hr, or answers with the
 * listing made for it. */
static void list_dir(struct htd_req *hr, int fd)
{
    conn *c = hr->c;
    worker *l = c->w;
    int json = listing_wants_json(htd_request_known(hr->r, HTD_H_ACCEPT));
    list_job *lj = LJ_OF(c);
    if (lj && lj->done && lj->json == json && lj->path_len == hr->path_len &&
        memcmp(lj->path, hr->path, hr->path_len) == 0) {
        close(fd);
        if (!lj->ls) {
            LJ_OF(c) = NULL;
            conn_error(hr->c, lj->err == EACCES ? 403 : 500, "cannot list the directory", 1);
            list_free(lj);
            return;
        }
        /* Coded as it goes where gzip or brotli is on and the client takes
         * it (1.8 MB of HTML for 10,000 entries is some 200 KB of gzip). */
        const char *ctype = json ? "application/json" : "text/html; charset=utf-8";
        unsigned fly = compress_on_the_fly(hr, ctype, (int64_t)lj->len);
        int k = compress_pick(hr, fly);
        /* The filter first: without it (the memory budget spent), identity. */
        if (k != ENC_IDENTITY && !c->head_only && compress_install(hr, k, (int64_t)lj->len) < 0)
            k = ENC_IDENTITY;
        int coded = k != ENC_IDENTITY, chunked = coded && hr->r->version == 11 && !c->head_only;
        /* HTTP/1.0 and no length: the body ends with the connection, and
         * the head must say so. */
        if (coded && !chunked && !c->head_only) c->keep_alive = 0;
        char extra[160];
        int xl = snprintf(extra, sizeof extra, "Vary: Accept%s\r\n%s%s%s",
                          fly ? ", Accept-Encoding" : "", coded ? "Content-Encoding: " : "",
                          coded ? (k == ENC_BR ? "br\r\n" : "gzip\r\n") : "",
                          chunked ? "Transfer-Encoding: chunked\r\n" : "");
        resp rs = {.status = 200,
                   .ctype = ctype,
                   .length = coded ? -1 : (int64_t)lj->len,
                   .extra = extra,
                   .extra_len = (size_t)xl};
        if (response_head(c, &rs) < 0) {
            LJ_OF(c) = NULL;
            list_free(lj);
            conn_error(hr->c, 500, "response too large", 1);
            return;
        }
        if (c->head_only) {
            LJ_OF(c) = NULL;
            finish(hr, 200, coded ? 0 : lj->len);
            list_free(lj);
            return;
        }
        hr->responded = 1;
        response_body_start(hr, 200, chunked);
        hr->gen = list_gen; /* the listing stays in the slot until the request ends */
        return;
    }
    if (lj) { /* the listing of another request, left over */
        LJ_OF(c) = NULL;
        list_free(lj);
    }
    lj = calloc(1, sizeof *lj);
    if (!lj) {
        close(fd);
        conn_error(hr->c, 500, "out of memory", 1);
        return;
    }
    lj->st = site_hold(l->site);
    lj->root_fd = hr->vh->root_fd;
    lj->dirfd = fd;
    lj->json = json;
    lj->c = c;
    lj->path_len = hr->path_len;
    memcpy(lj->path, hr->path, hr->path_len + 1);
    lj->job = (htd_job){.work = list_work, .done = list_done, .loop = l->loop};
    LJ_OF(c) = lj;
    hr->responded = 1;
    conn_wait(c);
    jobs_submit(l->srv->jobs, &lj->job);
}

/* Opens the file for hr's path, following index.html for a directory, and
 * makes an entry of it: a file, or "missing". Answers hr itself (and returns
 * NULL) for what is not cached: redirects and refusals. */
static cache_entry *resolve(struct htd_req *hr)
{
    worker *l = hr->c->w;
    const server_ctx *s = l->srv;
    /* The path relative to the root, with room for "index.html". */
    char rel[REQ_PATH_MAX + 16];
    size_t rlen = hr->path_len - 1;
    memcpy(rel, hr->path + 1, rlen);
    rel[rlen] = 0;
    /* O_NONBLOCK: opening a FIFO (or a device) must never wait; such files
     * are refused below, once fstat has said what they are. */
    int hidden;
    int fd = open_file(hr->vh->root_fd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY, &hidden);
    struct stat st;
    if (fd < 0) goto open_failed;
    if (fstat(fd, &st) < 0) {
        close(fd);
        conn_error(hr->c, 500, "cannot stat the file", 1);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        if (hr->path[hr->path_len - 1] != '/') {
            close(fd);
            redirect_to_slash(hr);
            return NULL;
        }
        int dirfd = fd; /* the directory as checked, for a listing */
        memcpy(rel + rlen, "index.html", sizeof "index.html");
        rlen += sizeof "index.html" - 1;
        fd = open_file(hr->vh->root_fd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY, &hidden);
        int missing = fd < 0 && errno == ENOENT && !hidden;
        if (missing && scope_feature(hr->sc->list_dirs, s->cfg.list_dirs)) {
            list_dir(hr, dirfd);
            return NULL;
        }
        int err = errno;
        close(dirfd);
        errno = err;
        if (fd < 0) {
            if (missing) {
                conn_error(hr->c, 403, "directory has no index.html and listings are off", 1);
                return NULL;
            }
            goto open_failed;
        }
        if (fstat(fd, &st) < 0) {
            close(fd);
            conn_error(hr->c, 500, "cannot stat the file", 1);
            return NULL;
        }
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        conn_error(hr->c, 403, "not a regular file", 1);
        return NULL;
    }
    unsigned sib = scope_feature(hr->sc->precompressed, !s->cfg.no_precompressed)
                       ? siblings(hr->vh->root_fd, rel, rlen)
                       : 0;
    const char *ctype = htd_mime_type(s->mime, rel, rlen);
    int vary = sib || compress_on_the_fly(hr, ctype, st.st_size);
    cache_entry *e = cache_put_how(hr->cache, hr->path, hr->path_len, rel, fd, &st, ctype,
                                   l->date_sec, (cache_how){NULL, vary});
    if (!e) {
        conn_error(hr->c, 500, "out of memory", 1);
        return NULL;
    }
    e->siblings = (uint8_t)sib;
    e->index = hr->path[hr->path_len - 1] == '/';
    return e;

open_failed:
    if (hidden) {
        conn_error(hr->c, 403, "dotfiles are not served", 1);
        return NULL;
    }
    switch (errno) {
    case ENOENT:
    case ENOTDIR:
        e = cache_put(hr->cache, hr->path, hr->path_len, rel, -1, NULL, NULL, l->date_sec);
        if (!e) conn_error(hr->c, 500, "out of memory", 1);
        return e;
    case EACCES:
    case EPERM:
        conn_error(hr->c, 403, "the file is not readable", 1);
        return NULL;
    case EXDEV:
    case ELOOP:
        conn_error(hr->c, 403, "a symbolic link leads outside the document root", 1);
        return NULL;
    case ENAMETOOLONG:
        conn_error(hr->c, 414, "path too long", 1);
        return NULL;
    default:
        conn_error(hr->c, 500, "cannot open the file", 1);
        return NULL;
    }
}

static void serve_entry(struct htd_req *hr, cache_entry *e);

/* The entry of e's precompressed variant in coding k, cached under a key no
 * request path can have (paths start with '/'). NULL if it cannot be had:
 * the caller serves identity then. */
static cache_entry *variant(struct htd_req *hr, cache_entry *e, int k)
{
    worker *l = hr->c->w;
    char key[REQ_PATH_MAX + 4], rel[REQ_PATH_MAX + 32];
    key[0] = (char)k;
    memcpy(key + 1, e->path, e->path_len);
    cache_entry *v = cache_get(hr->cache, key, e->path_len + 1);
    if (v) {
        cache_ref(v);
        return v->missing ? (cache_unref(v), NULL) : v;
    }
    int n = snprintf(rel, sizeof rel, "%.*s%s%s", (int)e->path_len - 1, e->path + 1,
                     e->index ? "index.html" : "", coding_ext[k]);
    if (n < 0 || (size_t)n >= sizeof rel) return NULL;
    int hidden;
    int fd = open_file(hr->vh->root_fd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY, &hidden);
    struct stat st;
    if (fd < 0) return NULL;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return NULL;
    }
    return cache_put_how(hr->cache, key, e->path_len + 1, rel, fd, &st, e->ctype, l->date_sec,
                         (cache_how){coding_name[k], 1});
}

void static_serve(struct htd_req *hr)
{
    conn *c = hr->c;
    worker *l = c->w;
    int m = hr->r->method_id;
    if (m != HTD_M_GET && m != HTD_M_HEAD && m != HTD_M_OPTIONS) {
        conn_error(hr->c, 405, "method not allowed on a static file", 1);
        return;
    }
    if (hr->path[0] == '*') {
        if (m != HTD_M_OPTIONS) {
            conn_error(hr->c, 400, "asterisk-form is only for OPTIONS", 1);
            return;
        }
        goto options;
    }
    if (req_path_hidden(hr)) {
        conn_error(hr->c, 403, "dotfiles are not served", 1);
        return;
    }
    /* What may be done here does not depend on what is there now. */
    if (m == HTD_M_OPTIONS) goto options;
    cache_entry *e = cache_get(hr->cache, hr->path, hr->path_len);
    if (e) {
        cache_ref(e);
    } else if (!(e = resolve(hr))) {
        return;
    }
    if (e->missing) {
        conn_error(hr->c, 404, "no such file", 1);
        cache_unref(e);
        return;
    }
    /* Content codings: identity unless the client takes a precompressed
     * variant the file has; 406 only when it refuses identity too. */
    htd_str ae = htd_request_known(hr->r, HTD_H_ACCEPT_ENCODING);
    /* On the fly: never for ranges, nor where a FILE.gz (FILE.br) is there. */
    unsigned fly = !ae.p || htd_request_known(hr->r, HTD_H_RANGE).p
                       ? 0
                       : compress_on_the_fly(hr, e->ctype, (int64_t)e->size) & ~e->siblings;
    unsigned offer = 1u << ENC_IDENTITY | e->siblings | fly;
    /* With identity all there is, most fields need no parse: they cannot
     * refuse it. */
    if (ae.p && (offer != 1u << ENC_IDENTITY || htd_accept_may_refuse_identity(ae))) {
        unsigned q[ENC_COUNT];
        htd_accept_encoding(ae, q);
        int k = htd_choose_encoding(q, offer);
        if (k < 0) {
            conn_error(hr->c, 406,
                       "the file is not available in any content coding the client accepts", 1);
            cache_unref(e);
            return;
        }
        if (k > 0 && fly & 1u << k && serve_coded(hr, e, k) == 0) {
            cache_unref(e);
            return;
        }
        cache_entry *v = k != ENC_IDENTITY ? variant(hr, e, k) : NULL;
        if (v) {
            cache_unref(e);
            e = v;
        }
    }
    serve_entry(hr, e);
    cache_unref(e);
    return;

options:;
    int w = store_writable(l->srv, hr->vh->name, hr->path, hr->path_len);
    resp op = {.status = 204,
               .length = -1,
               .extra = w ? ALLOW_W : ALLOW,
               .extra_len = w ? sizeof ALLOW_W - 1 : sizeof ALLOW - 1};
    if (response_head(c, &op) < 0) {
        conn_error(hr->c, 500, "response too large", 1);
        return;
    }
    finish(hr, 204, 0);
}

static void serve_entry(struct htd_req *hr, cache_entry *e)
{
    conn *c = hr->c;
    const htd_request *r = hr->r;
    int m = r->method_id;

    /* Preconditions in the order of RFC 9110 section 13.2.2. */
    htd_str v;
    time_t t;
    if ((v = htd_request_known(r, HTD_H_IF_MATCH)).p) {
        if (!etag_match(v, e->etag, 0)) goto precondition_failed;
    } else if (date_of(htd_request_known(r, HTD_H_IF_UNMODIFIED_SINCE), &t) && e->mtime > t) {
        goto precondition_failed;
    }
    if ((v = htd_request_known(r, HTD_H_IF_NONE_MATCH)).p) {
        if (etag_match(v, e->etag, 1)) goto not_modified;
    } else if (date_of(htd_request_known(r, HTD_H_IF_MODIFIED_SINCE), &t) && e->mtime <= t) {
        goto not_modified;
    }

    if (m == HTD_M_GET && (v = htd_request_known(r, HTD_H_RANGE)).p) {
        htd_str ir = htd_request_known(r, HTD_H_IF_RANGE);
        int use = 1;
        if (ir.p) {
            if (ir.len && ir.p[0] == '"')
                use = ir.len == e->etag.len && memcmp(ir.p, e->etag.p, ir.len) == 0;
            else
                use = htd_date_parse(ir.p, ir.len, &t) == 0 && t == e->mtime;
        }
        htd_range rg[HTD_MAX_RANGES];
        int n = use ? htd_range_parse(v.p, v.len, e->size, rg, HTD_MAX_RANGES) : 0;
        /* Overlapping or adjacent ranges merged; ranges that ask for more
         * than the file, the whole file instead (200). */
        if (n > 0) n = htd_range_coalesce(rg, n, e->size);
        if (n < 0) {
            char extra[64];
            static const char body[] = "no requested range is within the file\n";
            resp rs = {.status = 416,
                       .ctype = "text/plain; charset=utf-8",
                       .length = sizeof body - 1,
                       .extra = extra,
                       .extra_len =
                           (size_t)snprintf(extra, sizeof extra, "Content-Range: bytes */%llu\r\n",
                                            (unsigned long long)e->size)};
            const char *page = hr->sc ? site_errdoc(hr->sc, 416) : NULL;
            if (page && static_error_page(hr, 416, page, rs.extra, rs.extra_len) == 0) {
                hr->responded = 1;
                return;
            }
            if (response_head(c, &rs) < 0 || conn_out_copy(c, body, sizeof body - 1) < 0) {
                conn_error(hr->c, 500, "response too large", 1);
                return;
            }
            finish(hr, 416, sizeof body - 1);
            return;
        }
        if (n > 0) {
            send_ranges(hr, e, rg, n);
            return;
        }
    }

    resp rs = {.status = 200, .length = (int64_t)e->size, .pre = e->hdrs, .pre_len = e->hdrs_len};
    if (response_head(c, &rs) < 0 || out_entry(c, e, 0, e->size) < 0) {
        conn_error(hr->c, 500, "response too large", 1);
        return;
    }
    finish(hr, 200, e->size);
    return;

not_modified:
    if (m != HTD_M_GET && m != HTD_M_HEAD) goto precondition_failed;
    /* Only the validators: a 304 repeats no other representation metadata. */
    resp nm = {.status = 304,
               .length = -1,
               .pre = e->hdrs + e->vhdrs_off,
               .pre_len = (size_t)(e->etag.p + e->etag.len + 2 - (e->hdrs + e->vhdrs_off))};
    if (response_head(c, &nm) < 0) {
        conn_error(hr->c, 500, "response too large", 1);
        return;
    }
    finish(hr, 304, 0);
    return;

precondition_failed:
    conn_error(hr->c, 412, "precondition failed: the file has changed", 1);
}

int static_error_page(struct htd_req *hr, int status, const char *page, const char *extra,
                      size_t extra_len)
{
    conn *c = hr->c;
    worker *l = c->w;
    size_t len = strlen(page);
    cache_entry *e = cache_get(hr->cache, page, len);
    if (e) {
        cache_ref(e);
    } else {
        int fd = htd_open_beneath(hr->vh->root_fd, page + 1, O_RDONLY | O_NONBLOCK | O_NOCTTY);
        struct stat st;
        if (fd < 0) return -1;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
            close(fd);
            return -1;
        }
        e = cache_put(hr->cache, page, len, page + 1, fd, &st,
                      htd_mime_type(l->srv->mime, page, len), l->date_sec);
        if (!e) return -1;
    }
    int rc = -1;
    if (!e->missing) {
        /* The page's type, but not its validators: they describe the page,
         * not the resource that was asked for. */
        resp rs = {.status = status,
                   .ctype = e->ctype,
                   .length = (int64_t)e->size,
                   .extra = extra,
                   .extra_len = extra_len};
        if (response_head(c, &rs) == 0 && out_entry(c, e, 0, e->size) == 0) {
            conn_log(c, status, e->size);
            rc = 0;
        } else {
            conn_out_rollback(c);
        }
    }
    cache_unref(e);
    return rc;
}

/* The content phase: files from the vhost's root, when it has one. A
 * directory being listed suspends the request (the listing is made on the
 * pool). */
static int content_phase(struct htd_req *hr)
{
    if (hr->vh->root_fd < 0) return MOD_DECLINED;
    static_serve(hr);
    return hr->c->state == CS_WAIT ? MOD_AGAIN : MOD_DONE;
}

static void release_listing(struct htd_req *hr)
{
    static_list_detach(hr->c);
}

/* The vhost's or rule's page for an error status, if it configures one. */
static int error_page(struct htd_req *hr, int status, const char *extra, size_t extra_len)
{
    const char *page = hr->sc ? site_errdoc(hr->sc, status) : NULL;
    return page ? static_error_page(hr, status, page, extra, extra_len) : -1;
}

const htd_module static_module = {
    .name = "static",
    .phase = {[PH_CONTENT] = content_phase},
    .release = release_listing,
    .error_page = error_page,
};
