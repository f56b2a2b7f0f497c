/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * arena.c - per-request memory (see arena.h).
 */
#include "arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct arena_big {
    arena_big *next;
    max_align_t data[];
};

#define ALIGN alignof(max_align_t)

void arena_init(arena *a, void *buf, size_t len)
{
    uintptr_t p = ((uintptr_t)buf + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
    uintptr_t end = (uintptr_t)buf + len;
    a->p = (char *)p;
    a->end = (char *)(p <= end ? end : p);
    a->big = NULL;
}

void *arena_alloc(arena *a, size_t n)
{
    size_t rounded = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (rounded >= n && rounded <= (size_t)(a->end - a->p)) {
        void *r = a->p;
        a->p += rounded;
        return r;
    }
    if (n > SIZE_MAX - sizeof(arena_big)) return NULL;
    arena_big *b = malloc(sizeof *b + n);
    if (!b) return NULL;
    b->next = a->big;
    a->big = b;
    return b->data;
}

char *arena_dup(arena *a, const void *p, size_t n)
{
    if (n == SIZE_MAX) return NULL;
    char *d = arena_alloc(a, n + 1);
    if (!d) return NULL;
    if (n) memcpy(d, p, n);
    d[n] = 0;
    return d;
}

void arena_reset(arena *a, void *buf, size_t len)
{
    while (a->big) {
        arena_big *b = a->big;
        a->big = b->next;
        free(b);
    }
    arena_init(a, buf, len);
}
