/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * queue_run.h - the queues at run time, shared by the module that takes
 * requests (queue.c) and the processor threads that run the jobs
 * (queue_run.c).
 *
 * Threads: the event loops submit to the writer (queue_writer.h) and never
 * wait; each queue's processors lease a job through the writer, run it (a
 * command, or the program's handler), and record the outcome through the
 * writer, waiting for each of those as they may. A job that ends wakes the
 * requests waiting on its monitor (Prefer: wait) through queue_finished.
 */
#ifndef HTD_QUEUE_RUN_H
#define HTD_QUEUE_RUN_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "htd.h"
#include "queue_store.h"
#include "queue_writer.h"
#include "site.h"

typedef struct qsrv qsrv;

/* A queue: its settings (the site's at start), its processor, its threads. */
typedef struct qrt {
    qsrv *srv;
    queue_spec spec; /* strings owned */
    char *vhost;     /* the first name of its vhost, NULL for the top-level server */
    char *root;      /* its vhost's root: the command's directory ("" for none) */
    htd_job_fn fn;   /* the program's handler, if no command */
    void *arg;
    pthread_t *threads;
    unsigned nthreads;
    pid_t *running; /* each thread's command, or 0; under srv->mu */
    int kick;       /* a job was queued: under srv->mu */
} qrt;

#define QUEUES_MAX 256

struct qsrv {
    qwriter *w;
    qrt *q[QUEUES_MAX]; /* made at start and by htd_server_queue, before the server runs */
    size_t nq;
    struct statedb *db; /* the server's (statedb.h); w is its writer once open */
    char *jobs_path;    /* "/.jobs/" */
    size_t jobs_path_len;
    unsigned send_timeout_ms;
    pthread_mutex_t mu; /* stopping, kicks, running pids */
    pthread_cond_t cv;
    int stopping;
    pthread_t keeper; /* expires finished jobs */
    int keeper_started;
    pthread_mutex_t wmu; /* the monitors waiting for their job (queue.c) */
    struct qreq *waiters;
};

/* The queue named name, or NULL. */
qrt *queue_find(qsrv *s, const char *name);

/* Starts q's processor threads (its command's or handler's). 0 or -1. */
int queue_run_start(qrt *q, char *err, size_t errlen);
/* Starts the thread that expires finished jobs. */
int queue_keeper_start(qsrv *s, char *err, size_t errlen);
/* Wakes a processor of q: a job was queued. */
void queue_kick(qrt *q);
/* Stops every thread: running commands are killed (their jobs run again
 * at the next start, as after a crash). */
void queue_run_stop(qsrv *s);
/* The job id has ended (done, failed, cancelled): its waiting monitors
 * answer now. Any thread. */
void queue_finished(qsrv *s, const char *id);

#endif
