/*
 * gzip.c - static files compressed as they are sent (--gzip), through zlib.
 *
 * Only for types that compress (text, JSON, JavaScript, XML, SVG) and files
 * large enough to gain, never for ranges, and only when no precompressed
 * FILE.gz is there to send instead. The file is read and compressed 32 KiB
 * at a time and each piece is sent as a chunk before the next is made, so a
 * response never holds more than one piece of the file and one of output,
 * whatever its size. The variant has its own entity-tag (the file's, with
 * "-gz" inside the quotes), so a cache never takes one for the other.
 */
#include "gzip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "cache.h"
#include "conn.h"
#include "date.h"
#include "etag.h"
#include "req.h"
#include "response.h"
#include "site.h"

#define GZ_IN 32768
#define GZ_OUT 32768
#define GZ_SPARE 4 /* compressors a loop keeps for the next responses */

/* The compression of c's request (its slot: NULL when none). */
#define GZ_OF(c) (*(struct gz **)req_slot((c)->req, &gzip_module))

struct gz {
    z_stream zs;
    cache_entry *e; /* held */
    uint64_t off;   /* input taken so far */
    uint64_t sent;  /* compressed bytes queued */
    int chunked;
    struct site *st; /* held: the request's vhost lives in it */
    char in[GZ_IN];
    char out[GZ_OUT];
};

int gzip_compressible(const char *ctype)
{
    if (!ctype) return 0;
    size_t n = strcspn(ctype, ";");
    if (n >= 5 && strncmp(ctype, "text/", 5) == 0) return 1;
    static const char *const types[] = {"application/json",         "application/javascript",
                                        "application/xml",          "image/svg+xml",
                                        "application/x-javascript", "application/manifest+json"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strlen(types[i]) == n && strncmp(ctype, types[i], n) == 0) return 1;
    /* +json and +xml suffixes (RFC 6839) */
    return (n > 5 && strncmp(ctype + n - 5, "+json", 5) == 0) ||
           (n > 4 && strncmp(ctype + n - 4, "+xml", 4) == 0);
}

/* The file's entity-tag with "-gz" before its closing quote. */
static size_t gz_etag(const cache_entry *e, char *out, size_t cap)
{
    if (e->etag.len < 2 || e->etag.len + 4 > cap) return 0;
    memcpy(out, e->etag.p, e->etag.len - 1);
    memcpy(out + e->etag.len - 1, "-gz\"", 4);
    return e->etag.len + 3;
}

/* A compressor's state is a quarter megabyte that zlib gets from malloc,
 * which for that size maps fresh pages, to be faulted in again for every
 * response: each loop keeps a few, reset, for the next responses (its
 * per-loop state, made on first use). */
typedef struct spares {
    struct gz *gz[GZ_SPARE];
    int n;
} spares;

static spares *spares_of(worker *l)
{
    void **slot = loop_local(l->loop, &gzip_module);
    if (slot && !*slot) *slot = calloc(1, sizeof(spares));
    return slot ? *slot : NULL;
}

static struct gz *gz_get(worker *l)
{
    spares *sp = spares_of(l);
    if (sp && sp->n) return sp->gz[--sp->n];
    struct gz *g = calloc(1, sizeof *g);
    /* windowBits 15 + 16: a gzip wrapper; memLevel 8 and level 6, zlib's defaults. */
    if (g && deflateInit2(&g->zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(g);
        return NULL;
    }
    return g;
}

static void gz_put(worker *l, struct gz *g)
{
    spares *sp = spares_of(l);
    if (sp && sp->n < GZ_SPARE && deflateReset(&g->zs) == Z_OK) {
        sp->gz[sp->n++] = g;
        return;
    }
    deflateEnd(&g->zs);
    free(g);
}

static void free_spares(void *state)
{
    spares *sp = state;
    while (sp->n) {
        struct gz *g = sp->gz[--sp->n];
        deflateEnd(&g->zs);
        free(g);
    }
    free(sp);
}

static void gz_free(conn *c)
{
    struct gz *g = GZ_OF(c);
    if (!g) return;
    cache_unref(g->e);
    site_release(g->st);
    g->e = NULL;
    g->st = NULL;
    g->off = g->sent = 0;
    gz_put(c->w, g);
    GZ_OF(c) = NULL;
}

void gzip_detach(conn *c)
{
    gz_free(c);
}

int gzip_start(struct htd_req *hr, cache_entry *e)
{
    conn *c = hr->c;
    const htd_request *r = hr->r;
    char tag[96];
    size_t tl = gz_etag(e, tag, sizeof tag);
    if (!tl) return -1;
    htd_str etag = {tag, tl};
    static const char vary[] = "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n";

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
        hr->responded = 1;
        conn_log(c, 304, 0);
        return 0;
    }
    htd_str im = htd_request_known(r, HTD_H_IF_MATCH);
    if (im.p && !etag_match(im, etag, 0)) return -1; /* the identity path answers 412 */

    struct gz *g = c->head_only ? NULL : gz_get(c->w);
    if (!c->head_only && !g) return -1;
    char extra[sizeof vary + 32];
    size_t xl = sizeof vary - 1;
    memcpy(extra, vary, xl);
    if (r->version == 11 && !c->head_only) {
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
        if (g) gz_put(c->w, g);
        return -1;
    }
    hr->responded = 1;
    if (!g) {
        conn_log(c, 200, 0);
        return 0;
    }
    cache_ref(e);
    g->e = e;
    g->st = site_hold(c->w->site);
    g->chunked = r->version == 11;
    GZ_OF(c) = g;
    hr->gen = gzip_step; /* once the head is out */
    return 0;
}

/* Queues out[0..n) as a chunk (or as it is, for HTTP/1.0), copying when
 * it is the last piece: the state goes before that piece is sent. */
static void queue(conn *c, struct gz *g, size_t n, int last)
{
    int chunked = g->chunked;
    if (n) {
        conn_out_chunk(c, g->out, n, chunked, last);
        g->sent += n;
    }
    if (last && chunked) conn_out_copy(c, "0\r\n\r\n", 5);
}

int gzip_step(conn *c)
{
    struct gz *g = GZ_OF(c);
    cache_entry *e = g->e;
    for (;;) {
        if (g->zs.avail_in == 0 && g->off < e->size) {
            size_t want = e->size - g->off < GZ_IN ? (size_t)(e->size - g->off) : GZ_IN;
            if (e->data) {
                g->zs.next_in = (Bytef *)e->data + g->off;
            } else {
                ssize_t n = pread(e->fd, g->in, want, (off_t)g->off);
                if (n <= 0) { /* the file shrank under us: the response cannot be finished */
                    gz_free(c);
                    conn_close(c);
                    return GEN_GONE;
                }
                want = (size_t)n;
                g->zs.next_in = (Bytef *)g->in;
            }
            g->zs.avail_in = (uInt)want;
            g->off += want;
        }
        g->zs.next_out = (Bytef *)g->out;
        g->zs.avail_out = GZ_OUT;
        int rc = deflate(&g->zs, g->off == e->size ? Z_FINISH : Z_NO_FLUSH);
        size_t n = GZ_OUT - g->zs.avail_out;
        if (rc == Z_STREAM_END) {
            queue(c, g, n, 1);
            conn_seal(c);
            conn_log(c, 200, g->sent);
            gz_free(c);
            return GEN_DONE;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            gz_free(c);
            conn_close(c);
            return GEN_GONE;
        }
        if (n) {
            queue(c, g, n, 0);
            return GEN_MORE;
        }
    }
}

static void release_stream(struct htd_req *hr)
{
    gzip_detach(hr->c);
}

const htd_module gzip_module = {
    .name = "gzip",
    .release = release_stream,
    .free_local = free_spares,
};
