/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * jobs.h - a small pool of threads for work an event loop must never wait
 * on: what may block on the disk (the store's writes, fsync, rename,
 * unlink), what is slow on purpose (password checks) and what is slow by
 * its size (directory listings).
 *
 * A loop submits a job with two functions: `work` runs on a pool thread,
 * `done` runs back on the loop that submitted it, as a post (loop.h). A job
 * is owned by its submitter from submission to `done`; the pool only moves
 * it between queues.
 */
#ifndef HTD_JOBS_H
#define HTD_JOBS_H

#include <pthread.h>
#include <stddef.h>

#include "loop.h"

typedef struct htd_job htd_job;
typedef void (*job_fn)(htd_job *j);

struct htd_job {
    htd_job *next; /* private: queue link */
    job_fn work;   /* on a pool thread */
    job_fn done;   /* on the submitting loop, after work */
    loop *loop;    /* the submitting loop */
    posted post;   /* private: the way back */
};

typedef struct jobs jobs;

/* A pool of nthreads threads, started with the first job. NULL when out of
 * memory. */
jobs *jobs_new(int nthreads);
/* Finishes the queued jobs, then stops the threads. Their `done` functions
 * run when the loops next turn (or never, if no loop turns again). */
void jobs_free(jobs *p);
void jobs_submit(jobs *p, htd_job *j);
/* How many jobs wait for a thread now (for monitoring). */
size_t jobs_queued(jobs *p);

#endif
