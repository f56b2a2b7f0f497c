/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz.h - what the libFuzzer targets share: ENSURE, which aborts with the
 * invariant that broke, a hash of the input's first bytes from which a target
 * takes its split points, so that a crash replays from its input alone,
 * FUZZ_NO_COVERAGE for checks that need no instrumentation, and a temporary
 * directory for targets that need files.
 */
#ifndef HTD_FUZZ_H
#define HTD_FUZZ_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define ENSURE(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* For a check that reads a lot of output: no coverage counters nor
 * comparison hooks in it, which would slow every run and tell the fuzzer
 * nothing about the code under test. */
#define FUZZ_NO_COVERAGE __attribute__((no_sanitize("coverage"), noinline))

/* Makes a temporary directory for a target that needs files, in $TMPDIR
 * (fuzz/run.sh points it at a directory in /dev/shm that it removes at the
 * end, so what a crashed run leaves is removed too) or /tmp, and writes its
 * real path into dir[0..cap). */
static inline void fuzz_tempdir(char *dir, size_t cap, const char *name)
{
    const char *tmp = getenv("TMPDIR");
    char t[4096];
    snprintf(t, sizeof t, "%s/htd-fuzz-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    ENSURE(mkdtemp(t) != NULL);
    ENSURE(cap >= 4096 && realpath(t, dir) != NULL);
}

/* FNV-1a of the first 64 bytes. */
static inline uint32_t fuzz_hash(const uint8_t *data, size_t size)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size && i < 64; i++)
        h = (h ^ data[i]) * 16777619u;
    return h;
}

#endif
