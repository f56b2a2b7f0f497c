/*
 * site.c - choosing a request's virtual host and rule, and a site's life.
 *
 * Host selection: an exact name, else the longest wildcard suffix, else the
 * fallback (the vhost marked default, or the top-level server). Rule
 * selection, as nginx's `location` without ^~: an exact match wins, else the
 * first regex in file order, else the longest prefix. Both run per request,
 * over a handful of entries, without allocating.
 */
#include "site.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "path.h"
#include "req.h"
#include "server.h"

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

/* The request API's (htd.h); here, because http/ may not look into vhosts. */
htd_str htd_req_vhost(const htd_req *r)
{
    const char *name = r->vh && r->vh->name ? r->vh->name : "";
    return (htd_str){name, strlen(name)};
}

const rule *site_rule(const vhost *vh, const char *path, size_t len, htd_str *caps, int *ncaps)
{
    *ncaps = 0;
    const rule *prefix = NULL;
    for (size_t i = 0; i < vh->nrules; i++) {
        const rule *r = &vh->rules[i];
        if (r->kind == RULE_EXACT && r->len == len && memcmp(r->pat, path, len) == 0) {
            caps[0] = (htd_str){path, len};
            *ncaps = 1;
            return r;
        }
        if (r->kind == RULE_PREFIX && htd_path_under(path, len, r->pat, r->len) &&
            (!prefix || r->len > prefix->len))
            prefix = r;
    }
    /* regexec wants a NUL-terminated string; the request path is one. */
    for (size_t i = 0; i < vh->nrules; i++) {
        const rule *r = &vh->rules[i];
        if (r->kind != RULE_REGEX) continue;
        regmatch_t m[10];
        if (regexec(&r->re, path, 10, m, 0) != 0) continue;
        int n = r->nsub + 1 < 10 ? r->nsub + 1 : 10;
        for (int k = 0; k < n; k++)
            caps[k] = m[k].rm_so < 0
                          ? (htd_str){NULL, 0}
                          : (htd_str){path + m[k].rm_so, (size_t)(m[k].rm_eo - m[k].rm_so)};
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

const char *site_errdoc(const scope *sc, int status)
{
    for (size_t i = 0; i < sc->nerrdocs; i++)
        if (sc->errdocs[i].status == status) return sc->errdocs[i].page;
    return NULL;
}

static void scope_free(scope *sc)
{
    if (sc->own & OWN_ACCESS) free((void *)sc->access);
    if (sc->own & OWN_AUTH && sc->auth) {
        realm *r = (realm *)sc->auth;
        auth_free(r->users);
        free(r->hdr);
        free(r);
    }
    if (sc->own & OWN_HEADERS) free((void *)sc->headers);
    if (sc->own & OWN_ERRDOCS) {
        errdoc *e = (errdoc *)sc->errdocs;
        for (size_t i = 0; i < sc->nerrdocs; i++)
            free(e[i].page);
        free(e);
    }
}

void site_free(site *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->nvhosts; i++) {
        vhost *vh = &st->vhosts[i];
        for (size_t k = 0; k < vh->nrules; k++) {
            rule *r = &vh->rules[k];
            scope_free(&r->sc);
            if (r->kind == RULE_REGEX) regfree(&r->re);
            free(r->pat);
            free(r->redirect);
        }
        free(vh->rules);
        scope_free(&vh->sc);
        if (vh->root_fd >= 0) close(vh->root_fd);
        for (size_t k = 0; k < vh->ncgi; k++)
            free(vh->cgi[k]);
        free(vh->cgi);
        for (size_t k = 0; k < vh->ncc; k++) {
            free(vh->cc[k].prefix);
            free(vh->cc[k].line);
        }
        free(vh->cc);
        free(vh->root);
        free(vh->name);
    }
    log_flush_all(st); /* lines of requests that ended after their loop moved on */
    for (size_t i = 0; i < st->nnames; i++)
        free(st->names[i].name);
    for (size_t i = 0; i < st->nlogs; i++) {
        logfile *lf = &st->logs[i];
        for (int t = 0; lf->buf && t < st->nthreads; t++)
            free(lf->buf[t]);
        free(lf->buf);
        free(lf->len);
        if (lf->fd >= 0) close(lf->fd);
        logfmt_free(lf->fmt);
        free(lf->path);
        free(lf->spec);
    }
    free(st->logs);
    free(st->names);
    free(st->vhosts);
    free(st);
}

site *site_acquire(htd_server *s)
{
    pthread_mutex_lock(&s->site_mu);
    site *st = s->site;
    st->refs++;
    pthread_mutex_unlock(&s->site_mu);
    return st;
}

site *site_hold(htd_server *s, site *st)
{
    pthread_mutex_lock(&s->site_mu);
    st->refs++;
    pthread_mutex_unlock(&s->site_mu);
    return st;
}

void site_release(htd_server *s, site *st)
{
    if (!st) return;
    pthread_mutex_lock(&s->site_mu);
    int last = --st->refs == 0;
    pthread_mutex_unlock(&s->site_mu);
    if (last) site_free(st);
}
