/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_dav_lock.c - WebDAV's pure parts: the If header's grammar and its
 * evaluation against locks and entity-tags, the lock table's conflicts,
 * coverage, expiry and write checks, and the XML bodies (propfind,
 * propertyupdate, lockinfo) with the documents they must refuse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dav_lock.h"
#include "dav_xml.h"
#include "test.h"

static void add(dav_locks *t, const char *token, const char *root, int infinity, int exclusive,
                int64_t expires)
{
    dav_lock l = {.root = (char *)root,
                  .infinity = infinity,
                  .exclusive = exclusive,
                  .timeout_s = 60,
                  .expires_ms = expires};
    strcpy(l.token, token);
    CHECK(davl_add(t, &l) == 0);
}

TEST(conflicts_by_scope_and_depth)
{
    dav_locks t;
    davl_init(&t);
    add(&t, "urn:uuid:a", "/dav/col", 1, 0, 0);            /* shared, infinity */
    CHECK(!davl_conflicts(&t, "/dav/col", 0, 0, 1000));    /* another shared */
    CHECK(davl_conflicts(&t, "/dav/col", 0, 1, 1000));     /* exclusive on it */
    CHECK(davl_conflicts(&t, "/dav/col/a/b", 0, 1, 1000)); /* exclusive below it */
    CHECK(!davl_conflicts(&t, "/dav/column", 0, 1, 1000)); /* a name that only starts so */
    CHECK(davl_conflicts(&t, "/dav", 1, 1, 1000));         /* infinity above it */
    CHECK(!davl_conflicts(&t, "/dav", 0, 1, 1000));        /* depth 0 above it */
    davl_fini(&t);
}

TEST(expired_locks_are_gone)
{
    dav_locks t;
    davl_init(&t);
    add(&t, "urn:uuid:a", "/dav/x", 0, 1, 5000);
    CHECK(davl_any(&t, 4999));
    CHECK(davl_find(&t, "urn:uuid:a", "/dav/x", 4999) != NULL);
    CHECK(!davl_any(&t, 5000));
    CHECK(davl_find(&t, "urn:uuid:a", "/dav/x", 5000) == NULL);
    davl_fini(&t);
}

TEST(writes_need_every_touched_locks_token)
{
    dav_locks t;
    davl_init(&t);
    add(&t, "urn:uuid:col", "/dav/col", 0, 1, 0); /* depth 0: the collection's membership */
    add(&t, "urn:uuid:doc", "/dav/col/doc", 0, 1, 0);
    char *none[] = {NULL};
    char *col[] = {"urn:uuid:col"};
    char *both[] = {"urn:uuid:col", "urn:uuid:doc"};
    CHECK(!davl_may_write(&t, "/dav/col/doc", 0, 0, none, 0, 1));
    CHECK(davl_may_write(&t, "/dav/col/other", 0, 0, none, 0, 1)); /* replaced, not added */
    CHECK(!davl_may_write(&t, "/dav/col/new", 0, 1, none, 0, 1));  /* a new member */
    CHECK(davl_may_write(&t, "/dav/col/new", 0, 1, col, 1, 1));
    CHECK(!davl_may_write(&t, "/dav/col", 1, 1, col, 1, 1)); /* the tree holds doc's lock */
    CHECK(davl_may_write(&t, "/dav/col", 1, 1, both, 2, 1));
    dav_lock *out[4];
    CHECK(davl_covering(&t, "/dav/col/doc", out, 4, 1) == 1);
    davl_remove(&t, "urn:uuid:doc");
    CHECK(davl_may_write(&t, "/dav/col/doc", 0, 0, none, 0, 1));
    davl_fini(&t);
}

TEST(new_tokens_are_uuids)
{
    char a[DAVL_TOKEN_LEN + 1], b[DAVL_TOKEN_LEN + 1];
    CHECK(davl_new_token(a) == 0 && davl_new_token(b) == 0);
    CHECK(strlen(a) == DAVL_TOKEN_LEN && strncmp(a, "urn:uuid:", 9) == 0);
    CHECK(a[9 + 14] == '4'); /* version 4 */
    CHECK(strcmp(a, b) != 0);
}

static void etag_of(void *arg, const char *path, char *out, size_t cap)
{
    (void)arg;
    snprintf(out, cap, "%s", strcmp(path, "/dav/doc") == 0 ? "\"e1\"" : "");
}

TEST(if_header_grammar)
{
    davif h;
    CHECK(davif_parse("(<urn:a>)", 9, &h) == 0 && h.n == 1 && h.ntokens == 1);
    davif_free(&h);
    const char *two = "(<urn:a> [\"e1\"]) (Not <DAV:no-lock> [W/\"e1\"])";
    CHECK(davif_parse(two, strlen(two), &h) == 0 && h.n == 2 && h.l[1].c[0].not );
    CHECK(h.l[0].c[1].etag && strcmp(h.l[0].c[1].val, "\"e1\"") == 0);
    davif_free(&h);
    const char *tagged = "<http://h/dav/doc> (<urn:a>) <http://h/dav/%63ol/> ([\"x\"])";
    CHECK(davif_parse(tagged, strlen(tagged), &h) == 0 && h.n == 2);
    CHECK(strcmp(h.l[0].tag, "/dav/doc") == 0 && strcmp(h.l[1].tag, "/dav/col") == 0);
    davif_free(&h);
    static const char *const bad[] = {
        "", "()", "(<urn:a>", "<urn:x>", "(Not)", "x (<a>)", "(<urn:a>) <http://h/x> (<b>)", "([)"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(davif_parse(bad[i], strlen(bad[i]), &h) < 0);
}

TEST(if_header_evaluation)
{
    dav_locks t;
    davl_init(&t);
    add(&t, "urn:a", "/dav/doc", 0, 1, 0);
    static const struct {
        const char *h;
        int holds;
    } cases[] = {
        {"(<urn:a>)", 1},
        {"(<urn:b>)", 0},
        {"(<urn:a> [\"e1\"])", 1},
        {"(<urn:a> [\"e2\"])", 0},
        {"(<urn:b>) (Not <DAV:no-lock>)", 1},
        {"(Not <urn:a>)", 0},
        {"([W/\"e1\"])", 1},
        {"<http://h/dav/other> (<urn:a>)", 0}, /* the lock is not the other's */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        davif h;
        CHECK(davif_parse(cases[i].h, strlen(cases[i].h), &h) == 0);
        CHECK(davif_holds(&h, "/dav/doc", &t, etag_of, NULL, 1) == cases[i].holds);
        davif_free(&h);
    }
    davl_fini(&t);
}

#define S(x) x, sizeof x - 1

TEST(xml_bodies)
{
    davx_init();
    dav_propfind pf;
    const char *why;
    CHECK(davx_parse_propfind(NULL, 0, &pf, &why) == 0 && pf.mode == DAVPF_ALLPROP);
    CHECK(davx_parse_propfind(S("<D:propfind xmlns:D=\"DAV:\" xmlns:Z=\"urn:z\"><D:prop>"
                                "<D:getetag/><Z:x/><y xmlns=\"\"/></D:prop></D:propfind>"),
                              &pf, &why) == 0);
    CHECK(pf.mode == DAVPF_PROP && pf.n == 3);
    CHECK(strcmp(pf.names[1].ns, "urn:z") == 0 && strcmp(pf.names[2].ns, "") == 0);
    davx_propfind_free(&pf);
    CHECK(davx_parse_propfind(S("<propfind xmlns=\"DAV:\"><propname/></propfind>"), &pf, &why) ==
              0 &&
          pf.mode == DAVPF_PROPNAME);
    davx_propfind_free(&pf);
    /* Refused: not XML, a DOCTYPE, an empty prefixed namespace, the wrong root. */
    CHECK(davx_parse_propfind(S("<propfind"), &pf, &why) < 0);
    CHECK(davx_parse_propfind(S("<!DOCTYPE x [<!ENTITY e \"e\">]><propfind xmlns=\"DAV:\"/>"), &pf,
                              &why) < 0);
    CHECK(davx_parse_propfind(S("<propfind xmlns=\"DAV:\"><prop><b:x xmlns:b=\"\"/></prop>"
                                "</propfind>"),
                              &pf, &why) < 0);
    CHECK(davx_parse_propfind(S("<x xmlns=\"DAV:\"/>"), &pf, &why) < 0);

    dav_patch p;
    CHECK(davx_parse_proppatch(S("<D:propertyupdate xmlns:D=\"DAV:\" xmlns:Z=\"urn:z\">"
                                 "<D:set><D:prop><Z:a>1</Z:a></D:prop></D:set>"
                                 "<D:remove><D:prop><Z:b/></D:prop></D:remove>"
                                 "</D:propertyupdate>"),
                               &p, &why) == 0);
    CHECK(p.n == 2 && !p.ops[0].remove && p.ops[1].remove);
    /* The value stands alone: its namespace declared on it. */
    CHECK(strstr(p.ops[0].xml, "urn:z") != NULL && strstr(p.ops[0].xml, ">1<") != NULL);
    davx_patch_free(&p);
    CHECK(davx_parse_proppatch(S("<D:propertyupdate xmlns:D=\"DAV:\"/>"), &p, &why) < 0);

    int excl, refresh;
    char *owner;
    CHECK(davx_parse_lockinfo(S("<D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:shared/>"
                                "</D:lockscope><D:locktype><D:write/></D:locktype>"
                                "<D:owner>me</D:owner></D:lockinfo>"),
                              &excl, &owner, &refresh, &why) == 0);
    CHECK(!excl && !refresh && owner && strstr(owner, "me"));
    free(owner);
    CHECK(davx_parse_lockinfo(NULL, 0, &excl, &owner, &refresh, &why) == 0 && refresh);
    CHECK(davx_parse_lockinfo(S("<D:lockinfo xmlns:D=\"DAV:\"/>"), &excl, &owner, &refresh, &why) <
          0);
}

int main(void)
{
    RUN_TESTS();
}
