/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * syncgroup.c - group commit of syncfs calls (syncgroup.h).
 *
 * Each filesystem (by device) has numbered rounds of syncfs, one at a
 * time. A change is covered by the first round to begin after it: the
 * thread notes that round's number, runs it if none is under way, or
 * waits on the condition until it has ended, and returns its result. Filesystems beyond the table's
 * few (an unusual number of writable areas on different devices) sync alone.
 */
#include "syncgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define GROUPS 8

#define RESULTS 64 /* rounds whose results a late waiter can still read */

typedef struct group {
    dev_t dev;
    int used;
    int fd;           /* a descriptor of its own on the filesystem (the caller's may be O_PATH) */
    int running;      /* round `started` is under way */
    uint64_t started; /* rounds begun */
    uint64_t ended;   /* rounds over: 1..ended */
    struct {
        uint64_t round;
        int err;
    } results[RESULTS]; /* each round's -errno or 0, by round % RESULTS */
    uint64_t failed;    /* the last round that failed, or 0 */
    int failed_err;
} group;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static group groups[GROUPS];

/* A descriptor syncfs takes for the filesystem fd (an O_PATH one it does
 * not): -1 with errno. */
static int readable(int fd)
{
    return openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int sync_alone(int fd)
{
    int own = readable(fd);
    int rc = own < 0 || syncfs(own) < 0 ? -errno : 0;
    if (own >= 0) close(own);
    return rc;
}

/* The group of the filesystem fd is on (device dev), made on first use
 * and kept for the life of the process; NULL when the table is full or
 * fd is not a directory. Under mu. */
static group *group_of(int fd, dev_t dev)
{
    for (int i = 0; i < GROUPS; i++)
        if (groups[i].used && groups[i].dev == dev) return &groups[i];
    for (int i = 0; i < GROUPS; i++)
        if (!groups[i].used) {
            int own = readable(fd);
            if (own < 0) return NULL;
            groups[i] = (group){.dev = dev, .used = 1, .fd = own};
            return &groups[i];
        }
    return NULL;
}

int syncgroup_sync(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0) return -errno;
    pthread_mutex_lock(&mu);
    group *g = group_of(fd, st.st_dev);
    if (!g) {
        pthread_mutex_unlock(&mu);
        return sync_alone(fd);
    }
    /* The first round to begin after this change covers it: the next one,
     * whether or not one is under way now (that one began before it). */
    uint64_t mine = g->started + 1;
    while (g->ended < mine) {
        if (g->running) {
            pthread_cond_wait(&cv, &mu);
            continue;
        }
        /* This thread runs the next round, for every change made so far. */
        g->running = 1;
        uint64_t round = ++g->started;
        pthread_mutex_unlock(&mu);
        int rc = syncfs(g->fd) < 0 ? -errno : 0;
        pthread_mutex_lock(&mu);
        g->running = 0;
        g->ended = round;
        g->results[round % RESULTS].round = round;
        g->results[round % RESULTS].err = rc;
        if (rc) g->failed = round, g->failed_err = rc;
        pthread_cond_broadcast(&cv);
    }
    /* That round's result: a later round's success says nothing of it
     * (syncfs reports a writeback error once per open file). Should the
     * result be gone, after RESULTS more rounds, any failure since counts. */
    int rc = g->results[mine % RESULTS].round == mine ? g->results[mine % RESULTS].err
             : g->failed >= mine                      ? g->failed_err
                                                      : 0;
    pthread_mutex_unlock(&mu);
    return rc;
}
