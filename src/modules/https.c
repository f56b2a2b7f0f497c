/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * https.c - HTTPS's rules for a request (see https.h), in the access phase,
 * once the rules module has chosen the vhost by Host.
 *
 * The connection's transport says whether it is secure, and what the
 * client named in its handshake (transport_get_info): the module never
 * asks the connection for TLS by name. On a server without a TLS listener
 * it is not in the phase at all, so plain HTTP pays nothing for it.
 */
#include "https.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "fields.h"
#include "req.h"
#include "site.h"
#include "transport.h"

/* A redirect's Location: "https://" HOST [":" PORT] TARGET, HOST the
 * request's without its port. -1 if it does not fit. */
static int location(const struct htd_req *hr, unsigned port, char *out, size_t cap)
{
    htd_str h = htd_host_without_port(hr->r->host), t = hr->r->target;
    size_t hl = h.len;
    /* An absolute-form target carries its own scheme and host: the path
     * alone goes after ours. */
    if (t.len && t.p[0] != '/') {
        const char *slash = t.len > 8 ? memchr(t.p + 8, '/', t.len - 8) : NULL;
        t = slash ? (htd_str){slash, t.len - (size_t)(slash - t.p)} : (htd_str){"/", 1};
    }
    char portbuf[16] = "";
    if (port && port != 443) snprintf(portbuf, sizeof portbuf, ":%u", port);
    int n = snprintf(out, cap, "Location: https://%.*s%s%.*s\r\n", (int)hl, h.p, portbuf,
                     (int)t.len, t.p);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

static int access_phase(struct htd_req *hr)
{
    conn *c = hr->c;
    const vhost *vh = hr->vh;
    transport_info ti;
    if (!c || !vh) return MOD_DECLINED;
    if (transport_get_info(c->tp, &ti) < 0) { /* plain HTTP */
        if (!vh->https_redirect) return MOD_DECLINED;
        if (!hr->r->host.len) {
            conn_answer(c, 400, "an HTTPS-only site needs a Host to redirect to", NULL, 0);
            return MOD_DONE;
        }
        char loc[4096 + 300];
        int n = location(hr, vh->https_port, loc, sizeof loc);
        if (n < 0) {
            conn_answer(c, 414, "the redirect target would be too long", NULL, 0);
            return MOD_DONE;
        }
        conn_answer(c, vh->https_redirect, "this site is served over HTTPS", loc, (size_t)n);
        return MOD_DONE;
    }
    /* The certificate was chosen for the name of the handshake: a request
     * for another vhost on the same connection (a client reusing it for a
     * host the certificate also covers) goes back to the client to connect
     * again (RFC 9110 section 15.5.20). */
    if (ti.server_name && hr->r->host.len &&
        site_vhost(c->w->site, (htd_str){ti.server_name, strlen(ti.server_name)}) != vh) {
        conn_answer(c, 421, "this connection was made for another host", NULL, 0);
        return MOD_DONE;
    }
    if (vh->hsts && htd_resp_header(hr, "Strict-Transport-Security", vh->hsts) < 0) {
        conn_answer(c, 500, "out of memory", NULL, 0);
        return MOD_DONE;
    }
    return MOD_DECLINED;
}

/* Whether a listen address is marked tls ("HOST:PORT tls"). */
static int tls_listener(const char *spec)
{
    for (const char *o = strchr(spec, ' '); o && *o;) {
        o += strspn(o, " ");
        size_t k = strcspn(o, " ");
        if (k == 3 && memcmp(o, "tls", 3) == 0) return 1;
        o += k;
    }
    return 0;
}

static int on; /* the state of a server with a TLS listener: not NULL */

static int init(const htd_config *cfg, void **state, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    *state = NULL;
    for (size_t i = 0; i < cfg->nlisten; i++)
        if (tls_listener(cfg->listen[i])) *state = &on;
    return 0;
}

/* Without a TLS listener no request is secure, and a redirect to one would
 * lead nowhere: not in the phase. */
static int wanted(const void *state, int ph)
{
    return state && ph == PH_ACCESS;
}

const htd_module https_module = {
    .name = "https",
    .phase = {[PH_ACCESS] = access_phase},
    .init = init,
    .wanted = wanted,
};
