/* SPDX-License-Identifier: BSD-2-Clause */
/* test_queue_writer.c - the job store's writer thread: operations applied in
 * order, handed back on their loop after the commit, and grouped into few
 * commits when they come together. */
#include "queue_writer.h"

#include <stdlib.h>
#include <unistd.h>

#include "state_db.h"
#include "test.h"

typedef struct put {
    qw_op op;
    char id[QJOB_ID_LEN + 1];
    int seq;
    int *order; /* where done records the order it ran in */
    int *ndone;
} put;

static int put_apply(qstore *s, qw_op *op)
{
    put *p = (put *)op;
    qjob_req r = {.queue = "/q/",
                  .method = "POST",
                  .target = "/q/",
                  .client = "::1",
                  .headers = "",
                  .body = "b",
                  .body_len = 1};
    return s->ops->enqueue(s, &r, 1000 + p->seq, 0, p->id);
}

static void put_done(qw_op *op)
{
    put *p = (put *)op;
    p->order[__atomic_fetch_add(p->ndone, 1, __ATOMIC_ACQ_REL)] = p->seq;
}

/* Submits n puts and waits for them; done runs on l when given, else on the
 * writer thread. */
static void put_many(qwriter *w, loop *l, put *ps, int n, int *order, int *ndone)
{
    for (int i = 0; i < n; i++) {
        ps[i] = (put){.op = {.apply = put_apply, .done = put_done, .loop = l},
                      .seq = i,
                      .order = order,
                      .ndone = ndone};
        qjob_new_id(ps[i].id);
        qwriter_submit(w, &ps[i].op);
    }
    for (int spins = 0; spins < 1000; spins++) {
        if (l)
            loop_run_once(l, 50);
        else
            usleep(10000);
        if (__atomic_load_n(ndone, __ATOMIC_ACQUIRE) == n) break;
    }
}

TEST(operations_come_back_on_their_loop_in_order_after_the_commit)
{
    qstore *s = open_fresh();
    if (!s) return;
    char err[256];
    qwriter *w = qwriter_new(s, 1, err, sizeof err);
    CHECK(w != NULL);
    if (!w) return;
    loop *l = loop_new();
    enum { N = 200 };
    static put ps[N];
    static int order[N];
    int ndone = 0;
    put_many(w, l, ps, N, order, &ndone);
    CHECK_EQ_INT(ndone, N);
    int in_order = 1, all_ok = 1;
    for (int i = 0; i < N; i++) {
        in_order &= order[i] == i;
        all_ok &= ps[i].op.rc == QS_OK;
    }
    CHECK(in_order);
    CHECK(all_ok);
    qwriter_stats st;
    qwriter_get_stats(w, &st);
    CHECK_EQ_INT(st.ops, N);
    CHECK_EQ_INT(st.failed, 0);
    /* Submitted together, they share commits: each commit is an fsync of
     * the log that takes far longer than submitting the rest. */
    CHECK(st.commits >= 1 && st.commits < N / 2);
    qwriter_free(w);
    loop_free(l);

    /* What was acknowledged is in the database. */
    s = qstore_sqlite_open(db_path, err, sizeof err);
    CHECK(s != NULL);
    if (s) {
        unsigned n = 0;
        CHECK_EQ_INT(s->ops->count_queued(s, "/q/", &n), QS_OK);
        CHECK_EQ_INT(n, N);
        s->ops->close(s);
    }
    remove_fresh();
}

TEST(without_grouping_each_operation_commits_alone)
{
    qstore *s = open_fresh();
    if (!s) return;
    char err[256];
    qwriter *w = qwriter_new(s, 0, err, sizeof err);
    CHECK(w != NULL);
    if (!w) return;
    enum { N = 20 };
    static put ps[N];
    static int order[N];
    int ndone = 0;
    put_many(w, NULL, ps, N, order, &ndone);
    CHECK_EQ_INT(__atomic_load_n(&ndone, __ATOMIC_ACQUIRE), N);
    qwriter_stats st;
    qwriter_get_stats(w, &st);
    CHECK_EQ_INT(st.ops, N);
    CHECK_EQ_INT(st.commits, N);
    qwriter_free(w);
    remove_fresh();
}

static int get_apply(qstore *s, qw_op *op)
{
    put *p = (put *)op;
    qjob j;
    int rc = s->ops->get(s, p->id, &j);
    if (rc == QS_OK) qjob_clear(&j);
    return rc;
}

TEST(a_failed_operation_fails_alone_and_the_others_commit)
{
    qstore *s = open_fresh();
    if (!s) return;
    char err[256];
    qwriter *w = qwriter_new(s, 1, err, sizeof err);
    if (!w) return;
    static put ps[3];
    static int order[3];
    int ndone = 0;
    put_many(w, NULL, ps, 2, order, &ndone);
    /* A read of a job that is not there: QS_NOTFOUND for it alone. */
    ps[2] = (put){
        .op = {.apply = get_apply, .done = put_done}, .seq = 2, .order = order, .ndone = &ndone};
    snprintf(ps[2].id, sizeof ps[2].id, "not-a-job");
    qwriter_submit(w, &ps[2].op);
    for (int spins = 0; spins < 500 && __atomic_load_n(&ndone, __ATOMIC_ACQUIRE) < 3; spins++)
        usleep(10000);
    CHECK_EQ_INT(ps[0].op.rc, QS_OK);
    CHECK_EQ_INT(ps[1].op.rc, QS_OK);
    CHECK_EQ_INT(ps[2].op.rc, QS_NOTFOUND);
    qwriter_free(w);
    remove_fresh();
}

int main(void)
{
    RUN_TESTS();
}
