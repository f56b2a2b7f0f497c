/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * gzip.c - the gzip body filter: a response's body compressed through zlib
 * as its generator makes it (module.h). For now only static files get it
 * (--gzip: static.c installs it on a file read piece by piece).
 *
 * Each piece the generator gives is deflated into one 32 KiB buffer of
 * output, which is passed on as soon as deflate puts anything in it; while
 * some of the piece is left the filter says FILTER_MORE, and goes on only
 * once that output is sent. So a response never holds more than the
 * generator's piece and one buffer of output, whatever its size.
 */
#include "gzip.h"

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

int gzip_install(struct htd_req *hr)
{
    worker *w = hr->c->w;
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
