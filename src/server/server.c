/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * server.c - creating, running and stopping a server: configuration defaults,
 * the document root, the listening sockets, and one loop per worker thread.
 *
 * Each worker has its own listening socket per address (SO_REUSEPORT), so the
 * kernel spreads connections over the workers and no accept lock exists
 * (under socket activation, a duplicate of the inherited one). A service
 * manager hears of the server's states (notify.h) when it asks to.
 * Everything that can fail for a reason the user must fix (a missing root, an
 * address in use) fails in htd_server_new, before anything is served.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builtin.h"
#include "config.h"
#include "errlog.h"
#include "instance.h"
#include "jobs.h"
#include "listen.h"
#include "log.h"
#include "mime.h"
#include "notify.h"
#include "queue.h"
#include "routes.h"
#include "tls.h"
#include "upgrade.h"
#include "worker.h"

#define POOL_THREADS 4 /* jobs at once: uploads' writes and fsyncs, password checks, listings */
#define STATUS_MS 5000 /* how often a service manager hears the connection count */

static void fill_defaults(htd_config *c)
{
    if (c->threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        c->threads = n > 0 ? (int)n : 1;
    }
    if (!c->max_requests) c->max_requests = 1000;
    if (!c->header_timeout_ms) c->header_timeout_ms = 10000;
    if (!c->body_timeout_ms) c->body_timeout_ms = 30000;
    if (!c->idle_timeout_ms) c->idle_timeout_ms = 60000;
    if (!c->send_timeout_ms) c->send_timeout_ms = 30000;
    if (!c->max_body) c->max_body = 1 << 20;
    if (!c->max_upload) c->max_upload = 100u << 20;
    if (!c->cgi_timeout_ms) c->cgi_timeout_ms = 30000;
    if (!c->cgi_max) c->cgi_max = 16;
}

const char *htd_version(void)
{
    return HTD_VERSION;
}

static int make_registry(htd_server *s, char *err, size_t errlen)
{
    char why[200];
    if (builtin_registry(&s->ctx.reg, s->ctx.cfg.content_order, s->ctx.cfg.ncontent_order, why,
                         sizeof why) < 0) {
        snprintf(err, errlen, "content_order: %s", why);
        return -1;
    }
    return 0;
}

/* A TLS listener needs certificates in the site it would serve. */
static int tls_check(const htd_server *s, const site *st, char *err, size_t errlen)
{
    for (size_t i = 0; i < s->naddrs; i++)
        if (s->addrs[i].tls && !st->tls) {
            snprintf(err, errlen,
                     "the TLS listener %s needs a certificate: --cert FILE --key FILE, or "
                     "tls = { cert = \"FILE\"; key = \"FILE\"; } in the config",
                     s->addrs[i].name);
            return -1;
        }
    return 0;
}

/* Socket activation: the sockets from descriptor 3 on are the listeners,
 * and nothing is bound. A listener takes the options (tls, proxy_protocol)
 * its name gives ($LISTEN_FDNAMES: "https", ...), else those of the first
 * configured listen address with its port.
 *
 * From an upgrade (upgrade.h), they are the old server's: one per worker
 * and address, each with its own queue of connections (SO_REUSEPORT). When
 * there are as many of each address as there are workers, each worker
 * takes one, as if it had bound it. Otherwise (systemd's single socket per
 * address, or a new number of threads), every worker watches every socket,
 * by a duplicate of its own (which its stop may close without touching the
 * others'), with EPOLLEXCLUSIVE so that a connection wakes one worker
 * rather than all. */
static int adopt_listeners(htd_server *s, const char *names, char *err, size_t errlen)
{
    const htd_config *cfg = &s->ctx.cfg;
    size_t n = s->naddrs, T = (size_t)s->nthreads;
    for (size_t i = 0; i < n; i++) {
        listen_addr *a = &s->addrs[i];
        int fd = 3 + (int)i;
        if (listen_adopt(fd, a, err, errlen) < 0) return -1;
        s->lfds[i] = fd;
        /* Its name says its options (an upgrade's, FileDescriptorName=). */
        size_t len = strcspn(names, ":");
        int named = listen_options_of_name(names, len, a) == 0;
        names += len + (names[len] == ':');
        for (size_t k = 0; !named && k < cfg->nlisten; k++) {
            listen_addr c;
            char why[256];
            if (listen_parse(cfg->listen[k], &c, why, sizeof why) == 0 && listen_same_port(a, &c)) {
                a->tls = c.tls;
                a->proxy_protocol = c.proxy_protocol;
                break;
            }
        }
    }
    /* One per worker of each address, in the order the old server gave
     * them (worker by worker)? */
    size_t d;
    for (d = 1; d < n && strcmp(s->addrs[d].name, s->addrs[0].name) != 0; d++)
        continue;
    int own = T > 1 && n == d * T;
    for (size_t i = 0; own && i < n; i++)
        own = strcmp(s->addrs[i].name, s->addrs[i % d].name) == 0;
    if (own) {
        s->naddrs = d; /* lfds[t * d + i] is worker t's of address i already */
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        s->addrs[i].inherited = 1;
    for (size_t t = 1; t < T; t++)
        for (size_t i = 0; i < n; i++)
            if ((s->lfds[t * n + i] = fcntl(s->lfds[i], F_DUPFD_CLOEXEC, 0)) < 0) {
                snprintf(err, errlen, "socket activation: cannot share %s: %s", s->addrs[i].name,
                         strerror(errno));
                return -1;
            }
    return 0;
}

/* STATUS= with the workers' connection counts, read without their locks (a
 * count a moment old is good enough for a status line), after state (such
 * as "READY=1") if not NULL. */
static void notify_status(htd_server *s, const char *state)
{
    if (s->sd.fd < 0) return;
    size_t n = 0;
    for (int i = 0; i < s->nthreads; i++)
        n += __atomic_load_n(&s->workers[i]->nconns, __ATOMIC_RELAXED);
    char msg[100];
    snprintf(msg, sizeof msg, "%s%sSTATUS=%zu connection%s open", state ? state : "",
             state ? "\n" : "", n, n == 1 ? "" : "s");
    notify_send(&s->sd, msg);
}

/* Every STATUS_MS while a service manager listens, from worker 0's loop. */
static void status_fire(htd_timer *t)
{
    htd_server *s = (htd_server *)((char *)t - offsetof(htd_server, status_timer));
    notify_status(s, NULL);
    if (!s->stop_requested) htd_timer_arm(s->status_list, t, loop_now(s->workers[0]->loop));
}

/* The error log as cfg says, before anything is built (that may warn);
 * left as it is when cfg names none. */
static int open_error_log(const htd_config *cfg, char *err, size_t errlen)
{
    if (!cfg->error_log && !cfg->error_log_level) return 0;
    int level = ERRLOG_NOTICE;
    if (cfg->error_log_level && (level = errlog_level_of(cfg->error_log_level)) < 0) {
        snprintf(err, errlen,
                 "error_log_level must be error, warn, notice, info or debug, got '%s'",
                 cfg->error_log_level);
        return -1;
    }
    return errlog_open(cfg->error_log, level, err, errlen);
}

htd_server *htd_server_new_sized(const htd_config *given, size_t size, char *err, size_t errlen)
{
    /* The growth rule of htd.h: a program's config may be shorter than
     * ours (the rest is defaults) or longer, if all we do not know is 0. */
    for (size_t i = sizeof *given; i < size; i++)
        if (((const unsigned char *)given)[i]) {
            snprintf(err, errlen,
                     "the program sets configuration fields that htd %s does not know; "
                     "it needs a newer library",
                     HTD_VERSION);
            return NULL;
        }
    htd_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    notify_open(&s->sd);
    s->ready_fd = upgrade_inherited();
    s->upw.fd = -1;
    memcpy(&s->given, given, size < sizeof *given ? size : sizeof *given);
    s->ctx.cfg = s->given;
    pthread_mutex_init(&s->site_mu, NULL);
    counter_set_init(&s->ctx.counters);
    if (s->given.config_file) {
        if (!(s->conf = conf_open(s->given.config_file, err, errlen)) ||
            conf_settings(s->conf, &s->ctx.cfg, err, errlen) < 0)
            goto fail;
        /* No root in the file: no top-level files, rather than whatever
         * directory htd was started in (where the config itself may be). */
    }
    const htd_config *cfg = &s->ctx.cfg;
    fill_defaults(&s->ctx.cfg);
    if (open_error_log(cfg, err, errlen) < 0) goto fail;
    if (make_registry(s, err, errlen) < 0) goto fail;
    s->nthreads = s->ctx.cfg.threads;
    /* First, so that an error in the file names its line. */
    if (!(s->site = site_build(cfg, s->conf, s->nthreads, err, errlen))) goto fail;

    if (registry_start(&s->ctx.reg, cfg, s->site, err, errlen) < 0) goto fail;
    /* The pool serves uploads, password checks and directory listings; its
     * threads sleep when there is none. */
    if (!(s->ctx.jobs = jobs_new(POOL_THREADS))) {
        snprintf(err, errlen, "cannot start the pool threads: %s", strerror(errno));
        goto fail;
    }
    if (!(s->ctx.mime = htd_mime_new(NULL))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }

    static const char *const default_listen[] = {"127.0.0.1:8080"};
    const char *const *specs = cfg->nlisten ? cfg->listen : default_listen;
    char names[1024];
    int activated = listen_activated(names, sizeof names);
    s->naddrs = activated ? (size_t)activated : cfg->nlisten ? cfg->nlisten : 1;
    s->addrs = calloc(s->naddrs, sizeof *s->addrs);
    s->lfds = malloc(s->naddrs * (size_t)s->nthreads * sizeof *s->lfds);
    s->workers = calloc((size_t)s->nthreads, sizeof *s->workers);
    if (!s->addrs || !s->lfds || !s->workers) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < s->naddrs * (size_t)s->nthreads; i++)
        s->lfds[i] = -1;
    if (activated) {
        if (adopt_listeners(s, names, err, errlen) < 0) goto fail;
    } else {
        for (size_t i = 0; i < s->naddrs; i++)
            if (listen_parse(specs[i], &s->addrs[i], err, errlen) < 0 ||
                listen_probe(&s->addrs[i], &s->lfds[i], err, errlen) < 0)
                goto fail;
    }
    if (tls_check(s, s->site, err, errlen) < 0) goto fail;
    if (s->site->tls && !(s->tls = tls_shared_new(cfg->tls_ticket_rotate_ms))) {
        snprintf(err, errlen, "cannot make session ticket keys: %s", strerror(errno));
        goto fail;
    }
    for (int t = 0; t < s->nthreads; t++)
        for (size_t i = 0; i < s->naddrs; i++)
            if (s->lfds[(size_t)t * s->naddrs + i] < 0 &&
                (s->lfds[(size_t)t * s->naddrs + i] = listen_socket(&s->addrs[i], 1, err, errlen)) <
                    0)
                goto fail;
    for (int t = 0; t < s->nthreads; t++)
        if (!(s->workers[t] = worker_new(s, t, err, errlen))) goto fail;
    if (s->sd.fd >= 0 &&
        !(s->status_list = loop_timers(s->workers[0]->loop, STATUS_MS, status_fire))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    return s;
fail:
    htd_server_free(s);
    return NULL;
}

int htd_server_handle(htd_server *s, const char *prefix, htd_handler_fn fn, void *arg)
{
    return htd_server_handle_phase(s, HTD_PHASE_CONTENT, prefix, fn, arg);
}

int htd_server_handle_phase(htd_server *s, int phase, const char *prefix, htd_handler_fn fn,
                            void *arg)
{
    if (phase != HTD_PHASE_ACCESS && phase != HTD_PHASE_CONTENT &&
        phase != (HTD_PHASE_CONTENT | HTD_BODY_STREAMED))
        return -1;
    if (s->phase != SERVER_NEW) return -1; /* the phases are sealed */
    return routes_add(&s->ctx.reg, phase, prefix, fn, arg);
}

static void signals_ready(watcher *w, uint32_t events)
{
    (void)events;
    htd_server *s = (htd_server *)((char *)w - offsetof(htd_server, sigw));
    struct signalfd_siginfo si;
    while (read(w->fd, &si, sizeof si) == (ssize_t)sizeof si)
        s->on_signal(s, (int)si.ssi_signo, s->signal_arg);
}

int htd_server_signals(htd_server *s, const sigset_t *set,
                       void (*fn)(htd_server *s, int signo, void *arg), void *arg)
{
    if (s->phase != SERVER_NEW || s->on_signal || !fn) {
        errno = EINVAL;
        return -1;
    }
    int fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) return -1;
    s->on_signal = fn;
    s->signal_arg = arg;
    if (loop_watch(s->workers[0]->loop, &s->sigw, fd, EPOLLIN, signals_ready) < 0) {
        int e = errno;
        close(fd);
        s->on_signal = NULL;
        errno = e;
        return -1;
    }
    return 0;
}

int htd_server_queue(htd_server *s, const char *prefix, htd_job_fn fn, void *arg)
{
    if (s->phase != SERVER_NEW) return -1; /* the processors start before the server runs */
    return queue_set_handler(&s->ctx.reg, prefix, fn, arg);
}

const char *htd_server_address(const htd_server *s, size_t i)
{
    return i < s->naddrs ? s->addrs[i].name : NULL;
}

const char *htd_server_scheme(const htd_server *s, size_t i)
{
    return i < s->naddrs ? s->addrs[i].tls ? "https" : "http" : NULL;
}

const char *htd_server_root(const htd_server *s)
{
    return s->ctx.cfg.root ? s->ctx.cfg.root : "";
}

const htd_config *htd_server_config(const htd_server *s)
{
    return &s->ctx.cfg;
}

/* Worker 0 has finished: the others are asked to stop too (they have
 * been, unless its loop failed), and joined once they have drained. */
static void join_workers(htd_server *s)
{
    if (!s->stop_requested) htd_server_stop(s);
    for (int t = 1; t < s->nstarted; t++)
        pthread_join(s->workers[t]->thread, NULL);
    s->phase = SERVER_DONE;
}

int htd_server_start(htd_server *s)
{
    if (s->phase != SERVER_NEW) {
        errno = EINVAL;
        return -1;
    }
    /* A peer that goes away mid-response must not kill the process. */
    struct sigaction sa;
    sigaction(SIGPIPE, NULL, &sa);
    if (sa.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);

    /* Workers block every signal, so that the program's signal handlers
     * run on its own threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = 0;
    registry_seal(&s->ctx.reg); /* the handlers are all in */
    s->phase = SERVER_RUNNING;
    s->nstarted = 1;
    while (rc == 0 && s->nstarted < s->nthreads) {
        worker *w = s->workers[s->nstarted];
        if ((rc = pthread_create(&w->thread, NULL, worker_run, w)) == 0) s->nstarted++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0) {
        /* Every listener is bound and every worker runs. */
        notify_status(s, "READY=1");
        upgrade_say_ready(s->ready_fd); /* an old server stops now */
        s->ready_fd = -1;
        if (s->status_list)
            htd_timer_arm(s->status_list, &s->status_timer, loop_now(s->workers[0]->loop));
        return 0;
    }
    join_workers(s);
    errno = rc;
    return -1;
}

int htd_server_fd(const htd_server *s)
{
    return loop_fd(s->workers[0]->loop);
}

int htd_server_timeout(const htd_server *s)
{
    return worker_timeout(s->workers[0]);
}

int htd_server_run_once(htd_server *s)
{
    if (s->phase != SERVER_RUNNING) {
        if (s->phase == SERVER_DONE) return 0;
        errno = EINVAL;
        return -1;
    }
    int rc = worker_turn(s->workers[0], 0);
    if (rc > 0) return 1;
    int e = errno;
    join_workers(s);
    errno = e;
    return rc;
}

int htd_server_run(htd_server *s)
{
    if (htd_server_start(s) < 0) return -1;
    worker_run(s->workers[0]);
    join_workers(s);
    return 0;
}

void htd_server_stop(htd_server *s)
{
    if (!s->stop_requested) notify_send(&s->sd, "STOPPING=1");
    s->stop_requested = 1;
    for (int t = 0; t < s->nthreads; t++)
        if (s->workers[t]) worker_stop(s->workers[t]);
}

/* The new program's word, or the end of its pipe. */
static void upgrade_heard(watcher *w, uint32_t events)
{
    (void)events;
    htd_server *s = (htd_server *)((char *)w - offsetof(htd_server, upw));
    char b;
    ssize_t n;
    while ((n = read(w->fd, &b, 1)) < 0 && errno == EINTR)
        continue;
    if (n < 0 && errno == EAGAIN) return;
    pid_t pid = s->up_pid;
    loop_forget(s->workers[0]->loop, w);
    close(w->fd);
    w->fd = -1;
    s->up_pid = 0;
    if (n == 1) {
        errlog(ERRLOG_NOTICE,
               "htd: upgrade: process %ld serves now; process %ld stops once its connections "
               "are done",
               (long)pid, (long)getpid());
        char msg[40];
        snprintf(msg, sizeof msg, "MAINPID=%ld", (long)pid);
        notify_send(&s->sd, msg);
        htd_server_stop(s);
        return;
    }
    /* Its end of the pipe closes a moment before it can be reaped: wait
     * that moment (a rare path; the loop may pause for it), but not for a
     * program that closed the pipe and runs on. */
    int st, got = 0;
    for (int i = 0; i < 50 && !(got = waitpid(pid, &st, WNOHANG) == pid); i++)
        usleep(2000);
    if (got)
        errlog(ERRLOG_ERROR,
               "htd: upgrade failed: the new program (process %ld) %s %d before it served; "
               "still serving",
               (long)pid, WIFSIGNALED(st) ? "was killed by signal" : "exited with status",
               WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    else
        errlog(ERRLOG_ERROR,
               "htd: upgrade failed: the new program (process %ld) gave up before it served; "
               "still serving",
               (long)pid);
}

pid_t htd_server_upgrade(htd_server *s, const char *path, char *const argv[], char *err,
                         size_t errlen)
{
    if (s->phase != SERVER_RUNNING || s->stop_requested) {
        snprintf(err, errlen, "the server is not running");
        return -1;
    }
    if (s->up_pid) {
        snprintf(err, errlen, "process %ld is already taking over", (long)s->up_pid);
        return -1;
    }
    /* Every socket once: a shared one (inherited) is worker 0's. */
    size_t n = 0;
    int *fds = malloc(s->naddrs * (size_t)s->nthreads * sizeof *fds);
    if (!fds) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* Named by their options, which the new server's config cannot say
     * for an address it gave as port 0. */
    char *names = malloc(s->naddrs * (size_t)s->nthreads * 12 + 1);
    size_t nl = 0;
    if (names) names[0] = 0;
    for (int t = 0; names && t < s->nthreads; t++)
        for (size_t i = 0; i < s->naddrs; i++)
            if ((t == 0 || !s->addrs[i].inherited) && s->lfds[(size_t)t * s->naddrs + i] >= 0) {
                fds[n++] = s->lfds[(size_t)t * s->naddrs + i];
                nl += (size_t)sprintf(names + nl, "%s%s", nl ? ":" : "",
                                      listen_name_of_options(&s->addrs[i]));
            }
    int ready = -1;
    pid_t pid = names ? upgrade_spawn(path, argv, fds, n, names, &ready, err, errlen) : -1;
    if (!names) snprintf(err, errlen, "out of memory");
    free(fds);
    free(names);
    if (pid < 0) return -1;
    if (loop_watch(s->workers[0]->loop, &s->upw, ready, EPOLLIN, upgrade_heard) < 0) {
        snprintf(err, errlen, "cannot watch the new program: %s", strerror(errno));
        close(ready); /* it serves beside this one, which goes on */
        return -1;
    }
    s->up_pid = pid;
    return pid;
}

void htd_server_free(htd_server *s)
{
    if (!s) return;
    if (s->on_signal) {
        loop_forget(s->workers[0]->loop, &s->sigw);
        close(s->sigw.fd);
    }
    if (s->workers)
        for (int t = 0; t < s->nthreads; t++)
            worker_free(s->workers[t]);
    if (s->lfds)
        for (size_t i = 0; i < s->naddrs * (size_t)s->nthreads; i++)
            if (s->lfds[i] >= 0) close(s->lfds[i]);
    jobs_free(s->ctx.jobs);
    registry_fini(&s->ctx.reg);
    free(s->workers);
    free(s->lfds);
    free(s->addrs);
    if (s->site) site_release(s->site);
    tls_shared_free(s->tls); /* after the workers: their connections used it */
    conf_close(s->conf);
    notify_close(&s->sd);
    if (s->ready_fd >= 0) close(s->ready_fd); /* never served: the old server goes on */
    if (s->upw.fd >= 0) {
        loop_forget(s->workers[0]->loop, &s->upw);
        close(s->upw.fd);
    }
    htd_mime_free(s->ctx.mime);
    counter_set_fini(&s->ctx.counters);
    free(s);
}

/* Settings read only at start: say so when a reload changes them. */
static int same_list(const char *const *a, size_t na, const char *const *b, size_t nb)
{
    if (na != nb) return 0;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0) return 0;
    return 1;
}

static void note_restart_only(const htd_config *now, const htd_config *next)
{
    int listen_same = same_list(now->listen, now->nlisten, next->listen, next->nlisten);
    int writable_same = same_list(now->writable, now->nwritable, next->writable, next->nwritable);
    const char *hn = now->real_ip_header ? now->real_ip_header : "",
               *hx = next->real_ip_header ? next->real_ip_header : "";
    const struct {
        const char *name;
        int same;
    } checks[] = {
        {"listen", listen_same},
        {"threads", now->threads == next->threads},
        {"header_timeout", now->header_timeout_ms == next->header_timeout_ms},
        {"body_timeout", now->body_timeout_ms == next->body_timeout_ms},
        {"idle_timeout", now->idle_timeout_ms == next->idle_timeout_ms},
        {"send_timeout", now->send_timeout_ms == next->send_timeout_ms},
        {"max_requests", now->max_requests == next->max_requests},
        {"writable", writable_same},
        {"max_upload", now->max_upload == next->max_upload},
        {"max_conns", now->max_conns == next->max_conns},
        {"max_conns_per_ip", now->max_conns_per_ip == next->max_conns_per_ip},
        {"ipv6_prefix", now->ipv6_prefix == next->ipv6_prefix},
        {"min_body_rate", now->min_body_rate == next->min_body_rate},
        {"min_body_window", now->min_body_window_ms == next->min_body_window_ms},
        {"memory_budget", now->memory_budget == next->memory_budget},
        {"trusted_proxies", same_list(now->trusted_proxies, now->ntrusted_proxies,
                                      next->trusted_proxies, next->ntrusted_proxies)},
        {"real_ip_header", strcasecmp(hn, hx) == 0},
        {"rate_limit_slots", now->rate_limit_slots == next->rate_limit_slots},
        {"tls ticket_rotate", now->tls_ticket_rotate_ms == next->tls_ticket_rotate_ms},
        {"error_log", strcmp(now->error_log ? now->error_log : "stderr",
                             next->error_log ? next->error_log : "stderr") == 0},
        {"error_log_level", strcmp(now->error_log_level ? now->error_log_level : "notice",
                                   next->error_log_level ? next->error_log_level : "notice") == 0},
    };
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
        if (!checks[i].same)
            errlog(ERRLOG_WARN, "htd: reload: %s changed; it takes effect when htd restarts",
                   checks[i].name);
}

/* Whether vh's writable areas are those of a vhost of st with its name. */
static int same_areas(const vhost *vh, const site *st)
{
    for (size_t k = 1; k < st->nvhosts; k++) {
        const vhost *o = &st->vhosts[k];
        if (!o->name || strcmp(o->name, vh->name) != 0) continue;
        return o->webdav == vh->webdav && o->max_upload == vh->max_upload &&
               strcmp(o->root, vh->root) == 0 &&
               same_list((const char *const *)o->writable, o->nwritable,
                         (const char *const *)vh->writable, vh->nwritable);
    }
    return 0;
}

/* The vhosts' writable areas are opened at start (store.c): a reload that
 * changes them says so. */
static void note_vhost_areas(const site *now, const site *next)
{
    size_t a = 0, b = 0;
    int same = 1;
    for (size_t k = 1; k < now->nvhosts; k++)
        a += now->vhosts[k].nwritable != 0;
    for (size_t k = 1; k < next->nvhosts; k++) {
        const vhost *vh = &next->vhosts[k];
        if (!vh->nwritable) continue;
        b++;
        if (!same_areas(vh, now)) {
            same = 0;
            errlog(ERRLOG_WARN,
                   "htd: reload: the writable areas of vhost %s changed; they take effect when "
                   "htd restarts",
                   vh->name);
        }
    }
    if (same && a != b)
        errlog(ERRLOG_WARN, "htd: reload: a vhost's writable areas changed; they take effect "
                            "when htd restarts");
}

static int reload(htd_server *s, char *err, size_t errlen);

/* RELOADING and READY around it, whether it succeeds or not: a failed
 * reload leaves the previous configuration serving. */
int htd_server_reload(htd_server *s, char *err, size_t errlen)
{
    notify_reloading(&s->sd);
    int rc = reload(s, err, errlen);
    notify_status(s, "READY=1");
    return rc;
}

static int reload(htd_server *s, char *err, size_t errlen)
{
    if (!s->given.config_file) {
        snprintf(err, errlen, "no config file to reload");
        return -1;
    }
    htd_config next = s->given;
    conf_file *f = conf_open(s->given.config_file, err, errlen);
    if (!f || conf_settings(f, &next, err, errlen) < 0) {
        conf_close(f);
        return -1;
    }
    fill_defaults(&next);
    /* Writable areas were opened under the root at start; a new root would
     * split writes from reads. */
    if (s->ctx.cfg.nwritable &&
        (!next.root || !s->ctx.cfg.root || strcmp(next.root, s->ctx.cfg.root) != 0)) {
        snprintf(err, errlen,
                 "%s: the top-level root cannot change by a reload while writable areas are "
                 "set; restart htd to change it",
                 s->given.config_file);
        conf_close(f);
        return -1;
    }
    site *st = site_build(&next, f, s->nthreads, err, errlen);
    if (st && tls_check(s, st, err, errlen) < 0) {
        site_free(st);
        st = NULL;
    }
    if (st) {
        note_restart_only(&s->ctx.cfg, &next);
        pthread_mutex_lock(&s->site_mu);
        note_vhost_areas(s->site, st);
        site_carry_health(st, s->site);
        pthread_mutex_unlock(&s->site_mu);
    }
    conf_close(f); /* the site keeps copies of what it needs */
    if (!st) return -1;

    pthread_mutex_lock(&s->site_mu);
    site *old = s->site;
    s->site = st;
    atomic_fetch_add(&s->site_gen, 1);
    pthread_mutex_unlock(&s->site_mu);
    site_release(old);
    atomic_fetch_add_explicit(&s->ctx.reloads, 1, memory_order_relaxed);
    /* Wake every loop, so that an idle one moves to the new site now and
     * lets the old one go. */
    for (int t = 0; t < s->nthreads; t++)
        worker_wake(s->workers[t]);
    return 0;
}

void htd_server_reopen_logs(htd_server *s)
{
    pthread_mutex_lock(&s->site_mu);
    log_reopen(s->site);
    pthread_mutex_unlock(&s->site_mu);
    char err[512];
    if (errlog_reopen(err, sizeof err) < 0) errlog(ERRLOG_ERROR, "htd: %s", err);
}

/* --check-config's warnings are its output, as its errors are: not the
 * error log's lines, with their times and levels. */
static void warn_to_stderr(void *arg, const char *line)
{
    (void)arg;
    fprintf(stderr, "htd: %s\n", line);
}

int htd_config_check(const char *file, char *err, size_t errlen)
{
    htd_config c = {.config_file = file};
    conf_file *f = conf_open(file, err, errlen);
    if (f) conf_on_warning(f, warn_to_stderr, NULL);
    if (!f || conf_settings(f, &c, err, errlen) < 0) {
        conf_close(f);
        return -1;
    }
    fill_defaults(&c);
    site *st = site_build(&c, f, 1, err, errlen);
    int rc = st ? 0 : -1;
    /* As htd_server_new would: a TLS listener needs certificates. */
    for (size_t i = 0; st && !st->tls && i < c.nlisten; i++) {
        listen_addr a;
        char why[256];
        if (listen_parse(c.listen[i], &a, why, sizeof why) == 0 && a.tls) {
            snprintf(err, errlen,
                     "%s: the TLS listener %s needs a certificate: tls = { cert = \"FILE\"; key = "
                     "\"FILE\"; }",
                     file, c.listen[i]);
            rc = -1;
            break;
        }
    }
    site_free(st);
    conf_close(f);
    return rc;
}
