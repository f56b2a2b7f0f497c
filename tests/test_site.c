/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_site.c - choosing a virtual host by Host (exact, wildcard, default,
 * ports, case, trailing dot) and a rule by path (exact over regex over the
 * longest prefix, the first regex in file order, captures); a reload's
 * health check states carried over.
 */
#include "parser.h"
#include "pattern.h"
#include "site.h"
#include "test.h"

#include <netinet/in.h>
#include <stdlib.h>

static vhost vh[4];
static vname names[] = {
    {"example.test", 12, 0, &vh[1]},
    {".example.org", 12, 1, &vh[2]},
    {".deep.example.org", 17, 1, &vh[3]},
    {"www.example.org", 15, 0, &vh[1]},
};
static site st = {.vhosts = vh, .nvhosts = 4, .names = names, .nnames = 4, .fallback = &vh[0]};

static vhost *host(const char *h)
{
    return site_vhost(&st, (htd_str){h, strlen(h)});
}

TEST(exact_names_ignore_case_port_and_trailing_dot)
{
    CHECK(host("example.test") == &vh[1]);
    CHECK(host("Example.TEST") == &vh[1]);
    CHECK(host("example.test:8080") == &vh[1]);
    CHECK(host("example.test.") == &vh[1]);
    CHECK(host("example.test.:80") == &vh[1]);
    CHECK(host("www.example.org") == &vh[1]); /* exact beats the wildcard */
}

TEST(wildcards_match_any_depth_but_not_the_bare_domain_and_the_longest_wins)
{
    CHECK(host("a.example.org") == &vh[2]);
    CHECK(host("a.b.example.org") == &vh[2]);
    CHECK(host("example.org") == &vh[0]);
    CHECK(host("x.deep.example.org") == &vh[3]);
    CHECK(host("notexample.org") == &vh[0]);
}

TEST(unknown_empty_and_ipv6_literal_hosts_fall_back)
{
    CHECK(host("other.test") == &vh[0]);
    CHECK(host("") == &vh[0]);
    CHECK(host("[::1]:8080") == &vh[0]);
    CHECK(host("127.0.0.1") == &vh[0]);
}

static rule rules[5];
static vhost rv = {.rules = rules, .nrules = 5};

static void setup_rules(void)
{
    static int done;
    if (done) return;
    done = 1;
    rules[0] = (rule){.kind = RULE_PREFIX, .pat = "/a/", .len = 3, .nsub = 1};
    rules[1] = (rule){.kind = RULE_PREFIX, .pat = "/a/b/", .len = 5, .nsub = 1};
    rules[2] = (rule){.kind = RULE_REGEX, .pat = "^/a/(x)(y)?"};
    rules[3] = (rule){.kind = RULE_REGEX, .pat = "^/a/x"};
    rules[4] = (rule){.kind = RULE_EXACT, .pat = "/a/xy", .len = 5};
    char err[300];
    for (int i = 2; i <= 3; i++)
        CHECK((rules[i].re = regex_compile(rules[i].pat, &rules[i].nsub, &rules[i].lit,
                                           &rules[i].lit_len, err, sizeof err)) != NULL);
    CHECK_EQ_INT(rules[2].nsub, 2);
    CHECK_EQ_INT(rules[2].lit_len, 3); /* "/a/" */
}

static const rule *pick(const char *path, htd_str *caps, int *n)
{
    setup_rules();
    return site_rule(&rv, HTD_M_GET, path, strlen(path), caps, n);
}

TEST(exact_wins_then_the_first_regex_then_the_longest_prefix)
{
    htd_str caps[10];
    int n;
    CHECK(pick("/a/xy", caps, &n) == &rules[4]);
    CHECK(pick("/a/xz", caps, &n) == &rules[2]); /* first regex, though both match */
    CHECK(pick("/a/b/c", caps, &n) == &rules[1]);
    CHECK(pick("/a/c", caps, &n) == &rules[0]);
    CHECK(pick("/b", caps, &n) == NULL);
}

TEST(a_rule_with_methods_is_seen_only_by_requests_with_one_of_them)
{
    /* The config puts rules with methods first (config.c), so that of
     * equal prefixes theirs wins. */
    rule rs[2] = {
        {.kind = RULE_PREFIX,
         .pat = "/dav/",
         .len = 5,
         .nsub = 1,
         .methods = 1u << HTD_M_PUT | 1u << HTD_M_DELETE},
        {.kind = RULE_PREFIX, .pat = "/dav/", .len = 5, .nsub = 1},
    };
    vhost v = {.rules = rs, .nrules = 2};
    htd_str caps[10];
    int n;
    CHECK(site_rule(&v, HTD_M_GET, "/dav/x", 6, caps, &n) == &rs[1]);
    CHECK(site_rule(&v, HTD_M_PUT, "/dav/x", 6, caps, &n) == &rs[0]);
    CHECK(site_rule(&v, HTD_M_DELETE, "/dav/", 5, caps, &n) == &rs[0]);
    CHECK(site_rule(&v, HTD_M_PROPFIND, "/dav/x", 6, caps, &n) == &rs[1]);
    rule only[1] = {{.kind = RULE_EXACT, .pat = "/a", .len = 2, .methods = 1u << HTD_M_MKCOL}};
    vhost w = {.rules = only, .nrules = 1};
    CHECK(site_rule(&w, HTD_M_GET, "/a", 2, caps, &n) == NULL); /* falls through to the vhost */
    CHECK(site_rule(&w, HTD_M_MKCOL, "/a", 2, caps, &n) == &only[0]);
    CHECK(site_rule(&w, HTD_M_UNKNOWN, "/a", 2, caps, &n) == NULL);
}

TEST(a_rule_covers_the_paths_its_pattern_matches_whatever_the_method)
{
    setup_rules();
    CHECK(site_rule_covers(&rules[0], "/a/", 3));
    CHECK(site_rule_covers(&rules[0], "/a/deep/er", 10));
    CHECK(!site_rule_covers(&rules[0], "/ab", 3));
    CHECK(site_rule_covers(&rules[4], "/a/xy", 5));
    CHECK(!site_rule_covers(&rules[4], "/a/xyz", 6));
    CHECK(site_rule_covers(&rules[2], "/a/xq", 5));
    CHECK(!site_rule_covers(&rules[2], "/b/a/x", 6)); /* the literal "/a/" is not there */
    rule put = {.kind = RULE_EXACT, .pat = "/p", .len = 2, .methods = 1u << HTD_M_PUT};
    CHECK(site_rule_covers(&put, "/p", 2));
}

TEST(captures_of_a_regex_and_of_a_prefix)
{
    htd_str caps[10];
    int n;
    pick("/a/xz", caps, &n);
    CHECK_EQ_INT(n, 3);
    CHECK_STR(caps[0].p, caps[0].len, "/a/x");
    CHECK_STR(caps[1].p, caps[1].len, "x");
    CHECK(caps[2].p == NULL); /* the optional group did not take part */
    pick("/a/b/rest/of", caps, &n);
    CHECK_EQ_INT(n, 2);
    CHECK_STR(caps[1].p, caps[1].len, "rest/of");
}

TEST(error_pages_by_status)
{
    errdoc d[] = {{404, "/404.html"}, {403, "/denied.html"}, {401, "/denied.html"}};
    scope sc = {.errdocs = d, .nerrdocs = 3};
    CHECK(strcmp(site_errdoc(&sc, 404), "/404.html") == 0);
    CHECK(strcmp(site_errdoc(&sc, 401), "/denied.html") == 0);
    CHECK(site_errdoc(&sc, 500) == NULL);
}

static upstream_server server_at(int port, int down)
{
    upstream_server sv = {.addr_len = sizeof(struct sockaddr_in)};
    struct sockaddr_in *a = (struct sockaddr_in *)&sv.addr;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    atomic_init(&sv.check_down, (unsigned)down);
    return sv;
}

TEST(a_reload_carries_the_health_of_servers_checked_before_and_after_by_address)
{
    upstream_server was[2] = {server_at(9000, 1), server_at(9001, 1)};
    upstream_server now[3] = {server_at(9001, 0), server_at(9002, 0), server_at(9000, 0)};
    upstream_server other[1] = {server_at(9000, 0)};
    upstream old_u[1] = {{.name = "app", .servers = was, .nservers = 2, .check_path = "/h"}};
    upstream new_u[2] = {{.name = "app", .servers = now, .nservers = 3, .check_path = "/h2"},
                         {.name = "unchecked", .servers = other, .nservers = 1}};
    site from = {.upstreams = old_u, .nupstreams = 1}, to = {.upstreams = new_u, .nupstreams = 2};
    site_carry_health(&to, &from);
    CHECK(atomic_load(&now[0].check_down) == 1); /* 9001, moved in the list */
    CHECK(atomic_load(&now[1].check_down) == 0); /* new: up until its check says */
    CHECK(atomic_load(&now[2].check_down) == 1);
    CHECK(atomic_load(&other[0].check_down) == 0); /* not checked now: never left out by it */
    new_u[0].check_path = NULL;                    /* the check dropped by the reload */
    atomic_store(&now[0].check_down, 0);
    site_carry_health(&to, &from);
    CHECK(atomic_load(&now[0].check_down) == 0);
}

int main(void)
{
    RUN_TESTS();
}
