/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * async.c - a handler that answers from a thread of the program's own:
 * GET /slow?MS sleeps MS milliseconds (at most 5000) on one of the
 * program's worker threads, as a slow database call would, and answers
 * "slept MS ms on thread N"; the worker loop goes on serving other requests
 * meanwhile. Every other path is a static file from ROOT.
 *
 *   build/examples/async ROOT HOST:PORT [THREADS]
 *
 * The handler returns HTD_AGAIN after queueing the job; the program's
 * thread calls htd_req_resume, whose callback runs on the request's worker
 * and answers. The callback also runs when the client has gone, so the job
 * is always freed there.
 *
 * Before it, an access handler asks the same threads whether the request
 * may go on, as a check against a database would: /slow?403 is refused
 * with 403; every other request goes on to /slow's handler.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "htd.h"

#define POOL_THREADS 8

typedef struct job {
    struct job *next;
    htd_req *req;
    long ms;
    int check;  /* an access check, not a sleep */
    int thread; /* which of the program's threads slept */
} job;

static htd_server *server;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static job *head, *tail;
static int stopping;

static void on_signal(int sig)
{
    (void)sig;
    htd_server_stop(server);
}

/* On the request's worker thread: answer, then let the job go. */
static void answer(htd_req *req, void *arg)
{
    job *j = arg;
    char body[96];
    int n = snprintf(body, sizeof body, "slept %ld ms on thread %d\n", j->ms, j->thread);
    htd_respond(req, 200, "text/plain; charset=utf-8", body, (size_t)n); /* -1 if the client went */
    free(j);
}

/* On the request's worker: refuse, or answer nothing to let it go on. */
static void checked(htd_req *req, void *arg)
{
    job *j = arg;
    if (j->ms == 403) {
        static const char msg[] = "refused by the check\n";
        htd_respond(req, 403, "text/plain; charset=utf-8", msg, sizeof msg - 1);
    }
    free(j);
}

/* One of the program's threads: slow work, then the answer goes back. */
static void *pool_thread(void *arg)
{
    int id = (int)(long)arg;
    for (;;) {
        pthread_mutex_lock(&mu);
        while (!head && !stopping)
            pthread_cond_wait(&cv, &mu);
        job *j = head;
        if (j) {
            head = j->next;
            if (!head) tail = NULL;
        }
        pthread_mutex_unlock(&mu);
        if (!j) return NULL;
        struct timespec ts = {j->ms / 1000, (j->ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        j->thread = id;
        htd_req_resume(j->req, j->check ? checked : answer, j);
    }
}

static void enqueue(job *j)
{
    pthread_mutex_lock(&mu);
    if (tail)
        tail->next = j;
    else
        head = j;
    tail = j;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}

/* The access phase: the check is the program's threads' to make. */
static int check(htd_req *req, void *arg)
{
    (void)arg;
    htd_str q = htd_req_query(req);
    job *j = calloc(1, sizeof *j);
    if (!j) return HTD_DECLINED;
    j->req = req;
    j->check = 1;
    j->ms = q.len == 3 && memcmp(q.p, "403", 3) == 0 ? 403 : 0;
    enqueue(j);
    return HTD_AGAIN;
}

static int slow(htd_req *req, void *arg)
{
    (void)arg;
    htd_str m = htd_req_method(req), q = htd_req_query(req);
    if (!(m.len == 3 && memcmp(m.p, "GET", 3) == 0)) return HTD_DECLINED;
    char num[16] = "0";
    if (q.len && q.len < sizeof num) {
        memcpy(num, q.p, q.len);
        num[q.len] = 0;
    }
    long ms = strtol(num, NULL, 10);
    if (ms < 0 || ms > 5000) {
        static const char bad[] = "MS must be 0 to 5000\n";
        htd_respond(req, 400, "text/plain; charset=utf-8", bad, sizeof bad - 1);
        return HTD_DONE;
    }
    job *j = calloc(1, sizeof *j);
    if (!j) return HTD_DECLINED;
    j->req = req;
    j->ms = ms;
    enqueue(j);
    return HTD_AGAIN; /* answered by `answer`, once the job is done */
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s ROOT HOST:PORT [THREADS]\n", argv[0]);
        return 2;
    }
    const char *listen[] = {argv[2]};
    htd_config cfg = {
        .root = argv[1], .listen = listen, .nlisten = 1, .threads = argc == 4 ? atoi(argv[3]) : 1};
    char err[256];
    if (!(server = htd_server_new(&cfg, err, sizeof err))) {
        fprintf(stderr, "async: %s\n", err);
        return 2;
    }
    htd_server_handle_phase(server, HTD_PHASE_ACCESS, "/slow", check, NULL);
    htd_server_handle(server, "/slow", slow, NULL);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    pthread_t pool[POOL_THREADS];
    for (long i = 0; i < POOL_THREADS; i++)
        pthread_create(&pool[i], NULL, pool_thread, (void *)i);
    printf("htd " HTD_VERSION " serving %s at http://%s/\n", argv[1],
           htd_server_address(server, 0));
    fflush(stdout);
    int rc = htd_server_run(server); /* returns once every request is answered */
    pthread_mutex_lock(&mu);
    stopping = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < POOL_THREADS; i++)
        pthread_join(pool[i], NULL);
    htd_server_free(server);
    return rc == 0 ? 0 : 1;
}
