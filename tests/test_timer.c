/* SPDX-License-Identifier: BSD-2-Clause */
/* test_timer.c - timer lists: ordering, re-arming, disarming, next deadline. */
#include "test.h"
#include "timer.h"

TEST(empty_list_has_no_deadline)
{
    htd_timer_list l;
    htd_timer_list_init(&l, 100);
    CHECK_EQ_INT(htd_timer_next(&l, 0), -1);
    CHECK(htd_timer_expired(&l, 1000000) == NULL);
}

TEST(timers_expire_in_arming_order)
{
    htd_timer_list l;
    htd_timer_list_init(&l, 100);
    htd_timer a = {0}, b = {0}, c = {0};
    htd_timer_arm(&l, &a, 0);
    htd_timer_arm(&l, &b, 10);
    htd_timer_arm(&l, &c, 20);
    CHECK_EQ_INT(htd_timer_next(&l, 50), 50);
    CHECK(htd_timer_expired(&l, 99) == NULL);
    CHECK(htd_timer_expired(&l, 100) == &a);
    htd_timer_disarm(&a);
    CHECK(htd_timer_expired(&l, 115) == &b);
    htd_timer_disarm(&b);
    CHECK(htd_timer_expired(&l, 115) == NULL);
    CHECK_EQ_INT(htd_timer_next(&l, 115), 5);
    CHECK_EQ_INT(htd_timer_next(&l, 500), 0);
}

TEST(rearming_moves_a_timer_to_the_tail)
{
    htd_timer_list l;
    htd_timer_list_init(&l, 100);
    htd_timer a = {0}, b = {0};
    htd_timer_arm(&l, &a, 0);
    htd_timer_arm(&l, &b, 5);
    htd_timer_arm(&l, &a, 10);
    CHECK(htd_timer_expired(&l, 105) == &b);
    htd_timer_disarm(&b);
    CHECK(htd_timer_expired(&l, 105) == NULL);
    CHECK(htd_timer_expired(&l, 110) == &a);
}

TEST(arming_on_another_list_leaves_the_first)
{
    htd_timer_list l1, l2;
    htd_timer_list_init(&l1, 10);
    htd_timer_list_init(&l2, 1000);
    htd_timer a = {0};
    htd_timer_arm(&l1, &a, 0);
    htd_timer_arm(&l2, &a, 0);
    CHECK_EQ_INT(htd_timer_next(&l1, 0), -1);
    CHECK_EQ_INT(htd_timer_next(&l2, 0), 1000);
    htd_timer_disarm(&a);
    htd_timer_disarm(&a); /* twice is harmless */
    CHECK_EQ_INT(htd_timer_next(&l2, 0), -1);
}

int main(void)
{
    RUN_TESTS();
}
