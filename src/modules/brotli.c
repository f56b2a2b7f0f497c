/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * brotli.c - the brotli body filter (libbrotlienc), built as gzip.c's: each
 * piece the generator gives is compressed into one 32 KiB buffer of output,
 * passed on as soon as the encoder puts anything in it; while the encoder
 * has more, the filter says FILTER_MORE and goes on once that is sent. So a
 * response never holds more than the generator's piece, one buffer and the
 * encoder's window.
 *
 * Quality 5 with a 256 KiB window: the level on-the-fly compressors use
 * (smaller than gzip's output at about its speed); an encoder cannot be
 * reset, so each response makes its own.
 */
#include "brotli.h"

#include <brotli/encode.h>
#include <stdint.h>
#include <stdlib.h>

#include "conn.h"
#include "req.h"
#include "response.h"

#define BR_OUT 32768
#define BR_QUALITY 5
#define BR_LGWIN 18
/* What an encoder holds (memory budget): its window and hash tables at
 * this quality, and our output buffer. */
#define BR_COST (sizeof(struct br) + 1024 * 1024)

struct br {
    BrotliEncoderState *enc;
    const uint8_t *in; /* what is left of the piece */
    size_t in_left;
    int finish; /* the piece is the body's last */
    uint8_t out[BR_OUT];
};

static void br_free(struct htd_req *hr)
{
    void **slot = req_slot(hr, &brotli_module);
    struct br *b = slot ? *slot : NULL;
    if (!b) return;
    *slot = NULL;
    hr->filter = NULL;
    BrotliEncoderDestroyInstance(b->enc);
    free(b);
    budget_sub(&hr->c->w->mem, BR_COST);
}

/* The filter (module.h). */
static int br_filter(conn *c, const char *p, size_t len, int last)
{
    struct htd_req *hr = c->req;
    struct br *b = req_get(hr, &brotli_module);
    if (len || last) { /* a new piece; else the rest of the last one */
        b->in = (const uint8_t *)p;
        b->in_left = len;
        b->finish = last;
    }
    for (;;) {
        size_t avail_out = BR_OUT;
        uint8_t *next_out = b->out;
        BrotliEncoderOperation op = b->finish ? BROTLI_OPERATION_FINISH : BROTLI_OPERATION_PROCESS;
        if (!BrotliEncoderCompressStream(b->enc, op, &b->in_left, &b->in, &avail_out, &next_out,
                                         NULL))
            return FILTER_ERROR;
        size_t n = BR_OUT - avail_out;
        if (b->finish && BrotliEncoderIsFinished(b->enc)) {
            int out = response_body_out(c, (const char *)b->out, n, 1); /* copied: b goes now */
            br_free(hr);
            return out < 0 ? FILTER_ERROR : FILTER_TAKEN;
        }
        int more = b->in_left || b->finish || BrotliEncoderHasMoreOutput(b->enc);
        if (n) {
            if (response_body_out(c, (const char *)b->out, n, 0) < 0) return FILTER_ERROR;
            return more ? FILTER_MORE : FILTER_TAKEN;
        }
        if (!more) return FILTER_TAKEN;
    }
}

int brotli_install(struct htd_req *hr)
{
    worker *w = hr->c->w;
    if (budget_over(&w->mem, BR_COST)) return -1; /* sent another way instead */
    void **slot = req_slot(hr, &brotli_module);
    if (!slot || *slot) return -1;
    struct br *b = calloc(1, sizeof *b);
    if (b) b->enc = BrotliEncoderCreateInstance(NULL, NULL, NULL);
    if (!b || !b->enc || !BrotliEncoderSetParameter(b->enc, BROTLI_PARAM_QUALITY, BR_QUALITY) ||
        !BrotliEncoderSetParameter(b->enc, BROTLI_PARAM_LGWIN, BR_LGWIN)) {
        if (b && b->enc) BrotliEncoderDestroyInstance(b->enc);
        free(b);
        return -1;
    }
    budget_add(&w->mem, BR_COST);
    *slot = b;
    hr->filter = br_filter;
    return 0;
}

static void release_stream(struct htd_req *hr)
{
    br_free(hr);
}

const htd_module brotli_module = {
    .name = "brotli",
    .release = release_stream,
};
