/*
 * fuzz.h - what the libFuzzer targets share: ENSURE, which aborts with the
 * invariant that broke, and a hash of the input's first bytes from which a
 * target takes its split points, so that a crash replays from its input alone.
 */
#ifndef HTD_FUZZ_H
#define HTD_FUZZ_H

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

/* FNV-1a of the first 64 bytes. */
static inline uint32_t fuzz_hash(const uint8_t *data, size_t size)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size && i < 64; i++)
        h = (h ^ data[i]) * 16777619u;
    return h;
}

#endif
