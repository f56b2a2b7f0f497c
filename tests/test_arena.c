/* SPDX-License-Identifier: BSD-2-Clause */
/* test_arena.c - per-request memory: aligned pieces from the block, larger
 * ones from malloc, all gone at reset (ASan checks that nothing leaks). */
#include <stdalign.h>
#include <stdint.h>

#include "arena.h"
#include "test.h"

TEST(small_pieces_come_from_the_block_aligned)
{
    static char block[1024];
    arena a;
    arena_init(&a, block + 1, sizeof block - 1); /* a misaligned start */
    char *x = arena_alloc(&a, 3), *y = arena_alloc(&a, 10);
    CHECK(x >= block && x < block + sizeof block);
    CHECK(y >= block && y < block + sizeof block);
    CHECK((uintptr_t)x % alignof(max_align_t) == 0);
    CHECK((uintptr_t)y % alignof(max_align_t) == 0);
    CHECK(y >= x + 3);
    CHECK(a.big == NULL);
    arena_reset(&a, block, sizeof block);
}

TEST(what_does_not_fit_comes_from_malloc_and_goes_at_reset)
{
    static char block[256];
    arena a;
    arena_init(&a, block, sizeof block);
    char *big = arena_alloc(&a, 100000);
    CHECK(big != NULL);
    CHECK(!(big >= block && big < block + sizeof block));
    big[99999] = 1;
    char *more = arena_alloc(&a, 200);
    CHECK(more >= block && more < block + sizeof block); /* the block is still used */
    CHECK(arena_alloc(&a, 200) != NULL);                 /* and then malloc again */
    arena_reset(&a, block, sizeof block);
    CHECK(a.big == NULL);
    CHECK(a.p == block);
}

TEST(dup_copies_and_terminates)
{
    static char block[64];
    arena a;
    arena_init(&a, block, sizeof block);
    char *d = arena_dup(&a, "hello world", 5);
    CHECK_STR(d, 5, "hello");
    CHECK(d[5] == 0);
    arena_reset(&a, block, sizeof block);
}

int main(void)
{
    RUN_TESTS();
}
