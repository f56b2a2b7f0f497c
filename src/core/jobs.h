/*
 * jobs.h - a small pool of threads for work an event loop must never wait
 * on: what may block on the disk (the store's writes, fsync, rename,
 * unlink), what is slow on purpose (password checks) and what is slow by
 * its size (directory listings).
 *
 * A loop submits a job with two functions: `work` runs on a pool thread,
 * `done` runs back on the loop that submitted it, which learns of finished
 * jobs through an eventfd in its epoll set. A job is owned by its submitter
 * from submission to `done`; the pool only moves it between queues.
 */
#ifndef HTD_JOBS_H
#define HTD_JOBS_H

#include <pthread.h>

typedef struct htd_job htd_job;
typedef struct job_return job_return;
typedef void (*job_fn)(htd_job *j);

struct htd_job {
    htd_job *next;   /* private: queue link */
    job_fn work;     /* on a pool thread */
    job_fn done;     /* on the submitting loop, after work */
    job_return *ret; /* the submitting loop's return queue */
};

/* Finished jobs on their way back to one loop. */
struct job_return {
    int efd; /* readable when jobs are waiting; the loop watches it */
    pthread_mutex_t mu;
    htd_job *head, *tail;
};

typedef struct jobs jobs;

/* Starts nthreads pool threads. NULL on failure. */
jobs *jobs_new(int nthreads);
/* Finishes the queued jobs, then stops the threads. Their `done` functions
 * run when the loops next reap (or never, if no loop reaps again). */
void jobs_free(jobs *p);
void jobs_submit(jobs *p, htd_job *j);

int job_return_init(job_return *r);
void job_return_destroy(job_return *r);
/* On the loop: runs `done` for every job finished so far. */
void job_return_reap(job_return *r);

#endif
