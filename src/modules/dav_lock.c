/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dav_lock.c - WebDAV's lock table and If header; see dav_lock.h.
 *
 * The table is a plain array: a server holds few locks at once (a desktop
 * takes one per document it has open), and every look is a scan that also
 * drops what has expired. A lock covers its root, and with depth infinity
 * everything below it; two locks conflict when one covers the other's
 * root and either is exclusive.
 */
#include "dav_lock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "path.h"

void davl_init(dav_locks *t)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
}

static void lock_free(dav_lock *l)
{
    free(l->root);
    free(l->owner);
}

void davl_fini(dav_locks *t)
{
    for (size_t i = 0; i < t->n; i++)
        lock_free(&t->v[i]);
    free(t->v);
    pthread_mutex_destroy(&t->mu);
}

int davl_new_token(char out[DAVL_TOKEN_LEN + 1])
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != sizeof b) return -1;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, DAVL_TOKEN_LEN + 1,
             "urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return 0;
}

static void expire(dav_locks *t, int64_t now_ms)
{
    for (size_t i = 0; i < t->n;) {
        if (t->v[i].expires_ms && t->v[i].expires_ms <= now_ms) {
            lock_free(&t->v[i]);
            t->v[i] = t->v[--t->n];
        } else {
            i++;
        }
    }
}

/* Whether path is root or (below) under it. */
static int at_or_below(const char *path, const char *root)
{
    size_t n = strlen(root);
    if (strncmp(path, root, n) != 0) return 0;
    return path[n] == 0 || path[n] == '/' || (n == 1 && root[0] == '/');
}

static int covers(const dav_lock *l, const char *path)
{
    return strcmp(l->root, path) == 0 || (l->infinity && at_or_below(path, l->root));
}

int davl_conflicts(dav_locks *t, const char *path, int infinity, int exclusive, int64_t now_ms)
{
    expire(t, now_ms);
    for (size_t i = 0; i < t->n; i++) {
        const dav_lock *l = &t->v[i];
        int overlap = covers(l, path) || (infinity && at_or_below(l->root, path));
        if (overlap && (exclusive || l->exclusive)) return 1;
    }
    return 0;
}

int davl_add(dav_locks *t, const dav_lock *l)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        dav_lock *v = realloc(t->v, cap * sizeof *v);
        if (!v) return -1;
        t->v = v;
        t->cap = cap;
    }
    dav_lock c = *l;
    c.root = strdup(l->root);
    c.owner = l->owner ? strdup(l->owner) : NULL;
    if (!c.root || (l->owner && !c.owner)) {
        lock_free(&c);
        return -1;
    }
    t->v[t->n++] = c;
    return 0;
}

dav_lock *davl_find(dav_locks *t, const char *token, const char *path, int64_t now_ms)
{
    expire(t, now_ms);
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].token, token) == 0 && covers(&t->v[i], path)) return &t->v[i];
    return NULL;
}

void davl_remove(dav_locks *t, const char *token)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].token, token) == 0) {
            lock_free(&t->v[i]);
            t->v[i] = t->v[--t->n];
            return;
        }
}

int davl_any(dav_locks *t, int64_t now_ms)
{
    expire(t, now_ms);
    return t->n > 0;
}

static int submitted(const char *token, char *const *tokens, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(tokens[i], token) == 0) return 1;
    return 0;
}

int davl_may_write(dav_locks *t, const char *path, int tree, int member, char *const *tokens,
                   size_t n, int64_t now_ms)
{
    expire(t, now_ms);
    char parent[4096];
    const char *slash = strrchr(path, '/');
    size_t pl = slash && slash != path ? (size_t)(slash - path) : 1;
    if (pl >= sizeof parent) return 0;
    memcpy(parent, path, pl);
    parent[pl] = 0;
    for (size_t i = 0; i < t->n; i++) {
        const dav_lock *l = &t->v[i];
        int touched = covers(l, path) || (tree && at_or_below(l->root, path)) ||
                      (member && strcmp(l->root, parent) == 0);
        if (touched && !submitted(l->token, tokens, n)) return 0;
    }
    return 1;
}

size_t davl_covering(dav_locks *t, const char *path, dav_lock **out, size_t max, int64_t now_ms)
{
    expire(t, now_ms);
    size_t k = 0;
    for (size_t i = 0; i < t->n; i++)
        if (covers(&t->v[i], path)) {
            if (k < max) out[k] = &t->v[i];
            k++;
        }
    return k;
}

/* --- the If header -------------------------------------------------------- */

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* p at open: the text up to close, copied; NULL if close is missing. */
static char *until(const char **pp, const char *e, char close)
{
    const char *p = *pp + 1, *q = memchr(p, close, (size_t)(e - p));
    if (!q) return NULL;
    char *s = strndup(p, (size_t)(q - p));
    *pp = q + 1;
    return s;
}

/* A Resource-Tag's URI as a path: the scheme and authority of an absolute
 * URI dropped, then decoded and normalised, without a trailing slash. */
static char *tag_path(const char *uri)
{
    const char *p = uri;
    if (!strncasecmp(p, "http://", 7) || !strncasecmp(p, "https://", 8)) {
        p = strchr(p + (p[4] == ':' ? 7 : 8), '/');
        if (!p) p = "/";
    }
    char *out = malloc(strlen(p) + 2);
    const char *why;
    int n = out ? htd_path_normalize(p, strlen(p), out, strlen(p) + 2, &why) : -1;
    if (n < 0) {
        free(out);
        return NULL;
    }
    while (n > 1 && out[n - 1] == '/')
        out[--n] = 0;
    return out;
}

static int add_token(davif *h, const char *tok)
{
    char **v = realloc(h->tokens, (h->ntokens + 1) * sizeof *v);
    if (!v) return -1;
    h->tokens = v;
    if (!(v[h->ntokens] = strdup(tok))) return -1;
    h->ntokens++;
    return 0;
}

int davif_parse(const char *h, size_t len, davif *out)
{
    memset(out, 0, sizeof *out);
    const char *p = h, *e = h + len;
    char *tag = NULL;
    int tagged = -1;
    for (;;) {
        p = skip_ws(p, e);
        if (p == e) break;
        if (*p == '<') {
            char *uri = until(&p, e, '>');
            free(tag);
            tag = uri ? tag_path(uri) : NULL;
            free(uri);
            if (!tag || tagged == 0) goto bad;
            tagged = 1;
            p = skip_ws(p, e);
            if (p == e || *p != '(') goto bad; /* a tag is followed by its lists */
            continue;
        }
        if (*p != '(') goto bad;
        if (tagged < 0) tagged = 0;
        davif_list *v = realloc(out->l, (out->n + 1) * sizeof *v);
        if (!v) goto bad;
        out->l = v;
        davif_list *l = &v[out->n++];
        *l = (davif_list){.tag = tag ? strdup(tag) : NULL};
        if (tag && !l->tag) goto bad;
        p++;
        for (;;) {
            p = skip_ws(p, e);
            if (p == e) goto bad;
            if (*p == ')') {
                p++;
                break;
            }
            davif_cond c = {0};
            if (e - p >= 3 && !strncasecmp(p, "Not", 3)) {
                c.not = 1;
                p = skip_ws(p + 3, e);
                if (p == e) goto bad;
            }
            if (*p == '<') {
                c.val = until(&p, e, '>');
            } else if (*p == '[') {
                c.etag = 1;
                c.val = until(&p, e, ']');
            }
            if (!c.val || !*c.val || (!c.etag && add_token(out, c.val) < 0)) {
                free(c.val);
                goto bad;
            }
            davif_cond *cv = realloc(l->c, (l->n + 1) * sizeof *cv);
            if (!cv) {
                free(c.val);
                goto bad;
            }
            l->c = cv;
            cv[l->n++] = c;
        }
        if (l->n == 0) goto bad;
    }
    free(tag);
    return out->n ? 0 : -1;
bad:
    free(tag);
    davif_free(out);
    return -1;
}

void davif_free(davif *h)
{
    for (size_t i = 0; i < h->n; i++) {
        for (size_t k = 0; k < h->l[i].n; k++)
            free(h->l[i].c[k].val);
        free(h->l[i].c);
        free(h->l[i].tag);
    }
    for (size_t i = 0; i < h->ntokens; i++)
        free(h->tokens[i]);
    free(h->l);
    free(h->tokens);
    memset(h, 0, sizeof *h);
}

/* Entity-tags compared weakly: W/ on either side is ignored. */
static int etag_same(const char *a, const char *b)
{
    if (!strncmp(a, "W/", 2)) a += 2;
    if (!strncmp(b, "W/", 2)) b += 2;
    return *a && strcmp(a, b) == 0;
}

int davif_holds(const davif *h, const char *path, dav_locks *t,
                void (*etag_of)(void *arg, const char *path, char *out, size_t cap), void *arg,
                int64_t now_ms)
{
    for (size_t i = 0; i < h->n; i++) {
        const davif_list *l = &h->l[i];
        const char *res = l->tag ? l->tag : path;
        int all = 1;
        for (size_t k = 0; k < l->n && all; k++) {
            const davif_cond *c = &l->c[k];
            int v;
            if (c->etag) {
                char cur[128];
                etag_of(arg, res, cur, sizeof cur);
                v = etag_same(c->val, cur);
            } else {
                v = davl_find(t, c->val, res, now_ms) != NULL;
            }
            all = c->not ? !v : v;
        }
        if (all) return 1;
    }
    return 0;
}
