/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_request.c - what a handler reads of its request (request.c), on
 * requests built from raw heads without a socket (req_from_head).
 */
#include <arpa/inet.h>
#include <stdalign.h>
#include <stdint.h>

#include "conn.h"
#include "req.h"
#include "site.h"
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
    req_free(&reqs_, r, NULL);
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
    req_free(&reqs_, r, NULL);
}

TEST(the_version_is_a_number_and_a_later_http_1_is_1_1)
{
    static const struct {
        const char *head;
        int version;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 11},
        {"GET / HTTP/1.0\r\n\r\n", 10},
        {"GET /\r\n", 9},
        {"GET / HTTP/1.7\r\nHost: x\r\n\r\n", 11},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        htd_req *r = request(cases[i].head);
        CHECK(r != NULL);
        if (!r) continue;
        CHECK_EQ_INT(htd_req_version(r), cases[i].version);
        req_free(&reqs_, r, NULL);
    }
}

/* A request's head and what an accessor of it should give. */
typedef struct {
    const char *head, *want;
} slice_case;

static void check_slices(htd_str (*get)(const htd_req *), const slice_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        htd_req *r = request(cases[i].head);
        CHECK(r != NULL);
        if (!r) continue;
        htd_str s = get(r);
        CHECK(s.p != NULL);
        CHECK_STR(s.p, s.len, cases[i].want);
        req_free(&reqs_, r, NULL);
    }
}

TEST(the_target_is_as_sent_in_each_form)
{
    static const slice_case cases[] = {
        {"GET /a%20b/../c?x=%41 HTTP/1.1\r\nHost: x\r\n\r\n", "/a%20b/../c?x=%41"},
        {"GET http://Example.test:8080/p?q HTTP/1.1\r\nHost: x\r\n\r\n",
         "http://Example.test:8080/p?q"},
        {"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", "*"},
        {"GET /old\r\n", "/old"},
    };
    check_slices(htd_req_target, cases, sizeof cases / sizeof cases[0]);
}

TEST(the_host_is_as_sent_with_its_port_an_absolute_target_first_empty_if_none)
{
    static const slice_case cases[] = {
        {"GET / HTTP/1.1\r\nHost: Example.TEST:8080\r\n\r\n", "Example.TEST:8080"},
        {"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", "[::1]:80"},
        {"GET http://a.test/ HTTP/1.1\r\nHost: b.test\r\n\r\n", "a.test"},
        {"GET / HTTP/1.0\r\nHost: old.test\r\n\r\n", "old.test"},
        {"GET / HTTP/1.0\r\n\r\n", ""},
        {"GET /\r\n", ""},
    };
    check_slices(htd_req_host, cases, sizeof cases / sizeof cases[0]);
}

TEST(the_vhost_is_the_chosen_ones_name_and_empty_for_the_top_level_server)
{
    vhost vh[2] = {{.name = NULL}, {.name = "*.example.test"}};
    htd_req *r = request("GET / HTTP/1.1\r\nHost: www.example.test\r\n\r\n");
    CHECK(r != NULL);
    if (!r) return;
    htd_str v = htd_req_vhost(r); /* before one is chosen */
    CHECK_STR(v.p, v.len, "");
    r->vh = &vh[1];
    v = htd_req_vhost(r);
    CHECK_STR(v.p, v.len, "*.example.test");
    r->vh = &vh[0];
    v = htd_req_vhost(r);
    CHECK(v.p != NULL);
    CHECK_STR(v.p, v.len, "");
    req_free(&reqs_, r, NULL);
}

TEST(header_fields_come_in_order_as_sent_and_a_repeated_one_each_time)
{
    htd_req *r = request("GET / HTTP/1.1\r\n"
                         "Host: x\r\n"
                         "X-Tag: one\r\n"
                         "accept-LANGUAGE:  en ,fr \t\r\n"
                         "x-tag:two\r\n"
                         "X-Empty:\r\n"
                         "X-Tag: three\r\n"
                         "\r\n");
    CHECK(r != NULL);
    if (!r) return;
    static const char *const want[][2] = {
        {"Host", "x"},    {"X-Tag", "one"}, {"accept-LANGUAGE", "en ,fr"},
        {"x-tag", "two"}, {"X-Empty", ""},  {"X-Tag", "three"},
    };
    size_t n = 0;
    htd_str name, value;
    for (size_t i = 0; htd_req_header_at(r, i, &name, &value) == 0; i++, n++) {
        if (i >= sizeof want / sizeof want[0]) break;
        CHECK_STR(name.p, name.len, want[i][0]);
        CHECK_STR(value.p, value.len, want[i][1]);
    }
    CHECK_EQ_INT(n, sizeof want / sizeof want[0]);
    htd_str first = htd_req_header(r, "x-tag"); /* the first of them */
    CHECK_STR(first.p, first.len, "one");

    name = value = (htd_str){"unchanged", 9};
    CHECK_EQ_INT(htd_req_header_at(r, 6, &name, &value), -1);
    CHECK_EQ_INT(htd_req_header_at(r, (size_t)-1, &name, &value), -1);
    CHECK_STR(name.p, name.len, "unchanged");
    CHECK_STR(value.p, value.len, "unchanged");
    CHECK_EQ_INT(htd_req_header_at(r, 2, NULL, &value), 0); /* either may be NULL */
    CHECK_STR(value.p, value.len, "en ,fr");
    CHECK_EQ_INT(htd_req_header_at(r, 2, &name, NULL), 0);
    CHECK_STR(name.p, name.len, "accept-LANGUAGE");
    req_free(&reqs_, r, NULL);
}

TEST(a_one_line_request_has_no_header_fields)
{
    htd_req *r = request("GET /\r\n");
    CHECK(r != NULL);
    if (!r) return;
    htd_str name, value;
    CHECK_EQ_INT(htd_req_header_at(r, 0, &name, &value), -1);
    req_free(&reqs_, r, NULL);
}

/* A request from a client at ip:port, over a stub connection c. */
static htd_req *request_from(conn *c, int family, const char *ip, unsigned port)
{
    memset(c, 0, sizeof *c);
    if (family == AF_INET) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        inet_pton(AF_INET, ip, &a.sin_addr);
        memcpy(&c->peer, &a, sizeof a);
    } else {
        c->peer =
            (struct sockaddr_in6){.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
        inet_pton(AF_INET6, ip, &c->peer.sin6_addr);
    }
    static const char head[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    htd_req *r = req_from_head(&reqs_, c, head, sizeof head - 1);
    if (r) r->client = c->peer; /* as the connection sets it */
    return r;
}

TEST(the_peer_is_the_sockaddr_accept_gave_and_its_address_as_text)
{
    static const struct {
        int family;
        const char *ip;
        unsigned port;
        socklen_t len;
        const char *text;
    } cases[] = {
        {AF_INET, "192.0.2.7", 40000, sizeof(struct sockaddr_in), "192.0.2.7"},
        {AF_INET6, "2001:db8:0:0::1", 443, sizeof(struct sockaddr_in6), "2001:db8::1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        conn c;
        htd_req *r = request_from(&c, cases[i].family, cases[i].ip, cases[i].port);
        CHECK(r != NULL);
        if (!r) continue;
        socklen_t len = 99;
        const struct sockaddr *sa = htd_req_peer(r, &len);
        CHECK(sa != NULL && sa->sa_family == cases[i].family);
        CHECK_EQ_INT(len, cases[i].len);
        if (sa && sa->sa_family == AF_INET)
            CHECK_EQ_INT(ntohs(((const struct sockaddr_in *)sa)->sin_port), cases[i].port);
        if (sa && sa->sa_family == AF_INET6)
            CHECK_EQ_INT(ntohs(((const struct sockaddr_in6 *)sa)->sin6_port), cases[i].port);
        CHECK(htd_req_peer(r, NULL) == sa);
        htd_str a = htd_req_peer_addr(r);
        CHECK_STR(a.p, a.len, cases[i].text);
        req_free(&reqs_, r, NULL);
    }
}

TEST(a_request_over_no_socket_has_no_peer)
{
    htd_req *r = request("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(r != NULL);
    if (!r) return;
    socklen_t len = 99;
    CHECK(htd_req_peer(r, &len) == NULL);
    CHECK_EQ_INT(len, 0);
    htd_str a = htd_req_peer_addr(r);
    CHECK(a.p != NULL);
    CHECK_EQ_INT(a.len, 0);
    req_free(&reqs_, r, NULL);
}

TEST(the_arena_gives_aligned_memory_small_and_large_all_freed_with_the_request)
{
    htd_req *r = request("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(r != NULL);
    if (!r) return;
    char *prev = NULL;
    for (size_t n = 1; n <= 1000; n += 37) { /* some from the request's block */
        char *p = htd_req_alloc(r, n);
        CHECK(p != NULL);
        if (!p) break;
        CHECK((uintptr_t)p % alignof(max_align_t) == 0);
        CHECK(p != prev);
        memset(p, 0xab, n);
        prev = p;
    }
    char *big = htd_req_alloc(r, 3 * REQ_BLOCK); /* more than the block: from malloc */
    CHECK(big != NULL);
    if (big) {
        CHECK((uintptr_t)big % alignof(max_align_t) == 0);
        memset(big, 0xcd, 3 * REQ_BLOCK);
    }
    CHECK(htd_req_alloc(r, SIZE_MAX) == NULL);
    CHECK(htd_req_alloc(r, SIZE_MAX - 8) == NULL);
    req_free(&reqs_, r, NULL); /* ASan's leak check sees the big piece go */
}

TEST(strdup_makes_a_slice_a_c_string_in_the_request)
{
    htd_req *r = request("GET / HTTP/1.1\r\nHost: x\r\nX-Id:  abc-123 \r\n\r\n");
    CHECK(r != NULL);
    if (!r) return;
    htd_str v = htd_req_header(r, "x-id");
    char *s = htd_req_strdup(r, v);
    CHECK(s != NULL && strcmp(s, "abc-123") == 0);
    CHECK(s != v.p);
    char *e = htd_req_strdup(r, (htd_str){NULL, 0});
    CHECK(e != NULL && e[0] == 0);
    CHECK(htd_req_strdup(r, (htd_str){"x", SIZE_MAX}) == NULL);
    req_free(&reqs_, r, NULL);
}

int main(void)
{
    RUN_TESTS();
}
