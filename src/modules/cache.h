/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cache.h - the per-loop open-file cache.
 *
 * An entry remembers what serving one path came to: an open file with its
 * validators and precomputed header lines (small files with their bytes in
 * memory), or "no such file". A hit costs no system call at all, so a small
 * file over keep-alive is one read and one write.
 *
 * Correctness when files change comes from inotify: every file in the cache
 * and every directory on the way to it is watched, and any event empties the
 * whole cache before the next request is served. Where a watch cannot be
 * added, the entry is used for its one response and not kept.
 *
 * Entries are reference-counted: responses still being sent hold them, so an
 * entry dropped from the cache lives until its last response is out.
 */
#ifndef HTD_CACHE_H
#define HTD_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "context.h"
#include "htd.h"

typedef struct cache_entry {
    struct cache_entry *next; /* hash chain */
    struct cache_entry *lru_prev, *lru_next;
    uint32_t hash;
    unsigned refs;
    int missing;      /* a negative entry: the path does not exist */
    uint8_t siblings; /* precompressed files beside it: 1 << ENC_GZIP, 1 << ENC_BR (encoding.h) */
    uint8_t index;    /* the file is the path's index.html */
    int fd;           /* the open file, or -1 */
    uint64_t size;
    time_t mtime; /* Last-Modified, never after the time it was cached */
    ino_t ino;
    htd_str etag; /* points into hdrs */
    const char *ctype;
    char *data;       /* the whole file for small files, else NULL */
    char *hdrs;       /* Content-Type, Last-Modified, ETag and Accept-Ranges lines */
    size_t hdrs_len;  /* (Content-Length depends on the range, so it is not here) */
    size_t vhdrs_off; /* where the lines after Content-Type start */
    size_t path_len;
    char path[]; /* the key: the normalised request path */
} cache_entry;

typedef struct cache cache;

/* root: the absolute root path for watches, root_fd the same directory open.
 * Returns NULL if inotify is unavailable; the caller then works without a
 * cache. mem: the budget its entries count in (none kept beyond it), or NULL. */
cache *cache_new(const char *root, int root_fd, size_t max_bytes, budget *mem);
void cache_free(cache *c);
/* The inotify descriptor to watch for readability, or -1. */
int cache_fd(const cache *c);
/* Reads pending inotify events; any event empties the cache. */
void cache_on_event(cache *c);

/* Empties the cache (a loop that just changed a file need not wait for the
 * event). */
void cache_flush(cache *c);

cache_entry *cache_get(cache *c, const char *path, size_t len);

/* Builds an entry for path served from fd (an open regular file, owned by the
 * entry from now on), or a negative one when fd < 0. rel is the file's path
 * relative to the root (for the watches), ctype its Content-Type. The entry
 * is kept in the cache when c is not NULL and the watches could be added;
 * either way it comes back with one reference for the caller. NULL when out
 * of memory (fd is then closed). */
cache_entry *cache_put(cache *c, const char *path, size_t len, const char *rel, int fd,
                       const struct stat *st, const char *ctype, time_t now);

/* How an entry's head describes it: a content coding ("gzip", "br") for a
 * precompressed variant, and whether responses vary by Accept-Encoding. */
typedef struct cache_how {
    const char *coding;
    int vary;
} cache_how;
cache_entry *cache_put_how(cache *c, const char *path, size_t len, const char *rel, int fd,
                           const struct stat *st, const char *ctype, time_t now, cache_how how);

void cache_ref(cache_entry *e);
void cache_unref(cache_entry *e);

/* A worker's caches, one per vhost of its site, each made on first use and
 * watched on the worker's loop (`first`: file changes are read before the
 * requests of a batch). The worker makes a new array when it moves to a new
 * site and frees the old one after the iteration. */
typedef struct worker_cache {
    watcher w;
    uint8_t tried; /* cache_new was called (and may have failed) */
    cache *c;
} worker_cache;

worker_cache *caches_new(size_t n);
void caches_free(loop *l, worker_cache *lc, size_t n);
/* Reads the pending file events of every cache in lc[0..n). */
void caches_read(worker_cache *lc, size_t n);
/* The cache of vhost vh in l's site, made on first use; NULL if none. */
cache *cache_for(worker *l, const vhost *vh);

#endif
