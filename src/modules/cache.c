/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cache.c - the per-loop open-file cache; see cache.h for the contract.
 *
 * A chained hash table keyed by request path, an LRU list to stay within a
 * byte and an entry budget, and one inotify descriptor. Dropping everything
 * on any event is deliberately blunt: files on a web server change rarely,
 * and a cache that is only ever empty or right needs no per-event reasoning.
 */
#include "cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "date.h"
#include "etag.h"
#include "word.h"

#define BUCKETS 4096 /* a power of two */
#define MAX_ENTRIES 8192
/* Files up to this size are kept in memory and go out with their head in one
 * write; larger ones stay open and go out with sendfile. Copying a body into
 * the socket costs more than sendfile's page references somewhere between 32
 * and 64 KiB (bench/README.md, "Large files"): a 64 KiB file from memory cost
 * 18-32 us a request here, by sendfile 14-17. */
#define INLINE_MAX (32 * 1024)
#define MAX_FD_ENTRIES 256 /* larger files kept open */
#define MAX_MISSING 1024   /* negative entries */

#define DIR_EVENTS                                                                                 \
    (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY | IN_ATTRIB |                 \
     IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF)
#define FILE_EVENTS (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF)

struct cache {
    int ifd;
    int root_fd;
    char *root;
    size_t root_len;
    size_t bytes, max_bytes, count;
    budget *mem;           /* the worker's memory budget: entries kept count in it */
    size_t nfds, nmissing; /* entries holding a descriptor; negative entries */
    cache_entry *buckets[BUCKETS];
    cache_entry *mru, *lru; /* both ends of the recency list */
    int *wds;
    size_t nwds, capwds;
    counters *ctr; /* its worker's (WC_CACHE_*), or NULL */
};

/* Eight bytes at a time, each word mixed in by a multiply (a byte at a time,
 * FNV-1a, cost a multiply's latency per byte of every request's path); the
 * result's high half, where every byte has had its say, is the one kept. */
static uint32_t hash_path(const char *p, size_t n)
{
    const uint64_t k = 0x9E3779B97F4A7C15u;
    uint64_t h = n * k;
    for (; n >= 8; p += 8, n -= 8) {
        h = (h ^ word_load(p)) * k;
        h ^= h >> 29;
    }
    if (n) {
        /* The last 1-7 bytes in at most two loads of fixed size (a copy of
         * n bytes is a call): two 4-byte ones that overlap, or the first,
         * middle and last byte. Either takes every byte, for this n. */
        uint64_t w;
        if (n >= 4) {
            uint32_t a, b;
            memcpy(&a, p, 4);
            memcpy(&b, p + n - 4, 4);
            w = (uint64_t)a | (uint64_t)b << 32;
        } else {
            const unsigned char *u = (const unsigned char *)p;
            w = (uint64_t)u[0] | (uint64_t)u[n / 2] << 8 | (uint64_t)u[n - 1] << 16;
        }
        h = (h ^ w) * k;
    }
    h ^= h >> 32;
    h *= k;
    return (uint32_t)(h >> 32);
}

cache *cache_new(const char *root, int root_fd, size_t max_bytes, budget *mem)
{
    cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->root_fd = root_fd;
    c->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    c->root = strdup(root);
    if (c->ifd < 0 || !c->root) {
        cache_free(c);
        return NULL;
    }
    c->root_len = strlen(root);
    c->max_bytes = max_bytes;
    c->mem = mem;
    return c;
}

int cache_fd(const cache *c)
{
    return c ? c->ifd : -1;
}

static size_t entry_bytes(const cache_entry *e)
{
    return sizeof *e + e->path_len + e->hdrs_len + (e->data ? e->size : 0);
}

static void entry_free(cache_entry *e)
{
    if (e->fd >= 0) close(e->fd);
    free(e->data);
    free(e->hdrs);
    free(e);
}

void cache_ref(cache_entry *e)
{
    e->refs++;
}

void cache_unref(cache_entry *e)
{
    if (--e->refs == 0) entry_free(e);
}

static void lru_remove(cache *c, cache_entry *e)
{
    if (e->lru_prev)
        e->lru_prev->lru_next = e->lru_next;
    else
        c->mru = e->lru_next;
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else
        c->lru = e->lru_prev;
}

static void lru_push_front(cache *c, cache_entry *e)
{
    e->lru_prev = NULL;
    e->lru_next = c->mru;
    if (c->mru)
        c->mru->lru_prev = e;
    else
        c->lru = e;
    c->mru = e;
}

static void unlink_entry(cache *c, cache_entry *e)
{
    cache_entry **pp = &c->buckets[e->hash & (BUCKETS - 1)];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    lru_remove(c, e);
    c->bytes -= entry_bytes(e);
    budget_sub(c->mem, entry_bytes(e));
    c->count--;
    c->nfds -= e->fd >= 0;
    c->nmissing -= e->missing;
    cache_unref(e);
}

void cache_flush(cache *c)
{
    while (c->mru)
        unlink_entry(c, c->mru);
    for (size_t i = 0; i < c->nwds; i++)
        inotify_rm_watch(c->ifd, c->wds[i]);
    c->nwds = 0;
}

void cache_free(cache *c)
{
    if (!c) return;
    if (c->ifd >= 0) {
        cache_flush(c);
        close(c->ifd);
    }
    free(c->wds);
    free(c->root);
    free(c);
}

void cache_on_event(cache *c)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    int any = 0;
    for (;;) {
        ssize_t n = read(c->ifd, buf, sizeof buf);
        if (n <= 0) break;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            /* IN_IGNORED follows our own inotify_rm_watch: not a change. */
            if (!(ev->mask & IN_IGNORED)) any = 1;
            p += sizeof *ev + ev->len;
        }
    }
    if (any) cache_flush(c);
}

cache_entry *cache_get(cache *c, const char *path, size_t len)
{
    if (!c) return NULL;
    uint32_t h = hash_path(path, len);
    for (cache_entry *e = c->buckets[h & (BUCKETS - 1)]; e; e = e->next) {
        if (e->hash == h && e->path_len == len && memcmp(e->path, path, len) == 0) {
            if (c->mru != e) {
                lru_remove(c, e);
                lru_push_front(c, e);
            }
            if (c->ctr) counter_add(c->ctr, WC_CACHE_HITS, 1);
            return e;
        }
    }
    if (c->ctr) counter_add(c->ctr, WC_CACHE_MISSES, 1);
    return NULL;
}

static int add_watch(cache *c, const char *path, uint32_t mask)
{
    int wd = inotify_add_watch(c->ifd, path, mask);
    if (wd < 0) return -1;
    for (size_t i = 0; i < c->nwds; i++)
        if (c->wds[i] == wd) return 0;
    if (c->nwds == c->capwds) {
        size_t cap = c->capwds ? c->capwds * 2 : 64;
        int *w = realloc(c->wds, cap * sizeof *w);
        if (!w) {
            inotify_rm_watch(c->ifd, wd);
            return -1;
        }
        c->wds = w;
        c->capwds = cap;
    }
    c->wds[c->nwds++] = wd;
    return 0;
}

/* Watches the root, every directory on the way to rel, and rel itself.
 * For a missing path, watching the directories that do exist suffices: the
 * path can only appear through an event in one of them. */
static int watch_path(cache *c, const char *rel, int exists)
{
    char path[4096 + 256];
    size_t rl = strlen(rel);
    if (c->root_len + 1 + rl >= sizeof path) return -1;
    memcpy(path, c->root, c->root_len);
    path[c->root_len] = 0;
    if (add_watch(c, path, DIR_EVENTS) < 0) return -1;
    size_t n = c->root_len;
    path[n++] = '/';
    for (size_t i = 0; i < rl; i++) {
        if (rel[i] == '/') {
            path[n] = 0;
            if (add_watch(c, path, DIR_EVENTS) < 0) return exists ? -1 : 0;
        }
        path[n++] = rel[i];
    }
    path[n] = 0;
    if (rl && add_watch(c, path, exists ? FILE_EVENTS : DIR_EVENTS) < 0) return exists ? -1 : 0;
    return 0;
}

static void make_room(cache *c, size_t need)
{
    while (c->lru && (c->bytes + need > c->max_bytes || c->count >= MAX_ENTRIES))
        unlink_entry(c, c->lru);
}

/* The header lines every response of a file repeats, formatted once. */
static int format_headers(cache_entry *e, const char *ctype, const struct stat *st, cache_how how)
{
    char lm[HTD_DATE_LEN + 1];
    htd_date_format(e->mtime, lm);
    char buf[512], tag[80], ce[48] = "";
    etag_of_file(st, tag, sizeof tag);
    if (how.coding) snprintf(ce, sizeof ce, "Content-Encoding: %s\r\n", how.coding);
    /* Vary sits between the validators, which a 304 repeats: it must too. */
    int n = snprintf(
        buf, sizeof buf,
        "Content-Type: %s\r\n%sLast-Modified: %s\r\n%sETag: %s\r\nAccept-Ranges: bytes\r\n", ctype,
        ce, lm, how.vary ? "Vary: Accept-Encoding\r\n" : "", tag);
    if (n < 0 || (size_t)n >= sizeof buf) return -1;
    e->hdrs = malloc((size_t)n + 1);
    if (!e->hdrs) return -1;
    memcpy(e->hdrs, buf, (size_t)n + 1);
    e->hdrs_len = (size_t)n;
    /* What follows Content-Type: the coding, the validators and Vary, which
     * multipart parts and 304s take without the type. */
    e->vhdrs_off = (size_t)(strstr(e->hdrs, "\r\n") + 2 - e->hdrs);
    char *et = strstr(e->hdrs, "ETag: ") + 6;
    e->etag = (htd_str){et, (size_t)(strchr(et, '\r') - et)};
    e->ctype = ctype;
    return 0;
}

cache_entry *cache_put(cache *c, const char *path, size_t len, const char *rel, int fd,
                       const struct stat *st, const char *ctype, time_t now)
{
    return cache_put_how(c, path, len, rel, fd, st, ctype, now, (cache_how){NULL, 0});
}

cache_entry *cache_put_how(cache *c, const char *path, size_t len, const char *rel, int fd,
                           const struct stat *st, const char *ctype, time_t now, cache_how how)
{
    cache_entry *e = calloc(1, sizeof *e + len + 1);
    if (!e) {
        if (fd >= 0) close(fd);
        return NULL;
    }
    e->fd = -1;
    e->refs = 1;
    memcpy(e->path, path, len);
    e->path_len = len;
    e->hash = hash_path(path, len);
    if (fd < 0) {
        e->missing = 1;
    } else {
        e->fd = fd;
        e->size = (uint64_t)st->st_size;
        e->ino = st->st_ino;
        e->mtime = st->st_mtim.tv_sec < now ? st->st_mtim.tv_sec : now;
        if (format_headers(e, ctype, st, how) < 0) {
            entry_free(e);
            return NULL;
        }
    }
    /* Watch first, then check that nothing changed since the caller looked:
     * a change after the watch is an event, a change before it shows here. */
    /* Descriptors and negative entries have budgets of their own: a client
     * walking many large files, or asking for random missing ones, must not
     * exhaust the descriptors or push out what is worth keeping. */
    int big = !e->missing && e->size > INLINE_MAX;
    int keep = c && entry_bytes(e) + (e->missing ? 0 : e->size) <= c->max_bytes / 4 &&
               !budget_over(c->mem, entry_bytes(e) + (e->missing ? 0 : e->size)) &&
               (!big || c->nfds < MAX_FD_ENTRIES) && (!e->missing || c->nmissing < MAX_MISSING) &&
               watch_path(c, rel, !e->missing) == 0;
    struct stat now_st;
    if (keep && e->missing)
        keep = fstatat(c->root_fd, rel, &now_st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT;
    else if (keep)
        /* The path must still name the file that was opened (a rename over
         * it before the watches were added would bring no event), and the
         * file must be as the caller saw it. */
        keep = fstatat(c->root_fd, rel, &now_st, 0) == 0 && now_st.st_ino == st->st_ino &&
               now_st.st_dev == st->st_dev && fstat(fd, &now_st) == 0 &&
               now_st.st_ino == st->st_ino && now_st.st_size == st->st_size &&
               now_st.st_mtim.tv_sec == st->st_mtim.tv_sec &&
               now_st.st_mtim.tv_nsec == st->st_mtim.tv_nsec &&
               now_st.st_ctim.tv_sec == st->st_ctim.tv_sec &&
               now_st.st_ctim.tv_nsec == st->st_ctim.tv_nsec;
    if (!keep) return e;

    /* Small files are read once and then sent from memory with their head
     * in one write; the descriptor is not needed any more. */
    if (!e->missing && e->size <= INLINE_MAX && e->size > 0 && (e->data = malloc(e->size))) {
        size_t got = 0;
        while (got < e->size) {
            ssize_t n = pread(fd, e->data + got, e->size - got, (off_t)got);
            if (n <= 0) break;
            got += (size_t)n;
        }
        if (got == e->size) {
            close(fd);
            e->fd = -1;
        } else {
            free(e->data);
            e->data = NULL;
        }
    }
    size_t need = entry_bytes(e);
    make_room(c, need);
    cache_entry **b = &c->buckets[e->hash & (BUCKETS - 1)];
    e->next = *b;
    *b = e;
    lru_push_front(c, e);
    e->refs++;
    c->bytes += need;
    budget_add(c->mem, need);
    c->count++;
    c->nfds += e->fd >= 0;
    c->nmissing += e->missing;
    return e;
}

/* ---- a worker's caches ---- */

#define CACHE_BYTES (64u << 20) /* per worker and vhost */

worker_cache *caches_new(size_t n)
{
    return calloc(n, sizeof(worker_cache));
}

void caches_free(loop *l, worker_cache *lc, size_t n)
{
    for (size_t i = 0; lc && i < n; i++) {
        /* Unwatched first: a script being spawned may hold a copy of the
         * descriptor for a moment, and closing alone would not unwatch it. */
        if (lc[i].c) loop_unwatch(l, &lc[i].w);
        cache_free(lc[i].c);
    }
    free(lc);
}

void caches_read(worker_cache *lc, size_t n)
{
    for (size_t i = 0; lc && i < n; i++)
        if (lc[i].c) cache_on_event(lc[i].c);
}

static void on_cache(watcher *w, uint32_t events)
{
    (void)events;
    worker_cache *lc = (worker_cache *)w;
    if (lc->c) cache_on_event(lc->c);
}

cache *cache_for(worker *l, const vhost *vh)
{
    worker_cache *lc = &l->caches[vh->idx];
    if (lc->c || lc->tried || vh->root_fd < 0) return lc->c;
    lc->tried = 1;
    if (!(lc->c = cache_new(vh->root, vh->root_fd, CACHE_BYTES, &l->mem))) return NULL;
    lc->c->ctr = &l->ctr;
    lc->w.first = 1;
    if (loop_watch(l->loop, &lc->w, cache_fd(lc->c), EPOLLIN, on_cache) < 0) {
        cache_free(lc->c);
        lc->c = NULL;
    }
    return lc->c;
}
