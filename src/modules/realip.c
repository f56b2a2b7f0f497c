/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * realip.c - the client's address behind trusted proxies (see realip.h).
 */
#include "realip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn.h"
#include "forwarded.h"
#include "req.h"

#define FIELDS_MAX 32 /* field lines of the header taken; a list may have many hops in each */

typedef struct realip {
    enum htd_fwd_field field;
    const char *name; /* the header's name */
    size_t name_len;
    htd_cidr *trusted;
    size_t ntrusted;
} realip;

static int rewrite_phase(struct htd_req *hr)
{
    const realip *ri = registry_state(&hr->w->srv->reg, &realip_module);
    const htd_request *r = hr->r;
    if (!htd_cidr_list_match(ri->trusted, ri->ntrusted, &hr->client)) return MOD_DECLINED;
    htd_str values[FIELDS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < r->nheaders && n < FIELDS_MAX; i++)
        if (r->headers[i].name.len == ri->name_len &&
            strncasecmp(r->headers[i].name.p, ri->name, ri->name_len) == 0)
            values[n++] = r->headers[i].value;
    struct sockaddr_in6 client;
    const char *why = NULL;
    int rc = htd_forwarded_client(ri->field, values, n, &hr->client, ri->trusted, ri->ntrusted,
                                  &client, &why);
    if (rc < 0) {
        /* A trusted proxy's hop that cannot be read: the proxy's own address
         * (which may pass rules the public does not) is not the answer. */
        conn_error(hr->c, 400, why ? why : "malformed forwarding header from a trusted proxy", 0);
        return MOD_DONE;
    }
    if (rc == 1) hr->client = client;
    return MOD_DECLINED;
}

static void fini(void *state)
{
    realip *ri = state;
    free(ri->trusted);
    free(ri);
}

static int init(const htd_config *cfg, void **state, char *err, size_t errlen)
{
    if (!cfg->ntrusted_proxies) return 0;
    realip *ri = calloc(1, sizeof *ri);
    if (!ri || !(ri->trusted = calloc(cfg->ntrusted_proxies, sizeof *ri->trusted))) {
        free(ri);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *state = ri;
    const char *h = cfg->real_ip_header ? cfg->real_ip_header : "X-Forwarded-For";
    if (strcasecmp(h, "X-Forwarded-For") == 0) {
        ri->field = HTD_FWD_XFF;
        ri->name = "X-Forwarded-For";
    } else if (strcasecmp(h, "Forwarded") == 0) {
        ri->field = HTD_FWD_FORWARDED;
        ri->name = "Forwarded";
    } else {
        snprintf(err, errlen, "real_ip_header is X-Forwarded-For or Forwarded, not '%s'", h);
        return -1;
    }
    ri->name_len = strlen(ri->name);
    for (size_t i = 0; i < cfg->ntrusted_proxies; i++) {
        const char *t = cfg->trusted_proxies[i];
        char why[160];
        if (htd_cidr_parse(t, strlen(t), &ri->trusted[i], why, sizeof why) < 0) {
            snprintf(err, errlen, "trusted proxy '%s': %s", t, why);
            return -1;
        }
        ri->ntrusted++;
    }
    return 0;
}

/* No trusted proxies, no state, and no phase function asked. */
static int wanted(const void *state, int ph)
{
    return state && ph == PH_REWRITE;
}

const htd_module realip_module = {
    .name = "realip",
    .phase = {[PH_REWRITE] = rewrite_phase},
    .init = init,
    .fini = fini,
    .wanted = wanted,
};
