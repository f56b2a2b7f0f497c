/*
 * jobs.c - the job pool; see jobs.h. One mutex and condition variable
 * guard the shared queue; each loop's return queue has a mutex of its own and
 * an eventfd that is written once per batch of returns, not once per job.
 */
#include "jobs.h"

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#define POOL_NICE 10

struct jobs {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    htd_job *head, *tail;
    int stopping;
    int nthreads;
    pthread_t threads[];
};

static void give_back(htd_job *j)
{
    job_return *r = j->ret;
    j->next = NULL;
    pthread_mutex_lock(&r->mu);
    int was_empty = r->head == NULL;
    if (r->tail) r->tail->next = j;
    else r->head = j;
    r->tail = j;
    pthread_mutex_unlock(&r->mu);
    if (was_empty) {
        uint64_t one = 1;
        ssize_t n = write(r->efd, &one, sizeof one);
        (void)n; /* the counter cannot overflow: it is read on every reap */
    }
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
        while (!p->head && !p->stopping) pthread_cond_wait(&p->cv, &p->mu);
        htd_job *j = p->head;
        if (!j) break; /* stopping, and nothing left */
        p->head = j->next;
        if (!p->head) p->tail = NULL;
        pthread_mutex_unlock(&p->mu);
        j->work(j);
        give_back(j);
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
    /* Signals are for the program's own thread, never a pool thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0) break;
        p->nthreads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (p->nthreads == 0) {
        jobs_free(p);
        return NULL;
    }
    return p;
}

void jobs_free(jobs *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void jobs_submit(jobs *p, htd_job *j)
{
    j->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->tail) p->tail->next = j;
    else p->head = j;
    p->tail = j;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

int job_return_init(job_return *r)
{
    r->head = r->tail = NULL;
    r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->efd < 0) return -1;
    pthread_mutex_init(&r->mu, NULL);
    return 0;
}

void job_return_destroy(job_return *r)
{
    if (r->efd < 0) return;
    close(r->efd);
    r->efd = -1;
    pthread_mutex_destroy(&r->mu);
}

void job_return_reap(job_return *r)
{
    uint64_t v;
    ssize_t n = read(r->efd, &v, sizeof v);
    (void)n;
    pthread_mutex_lock(&r->mu);
    htd_job *j = r->head;
    r->head = r->tail = NULL;
    pthread_mutex_unlock(&r->mu);
    while (j) {
        htd_job *next = j->next;
        j->done(j);
        j = next;
    }
}
