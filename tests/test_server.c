/*
 * test_server.c - the parts of htd.h that need no request: the version
 * macros agree with each other and with htd_version(), and htd_server_new
 * keeps htd.h's rule for the config's size (a shorter config gets defaults
 * for the rest; a longer one is refused unless what is past ours is zero).
 */
#include "server.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>

TEST(version_macros_and_the_library_agree)
{
    char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", HTD_VERSION_MAJOR, HTD_VERSION_MINOR, HTD_VERSION_PATCH);
    CHECK_STR(v, strlen(v), HTD_VERSION);
    CHECK_EQ_INT(HTD_VERSION_NUM,
                 HTD_VERSION_MAJOR * 0x10000 + HTD_VERSION_MINOR * 0x100 + HTD_VERSION_PATCH);
    CHECK(HTD_VERSION_MINOR < 0x100 && HTD_VERSION_PATCH < 0x100);
    CHECK_STR(htd_version(), strlen(htd_version()), HTD_VERSION);
}

static const char *const listen_[] = {"127.0.0.1:0"};

/* A config as a program built against a newer header would pass it: ours,
 * then fields we do not know. */
struct newer {
    htd_config c;
    uint64_t more[2];
};

TEST(a_longer_config_is_taken_if_what_is_past_ours_is_zero)
{
    struct newer n = {.c = {.listen = listen_, .nlisten = 1, .threads = 1}};
    char err[256] = "";
    htd_server *s = htd_server_new_sized(&n.c, sizeof n, err, sizeof err);
    CHECK(s != NULL);
    if (!s) fprintf(stderr, "  (%s)\n", err);
    htd_server_free(s);

    n.more[1] = 1;
    s = htd_server_new_sized(&n.c, sizeof n, err, sizeof err);
    CHECK(s == NULL);
    CHECK(strstr(err, "newer library") != NULL);
    htd_server_free(s);
}

TEST(a_shorter_config_gets_defaults_for_the_rest)
{
    /* Whatever lies past the given size is not read: here, a gzip flag and
     * a cache-control rule that would not even parse. */
    static const char *const cc[] = {"no equals sign"};
    htd_config c = {.listen = listen_,
                    .nlisten = 1,
                    .threads = 1,
                    .gzip = 1,
                    .cache_control = cc,
                    .ncache_control = 1};
    char err[256] = "";
    htd_server *s = htd_server_new_sized(&c, offsetof(htd_config, gzip), err, sizeof err);
    CHECK(s != NULL);
    if (!s) fprintf(stderr, "  (%s)\n", err);
    if (s) {
        CHECK_EQ_INT(s->cfg.threads, 1);
        CHECK_EQ_INT(s->cfg.gzip, 0);
        CHECK_EQ_INT(s->cfg.ncache_control, 0);
        CHECK_EQ_INT(s->cfg.max_requests, 1000);
    }
    htd_server_free(s);

    /* The macro passes the whole struct: the bad rule is read, and refused. */
    s = htd_server_new(&c, err, sizeof err);
    CHECK(s == NULL);
    CHECK(strstr(err, "--cache-control") != NULL);
    htd_server_free(s);
}

int main(void)
{
    RUN_TESTS();
}
