/* SPDX-License-Identifier: BSD-2-Clause */
/* test_syncgroup.c - shared syncs: threads that ask at once all return
 * once a sync that began after their change has ended, each with its
 * round's result; an O_PATH descriptor does (syncfs alone would refuse
 * it); a descriptor that is no file is refused. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "syncgroup.h"
#include "test.h"

#define THREADS 8
#define ROUNDS 20

static int dirfd_;

static void *asker(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < ROUNDS; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%ld-%d", id, i);
        int fd = openat(dirfd_, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, "x", 1) != 1 || close(fd) < 0) return (void *)1;
        if (syncgroup_sync(dirfd_) != 0) return (void *)2;
        if (unlinkat(dirfd_, name, 0) < 0) return (void *)3;
    }
    return NULL;
}

TEST(threads_at_once_all_synced)
{
    char dir[] = "/tmp/htd-syncgroup-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    dirfd_ = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    CHECK(dirfd_ >= 0);
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        CHECK(pthread_create(&t[i], NULL, asker, (void *)i) == 0);
    for (int i = 0; i < THREADS; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        CHECK(rc == NULL);
    }
    close(dirfd_);
    CHECK(rmdir(dir) == 0);
}

TEST(a_bad_descriptor_is_refused)
{
    CHECK_EQ_INT(syncgroup_sync(-1), -EBADF);
}

int main(void)
{
    RUN_TESTS();
}
