/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_counters.c - counters.h: a block's slots added to and taken from,
 * the set's sums over the blocks that joined it, and a block leaving (or
 * never having joined) it; a reader thread summing while two owners count
 * sees every count once the owners are done.
 */
#include "counters.h"
#include "test.h"

#include <pthread.h>
#include <string.h>

TEST(sums_add_each_slot_over_the_blocks_in_the_set)
{
    counter_set s;
    counter_set_init(&s);
    counters a = {0}, b = {0}, never = {0};
    counters_join(&s, &a);
    counters_join(&s, &b);
    counter_add(&a, 0, 5);
    counter_add(&b, 0, 7);
    counter_add(&a, 3, 2);
    counter_sub(&a, 3, 1);
    counter_add(&never, 0, 100);
    uint64_t out[COUNTERS_MAX];
    counters_sum(&s, out);
    CHECK_EQ_INT(out[0], 12);
    CHECK_EQ_INT(out[3], 1);
    CHECK_EQ_INT(out[1], 0);
    CHECK_EQ_INT(counter_read(&a, 0), 5);
    counters_leave(&s, &a);
    counters_leave(&s, &never); /* not in it: nothing */
    counters_sum(&s, out);
    CHECK_EQ_INT(out[0], 7);
    CHECK_EQ_INT(out[3], 0);
    counters_leave(&s, &b);
    counters_sum(&s, out);
    CHECK_EQ_INT(out[0], 0);
    counter_set_fini(&s);
}

#define ROUNDS 200000

static void *count(void *arg)
{
    counters *k = arg;
    for (int i = 0; i < ROUNDS; i++) {
        counter_add(k, 1, 1);
        counter_add(k, 2, 3);
    }
    return NULL;
}

TEST(a_reader_sums_while_the_owners_count)
{
    counter_set s;
    counter_set_init(&s);
    counters a = {0}, b = {0};
    counters_join(&s, &a);
    counters_join(&s, &b);
    pthread_t ta, tb;
    CHECK_EQ_INT(pthread_create(&ta, NULL, count, &a), 0);
    CHECK_EQ_INT(pthread_create(&tb, NULL, count, &b), 0);
    uint64_t out[COUNTERS_MAX], last = 0;
    int monotone = 1;
    for (int i = 0; i < 1000; i++) {
        counters_sum(&s, out);
        if (out[1] < last) monotone = 0;
        last = out[1];
    }
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK(monotone);
    counters_sum(&s, out);
    CHECK_EQ_INT(out[1], 2 * ROUNDS);
    CHECK_EQ_INT(out[2], 6 * ROUNDS);
    counter_set_fini(&s);
}

int main(void)
{
    RUN_TESTS();
}
