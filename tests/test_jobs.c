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

static void reap_until(job_return *r, int want)
{
    for (int spins = 0; dones < want && spins < 10000; spins++) {
        struct pollfd pfd = {.fd = r->efd, .events = POLLIN};
        poll(&pfd, 1, 100);
        job_return_reap(r);
    }
}

TEST(every_job_runs_work_then_done_once)
{
    main_thread = pthread_self();
    enum { N = 5000 };
    tjob *t = calloc(N, sizeof *t);
    jobs *p = jobs_new(4);
    job_return r;
    CHECK(p != NULL);
    CHECK_EQ_INT(job_return_init(&r), 0);
    for (int i = 0; i < N; i++) {
        t[i] = (tjob){.job = {.work = work, .done = done, .ret = &r}, .id = i};
        jobs_submit(p, &t[i].job);
    }
    reap_until(&r, N);
    CHECK_EQ_INT(dones, N);
    CHECK_EQ_INT(atomic_load(&works), N);
    for (int i = 0; i < N; i++) CHECK(t[i].finished == 1);
    jobs_free(p);
    job_return_destroy(&r);
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
    job_return r;
    job_return_init(&r);
    for (int i = 0; i < N; i++) {
        t[i] = (tjob){.job = {.work = work, .done = done, .ret = &r}, .id = i};
        jobs_submit(p, &t[i].job);
    }
    jobs_free(p); /* joins after the queue is empty */
    CHECK_EQ_INT(atomic_load(&works), N);
    job_return_reap(&r);
    CHECK_EQ_INT(dones, N);
    job_return_destroy(&r);
    free(t);
}

int main(void)
{
    RUN_TESTS();
}
