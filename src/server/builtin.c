/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * builtin.c - the modules a server is made of, in their order, and the
 * content phase's order as content_order sets it.
 */
#include "builtin.h"

#include <stdio.h>
#include <string.h>

#include "brotli.h"
#include "cgi.h"
#include "charge.h"
#include "compress.h"
#include "connlimit.h"
#include "dav.h"
#include "gzip.h"
#include "https.h"
#include "log.h"
#include "metrics.h"
#include "proxy.h"
#include "queue.h"
#include "ratelimit.h"
#include "realip.h"
#include "routes.h"
#include "rules.h"
#include "statedb.h"
#include "static.h"
#include "store.h"

/* The modules, in the order they are asked in each phase (module.h). A new
 * feature is a module and a line here. */
static const htd_module *const modules[] = {
    &connlimit_module, /* connections: how many one client address may have open */
    /* The rewrite phase comes first (realip finds the client, rules chooses
     * the scope); in the access phase, rate limits by address or header go
     * before the rule's checks, so refused and unauthenticated requests
     * count, and those by user after the realm has accepted one. */
    &realip_module,         /* rewrite: the client behind trusted proxies */
    &https_module,          /* access: 421 for a host the handshake did not name; to https:// */
    &ratelimit_module,      /* access: rate limits keyed by address or header */
    &rules_module,          /* rewrite: vhost and rule; access: addresses, passwords, redirects */
    &ratelimit_user_module, /* access: rate limits keyed by the user a realm accepted */
    &charge_module,         /* access: metered paths (402), after the realm's check */
    &metrics_module,        /* access, last: the status endpoint, once the rule let it through */
    &proxy_module,          /* content: the rules' upstreams (a reverse proxy) */
    &queue_module,          /* content: job queues and their monitors */
    &cgi_module,            /* content: scripts */
    &dav_module,            /* content: WebDAV in writable areas (webdav) */
    &store_module,          /* content: PUT, POST, DELETE in writable areas */
    &routes_module,         /* content: the embedder's handlers */
    &static_module,         /* content: files; error pages */
    &gzip_module,           /* compression of files, started by static */
    &brotli_module,         /* the same with brotli */
    &compress_module,       /* which coding a response gets; codes handlers' responses */
    &log_module,            /* access logs */
    &statedb_module,        /* the state database and its writer: last, so it goes last */
};

/* r made of the modules, with the content modules in the order names
 * give. -1 with the reason in err. */
int builtin_registry(registry *r, const char *const *names, size_t n, char *err, size_t errlen)
{
    registry_init(r, modules, sizeof modules / sizeof modules[0]);
    const char *bad = NULL;
    if (registry_order(r, PH_CONTENT, names, n, &bad) < 0) {
        snprintf(
            err, errlen,
            "no content module '%s'; they are proxy, queue, cgi, dav, store, routes and static",
            bad);
        return -1;
    }
    size_t cgi = 0, stat = 0;
    for (size_t i = 0; i < r->nphase[PH_CONTENT]; i++) {
        if (strcmp(r->phase_mod[PH_CONTENT][i]->name, "cgi") == 0) cgi = i;
        if (strcmp(r->phase_mod[PH_CONTENT][i]->name, "static") == 0) stat = i;
    }
    if (stat < cgi) {
        snprintf(err, errlen, "static before cgi would send scripts as files");
        return -1;
    }
    return 0;
}

int builtin_content_order_check(const char *const *names, size_t n, char *err, size_t errlen)
{
    registry r;
    return builtin_registry(&r, names, n, err, errlen);
}

/* The registry, with the content modules in the configured order. */
