/* SPDX-License-Identifier: BSD-2-Clause */
/* test_loop.c - the reactor: watchers and their order, a watcher forgotten in
 * the middle of its batch, work for after the batch, timers with callbacks,
 * posts from another thread, per-loop slots, long works in pieces a turn
 * at a time within the turn's budget, in order. */
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "loop.h"
#include "test.h"

typedef struct probe {
    watcher w;
    int calls;
    int order;
} probe;

static int seq;
static loop *cur;

static void on_probe(watcher *w, uint32_t events)
{
    probe *p = (probe *)w;
    CHECK(events & EPOLLIN);
    p->calls++;
    p->order = ++seq;
}

static int ready_fd(void)
{
    int fd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC); /* readable at once */
    return fd;
}

TEST(first_watchers_run_before_the_rest_of_their_batch)
{
    loop *l = loop_new();
    CHECK(l != NULL);
    probe a = {0}, b = {0};
    seq = 0;
    int fa = ready_fd(), fb = ready_fd();
    CHECK_EQ_INT(loop_watch(l, &a.w, fa, EPOLLIN, on_probe), 0);
    b.w.first = 1;
    CHECK_EQ_INT(loop_watch(l, &b.w, fb, EPOLLIN, on_probe), 0);
    CHECK_EQ_INT(loop_run_once(l, 1000), 2);
    CHECK_EQ_INT(b.order, 1);
    CHECK_EQ_INT(a.order, 2);
    loop_unwatch(l, &a.w);
    loop_unwatch(l, &b.w);
    close(fa);
    close(fb);
    loop_free(l);
}

static probe *pair[2];

static void on_pair(watcher *w, uint32_t events)
{
    (void)events;
    probe *p = (probe *)w;
    p->calls++;
    loop_forget(cur, &pair[p == pair[0]]->w); /* the other one */
}

TEST(a_watcher_forgotten_during_its_batch_gets_no_callback)
{
    loop *l = loop_new();
    cur = l;
    probe a = {0}, b = {0};
    pair[0] = &a;
    pair[1] = &b;
    int fa = ready_fd(), fb = ready_fd();
    loop_watch(l, &a.w, fa, EPOLLIN, on_pair);
    loop_watch(l, &b.w, fb, EPOLLIN, on_pair);
    CHECK_EQ_INT(loop_run_once(l, 1000), 2); /* both were reported */
    CHECK_EQ_INT(a.calls + b.calls, 1);      /* the first forgot the second */
    close(fa);
    close(fb);
    loop_free(l);
}

static int later_runs;
static void count_later(void *arg)
{
    int *n = arg;
    (*n)++;
    if (*n == 1) loop_later(cur, count_later, arg); /* leaves more: runs in the same pass */
}

TEST(work_left_for_after_the_batch_runs_once_then_is_gone)
{
    loop *l = loop_new();
    cur = l;
    later_runs = 0;
    CHECK_EQ_INT(loop_later(l, count_later, &later_runs), 0);
    CHECK_EQ_INT(loop_timeout(l), 0); /* pending work: no waiting */
    loop_run_once(l, 1000);
    CHECK_EQ_INT(later_runs, 2);
    loop_run_once(l, 0);
    CHECK_EQ_INT(later_runs, 2);
    loop_free(l);
}

static int fired;
static void on_fire(htd_timer *t)
{
    htd_timer_disarm(t);
    fired++;
}

TEST(timers_fire_their_lists_callback_when_due)
{
    loop *l = loop_new();
    htd_timer_list *tl = loop_timers(l, 20, on_fire);
    CHECK(tl != NULL);
    htd_timer t = {0};
    fired = 0;
    CHECK_EQ_INT(loop_timeout(l), -1);
    htd_timer_arm(tl, &t, loop_now(l));
    int wait = loop_timeout(l);
    CHECK(wait >= 0 && wait <= 20);
    for (int i = 0; i < 100 && !fired; i++)
        loop_run_once(l, 50);
    CHECK_EQ_INT(fired, 1);
    CHECK(t.next == NULL);
    loop_free(l);
}

typedef struct tpost {
    posted post;
    pthread_t ran_on;
    int ran;
} tpost;

static void on_post(posted *p)
{
    tpost *t = (tpost *)p;
    t->ran_on = pthread_self();
    t->ran++;
}

typedef struct poster {
    loop *l;
    tpost *posts;
    int n;
} poster;

static void *post_all(void *arg)
{
    poster *ps = arg;
    for (int i = 0; i < ps->n; i++) {
        ps->posts[i].post.fn = on_post;
        loop_post(ps->l, &ps->posts[i].post);
    }
    return NULL;
}

TEST(posts_from_another_thread_run_on_the_loops_thread_once_each)
{
    loop *l = loop_new();
    enum { N = 3000 };
    tpost *posts = calloc(N, sizeof *posts);
    poster ps = {l, posts, N};
    pthread_t th;
    pthread_create(&th, NULL, post_all, &ps);
    int done = 0;
    for (int spins = 0; spins < 10000 && done < N; spins++) {
        loop_run_once(l, 100);
        done = 0;
        for (int i = 0; i < N; i++)
            done += posts[i].ran;
    }
    pthread_join(th, NULL);
    loop_run_once(l, 0);
    CHECK_EQ_INT(done, N);
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(posts[i].ran, 1);
        CHECK(pthread_equal(posts[i].ran_on, pthread_self()));
    }
    free(posts);
    loop_free(l);
}

/* Long works: each piece takes 600 us, then queues the next, 4 pieces. */
typedef struct work {
    soon s;
    int id, pieces;
} work;

static int ran[64], nran, turn_of[64], turn_no;
static loop *soon_loop;

static void piece(soon *s)
{
    work *w = (work *)s;
    uint64_t t0 = loop_turn_us(soon_loop);
    while (loop_turn_us(soon_loop) - t0 < 600) {
    }
    if (nran < 64) {
        turn_of[nran] = turn_no;
        ran[nran++] = w->id;
    }
    if (++w->pieces < 4) loop_soon(soon_loop, s, piece);
}

TEST(long_works_go_a_piece_at_a_time_in_turn_and_within_the_budget)
{
    soon_loop = loop_new();
    work w[3] = {{.id = 0}, {.id = 1}, {.id = 2}}, gone = {.id = 9};
    for (int i = 0; i < 3; i++)
        loop_soon(soon_loop, &w[i].s, piece);
    loop_soon(soon_loop, &w[0].s, piece); /* queued already: nothing more */
    loop_soon(soon_loop, &gone.s, piece);
    loop_soon_cancel(&gone.s);                /* its owner went: it never runs */
    CHECK_EQ_INT(loop_timeout(soon_loop), 0); /* the loop does not wait with work queued */
    for (turn_no = 0; turn_no < 20 && nran < 12; turn_no++)
        loop_run_once(soon_loop, 1000);
    CHECK_EQ_INT(nran, 12);
    for (int i = 0; i < nran; i++) {
        CHECK_EQ_INT(ran[i], i % 3); /* in turn, whatever a turn could hold */
        /* A turn stops once its budget (1000 us) is spent: at most two
         * pieces of 600 us, and never the same work twice. */
        if (i >= 2) CHECK(!(turn_of[i] == turn_of[i - 1] && turn_of[i] == turn_of[i - 2]));
    }
    CHECK_EQ_INT(gone.pieces, 0);
    CHECK(loop_timeout(soon_loop) != 0); /* nothing queued: it may wait again */
    loop_free(soon_loop);
}

TEST(each_key_has_its_own_slot)
{
    loop *l = loop_new();
    static int k1, k2;
    void **a = loop_local(l, &k1), **b = loop_local(l, &k2);
    CHECK(a && b && a != b);
    CHECK(*a == NULL);
    *a = &k1;
    CHECK(loop_local(l, &k1) == a);
    CHECK(*loop_local(l, &k1) == &k1);
    loop_free(l);
}

int main(void)
{
    RUN_TESTS();
}
