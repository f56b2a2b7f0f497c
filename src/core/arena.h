/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * arena.h - memory for one request, dropped whole when it ends: a bump
 * allocator over the space its owner gives it (the rest of a pooled block),
 * with larger pieces taken from malloc and freed with the arena. Nothing in
 * an arena is freed alone.
 */
#ifndef HTD_ARENA_H
#define HTD_ARENA_H

#include <stddef.h>

typedef struct arena_big arena_big;

typedef struct arena {
    char *p, *end;  /* free space in the owner's block */
    arena_big *big; /* pieces that did not fit, each from malloc */
} arena;

/* An arena over buf[0..len). */
void arena_init(arena *a, void *buf, size_t len);
/* n bytes aligned for any type, or NULL when out of memory. */
void *arena_alloc(arena *a, size_t n);
/* A copy of p[0..n) with a NUL after it, or NULL. */
char *arena_dup(arena *a, const void *p, size_t n);
/* Frees the pieces from malloc; the arena is empty again over its block. */
void arena_reset(arena *a, void *buf, size_t len);

#endif
