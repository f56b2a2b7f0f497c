/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_server.c - the parts of htd.h that need no request: the version
 * macros agree with each other and with htd_version(), and htd_server_new
 * keeps htd.h's rule for the config's size (a shorter config gets defaults
 * for the rest; a longer one is refused unless what is past ours is zero);
 * and a server driven by a loop of the test's own (htd_server_start,
 * htd_server_fd, htd_server_timeout, htd_server_run_once).
 */
#include "instance.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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
        CHECK_EQ_INT(s->ctx.cfg.threads, 1);
        CHECK_EQ_INT(s->ctx.cfg.gzip, 0);
        CHECK_EQ_INT(s->ctx.cfg.ncache_control, 0);
        CHECK_EQ_INT(s->ctx.cfg.max_requests, 1000);
    }
    htd_server_free(s);

    /* The macro passes the whole struct: the bad rule is read, and refused. */
    s = htd_server_new(&c, err, sizeof err);
    CHECK(s == NULL);
    CHECK(strstr(err, "--cache-control") != NULL);
    htd_server_free(s);
}

static pthread_t handler_thread;

static int hi(htd_req *req, void *arg)
{
    (void)arg;
    handler_thread = pthread_self();
    return htd_respond(req, 200, "text/plain", "hi", 2) == 0 ? HTD_DONE : HTD_DECLINED;
}

/* A client connection to listener 0 of s, whose reads give up after 5 s. */
static int dial(const htd_server *s)
{
    const char *addr = htd_server_address(s, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)atoi(strrchr(addr, ':') + 1))};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    struct timeval tv = {.tv_sec = 5};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
                    connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One wake of the test's own loop: waits for the server's descriptor, at
 * most its timeout (and 10 ms), then gives it a turn. What
 * htd_server_run_once answered. */
static int turn(htd_server *s)
{
    struct pollfd p = {.fd = htd_server_fd(s), .events = POLLIN};
    int t = htd_server_timeout(s);
    poll(&p, 1, t < 0 || t > 10 ? 10 : t);
    return htd_server_run_once(s);
}

/* Turns until fd (if not -1) is readable, then 1, or the server has
 * stopped, then 0; -2 after 5 s. */
static int turn_until(htd_server *s, int fd)
{
    for (int i = 0; i < 500; i++) {
        int rc = turn(s);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (rc <= 0 || poll(&p, 1, 0) == 1) return rc;
    }
    return -2;
}

/* A server of config c on 127.0.0.1:0; NULL, the reason said, if it fails. */
static htd_server *server_on_any_port(htd_config c)
{
    c.listen = listen_;
    c.nlisten = 1;
    char err[256] = "";
    htd_server *s = htd_server_new(&c, err, sizeof err);
    CHECK(s != NULL);
    if (!s) fprintf(stderr, "  (%s)\n", err);
    return s;
}

TEST(the_own_loop_calls_refuse_a_server_not_started)
{
    htd_server *s = server_on_any_port((htd_config){.threads = 1});
    if (!s) return;
    CHECK(htd_server_fd(s) >= 0);
    CHECK_EQ_INT(htd_server_timeout(s), -1); /* no timers, no logs */
    errno = 0;
    CHECK_EQ_INT(htd_server_run_once(s), -1);
    CHECK_EQ_INT(errno, EINVAL);
    htd_server_free(s);
}

TEST(a_server_on_the_programs_loop_serves_on_its_thread_and_stops)
{
    htd_server *s = server_on_any_port((htd_config){.threads = 1, .header_timeout_ms = 3000});
    if (!s) return;
    htd_server_handle(s, "/hi", hi, NULL);
    CHECK_EQ_INT(htd_server_start(s), 0);
    errno = 0;
    CHECK_EQ_INT(htd_server_start(s), -1);
    CHECK_EQ_INT(errno, EINVAL);

    /* Half a head: the connection waits on the header timer, which the
     * timeout must cover. */
    int fd = dial(s);
    CHECK(fd >= 0);
    static const char head[] = "GET /hi HTTP/1.1\r\nHost: x\r\n";
    CHECK(write(fd, head, sizeof head - 1) == (ssize_t)sizeof head - 1);
    for (int i = 0; i < 500 && htd_server_timeout(s) < 0; i++)
        turn(s);
    int t = htd_server_timeout(s);
    CHECK(t > 0 && t <= 3000);

    CHECK(write(fd, "\r\n", 2) == 2);
    CHECK_EQ_INT(turn_until(s, fd), 1);
    char buf[512];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    CHECK(strncmp(buf, "HTTP/1.1 200 ", 13) == 0);
    CHECK(n > 2 && memcmp(buf + n - 2, "hi", 2) == 0);
    CHECK(pthread_equal(handler_thread, pthread_self()));

    /* The idle keep-alive connection is closed by the stop. */
    htd_server_stop(s);
    CHECK_EQ_INT(turn_until(s, -1), 0);
    CHECK_EQ_INT(read(fd, buf, sizeof buf), 0);
    CHECK_EQ_INT(htd_server_run_once(s), 0);
    close(fd);
    htd_server_free(s);
}

TEST(a_started_server_with_threads_stops_and_joins_them)
{
    htd_server *s = server_on_any_port((htd_config){.threads = 3});
    if (!s) return;
    CHECK_EQ_INT(htd_server_start(s), 0);
    CHECK_EQ_INT(htd_server_run_once(s), 1);
    htd_server_stop(s);
    CHECK_EQ_INT(turn_until(s, -1), 0);
    CHECK_EQ_INT(s->phase, SERVER_DONE);
    htd_server_free(s);
}

int main(void)
{
    RUN_TESTS();
}
