/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * jobs.c - the thread pool; see jobs.h. One mutex and condition variable
 * guard the shared queue; finished jobs go back to their loop as posts.
 */
#include "jobs.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#define POOL_NICE 10

struct jobs {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    htd_job *head, *tail;
    size_t queued; /* jobs from head to tail */
    int stopping;
    int nthreads; /* started */
    int max;      /* to start, with the first job */
    pthread_t threads[];
};

static void job_done(posted *p)
{
    htd_job *j = (htd_job *)((char *)p - offsetof(htd_job, post));
    j->done(j);
}

static void *worker(void *arg)
{
    jobs *p = arg;
    /* Below the event loops in CPU priority (a thread's nice value is its
     * own on Linux): a burst of password hashing must not delay the loops'
     * answers. Failure only leaves the thread at the normal priority. */
    setpriority(PRIO_PROCESS, (id_t)gettid(), POOL_NICE);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        htd_job *j = p->head;
        if (!j) break; /* stopping, and nothing left */
        p->head = j->next;
        if (!p->head) p->tail = NULL;
        p->queued--;
        pthread_mutex_unlock(&p->mu);
        j->work(j);
        j->post.fn = job_done;
        loop_post(j->loop, &j->post);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

jobs *jobs_new(int nthreads)
{
    jobs *p = calloc(1, sizeof *p + (size_t)nthreads * sizeof(pthread_t));
    if (!p) return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->max = nthreads;
    return p;
}

/* The threads, with the first job (under p->mu): a server that never has
 * one (static files alone) stays one process of one thread per worker,
 * and the kernel takes its fast paths for a process whose descriptor table
 * no other thread shares. 0, or -1 if none could start. */
static int start_threads(jobs *p)
{
    /* Signals are for the program's own thread, never a pool thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    while (p->nthreads < p->max && pthread_create(&p->threads[p->nthreads], NULL, worker, p) == 0)
        p->nthreads++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return p->nthreads ? 0 : -1;
}

void jobs_free(jobs *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void jobs_submit(jobs *p, htd_job *j)
{
    j->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (!p->nthreads && start_threads(p) < 0) {
        /* No thread to run it: it runs here, late but not lost. */
        pthread_mutex_unlock(&p->mu);
        j->work(j);
        j->post.fn = job_done;
        loop_post(j->loop, &j->post);
        return;
    }
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    p->queued++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

size_t jobs_queued(jobs *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->queued;
    pthread_mutex_unlock(&p->mu);
    return n;
}
