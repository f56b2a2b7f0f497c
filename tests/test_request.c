/*
 * test_request.c - what a handler reads of its request (request.c), on
 * requests built from raw heads without a socket (req_from_head).
 */
#include "req.h"
#include "test.h"

static pool reqs_ = {.size = REQ_BLOCK}; /* keeps no block: each goes back to malloc */

static htd_req *request(const char *head)
{
    return req_from_head(&reqs_, NULL, head, strlen(head));
}

TEST(a_request_is_built_without_a_socket_and_keeps_no_pointer_into_the_head)
{
    char head[] = "GET /a%20b?x=1&y HTTP/1.1\r\nHost: example.test\r\nAccept: */*\r\n\r\n";
    htd_req *r = request(head);
    CHECK(r != NULL);
    if (!r) return;
    memset(head, '#', sizeof head - 1); /* the request has its own copy */
    htd_str m = htd_req_method(r), q = htd_req_query(r), a = htd_req_header(r, "accept");
    CHECK_STR(m.p, m.len, "GET");
    CHECK_STR(q.p, q.len, "x=1&y");
    CHECK_STR(a.p, a.len, "*/*");
    CHECK(htd_req_header(r, "Cookie").p == NULL);
    req_free(&reqs_, r);
}

TEST(no_request_from_an_incomplete_or_bad_head)
{
    CHECK(request("GET / HTTP/1.1\r\nHost: x\r\n") == NULL);
    CHECK(request("GET / HTTP/1.1\r\n\r\n") == NULL); /* no Host */
    CHECK(request("GET / HTTP/2.0\r\nHost: x\r\n\r\n") == NULL);
}

TEST(no_query_is_the_empty_string)
{
    htd_req *r = request("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(r != NULL);
    if (!r) return;
    htd_str q = htd_req_query(r);
    CHECK(q.p != NULL);
    CHECK_EQ_INT(q.len, 0);
    req_free(&reqs_, r);
}

int main(void)
{
    RUN_TESTS();
}
