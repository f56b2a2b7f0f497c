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

#include "htd.h"
#include "mime.h"
#include "module.h"
#include "site.h"

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
    registry reg;           /* the modules */
    htd_config cfg;         /* defaults filled in */
    htd_config given;       /* as the embedding program gave it: reloads start again from it */
    struct conf_file *conf; /* the config file read at start, or NULL */
    char *root;             /* absolute path, or NULL */
    int root_fd;            /* O_PATH directory fd, or -1 */
    htd_mime *mime;
    route *routes;
    size_t nroutes;
    listen_addr *addrs;
    size_t naddrs;
    int *lfds; /* nthreads * naddrs listening sockets, SO_REUSEPORT */
    int nthreads;
    struct worker **workers;
    char **writable;        /* normalised writable path prefixes */
    uint64_t *writable_max; /* each area's upload limit, or 0 for cfg.max_upload */
    int *writable_fd;       /* each area's directory (O_PATH), or -1 */
    size_t nwritable;
    struct jobs *jobs;         /* the job pool: uploads, password checks, listings */
    pthread_mutex_t commit_mu; /* see store.c: precondition checks and renames */
    atomic_ulong tmp_seq;      /* temporary file names */
    atomic_uint cgi_running;   /* scripts started and not yet reaped, for cfg.cgi_max */
    site *site;                /* the current site, under site_mu */
    pthread_mutex_t site_mu;
    atomic_uint site_gen; /* bumped when site changes; loops compare it without the lock */
    volatile sig_atomic_t stop_requested;
    /* Whether the workers have not started, run, or have all finished; the
     * threads started are those of workers 1..nstarted-1 (0 is the caller's). */
    enum { SERVER_NEW, SERVER_RUNNING, SERVER_DONE } phase;
    int nstarted;
};

/* Whether names is a good content_order: 0, or -1 with the reason in err. */
/* A reference to the current site (site_release lets it go). */
site *server_site(htd_server *s);

int server_content_order_check(const char *const *names, size_t n, char *err, size_t errlen);

/* Parses "HOST:PORT", "[V6]:PORT" or "PORT" into a; -1 with a reason. */
int server_parse_listen(const char *spec, listen_addr *a, char *err, size_t errlen);

#endif
