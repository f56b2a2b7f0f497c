/*
 * test_rules.c - a request's Basic credentials, decoded once: the user the
 * client named kept in the request's arena, the password nowhere, and a
 * second question answered from the request without decoding again.
 */
#include "rules.h"
#include "req.h"
#include "test.h"

static pool reqs = {.size = REQ_BLOCK}; /* keeps no block: each goes back to malloc */

/* A request object for head, parsed and taken as the connection would. */
static struct htd_req *request(const char *head)
{
    struct htd_req *hr = req_new(&reqs, NULL, NULL);
    const char *why;
    size_t len = strlen(head);
    if (!hr || htd_parse_request(&hr->parser, head, len, len, &hr->head, &why) != (int)len ||
        req_take_head(hr, head, len) < 0) {
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
    req_free(&reqs, hr);
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
    req_free(&reqs, hr);
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
        req_free(&reqs, hr);
    }
}

int main(void)
{
    RUN_TESTS();
}
