/* SPDX-License-Identifier: BSD-2-Clause */
/* test_jobs.c - the job pool: every job's work runs on a pool thread,
 * then its done runs on the reaping thread, exactly once, none lost. */
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "jobs.h"
#include "test.h"

typedef struct tjob {
    htd_job job; /* first, so a job pointer is a tjob pointer */
    int id;
    int worked, finished;
    pthread_t work_thread;
} tjob;

static atomic_int works;
static int dones;
static pthread_t main_thread;

static void work(htd_job *j)
{
    tjob *t = (tjob *)j;
    t->worked++;
    t->work_thread = pthread_self();
    atomic_fetch_add(&works, 1);
}

static void done(htd_job *j)
{
    tjob *t = (tjob *)j;
    CHECK(t->worked == 1);
    CHECK(pthread_equal(pthread_self(), main_thread));
    CHECK(!pthread_equal(t->work_thread, main_thread));
    t->finished++;
    dones++;
}

static void reap_until(loop *l, int want)
{
    for (int spins = 0; dones < want && spins < 10000; spins++)
        loop_run_once(l, 100);
}

TEST(every_job_runs_work_then_done_once)
{
    main_thread = pthread_self();
    enum { N = 5000 };
    tjob *t = calloc(N, sizeof *t);
    jobs *p = jobs_new(4);
    loop *l = loop_new();
    CHECK(p != NULL);
    CHECK(l != NULL);
    for (int i = 0; i < N; i++) {
        t[i] = (tjob){.job = {.work = work, .done = done, .loop = l}, .id = i};
        jobs_submit(p, &t[i].job);
    }
    reap_until(l, N);
    CHECK_EQ_INT(dones, N);
    CHECK_EQ_INT(atomic_load(&works), N);
    for (int i = 0; i < N; i++)
        CHECK(t[i].finished == 1);
    jobs_free(p);
    loop_free(l);
    free(t);
}

TEST(stopping_the_pool_finishes_queued_jobs)
{
    main_thread = pthread_self();
    dones = 0;
    atomic_store(&works, 0);
    enum { N = 200 };
    tjob *t = calloc(N, sizeof *t);
    jobs *p = jobs_new(2);
    loop *l = loop_new();
    for (int i = 0; i < N; i++) {
        t[i] = (tjob){.job = {.work = work, .done = done, .loop = l}, .id = i};
        jobs_submit(p, &t[i].job);
    }
    jobs_free(p); /* joins after the queue is empty */
    CHECK_EQ_INT(atomic_load(&works), N);
    loop_run_once(l, 0);
    CHECK_EQ_INT(dones, N);
    loop_free(l);
    free(t);
}

int main(void)
{
    RUN_TESTS();
}
