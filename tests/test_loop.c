/* SPDX-License-Identifier: BSD-2-Clause */
/* test_loop.c - the reactor: watchers and their order, a watcher forgotten in
 * the middle of its batch, work for after the batch, timers with callbacks,
 * posts from another thread, per-loop slots. */
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
