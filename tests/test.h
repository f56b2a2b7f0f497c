/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test.h - the unit tests' tiny harness: TEST(name) defines a test, CHECK
 * records a failure with its line and carries on, and RUN_TESTS() in main runs
 * every test of the file and exits non-zero if any check failed.
 */
#ifndef HTD_TEST_H
#define HTD_TEST_H

#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);
static struct {
    const char *name;
    test_fn fn;
} tests_[512];
static int ntests_, failures_;

#define TEST(tname)                                                                                \
    static void test_##tname(void);                                                                \
    __attribute__((constructor)) static void reg_##tname(void)                                     \
    {                                                                                              \
        tests_[ntests_].name = #tname;                                                             \
        tests_[ntests_++].fn = test_##tname;                                                       \
    }                                                                                              \
    static void test_##tname(void)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures_++;                                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            failures_++;                                                                           \
            fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, a_, b_); \
        }                                                                                          \
    } while (0)

#define CHECK_STR(s, len, lit)                                                                     \
    do {                                                                                           \
        if ((size_t)(len) != strlen(lit) || memcmp((s), (lit), strlen(lit)) != 0) {                \
            failures_++;                                                                           \
            fprintf(stderr, "%s:%d: %s is \"%.*s\", expected \"%s\"\n", __FILE__, __LINE__, #s,    \
                    (int)(len), (const char *)(s), (lit));                                         \
        }                                                                                          \
    } while (0)

/* Random strings that are the same on every run, for checks against a
 * model: len bytes of alphabet (of n) into out, from the xorshift state *x. */
static inline void test_random_string(unsigned long long *x, const char *alphabet, size_t n,
                                      char *out, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
        out[i] = alphabet[*x % n];
    }
}

#define RUN_TESTS()                                                                                \
    do {                                                                                           \
        for (int i_ = 0; i_ < ntests_; i_++) {                                                     \
            int before_ = failures_;                                                               \
            tests_[i_].fn();                                                                       \
            if (failures_ != before_) fprintf(stderr, "FAIL %s\n", tests_[i_].name);               \
        }                                                                                          \
        printf("%s: %d tests, %d failed checks\n", __FILE__, ntests_, failures_);                  \
        return failures_ ? 1 : 0;                                                                  \
    } while (0)

#endif
