/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_rules.c - a request's Basic credentials, decoded once: the user the
 * client named kept in the request's arena, the password nowhere, and a
 * second question answered from the request without decoding again. And the
 * module's rewrite and access phases, run on requests built without a
 * socket over a connection and worker of the test's own: the vhost and rule
 * chosen, an address refused with 403, a redirect with its captures.
 */
#include <arpa/inet.h>
#include <stdlib.h>

#include "access.h"
#include "cache.h"
#include "conn.h"
#include "path.h"
#include "req.h"
#include "rules.h"
#include "site.h"
#include "test.h"

static pool reqs = {.size = REQ_BLOCK}; /* keeps no block: each goes back to malloc */

/* A request object for head, parsed and taken as the connection would. */
static struct htd_req *request(const char *head)
{
    struct htd_req *hr = req_new(&reqs, NULL, NULL);
    const char *why;
    size_t len = strlen(head);
    if (!hr || req_read_head(hr, head, len, len, &why) != (int)len) {
        fprintf(stderr, "cannot make a request of %s\n", head);
        return NULL;
    }
    return hr;
}

/* Whether s is anywhere in the request's block: its arena's copy of the
 * head, and whatever has been put there since. */
static int in_block(const struct htd_req *hr, const char *s)
{
    const char *start = (const char *)(hr + 1);
    return memmem(start, (size_t)(hr->mem.p - start), s, strlen(s)) != NULL;
}

TEST(claimed_user_is_the_name_sent_and_no_password_is_kept)
{
    /* alice:secret */
    struct htd_req *hr = request("GET / HTTP/1.1\r\nHost: x\r\n"
                                 "Authorization: Basic YWxpY2U6c2VjcmV0\r\n\r\n");
    if (!hr) return;
    htd_str u = rules_claimed_user(hr);
    CHECK_STR(u.p, u.len, "alice");
    CHECK(u.p[u.len] == '\0');
    CHECK(in_block(hr, "alice"));
    CHECK(!in_block(hr, "secret"));
    CHECK(hr->user.p == NULL); /* named, not accepted: no realm checked it */
    req_free(&reqs, hr, NULL);
}

TEST(credentials_are_decoded_once_per_request)
{
    struct htd_req *hr = request("GET / HTTP/1.1\r\nHost: x\r\n"
                                 "Authorization: Basic YWxpY2U6c2VjcmV0\r\n\r\n");
    if (!hr) return;
    htd_str first = rules_claimed_user(hr);
    char *used = hr->mem.p;
    /* Were the field decoded again, it would now say bob:secret. */
    static const char bob[] = "Basic Ym9iOnNlY3JldA==";
    htd_str v = htd_request_header(hr->r, "authorization", 13);
    CHECK_EQ_INT(v.len, sizeof bob - 1);
    if (v.len == sizeof bob - 1) memcpy((char *)v.p, bob, v.len);
    htd_str again = rules_claimed_user(hr);
    CHECK(again.p == first.p && again.len == first.len);
    CHECK(hr->mem.p == used); /* nothing more taken from the arena */
    req_free(&reqs, hr, NULL);
}

TEST(no_claimed_user_without_basic_credentials)
{
    static const char *heads[] = {
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic !!!!\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic bm9jb2xvbg==\r\n\r\n", /* nocolon */
    };
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        struct htd_req *hr = request(heads[i]);
        if (!hr) continue;
        htd_str u = rules_claimed_user(hr);
        CHECK(u.p == NULL && u.len == 0);
        CHECK(hr->creds_read);
        req_free(&reqs, hr, NULL);
    }
}

/* ---- the phases, without a socket ---- */

static access_rule deny_all = {.allow = 0, .family = 0, .bits = 0};
static rule redirects[1];
static vhost vhs[2];
static vname vnames[] = {{"closed.test", 11, 0, &vhs[1]}};
static site st = {.vhosts = vhs, .nvhosts = 2, .names = vnames, .nnames = 1, .fallback = &vhs[0]};
static server_ctx srv;
static worker wk;
static conn cn;

static void setup_site(void)
{
    static int done;
    if (done) return;
    done = 1;
    redirects[0] = (rule){.kind = RULE_PREFIX,
                          .pat = "/old/",
                          .len = 5,
                          .nsub = 1,
                          .redirect = "/new/$1",
                          .code = 301};
    redirects[0].sc = (scope){0};
    vhs[0] = (vhost){.root_fd = -1, .idx = 0, .rules = redirects, .nrules = 1};
    vhs[1] = (vhost){.root_fd = -1, .idx = 1, .sc = {.access = &deny_all, .naccess = 1}};
    wk.srv = &srv;
    wk.site = &st;
    wk.caches = caches_new(2);
    wk.outqs = (pool){.size = OUTQ_SIZE};
    htd_date_format(0, wk.date);
    cn.w = &wk;
    struct sockaddr_in *a = (struct sockaddr_in *)&cn.peer;
    a->sin_family = AF_INET;
    inet_pton(AF_INET, "192.0.2.7", &a->sin_addr);
}

/* A request for head on the test's connection, its path as on_head makes it. */
static struct htd_req *on_conn(const char *head)
{
    setup_site();
    struct htd_req *hr = req_from_head(&reqs, &cn, head, strlen(head));
    if (hr) hr->client = cn.peer; /* as the connection sets it */
    if (!hr) return NULL;
    size_t cap = hr->r->path.len + 2;
    hr->path = arena_alloc(&hr->mem, cap);
    const char *why;
    int n = htd_path_normalize(hr->r->path.p, hr->r->path.len, hr->path, cap, &why);
    hr->path_len = n > 0 ? (size_t)n : 0;
    cn.req = hr;
    cn.keep_alive = 1;
    cn.state = CS_HEAD;
    return hr;
}

/* What the phases queued on the connection, as one string. */
static const char *queued(void)
{
    static char buf[2048];
    size_t n = 0;
    outq *q = cn.out;
    for (unsigned i = 0; q && i < q->nseg && q->seg[i].p; i++) {
        size_t k = q->seg[i].len < sizeof buf - 1 - n ? q->seg[i].len : sizeof buf - 1 - n;
        memcpy(buf + n, q->seg[i].p, k);
        n += k;
    }
    buf[n] = 0;
    return buf;
}

static void done_with(struct htd_req *hr)
{
    conn_out_rollback(&cn);
    conn_seal(&cn);
    if (cn.out) {
        free(cn.out);
        cn.out = NULL;
    }
    cn.req = NULL;
    req_free(&reqs, hr, NULL);
}

TEST(rewrite_chooses_the_vhost_and_rule_and_access_lets_a_plain_request_go)
{
    struct htd_req *hr = on_conn("GET /page HTTP/1.1\r\nHost: open.test\r\n\r\n");
    if (!hr) return;
    CHECK_EQ_INT(rules_module.phase[PH_REWRITE](hr), MOD_DECLINED);
    CHECK(hr->vh == &vhs[0]);
    CHECK(hr->rule == NULL);
    CHECK_EQ_INT(rules_module.phase[PH_ACCESS](hr), MOD_DECLINED);
    CHECK(cn.out == NULL); /* nothing answered */
    done_with(hr);
}

TEST(access_refuses_an_address_with_403)
{
    struct htd_req *hr = on_conn("GET /page HTTP/1.1\r\nHost: closed.test\r\n\r\n");
    if (!hr) return;
    CHECK_EQ_INT(rules_module.phase[PH_REWRITE](hr), MOD_DECLINED);
    CHECK(hr->vh == &vhs[1]);
    CHECK_EQ_INT(rules_module.phase[PH_ACCESS](hr), MOD_DONE);
    CHECK(strncmp(queued(), "HTTP/1.1 403 Forbidden\r\n", 24) == 0);
    CHECK(strstr(queued(), "\r\n\r\naccess denied\n") != NULL);
    done_with(hr);
}

TEST(access_redirects_with_the_prefix_rules_capture)
{
    struct htd_req *hr = on_conn("GET /old/a/b?q=1 HTTP/1.1\r\nHost: open.test\r\n\r\n");
    if (!hr) return;
    CHECK_EQ_INT(rules_module.phase[PH_REWRITE](hr), MOD_DECLINED);
    CHECK(hr->rule == &redirects[0]);
    CHECK_EQ_INT(rules_module.phase[PH_ACCESS](hr), MOD_DONE);
    CHECK(strncmp(queued(), "HTTP/1.1 301 Moved Permanently\r\n", 32) == 0);
    CHECK(strstr(queued(), "\r\nLocation: /new/a/b\r\n") != NULL);
    done_with(hr);
}

int main(void)
{
    RUN_TESTS();
}
