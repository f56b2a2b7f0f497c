/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * syncgroup.c - group commit of syncfs calls (syncgroup.h).
 *
 * Each filesystem (by device) has a ticket counter. A thread takes a
 * ticket after its change; a sync that starts after that covers it. One
 * thread at a time runs the sync, for every ticket taken before it
 * started; the others wait on the condition and are done when the round
 * that covers their ticket ends. Filesystems beyond the table's few (an
 * unusual number of writable areas on different devices) sync alone.
 */
#include "syncgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define GROUPS 8

typedef struct group {
    dev_t dev;
    int used;
    int fd;         /* a descriptor of its own on the filesystem (the caller's may be O_PATH) */
    int running;    /* a sync is under way */
    uint64_t asked; /* tickets taken */
    uint64_t done;  /* tickets covered by the rounds that ended */
    uint64_t ok;    /* tickets covered by a round that succeeded */
    int err;        /* the last failed round's -errno */
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
    uint64_t me = ++g->asked;
    while (g->done < me) {
        if (g->running) {
            pthread_cond_wait(&cv, &mu);
            continue;
        }
        /* This thread runs the round, for every ticket taken so far. */
        g->running = 1;
        uint64_t upto = g->asked;
        pthread_mutex_unlock(&mu);
        int rc = syncfs(g->fd) < 0 ? -errno : 0;
        pthread_mutex_lock(&mu);
        g->running = 0;
        g->done = upto;
        if (rc == 0)
            g->ok = upto;
        else
            g->err = rc;
        pthread_cond_broadcast(&cv);
    }
    /* Any round that started after my ticket covers me: one that
     * succeeded is enough; else the last one failed as mine did. */
    int rc = g->ok >= me ? 0 : g->err;
    pthread_mutex_unlock(&mu);
    return rc;
}
