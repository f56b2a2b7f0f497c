/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * word.h - eight bytes at a time: a word loaded from any address, and the
 * byte tests of "Bit Twiddling Hacks". As a yes or no they are exact:
 * WORD_HASLESS(w, n) is not 0 iff a byte of w is below n, WORD_HASMORE(w, n)
 * iff one is above n (n at most 128). Which bytes they mark is not: a byte
 * just above a hit may be marked too (a borrow), never a hit missed, so a
 * scan that wants the place looks at the marked word byte by byte.
 */
#ifndef HTD_WORD_H
#define HTD_WORD_H

#include <stdint.h>
#include <string.h>

#define WORD_ONES 0x0101010101010101u
#define WORD_HIGHS 0x8080808080808080u
#define WORD_HASLESS(w, n) (((w)-WORD_ONES * (n)) & ~(w)&WORD_HIGHS)
#define WORD_HASMORE(w, n) ((((w) + WORD_ONES * (127 - (n))) | (w)) & WORD_HIGHS)

static inline uint64_t word_load(const void *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* Of a word loaded with word_load and the non-zero marks m of a test
 * above: how many of its bytes come before the first marked one. A borrow
 * only ever marks a byte above a hit, so the first mark is a hit. Where
 * the first byte in memory is not the word's lowest, 0: the caller looks
 * at the word byte by byte from its start. */
static inline unsigned word_first(uint64_t m)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (unsigned)__builtin_ctzll(m) / 8;
#else
    (void)m;
    return 0;
#endif
}

#endif
