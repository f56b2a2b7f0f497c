/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ownloop.c - htd inside a program's own event loop. The program's poll()
 * watches htd's descriptor beside two of its own: a timer that ticks every
 * 10 ms and a signalfd for SIGTERM and SIGINT, which stop the server
 * gracefully. /status answers with the program's tick count and the thread
 * that ran the handler; every other path is served as static files from ROOT.
 *
 *   build/examples/ownloop ROOT HOST:PORT [THREADS]
 *
 * htd has THREADS workers (2 by default): worker 0 is served inside this
 * loop, on the main thread, and the others on threads htd starts. The
 * handler runs on whichever holds the connection, so the count it reads is
 * atomic.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "htd.h"

#define TICK_NS 10000000L

static atomic_ulong ticks; /* counted by the main loop, read by handlers on any thread */

static int status(htd_req *req, void *arg)
{
    (void)arg;
    char body[96];
    int n = snprintf(body, sizeof body, "ticks %lu\nthread %ld\nmain %d\n", atomic_load(&ticks),
                     (long)gettid(), gettid() == getpid());
    htd_resp_header(req, "Cache-Control", "no-store");
    htd_respond(req, 200, "text/plain; charset=utf-8", body, (size_t)n);
    return HTD_DONE;
}

/* The timer and the stop signals as descriptors; -1 if either fails. */
static int own_fds(int *timer, int *signals)
{
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    /* Blocked before htd starts its threads, which inherit the mask. */
    if (sigprocmask(SIG_BLOCK, &stop, NULL) < 0 ||
        (*signals = signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
        return -1;
    const struct itimerspec every = {.it_interval = {.tv_nsec = TICK_NS},
                                     .it_value = {.tv_nsec = TICK_NS}};
    *timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (*timer < 0 || timerfd_settime(*timer, 0, &every, NULL) < 0) return -1;
    return 0;
}

int main(int argc, char **argv)
{
    int threads = argc == 4 ? atoi(argv[3]) : 2;
    if ((argc != 3 && argc != 4) || threads < 1 || threads > 64) {
        fprintf(stderr, "usage: %s ROOT HOST:PORT [THREADS]\n", argv[0]);
        return 2;
    }
    const char *listen[] = {argv[2]};
    htd_config cfg = {.root = argv[1], .listen = listen, .nlisten = 1, .threads = threads};
    char err[256];
    htd_server *server = htd_server_new(&cfg, err, sizeof err);
    if (!server) {
        fprintf(stderr, "ownloop: %s\n", err);
        return 2;
    }
    int timer = -1, signals = -1;
    if (htd_server_handle(server, "/status", status, NULL) < 0 || own_fds(&timer, &signals) < 0 ||
        htd_server_start(server) < 0) {
        fprintf(stderr, "ownloop: cannot start: %s\n", strerror(errno));
        htd_server_free(server);
        return 2;
    }
    printf("htd " HTD_VERSION " serving %s at http://%s/\n", argv[1],
           htd_server_address(server, 0));
    fflush(stdout);

    struct pollfd fds[] = {{.fd = htd_server_fd(server), .events = POLLIN},
                           {.fd = timer, .events = POLLIN},
                           {.fd = signals, .events = POLLIN}};
    int failed = 0, rc;
    do {
        if (poll(fds, 3, htd_server_timeout(server)) < 0) {
            fprintf(stderr, "ownloop: poll: %s\n", strerror(errno));
            failed = 1;
            htd_server_stop(server);
            continue;
        }
        uint64_t n;
        if ((fds[1].revents & POLLIN) && read(timer, &n, sizeof n) == sizeof n)
            atomic_fetch_add(&ticks, n);
        struct signalfd_siginfo si;
        if ((fds[2].revents & POLLIN) && read(signals, &si, sizeof si) == sizeof si)
            htd_server_stop(server); /* the turns go on until the responses in flight are out */
        /* htd's descriptor was readable, or its timeout passed, or neither:
         * a turn never waits, so taking one on every wake is simplest. */
    } while ((rc = htd_server_run_once(server)) > 0);
    htd_server_free(server);
    close(timer);
    close(signals);
    return rc == 0 && !failed ? 0 : 1;
}
