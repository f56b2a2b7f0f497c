/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * instance.h - a server's fields (struct htd_server): what requests see of
 * it (server_ctx), its config file, listening sockets, workers, current site
 * and stop flag. Apart from the functions of htd.h that make and run a
 * server (server.c), so that its workers read them without depending on
 * server.c. Read-only once the workers run, but for the site (site_mu) and
 * the stop flag.
 */
#ifndef HTD_INSTANCE_H
#define HTD_INSTANCE_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "context.h"
#include "htd.h"
#include "listen.h"
#include "notify.h"

struct worker;

struct htd_server {
    server_ctx ctx;         /* what requests see: modules, settings, jobs, MIME */
    htd_config given;       /* as the embedding program gave it: reloads start again from it */
    struct conf_file *conf; /* the config file read at start, or NULL */
    listen_addr *addrs;
    size_t naddrs;
    int *lfds;              /* nthreads * naddrs listening sockets, SO_REUSEPORT or dups */
    struct tls_shared *tls; /* the TLS listeners' ticket keys (tls.h), or NULL: none */
    int nthreads;
    struct worker **workers;
    site *site; /* the current site, under site_mu */
    pthread_mutex_t site_mu;
    atomic_uint site_gen; /* bumped when site changes; loops compare it without the lock */
    volatile sig_atomic_t stop_requested;
    /* Whether the workers have not started, run, or have all finished; the
     * threads started are those of workers 1..nstarted-1 (0 is the caller's). */
    enum { SERVER_NEW, SERVER_RUNNING, SERVER_DONE } phase;
    int nstarted;
    /* htd_server_signals: the signalfd in worker 0's loop, and what it calls. */
    watcher sigw;
    void (*on_signal)(struct htd_server *s, int signo, void *arg);
    void *signal_arg;
    /* The service manager's socket (fd -1: none), and the timer of the
     * periodic STATUS= in worker 0's loop (status_list NULL: none). */
    notify sd;
    htd_timer_list *status_list;
    htd_timer status_timer;
    /* An upgrade (upgrade.h): in the old server, the pipe from the new
     * program (upw, fd -1 with up_pid 0: none under way); in the new one,
     * where to say it serves (ready_fd, -1: it was not started so). */
    watcher upw;
    pid_t up_pid;
    int ready_fd;
};

/* A reference to the current site (site_release lets it go). */
static inline site *server_site(htd_server *s)
{
    pthread_mutex_lock(&s->site_mu); /* a reload may be swapping it */
    site *st = site_hold(s->site);
    pthread_mutex_unlock(&s->site_mu);
    return st;
}

#endif
