/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dav_lock.h - WebDAV's write locks (RFC 4918 sections 6 and 7) and the If
 * header (10.4) that submits their tokens.
 *
 * The locks of a server live in one table in memory, under its mutex, so
 * that a write checks them without a disk access; each change is also kept
 * in the state database (by the caller), and the table is loaded from it at
 * start, so a lock outlives a restart until its timeout. A resource is named
 * by its URL path without a trailing slash, as for properties.
 */
#ifndef HTD_DAV_LOCK_H
#define HTD_DAV_LOCK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define DAVL_TOKEN_LEN 45 /* "urn:uuid:" and 36 characters */

typedef struct dav_lock {
    char token[DAVL_TOKEN_LEN + 1];
    char *root;  /* the locked resource's path */
    char *owner; /* the DAV:owner element as the client gave it, or NULL */
    int infinity, exclusive;
    long timeout_s;     /* as granted; -1: infinite */
    int64_t expires_ms; /* 0: never */
} dav_lock;

typedef struct dav_locks {
    pthread_mutex_t mu;
    dav_lock *v;
    size_t n, cap;
} dav_locks;

void davl_init(dav_locks *t);
void davl_fini(dav_locks *t);
/* A new token, "urn:uuid:" and a random (version 4) UUID. 0, or -1. */
int davl_new_token(char out[DAVL_TOKEN_LEN + 1]);

/* The rest are called with t->mu held, and drop what has expired by now_ms
 * first where they look. */

/* Whether a lock (scope exclusive, depth infinity) on path would conflict
 * with one held: they overlap and either is exclusive. */
int davl_conflicts(dav_locks *t, const char *path, int infinity, int exclusive, int64_t now_ms);
/* Adds a copy of l (root and owner copied). 0, or -1. */
int davl_add(dav_locks *t, const dav_lock *l);
/* The lock with token that covers path, or NULL. */
dav_lock *davl_find(dav_locks *t, const char *token, const char *path, int64_t now_ms);
/* Removes the lock with token. */
void davl_remove(dav_locks *t, const char *token);
/* Whether any lock is held at all (the fast path of every write). */
int davl_any(dav_locks *t, int64_t now_ms);
/* Whether a change to path (and with tree, to everything below it; with
 * member, to the membership of its parent collection) is allowed by the
 * locks, given the tokens submitted: 1 if every lock it touches has its
 * token among tokens[0..n), else 0. */
int davl_may_write(dav_locks *t, const char *path, int tree, int member, char *const *tokens,
                   size_t n, int64_t now_ms);
/* The locks that cover path, into out[0..max): how many there are. */
size_t davl_covering(dav_locks *t, const char *path, dav_lock **out, size_t max, int64_t now_ms);

/* The If header, parsed. A list's conditions are all to hold; one list
 * holding is enough. tag: the resource it is about (a normalised path), or
 * NULL for the request's. */
typedef struct davif_cond {
    int not, etag;
    char *val; /* a state token (between < >), or an entity-tag with its quotes */
} davif_cond;

typedef struct davif_list {
    char *tag;
    davif_cond *c;
    size_t n;
} davif_list;

typedef struct davif {
    davif_list *l;
    size_t n;
    char **tokens; /* every state token named, for davl_may_write */
    size_t ntokens;
} davif;

/* 0, or -1 (a 400) when it is not the grammar's. */
int davif_parse(const char *h, size_t len, davif *out);
void davif_free(davif *h);
/* Whether the header holds for the request's path: etag_of gives the
 * current entity-tag of a path ("" for none, a collection's or a missing
 * resource's); lock tokens are matched against t (held locked, or not). */
int davif_holds(const davif *h, const char *path, dav_locks *t,
                void (*etag_of)(void *arg, const char *path, char *out, size_t cap), void *arg,
                int64_t now_ms);

#endif
