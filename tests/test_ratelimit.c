/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_ratelimit.c - rate limits on a fake clock: the GCRA step (burst,
 * the rate, waits for delay mode), the shared table (keys apart, a flood of
 * keys in a small table, eviction of the word least ahead, exact counts
 * from four threads at once), the settings' parsers, zones and SipHash.
 */
#include "ratelimit.h"
#include "test.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "site.h"

TEST(siphash_gives_the_reference_vectors)
{
    /* The paper's key 00..0f, messages 00..0e and empty. */
    uint64_t k0 = 0x0706050403020100ull, k1 = 0x0f0e0d0c0b0a0908ull;
    unsigned char m[15];
    for (int i = 0; i < 15; i++)
        m[i] = (unsigned char)i;
    CHECK(ratelimit_siphash(k0, k1, NULL, 0, m, 15) == 0xa129ca6149be45e5ull);
    CHECK(ratelimit_siphash(k0, k1, NULL, 0, m, 0) == 0x726fdb47dd0e0e31ull);
    /* Words before the bytes hash as their little-endian bytes would. */
    uint64_t pre = 0x0706050403020100ull;
    CHECK(ratelimit_siphash(k0, k1, &pre, 1, m + 8, 7) == 0xa129ca6149be45e5ull);
    CHECK(ratelimit_siphash(k0 + 1, k1, NULL, 0, m, 15) != 0xa129ca6149be45e5ull);
}

TEST(rate_is_requests_per_second_or_minute_as_an_interval_in_microseconds)
{
    uint64_t iv = 0;
    CHECK_EQ_INT(ratelimit_parse_rate("10r/s", &iv), 0);
    CHECK_EQ_INT(iv, 100000);
    CHECK_EQ_INT(ratelimit_parse_rate("30r/m", &iv), 0);
    CHECK_EQ_INT(iv, 2000000);
    CHECK_EQ_INT(ratelimit_parse_rate("3r/s", &iv), 0);
    CHECK_EQ_INT(iv, 333333);
    CHECK_EQ_INT(ratelimit_parse_rate("1r/m", &iv), 0);
    CHECK_EQ_INT(iv, 60000000);
    CHECK_EQ_INT(ratelimit_parse_rate("1000000r/s", &iv), 0);
    CHECK_EQ_INT(iv, 1);
    static const char *const bad[] = {
        "",      "r/s",     "0r/s",   "10",      "10r",
        "10r/h", "10r/s ",  " 10r/s", "10 r/s",  "1000001r/s",
        "-1r/s", "10.5r/s", "10R/s",  "10r/sec", "99999999999999999999r/s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        iv = 7;
        if (ratelimit_parse_rate(bad[i], &iv) != -1 || iv != 7) {
            CHECK(!"a bad rate was taken");
            fprintf(stderr, "  rate \"%s\"\n", bad[i]);
        }
    }
}

TEST(key_is_the_address_the_user_or_a_named_header)
{
    ratelimit rl = {0};
    CHECK_EQ_INT(ratelimit_parse_key("addr", &rl), 0);
    CHECK_EQ_INT(rl.key, RL_KEY_ADDR);
    CHECK_EQ_INT(ratelimit_parse_key("user", &rl), 0);
    CHECK_EQ_INT(rl.key, RL_KEY_USER);
    CHECK_EQ_INT(ratelimit_parse_key("header:X-Api-Key", &rl), 0);
    CHECK_EQ_INT(rl.key, RL_KEY_HEADER);
    CHECK_STR(rl.header, rl.header_len, "X-Api-Key");
    free(rl.header);
    static const char *const bad[] = {"", "Addr", "ip", "header:", "header:a b", "header", "users"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ratelimit r = {0};
        CHECK_EQ_INT(ratelimit_parse_key(bad[i], &r), -1);
        CHECK(r.header == NULL);
    }
}

TEST(zones_are_the_same_for_the_same_place_and_differ_between_places)
{
    CHECK(ratelimit_zone(NULL, 0, NULL) == ratelimit_zone(NULL, 0, NULL));
    CHECK(ratelimit_zone("a.test", RULE_PREFIX, "/api/") ==
          ratelimit_zone("a.test", RULE_PREFIX, "/api/"));
    CHECK(ratelimit_zone("a.test", 0, NULL) != ratelimit_zone(NULL, 0, NULL));
    CHECK(ratelimit_zone("a.test", RULE_PREFIX, "/api/") != ratelimit_zone("a.test", 0, NULL));
    CHECK(ratelimit_zone("a.test", RULE_PREFIX, "/api/") !=
          ratelimit_zone("a.test", RULE_EXACT, "/api/"));
    CHECK(ratelimit_zone("a.test", RULE_PREFIX, "/api/") !=
          ratelimit_zone("b.test", RULE_PREFIX, "/api/"));
    CHECK(ratelimit_zone("a.test", RULE_PREFIX, "/x") !=
          ratelimit_zone("a.test", RULE_PREFIX, "/y"));
}

TEST(step_takes_burst_plus_one_at_once_then_one_per_interval)
{
    uint64_t tat = 0, wait = 0;
    const uint64_t iv = 100, tol = 2 * iv; /* burst 2 */
    /* A fresh bucket: the request the rate allows and two more, waiting
     * (in delay mode) 0, 1 and 2 intervals. */
    for (uint64_t i = 0; i < 3; i++) {
        CHECK_EQ_INT(ratelimit_step(&tat, 1000, iv, tol, &wait), 1);
        CHECK_EQ_INT(wait, i * iv);
    }
    CHECK_EQ_INT(tat, 1300);
    /* The fourth is refused and does not move the bucket; it would be
     * within one interval later. */
    CHECK_EQ_INT(ratelimit_step(&tat, 1000, iv, tol, &wait), 0);
    CHECK_EQ_INT(wait, 100);
    CHECK_EQ_INT(tat, 1300);
    CHECK_EQ_INT(ratelimit_step(&tat, 1099, iv, tol, &wait), 0);
    CHECK_EQ_INT(wait, 1);
    CHECK_EQ_INT(ratelimit_step(&tat, 1100, iv, tol, &wait), 1);
    CHECK_EQ_INT(wait, 200);
    CHECK_EQ_INT(ratelimit_step(&tat, 1100, iv, tol, &wait), 0);
    /* Idle long enough, the bucket is full again: burst + 1 at once. */
    int n = 0;
    while (ratelimit_step(&tat, 5000, iv, tol, &wait))
        n++;
    CHECK_EQ_INT(n, 3);
    /* No burst: one per interval, never two at once. */
    tat = 0;
    CHECK_EQ_INT(ratelimit_step(&tat, 1000, iv, 0, &wait), 1);
    CHECK_EQ_INT(ratelimit_step(&tat, 1000, iv, 0, &wait), 0);
    CHECK_EQ_INT(wait, 100);
    CHECK_EQ_INT(ratelimit_step(&tat, 1100, iv, 0, &wait), 1);
}

TEST(step_over_a_long_run_allows_the_rate_times_the_time_plus_the_burst)
{
    /* 10 r/s with burst 5, asked every 7 ms for 60 s: 600 + 5 + 1. */
    uint64_t tat = 0, wait;
    const uint64_t iv = 100000, tol = 5 * iv;
    int n = 0;
    for (uint64_t t = 1; t <= 60000000; t += 7000)
        n += ratelimit_step(&tat, t, iv, tol, &wait);
    CHECK(n >= 605 && n <= 606);
}

/* A hash for key k whose set is set (in a table of nsets sets) and whose
 * tag is tag. */
static uint64_t hash_in_set(uint32_t set, size_t nsets, uint64_t tag)
{
    /* The set is (low 32 bits * nsets) >> 32: the middle of its range. */
    uint64_t low = (((uint64_t)set << 32) + (1ull << 31)) / nsets;
    return (tag << 48) | (low & 0xffffffffu);
}

TEST(table_keeps_keys_apart_and_frees_what_has_expired)
{
    rl_table *t = ratelimit_table_new(64);
    CHECK(t != NULL);
    uint64_t wait, a = hash_in_set(3, 8, 1), b = hash_in_set(3, 8, 2);
    const uint64_t iv = 1000, tol = 0;
    CHECK_EQ_INT(ratelimit_take(t, a, 10, iv, tol, &wait), 1);
    CHECK_EQ_INT(ratelimit_take(t, a, 10, iv, tol, &wait), 0);
    CHECK_EQ_INT(ratelimit_take(t, b, 10, iv, tol, &wait), 1); /* same set, its own bucket */
    CHECK_EQ_INT(ratelimit_take(t, b, 500, iv, tol, &wait), 0);
    CHECK_EQ_INT(wait, 510);
    CHECK_EQ_INT(ratelimit_take(t, a, 1010, iv, tol, &wait), 1);
    /* Nine keys in one set of eight, one at a time, each expired before
     * the next: every one is taken fresh, none pushes another out. */
    for (uint64_t k = 10; k < 19; k++)
        CHECK_EQ_INT(ratelimit_take(t, hash_in_set(5, 8, k), 100000 * k, iv, tol, &wait), 1);
    ratelimit_table_free(t);
}

TEST(a_full_set_gives_up_the_key_least_ahead)
{
    rl_table *t = ratelimit_table_new(64);
    uint64_t wait;
    const uint64_t iv = 1000, tol = 10 * iv;
    /* Eight keys in set 0, key k asked k + 1 times at once: k + 1
     * intervals ahead. */
    for (uint64_t k = 0; k < 8; k++)
        for (uint64_t i = 0; i <= k; i++)
            CHECK_EQ_INT(ratelimit_take(t, hash_in_set(0, 8, 100 + k), 1, iv, tol, &wait), 1);
    /* A ninth key takes key 0's word (1 interval ahead, the least). */
    CHECK_EQ_INT(ratelimit_take(t, hash_in_set(0, 8, 200), 1, iv, tol, &wait), 1);
    CHECK_EQ_INT(wait, 0);
    /* Key 7 kept its bucket: 8 taken of 11, so 3 more. */
    int n = 0;
    while (ratelimit_take(t, hash_in_set(0, 8, 107), 1, iv, tol, &wait))
        n++;
    CHECK_EQ_INT(n, 3);
    /* Key 0 starts fresh: 11 at once (it lost what it had taken), in the
     * word of key 200, now the least ahead. */
    n = 0;
    while (ratelimit_take(t, hash_in_set(0, 8, 100), 1, iv, tol, &wait))
        n++;
    CHECK_EQ_INT(n, 11);
    ratelimit_table_free(t);
}

TEST(a_flood_of_new_keys_in_a_small_table_never_frees_a_key_at_its_limit)
{
    /* 64 words; a hot key at 10 r/s with burst 5, asked every ms for 10 s,
     * while 10,000 new keys a second come once each (1,000 live at a time,
     * every set full): the new keys are one interval ahead, the hot key
     * more (burst >= 2), so new keys push out one another and the hot
     * key's count holds: 6 at once, then one per 100 ms. */
    rl_table *t = ratelimit_table_new(64);
    uint64_t wait;
    const uint64_t iv = 100000, tol = 5 * iv;
    int hot = 0, fresh = 0;
    uint64_t next = 1;
    for (uint64_t ms = 1; ms <= 10000; ms++) {
        uint64_t now = ms * 1000;
        hot += ratelimit_take(t, 0x1234567890abcdefull, now, iv, tol, &wait);
        for (int j = 0; j < 10; j++) {
            /* splitmix64 for hashes as a SipHash would spread them */
            uint64_t z = (next += 0x9e3779b97f4a7c15ull);
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            fresh += ratelimit_take(t, z ^ (z >> 31), now, iv, tol, &wait);
        }
    }
    CHECK_EQ_INT(hot, 6 + 99);
    CHECK_EQ_INT(fresh, 100000); /* each new key's first request is within its limit */
    ratelimit_table_free(t);
}

typedef struct hammer {
    rl_table *t;
    pthread_barrier_t *start;
    int allowed;
} hammer;

static void *hammer_one_key(void *arg)
{
    hammer *h = arg;
    uint64_t wait;
    pthread_barrier_wait(h->start);
    for (int i = 0; i < 100000; i++)
        h->allowed += ratelimit_take(h->t, 0xfeedfacecafebeefull, 42, 1000, 1000 * 100000, &wait);
    return NULL;
}

TEST(four_threads_on_one_key_get_exactly_the_burst)
{
    /* At one instant, a burst of 100,000 lets 100,001 of 400,000 through,
     * however the four threads' exchanges interleave. */
    rl_table *t = ratelimit_table_new(RL_SLOTS_DEFAULT);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 4);
    hammer h[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        h[i] = (hammer){t, &start, 0};
        pthread_create(&th[i], NULL, hammer_one_key, &h[i]);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += h[i].allowed;
    }
    CHECK_EQ_INT(total, 100001);
    pthread_barrier_destroy(&start);
    ratelimit_table_free(t);
}

int main(void)
{
    RUN_TESTS();
}
