/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * site.c - choosing a request's virtual host and rule; a site's references.
 *
 * Host selection: an exact name, else the longest wildcard suffix, else the
 * fallback (the vhost marked default, or the top-level server). Rule
 * selection, as nginx's `location` without ^~: an exact match wins, else the
 * first regex in file order, else the longest prefix; a rule that names
 * methods is seen only by requests with one of them. Both run per request,
 * over a handful of entries, without allocating.
 */
#include "site.h"

#include <stdlib.h>
#include <string.h>

#include "path.h"
#include "pattern.h"
#include "req.h"

vhost *site_vhost(const site *st, htd_str host)
{
    if (st->nnames == 0 || host.len == 0) return st->fallback;
    /* Lowercase, without a port or one trailing dot. */
    char h[256];
    size_t n = host.len;
    if (host.p[0] == '[') { /* an IPv6 literal: names never match it */
        return st->fallback;
    }
    const char *colon = memchr(host.p, ':', n);
    if (colon) n = (size_t)(colon - host.p);
    if (n && host.p[n - 1] == '.') n--;
    if (n == 0 || n >= sizeof h) return st->fallback;
    for (size_t i = 0; i < n; i++) {
        char ch = host.p[i];
        h[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
    }
    const vname *best = NULL;
    for (size_t i = 0; i < st->nnames; i++) {
        const vname *v = &st->names[i];
        if (!v->wildcard) {
            if (v->len == n && memcmp(v->name, h, n) == 0) return v->vh;
        } else if (n > v->len && memcmp(h + n - v->len, v->name, v->len) == 0) {
            if (!best || v->len > best->len) best = v;
        }
    }
    return best ? best->vh : st->fallback;
}

/* The request API's (htd.h). */
htd_str htd_req_vhost(const htd_req *r)
{
    const char *name = r->vh && r->vh->name ? r->vh->name : "";
    return (htd_str){name, strlen(name)};
}

/* Whether r leaves out requests with method: one test for a rule without
 * methods, which applies to all. */
static inline int skips(const rule *r, int method)
{
    return r->methods && !(r->methods >> method & 1u);
}

const rule *site_rule(const vhost *vh, int method, const char *path, size_t len, htd_str *caps,
                      int *ncaps)
{
    *ncaps = 0;
    const rule *prefix = NULL;
    for (size_t i = 0; i < vh->nrules; i++) {
        const rule *r = &vh->rules[i];
        if (skips(r, method)) continue;
        if (r->kind == RULE_EXACT && r->len == len && memcmp(r->pat, path, len) == 0) {
            caps[0] = (htd_str){path, len};
            *ncaps = 1;
            return r;
        }
        if (r->kind == RULE_PREFIX && htd_path_under(path, len, r->pat, r->len) &&
            (!prefix || r->len > prefix->len))
            prefix = r;
    }
    for (size_t i = 0; i < vh->nrules; i++) {
        const rule *r = &vh->rules[i];
        if (r->kind != RULE_REGEX || skips(r, method) || len < r->lit_len ||
            memcmp(path, r->lit, r->lit_len) != 0)
            continue;
        int n = regex_match(r->re, path, len, caps, 10);
        if (n <= 0) continue;
        *ncaps = n;
        return r;
    }
    if (prefix) {
        caps[0] = (htd_str){path, len};
        caps[1] = (htd_str){path + prefix->len, len - prefix->len};
        *ncaps = 2;
    }
    return prefix;
}

int site_rule_covers(const rule *r, const char *path, size_t len)
{
    htd_str caps[10];
    switch (r->kind) {
    case RULE_EXACT:
        return r->len == len && memcmp(r->pat, path, len) == 0;
    case RULE_PREFIX:
        return htd_path_under(path, len, r->pat, r->len);
    default:
        return len >= r->lit_len && memcmp(path, r->lit, r->lit_len) == 0 &&
               regex_match(r->re, path, len, caps, 10) > 0;
    }
}

const char *site_errdoc(const scope *sc, int status)
{
    for (size_t i = 0; i < sc->nerrdocs; i++)
        if (sc->errdocs[i].status == status) return sc->errdocs[i].page;
    return NULL;
}

site *site_hold(site *st)
{
    atomic_fetch_add_explicit(&st->refs, 1, memory_order_relaxed);
    return st;
}

void site_release(site *st)
{
    /* The last holder frees it; acq_rel so that its frees see every write
     * the other holders made before letting go. */
    if (st && atomic_fetch_sub_explicit(&st->refs, 1, memory_order_acq_rel) == 1) st->destroy(st);
}

void site_carry_health(site *to, const site *from)
{
    for (size_t i = 0; i < to->nupstreams; i++) {
        upstream *u = &to->upstreams[i];
        const upstream *was = NULL;
        for (size_t k = 0; k < from->nupstreams && u->check_path; k++)
            if (from->upstreams[k].check_path && strcmp(from->upstreams[k].name, u->name) == 0)
                was = &from->upstreams[k];
        for (size_t s = 0; was && s < u->nservers; s++)
            for (size_t k = 0; k < was->nservers; k++)
                if (was->servers[k].addr_len == u->servers[s].addr_len &&
                    memcmp(&was->servers[k].addr, &u->servers[s].addr, u->servers[s].addr_len) == 0)
                    atomic_store(&u->servers[s].check_down,
                                 atomic_load(&was->servers[k].check_down));
    }
}

void queue_spec_defaults(queue_spec *q)
{
    if (!q->workers) q->workers = 2;
    if (!q->attempts) q->attempts = 3;
    if (!q->timeout_ms) q->timeout_ms = 30000;
    if (!q->max_queued) q->max_queued = 10000;
    if (!q->max_wait_s) q->max_wait_s = 60;
    if (!q->retry_ms) q->retry_ms = 1000;
    if (!q->max_body) q->max_body = 1 << 20;
    if (!q->max_result) q->max_result = 1 << 20;
    if (!q->expire_s) q->expire_s = 7 * 86400;
}
