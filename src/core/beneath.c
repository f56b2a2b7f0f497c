/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * beneath.c - the one openat2 call: every file htd serves, writes or runs is
 * opened through it, relative to a root or area it may not leave.
 */
#include "beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int open_how(int dir_fd, const char *rel, int flags, uint64_t resolve)
{
    struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = resolve};
    return (int)syscall(SYS_openat2, dir_fd, *rel ? rel : ".", &how, sizeof how);
}

int htd_open_beneath(int dir_fd, const char *rel, int flags)
{
    return open_how(dir_fd, rel, flags, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
}

/* The absolute path of descriptor fd into out (no NUL): its length, or -1. */
static ssize_t fd_path(int fd, char *out, size_t cap)
{
    char link[32];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, cap);
    if (n >= 0 && (size_t)n == cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return n;
}

static int fail(int fd, int err)
{
    if (fd >= 0) close(fd);
    errno = err;
    return -1;
}

int htd_open_resolved(int dir_fd, const char *rel, int flags, char *where, size_t cap)
{
    size_t rl = strlen(rel);
    int fd = open_how(dir_fd, rel, flags, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
    if (fd >= 0 || errno != ELOOP) { /* no symlink on the way: rel is where it is */
        if (fd < 0) return -1;
        if (rl + 2 > cap) return fail(fd, ENAMETOOLONG);
        where[0] = '/';
        memcpy(where + 1, rel, rl + 1);
        return fd;
    }
    fd = htd_open_beneath(dir_fd, rel, flags);
    if (fd < 0) return -1;
    char dir[PATH_MAX], file[PATH_MAX];
    ssize_t dn = fd_path(dir_fd, dir, sizeof dir);
    ssize_t fn = dn < 0 ? -1 : fd_path(fd, file, sizeof file);
    if (fn < 0) return fail(fd, errno == ENAMETOOLONG ? ENAMETOOLONG : EXDEV);
    if (dn == 1) dn = 0; /* the directory is "/": every path is below it */
    if (fn < dn || memcmp(file, dir, (size_t)dn) != 0 || (fn > dn && file[dn] != '/'))
        return fail(fd, EXDEV);
    size_t n = (size_t)(fn - dn); /* "/a/b" after the directory's own path, or "" for it */
    if ((n ? n : 1) + 1 > cap) return fail(fd, ENAMETOOLONG);
    if (n == 0)
        where[n++] = '/';
    else
        memcpy(where, file + dn, n);
    where[n] = 0;
    return fd;
}
