/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * gzip.c - the gzip body filter: a response's body compressed as its
 * generator makes it (module.h), in one of two ways.
 *
 * A body whose length is known and at most GZ_WHOLE_MAX is compressed
 * whole, in one call of libdeflate at level GZ_WHOLE_LEVEL, once its last
 * piece has come: the pieces before are gathered (unless the body comes in
 * one piece). libdeflate has no streaming, but for such a body it needs
 * about 0.6 of zlib's time at level 6 for output no larger (bench/README.md
 * has the figures), with one compressor per loop instead of one per
 * response. The call is a few milliseconds at most, which is what bounds
 * GZ_WHOLE_MAX: the loop does nothing else meanwhile.
 *
 * Any other body is deflated through zlib, level 6, piece by piece: each
 * piece the generator gives goes into one 32 KiB buffer of output, which is
 * passed on as soon as deflate puts anything in it; while some of the piece
 * is left the filter says FILTER_MORE, and goes on only once that output is
 * sent. So such a response never holds more than the generator's piece and
 * one buffer of output, whatever its size.
 */
#include "gzip.h"

#include <libdeflate.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "conn.h"
#include "req.h"
#include "response.h"

#define GZ_OUT 32768
#define GZ_SPARE 4 /* compressors a loop keeps for the next responses */
/* The whole-body way: libdeflate's level 7 is the one whose output is no
 * larger than zlib's level 6, over a corpus of web files and over the
 * benchmark's text. */
#define GZ_WHOLE_MAX (128 * 1024)
#define GZ_WHOLE_LEVEL 7

struct gz {
    z_stream zs;
    const char *in; /* what is left of the piece beyond what zlib holds */
    size_t in_left;
    int finish; /* the piece is the body's last */
    char out[GZ_OUT];
};

int gzip_compressible(const char *ctype)
{
    if (!ctype) return 0;
    size_t n = strcspn(ctype, ";");
    /* An event stream's events are due as they come: a compressor would
     * hold them until its buffer fills. */
    if (n == 17 && strncmp(ctype, "text/event-stream", 17) == 0) return 0;
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

/* A compressor's state is a quarter megabyte that zlib gets from malloc,
 * which for that size maps fresh pages, to be faulted in again for every
 * response: each loop keeps a few, reset, for the next responses (its
 * per-loop state, made on first use), and its one libdeflate compressor. */
typedef struct spares {
    struct gz *gz[GZ_SPARE];
    int n;
    struct libdeflate_compressor *whole; /* made on first use */
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
    libdeflate_free_compressor(sp->whole);
    free(sp);
}

/* What a compressor holds (memory budget): deflate's state at the default
 * window and memory level is about 268 KiB, and our output buffer. */
#define GZ_COST (sizeof(struct gz) + 268 * 1024)

/* The compression of hr is over (or cut short): its compressor goes back. */
static void gz_free(struct htd_req *hr)
{
    void **slot = req_slot(hr, &gzip_module);
    struct gz *g = slot ? *slot : NULL;
    if (!g) return;
    *slot = NULL;
    hr->filter = NULL;
    g->in = NULL;
    g->in_left = 0;
    g->finish = 0;
    budget_sub(&hr->c->w->mem, GZ_COST);
    gz_put(hr->c->w, g);
}

/* The filter (module.h): deflates p[0..len) into g->out, passing each
 * buffer on as soon as deflate puts anything in it. */
static int gz_filter(conn *c, const char *p, size_t len, int last)
{
    struct htd_req *hr = c->req;
    struct gz *g = req_get(hr, &gzip_module);
    if (len || last) { /* a new piece; else the rest of the last one */
        g->in = p;
        g->in_left = len;
        g->finish = last;
    }
    for (;;) {
        if (g->zs.avail_in == 0 && g->in_left) { /* zlib takes at most 4 GiB at a time */
            uInt k = g->in_left > UINT_MAX ? UINT_MAX : (uInt)g->in_left;
            g->zs.next_in = (Bytef *)g->in;
            g->zs.avail_in = k;
            g->in += k;
            g->in_left -= k;
        }
        g->zs.next_out = (Bytef *)g->out;
        g->zs.avail_out = GZ_OUT;
        int rc = deflate(&g->zs, g->finish && !g->in_left ? Z_FINISH : Z_NO_FLUSH);
        size_t n = GZ_OUT - g->zs.avail_out;
        if (rc == Z_STREAM_END) {
            int out = response_body_out(c, g->out, n, 1); /* copied: g goes now */
            gz_free(hr);
            return out < 0 ? FILTER_ERROR : FILTER_TAKEN;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) return FILTER_ERROR;
        int more = g->zs.avail_in || g->in_left || g->finish;
        if (n) {
            if (response_body_out(c, g->out, n, 0) < 0) return FILTER_ERROR;
            return more ? FILTER_MORE : FILTER_TAKEN;
        }
        if (!more) return FILTER_TAKEN;
    }
}

/* ---- a body compressed whole ---- */

/* Its state, in the request's slot of whole_module (in no registry: its
 * release hook is what matters). */
struct gzw {
    size_t len;   /* the body's length, as its head was made for */
    size_t got;   /* gathered in `in` so far */
    size_t bound; /* out's size: libdeflate's bound for len */
    char *in;     /* the pieces, unless the body came in one */
    char out[];
};

/* What it holds (memory budget): itself, out, and in when the body comes
 * in pieces. */
#define GZW_COST(len, bound) (sizeof(struct gzw) + (bound) + (len))

static void gzw_release(struct htd_req *hr);
static const htd_module whole_module = {.name = "gzip-whole", .release = gzw_release};

static void gzw_release(struct htd_req *hr)
{
    void **slot = req_slot(hr, &whole_module);
    struct gzw *z = slot ? *slot : NULL;
    if (!z) return;
    *slot = NULL;
    hr->filter = NULL;
    budget_sub(&hr->c->w->mem, GZW_COST(z->len, z->bound));
    free(z->in);
    free(z);
}

/* The filter (module.h): gathers the pieces, and compresses the body in
 * one call on the last. */
static int gzw_filter(conn *c, const char *p, size_t len, int last)
{
    struct htd_req *hr = c->req;
    struct gzw *z = req_get(hr, &whole_module);
    const char *body = p;
    if (len > z->len - z->got) return FILTER_ERROR; /* longer than its head said */
    if (z->got || !last) {                          /* in pieces: gathered */
        if (!z->in && len && !(z->in = malloc(z->len))) return FILTER_ERROR;
        if (len) memcpy(z->in + z->got, p, len);
        z->got += len;
        if (!last) return FILTER_TAKEN;
        body = z->in;
        len = z->got;
    }
    spares *sp = spares_of(c->w);
    if (!sp) return FILTER_ERROR;
    if (!sp->whole && !(sp->whole = libdeflate_alloc_compressor(GZ_WHOLE_LEVEL)))
        return FILTER_ERROR;
    size_t n = libdeflate_gzip_compress(sp->whole, body, len, z->out, z->bound);
    if (!n) return FILTER_ERROR;                  /* cannot be: out is the bound */
    int out = response_body_out(c, z->out, n, 1); /* copied: z goes now */
    gzw_release(hr);
    return out < 0 ? FILTER_ERROR : FILTER_TAKEN;
}

/* Makes the whole-body filter hr's: 0, or -1 if it cannot. */
static int gzw_install(struct htd_req *hr, size_t len)
{
    worker *w = hr->c->w;
    /* The bound for any compressor (NULL), so it needs none yet. */
    size_t bound = libdeflate_gzip_compress_bound(NULL, len);
    size_t cost = GZW_COST(len, bound);
    if (budget_over(&w->mem, cost)) return -1; /* sent as it is instead */
    void **slot = req_slot(hr, &whole_module);
    struct gzw *z = slot && !*slot ? malloc(sizeof *z + bound) : NULL;
    if (!z) return -1;
    *z = (struct gzw){.len = len, .bound = bound};
    budget_add(&w->mem, cost);
    *slot = z;
    hr->filter = gzw_filter;
    return 0;
}

/* ---- */

int gzip_install(struct htd_req *hr, int64_t len)
{
    worker *w = hr->c->w;
    if (len > 0 && len <= GZ_WHOLE_MAX) return gzw_install(hr, (size_t)len);
    if (budget_over(&w->mem, GZ_COST)) return -1; /* sent as it is instead */
    void **slot = req_slot(hr, &gzip_module);
    struct gz *g = slot && !*slot ? gz_get(w) : NULL;
    if (!g) return -1;
    budget_add(&w->mem, GZ_COST);
    *slot = g;
    hr->filter = gz_filter;
    return 0;
}

static void release_stream(struct htd_req *hr)
{
    gz_free(hr);
}

const htd_module gzip_module = {
    .name = "gzip",
    .release = release_stream,
    .free_local = free_spares,
};
