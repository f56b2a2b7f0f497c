/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rules.c - a request's virtual host and rule, and what they decide before
 * any handler or file: access by client address (403), Basic authentication
 * (401), redirects.
 *
 * Checking a password costs milliseconds (bcrypt, yescrypt), far too long
 * for an event loop that serves thousands of clients. So it runs on the pool
 * (jobs.c): the module suspends the request (MOD_AGAIN) and the connection
 * waits in CS_WAIT, reading nothing. When the check is done, a success goes
 * into the worker's cache of verified credentials, and the request runs its
 * phases again and comes back here, where the cache now answers at once. A
 * browser sends the same credentials with every request, so only the first
 * of them pays for the hash.
 */
#include "rules.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access.h"
#include "arena.h"
#include "auth.h"
#include "beneath.h"
#include "cache.h"
#include "conn.h"
#include "errlog.h"
#include "jobs.h"
#include "module.h"
#include "path.h"
#include "req.h"
#include "rewrite.h"
#include "site.h"

#define CRED_MAX 1024       /* decoded "user:password" */
#define AUTH_PENDING_MAX 64 /* password checks waiting per loop; more get 503 */

/* Per worker: the credentials verified lately, and the checks on the pool. */
typedef struct rules_local {
    auth_cache *cache;
    unsigned pending;
} rules_local;

/* The worker's, made on first use; NULL when out of memory. */
static rules_local *local_of(worker *l)
{
    void **slot = loop_local(l->loop, &rules_module);
    if (slot && !*slot) {
        rules_local *rl = calloc(1, sizeof *rl);
        if (rl && !(rl->cache = auth_cache_new())) {
            free(rl);
            rl = NULL;
        }
        *slot = rl;
    }
    return slot ? *slot : NULL;
}

static void free_local(void *state)
{
    rules_local *rl = state;
    auth_cache_free(rl->cache);
    free(rl);
}

/* The request's slot holds its password check while it runs, then, if the
 * check said no, this mark until the request is asked again. */
static char check_failed;
#define CHECK_OF(c) (*req_slot((c)->req, &rules_module))

typedef struct auth_wait {
    htd_job job;
    conn *c; /* NULL once the connection has gone */
    worker *l;
    site *st; /* a reference: hash points into it */
    const char *hash;
    int known; /* hash is the user's, not a stand-in for an unknown user */
    int ok;
    atomic_int cancelled; /* the connection went: skip the hash */
    htd_str user, pass;   /* into cred */
    char cred[CRED_MAX];
} auth_wait;

static void check_password(htd_job *j)
{
    auth_wait *aw = (auth_wait *)j;
    if (atomic_load(&aw->cancelled)) return;
    aw->ok = auth_verify(aw->hash, aw->pass) && aw->known;
}

static void password_checked(htd_job *j)
{
    auth_wait *aw = (auth_wait *)j;
    worker *l = aw->l;
    conn *c = aw->c;
    rules_local *rl = local_of(l);
    rl->pending--;
    if (c) {
        CHECK_OF(c) = NULL;
        if (aw->ok) auth_cache_add(rl->cache, aw->user, aw->pass, aw->hash, l->now);
        /* A no counts only for a request that goes on at once, under the
         * same site; one that waits behind earlier responses is checked
         * again. */
        else if (aw->st == l->site && c->state == CS_WAIT)
            CHECK_OF(c) = &check_failed;
        conn_resume_request(c);
    } else {
        l->jobs_out--;
    }
    site_release(aw->st);
    explicit_bzero(aw->cred, sizeof aw->cred);
    free(aw);
}

void rules_detach(conn *c)
{
    void **slot = &CHECK_OF(c);
    if (*slot != &check_failed) {
        auth_wait *aw = *slot;
        atomic_store(&aw->cancelled, 1);
        aw->c = NULL;
    }
    *slot = NULL;
}

static int wait_for_check(conn *c, htd_str user, htd_str pass, const char *hash, const realm *rm)
{
    worker *l = c->w;
    rules_local *rl = local_of(l);
    if (!rl || rl->pending >= AUTH_PENDING_MAX) return -1;
    auth_wait *aw = malloc(sizeof *aw);
    if (!aw) return -1;
    memcpy(aw->cred, user.p, user.len);
    memcpy(aw->cred + user.len, pass.p, pass.len);
    aw->user = (htd_str){aw->cred, user.len};
    aw->pass = (htd_str){aw->cred + user.len, pass.len};
    aw->job = (htd_job){.work = check_password, .done = password_checked, .loop = l->loop};
    aw->c = c;
    aw->l = l;
    aw->st = site_hold(l->site); /* the loop's, which may no longer be the server's */
    aw->known = hash != NULL;
    aw->hash = hash ? hash : auth_dummy(rm->users);
    aw->ok = 0;
    atomic_init(&aw->cancelled, 0);
    CHECK_OF(c) = aw;
    conn_wait(c);
    rl->pending++;
    jobs_submit(l->srv->jobs, &aw->job);
    return 0;
}

/* What read_credentials found in Authorization. */
enum { CRED_OK, CRED_NONE, CRED_BAD, CRED_NOMEM };

/* The one decoding of hr's Authorization field: its Basic credentials go
 * into buf (CRED_MAX bytes), and the user name is kept in hr's arena as
 * hr->claimed, for the log and, once a realm accepts it, as hr->user. The
 * password stays in buf alone, for the caller to check and then zero.
 * CRED_OK sets user (hr->claimed) and pass; CRED_NONE: no field; CRED_BAD:
 * not Basic, malformed or too long. */
static int read_credentials(struct htd_req *hr, char *buf, htd_str *user, htd_str *pass)
{
    int again = hr->creds_read; /* back from a password check: the name is kept already */
    hr->creds_read = 1;
    htd_str v = htd_request_known(hr->r, HTD_H_AUTHORIZATION);
    if (!v.p) return CRED_NONE;
    if (auth_parse_basic(v, buf, CRED_MAX, user, pass) < 0) return CRED_BAD;
    if (again && hr->claimed.p) {
        *user = hr->claimed;
        return CRED_OK;
    }
    char *name = arena_dup(&hr->mem, user->p, user->len);
    if (!name) return CRED_NOMEM;
    hr->claimed = *user = (htd_str){name, user->len};
    return CRED_OK;
}

htd_str rules_claimed_user(struct htd_req *hr)
{
    if (!hr->creds_read) {
        char buf[CRED_MAX];
        htd_str user, pass;
        read_credentials(hr, buf, &user, &pass);
        explicit_bzero(buf, sizeof buf);
    }
    return hr->claimed;
}

/* MOD_DECLINED if the request carries credentials the realm accepts (the
 * next module goes on with it; their user is then hr->user); MOD_AGAIN
 * while a password check runs on the pool; else it was answered: MOD_DONE.
 *
 * Credentials the worker's cache does not know yet wait for a check on the
 * pool; the request then comes back here and finds the answer in the
 * cache. The password is never kept, so Authorization is decoded again for
 * it then: twice for a request that pays for the hash. That is acceptable:
 * a decoding costs microseconds beside the hash's milliseconds, and only
 * credentials the cache does not know pay it. */
static int authenticate(conn *c, const realm *rm)
{
    worker *l = c->w;
    struct htd_req *hr = c->req;
    void **check = &CHECK_OF(c);
    int failed = *check == &check_failed;
    *check = NULL;
    rules_local *rl = local_of(l);
    htd_str user, pass;
    char buf[CRED_MAX];
    int got = read_credentials(hr, buf, &user, &pass);
    if (got == CRED_OK && !failed) {
        const char *hash = auth_lookup(rm->users, user);
        int hit = hash && rl && auth_cache_check(rl->cache, user, pass, hash, l->now);
        int rc = hit ? 0 : wait_for_check(c, user, pass, hash, rm);
        explicit_bzero(buf, sizeof buf);
        if (hit) {
            hr->user = hr->claimed;
            return MOD_DECLINED;
        }
        if (rc == 0) return MOD_AGAIN;
        static const char ra[] = "Retry-After: 1\r\n";
        conn_answer(c, 503, "too many password checks waiting; try again shortly", ra,
                    sizeof ra - 1);
        return MOD_DONE;
    }
    explicit_bzero(buf, sizeof buf);
    if (got == CRED_NOMEM)
        conn_answer(c, 500, "out of memory", NULL, 0);
    else
        conn_answer(c, 401,
                    got == CRED_NONE ? "this needs a user name and password"
                                     : "the user name or password is not right",
                    rm->hdr, rm->hdr_len);
    return MOD_DONE;
}

/* Sets the request's vhost, rule, scope and cache; returns the rule,
 * filling caps. */
static const rule *choose(conn *c, htd_str *caps, int *ncaps)
{
    worker *l = c->w;
    struct htd_req *hr = c->req;
    vhost *vh = site_vhost(l->site, c->req->r->host);
    hr->vh = vh;
    hr->sc = &vh->sc;
    hr->cache = cache_for(l, vh);
    *ncaps = 0;
    const rule *ru =
        vh->nrules ? site_rule(vh, hr->r->method_id, hr->path, hr->path_len, caps, ncaps) : NULL;
    if (ru) hr->sc = &ru->sc;
    hr->rule = ru;
    hr->rule_hdrs = hr->sc->headers;
    hr->rule_hdrs_len = hr->sc->headers_len;
    /* Cache-Control: the rule's, else the vhost's (inherited at load),
     * else the longest --cache-control prefix, unless the headers sent
     * here carry one: never two. */
    hr->cc = hr->sc->cc;
    hr->cc_len = hr->sc->cc_len;
    size_t best = 0, ncc = hr->cc || hr->sc->cc_in_headers ? 0 : vh->ncc;
    for (size_t i = 0; i < ncc; i++) {
        const cc_rule *r = &vh->cc[i];
        if (r->len >= best && htd_path_under(hr->path, hr->path_len, r->prefix, r->len)) {
            best = r->len;
            hr->cc = r->line;
            hr->cc_len = r->line_len;
        }
    }
    return ru;
}

void rules_scope(conn *c)
{
    htd_str caps[10];
    int ncaps;
    choose(c, caps, &ncaps);
}

#define REWRITES_MAX 10

/* The request goes on as target ("/path?query", as rewrite_expand makes
 * it: encoded): its path decoded and normalised, its query the target's
 * (keep_query: the request's when the target has none). 0, or a status. */
static int take_target(struct htd_req *hr, const char *target, int keep_query)
{
    const char *q = strchr(target, '?');
    size_t plen = q ? (size_t)(q - target) : strlen(target);
    char *path = arena_alloc(&hr->mem, plen + 2);
    if (!path) return 500;
    const char *why;
    int dotless;
    int n = htd_path_normalize_dotless(target, plen, path, plen + 2, &why, &dotless);
    if (n < 0) return 400;
    hr->path = path;
    hr->path_dotless = (uint8_t)dotless;
    hr->path_len = (size_t)n;
    if (q) {
        size_t ql = strlen(q + 1);
        char *query = arena_alloc(&hr->mem, ql + 1);
        if (!query) return 500;
        memcpy(query, q + 1, ql + 1);
        hr->r->query = (htd_str){query, ql};
    } else if (!keep_query) {
        hr->r->query = (htd_str){NULL, 0};
    }
    return 0;
}

/* Whether path (decoded) names a file (or, ending in '/', a directory)
 * under the vhost's root that may be served: no dotfile. */
static int exists(const vhost *vh, const char *path, size_t len)
{
    if (htd_path_hidden(path, len) || len == 0 || path[0] != '/') return 0;
    int dir = path[len - 1] == '/';
    char rel[REQ_PATH_MAX + 1];
    if (len > sizeof rel) return 0;
    memcpy(rel, path + 1, len - 1);
    rel[len - 1] = 0;
    int fd = htd_open_beneath(vh->root_fd, rel, O_PATH);
    if (fd < 0) return 0;
    struct stat st;
    int ok = fstat(fd, &st) == 0 && (dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
    close(fd);
    return ok;
}

/* One step of ru's rewrite or try: 0 when the request has a new path (its
 * rule is to be chosen again), 1 when it stays as it is, else a status. */
static int rewrite_once(struct htd_req *hr, const rule *ru, const htd_str *caps, int ncaps)
{
    const htd_request *r = hr->r;
    htd_str path = {hr->path, hr->path_len};
    char out[REQ_PATH_MAX + 16];
    if (ru->rewrite) {
        if (rewrite_expand(ru->rewrite, caps, ncaps, path, r->query, r->host, ru->keep_query, out,
                           sizeof out) < 0)
            return 414;
        return take_target(hr, out, 0);
    }
    for (size_t i = 0; i < ru->ntries; i++) {
        const char *t = ru->tries[i];
        int last = i + 1 == ru->ntries;
        if (last && t[0] == '=') return atoi(t + 1);
        if (rewrite_expand(t, caps, ncaps, path, r->query, r->host, 0, out, sizeof out) < 0)
            return 414;
        if (last) {
            /* The fallback: a new path, unless it is the one already. */
            size_t n = strcspn(out, "?");
            char norm[REQ_PATH_MAX + 16];
            const char *why;
            int nl = htd_path_normalize(out, n, norm, sizeof norm, &why);
            if (nl >= 0 && (size_t)nl == hr->path_len && !memcmp(norm, hr->path, hr->path_len) &&
                !out[n])
                return 1;
            return take_target(hr, out, 1);
        }
        char cand[REQ_PATH_MAX + 16];
        const char *why;
        size_t n = strcspn(out, "?");
        int cl = htd_path_normalize(out, n, cand, sizeof cand, &why);
        if (cl < 0 || !exists(hr->vh, cand, (size_t)cl)) continue;
        if ((size_t)cl == hr->path_len && !memcmp(cand, hr->path, hr->path_len)) return 1;
        return take_target(hr, out, 1);
    }
    return 1;
}

/* The rewrite phase: the virtual host and the rule, and a rule's rewrite
 * or try, which choose the rule again for the new path, at most
 * REWRITES_MAX times (then a 500 that names the loop in the log). */
static int choose_phase(struct htd_req *hr)
{
    conn *c = hr->c;
    htd_str caps[10];
    int ncaps;
    const rule *ru = choose(c, caps, &ncaps);
    for (int n = 0; ru && (ru->rewrite || ru->ntries); n++) {
        if (n == REWRITES_MAX) {
            errlog(ERRLOG_ERROR,
                   "htd: rewrite loop: %.*s still rewritten after %d rewrites (rule \"%s\")",
                   (int)hr->path_len, hr->path, REWRITES_MAX, ru->pat);
            return 500;
        }
        int rc = rewrite_once(hr, ru, caps, ncaps);
        if (rc == 1) break;
        if (rc != 0) return rc;
        ru = choose(c, caps, &ncaps);
    }
    return MOD_DECLINED;
}

/* The access phase: address rules, authentication, redirects. */
static int access_phase(struct htd_req *hr)
{
    conn *c = hr->c;
    const rule *ru = hr->rule;
    const scope *sc = hr->sc;

    if (sc->naccess && !access_check(sc->access, sc->naccess, &hr->client)) {
        conn_answer(c, 403, "access denied", NULL, 0);
        return MOD_DONE;
    }
    if (sc->auth) {
        int rc = authenticate(c, sc->auth);
        if (rc != MOD_DECLINED) return rc;
    }
    if (ru && ru->redirect) {
        htd_str caps[10];
        int ncaps = 0;
        site_rule(hr->vh, hr->r->method_id, hr->path, hr->path_len, caps,
                  &ncaps); /* the same rule, with its captures */
        char loc[4096 + 16];
        memcpy(loc, "Location: ", 10);
        int n = rewrite_expand(ru->redirect, caps, ncaps, (htd_str){hr->path, hr->path_len},
                               c->req->r->query, c->req->r->host, ru->keep_query, loc + 10,
                               sizeof loc - 12);
        if (n < 0) {
            conn_answer(c, 414, "the redirect target would be too long", NULL, 0);
            return MOD_DONE;
        }
        memcpy(loc + 10 + n, "\r\n", 2);
        conn_answer(c, ru->code, "redirecting", loc, (size_t)n + 12);
        return MOD_DONE;
    }
    return MOD_DECLINED;
}

static void release_check(struct htd_req *hr)
{
    rules_detach(hr->c);
}

const htd_module rules_module = {
    .name = "rules",
    .phase = {[PH_REWRITE] = choose_phase, [PH_ACCESS] = access_phase},
    .release = release_check,
    .free_local = free_local,
};
