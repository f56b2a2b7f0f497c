/*
 * server.h - the server as a whole: its configuration with defaults filled
 * in, the document root, MIME table, routes, listening addresses and the
 * worker loops. Read-only once htd_server_run or htd_server_start has
 * started the workers.
 */
#ifndef HTD_SERVER_H
#define HTD_SERVER_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "context.h"
#include "htd.h"

struct worker;

typedef struct route {
    char *prefix;
    size_t len;
    htd_handler_fn fn;
    void *arg;
    int phase; /* HTD_PHASE_* */
} route;

typedef struct listen_addr {
    struct sockaddr_storage ss;
    socklen_t sslen;
    char name[80]; /* "127.0.0.1:8080", "[::1]:8080" */
} listen_addr;

struct htd_server {
    server_ctx ctx;         /* what requests see: modules, settings, jobs, MIME */
    htd_config given;       /* as the embedding program gave it: reloads start again from it */
    struct conf_file *conf; /* the config file read at start, or NULL */
    route *routes;
    size_t nroutes;
    listen_addr *addrs;
    size_t naddrs;
    int *lfds; /* nthreads * naddrs listening sockets, SO_REUSEPORT */
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
};

/* A reference to the current site (site_release lets it go). */
site *server_site(htd_server *s);

/* Whether names is a good content_order: 0, or -1 with the reason in err. */
int server_content_order_check(const char *const *names, size_t n, char *err, size_t errlen);

/* Parses "HOST:PORT", "[V6]:PORT" or "PORT" into a; -1 with a reason. */
int server_parse_listen(const char *spec, listen_addr *a, char *err, size_t errlen);

#endif
