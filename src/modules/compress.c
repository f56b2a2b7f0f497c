/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * compress.c - content codings on the fly (compress.h). Files, listings and
 * handlers' responses are coded by the same rules: the scope's gzip and
 * brotli settings (rule, then vhost, then server), a type worth it, a body
 * of at least GZIP_MIN bytes, and the client's q-values, brotli winning a
 * tie. A coded response says Vary: Accept-Encoding, and so does one that
 * could have been coded, so that caches keep the variants apart.
 */
#include "compress.h"

#include <string.h>

#include "brotli.h"
#include "conn.h"
#include "encoding.h"
#include "gzip.h"
#include "req.h"
#include "response.h"
#include "site.h"

unsigned compress_on_the_fly(const struct htd_req *hr, const char *ctype, int64_t len)
{
    if (!hr->sc) return 0;
    const htd_config *cfg = &hr->c->w->srv->cfg;
    unsigned fly = 0;
    if (scope_feature(hr->sc->gzip, cfg->gzip)) fly |= 1u << ENC_GZIP;
    if (scope_feature(hr->sc->brotli, cfg->brotli)) fly |= 1u << ENC_BR;
    if (!fly || !gzip_compressible(ctype) || (len >= 0 && len < GZIP_MIN)) return 0;
    return fly;
}

int compress_pick(const struct htd_req *hr, unsigned fly)
{
    htd_str ae = htd_request_known(hr->r, HTD_H_ACCEPT_ENCODING);
    if (!fly || !ae.p) return ENC_IDENTITY;
    unsigned q[ENC_COUNT];
    htd_accept_encoding(ae, q);
    /* A client that refuses identity too still gets it: the answer is
     * made, and identity is what every client can read. */
    int k = htd_choose_encoding(q, 1u << ENC_IDENTITY | fly);
    return k < 0 ? ENC_IDENTITY : k;
}

int compress_install(struct htd_req *hr, int k, int64_t len)
{
    return k == ENC_BR ? brotli_install(hr) : gzip_install(hr, len);
}

const char *compress_lines(int k)
{
    return k == ENC_BR     ? "Content-Encoding: br\r\nVary: Accept-Encoding\r\n"
           : k == ENC_GZIP ? "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n"
                           : "Vary: Accept-Encoding\r\n";
}

/* ---- handlers' responses ---- */

/* The header line name among those hr's handler added, as the offset of
 * its value, or -1. */
static long handler_header(const struct htd_req *hr, const char *name, size_t n)
{
    return response_lines_find(hr->hdrs, hr->hdrs_len, name, n);
}

/* A strong entity-tag the handler gave names its identity bytes, which the
 * coded ones are not: it becomes weak (RFC 9110 section 8.8.1), as for the
 * same content. The offset of its value when it needs to, else -1. */
static long strong_etag(const struct htd_req *hr)
{
    long v = handler_header(hr, "etag", 4);
    return v >= 0 && hr->hdrs[v] == '"' ? v : -1;
}

static void weaken(struct htd_req *hr, long v)
{
    memmove(hr->hdrs + v + 2, hr->hdrs + v, hr->hdrs_len - (size_t)v);
    memcpy(hr->hdrs + v, "W/", 2);
    hr->hdrs_len += 2;
}

/* The statuses whose bodies are documents worth coding: the successes
 * with a whole body, and the client errors a page is usually made for. */
static int codable_status(int status)
{
    return (status >= 200 && status < 300 && status != 204 && status != 206) || status == 403 ||
           status == 404 || status == 410;
}

/* The body encoder (module.h). */
static int encode(struct htd_req *hr, const resp *r, char *lines, size_t cap, size_t *nlines)
{
    if (!codable_status(r->status)) return 0;
    unsigned fly = compress_on_the_fly(hr, r->ctype, r->length);
    /* A handler that codes its body itself says so: it is left alone. */
    if (!fly || handler_header(hr, "content-encoding", 16) >= 0) return 0;
    int k = compress_pick(hr, fly);
    long tag = k != ENC_IDENTITY ? strong_etag(hr) : -1;
    size_t n = strlen(compress_lines(k));
    if (n > cap || (tag >= 0 && hr->hdrs_len + 2 > REQ_HDRS_MAX)) return 0; /* no room to say it */
    if (k != ENC_IDENTITY && !hr->c->head_only && compress_install(hr, k, r->length) < 0) {
        k = ENC_IDENTITY; /* sent as it is */
        n = strlen(compress_lines(k));
    } else if (tag >= 0) {
        weaken(hr, tag);
    }
    memcpy(lines, compress_lines(k), n);
    *nlines = n;
    return k != ENC_IDENTITY;
}

const htd_module compress_module = {
    .name = "compress",
    .encode = encode,
};
