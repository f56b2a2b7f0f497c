/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * beneath.c - the one openat2 call: every file htd serves, writes or runs is
 * opened through it, relative to a root or area it may not leave. Where
 * openat2 cannot be used, the same rules are kept by a walk a name at a
 * time.
 */
#include "beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Whether openat2 can be used here: asked once, with a size too small for
 * any open_how, which a kernel that has it refuses (EINVAL) before it looks
 * at anything else, so that no descriptor is needed (a process at its limit
 * must not take openat2 for missing). A kernel before 5.6 and valgrind say
 * ENOSYS; a seccomp filter that does not know it (an older container
 * runtime's, a service manager's) says EPERM or ENOSYS. Then every open is
 * htd_open_walk. */
enum { OPENAT2_UNKNOWN, OPENAT2_WORKS, OPENAT2_MISSING };
static int openat2_state;

static int have_openat2(void)
{
    int st = __atomic_load_n(&openat2_state, __ATOMIC_RELAXED);
    if (st == OPENAT2_UNKNOWN) {
        long r = syscall(SYS_openat2, -1, NULL, NULL, (size_t)0);
        st = r < 0 && (errno == ENOSYS || errno == EPERM) ? OPENAT2_MISSING : OPENAT2_WORKS;
        __atomic_store_n(&openat2_state, st, __ATOMIC_RELAXED);
    }
    return st == OPENAT2_WORKS;
}

static int open_how(int dir_fd, const char *rel, int flags, uint64_t resolve)
{
    if (!have_openat2())
        return htd_open_walk(dir_fd, rel, flags, (resolve & RESOLVE_NO_SYMLINKS) != 0);
    struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = resolve};
    return (int)syscall(SYS_openat2, dir_fd, *rel ? rel : ".", &how, sizeof how);
}

/* Keeps a descriptor's errno across the close that ends with it. */
static int fail(int fd, int err)
{
    if (fd >= 0) close(fd);
    errno = err;
    return -1;
}

#define WALK_LINKS 40 /* symlinks followed in one walk, as the kernel's limit */

/* The directory phys[0..len) names beneath dir_fd, opened one name at a time
 * with nothing followed (phys holds no symlink: the walk put it together). */
static int open_phys(int dir_fd, const char *phys, size_t len)
{
    int cur = openat(dir_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    char name[NAME_MAX + 1];
    for (size_t i = 0; cur >= 0 && i < len;) {
        const char *slash = memchr(phys + i, '/', len - i);
        size_t n = slash ? (size_t)(slash - (phys + i)) : len - i;
        memcpy(name, phys + i, n);
        name[n] = 0;
        int next = openat(cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int err = errno;
        close(cur);
        errno = err;
        cur = next;
        i += n + 1;
    }
    return cur;
}

/* The walk's answer fd (or -1 and errno), once its directory cur is closed. */
static int walked(int cur, int fd)
{
    int err = errno;
    close(cur);
    errno = err;
    return fd;
}

int htd_open_walk(int dir_fd, const char *rel, int flags, int no_symlinks)
{
    /* What is left to walk sits at the end of buf, so that a symlink's
     * target goes in front of it; phys is where the walk is, from dir_fd,
     * and cur that directory. */
    char buf[2 * PATH_MAX], phys[PATH_MAX], name[NAME_MAX + 1], target[PATH_MAX];
    size_t rl = strlen(rel), plen = 0;
    if (rl >= PATH_MAX) return fail(-1, ENAMETOOLONG); /* as the kernel says */
    if (rel[0] == '/') return fail(-1, EXDEV);
    char *rest = buf + sizeof buf - rl - 1;
    memcpy(rest, rel, rl + 1);
    int links = 0;
    int cur = openat(dir_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0) return -1;
    for (;;) {
        while (*rest == '/')
            rest++;
        if (!*rest) /* the walk ends on a directory: that is what is opened */
            return walked(cur, openat(cur, ".", flags | O_CLOEXEC));
        size_t n = strcspn(rest, "/");
        if (n > NAME_MAX) return walked(cur, fail(-1, ENAMETOOLONG));
        memcpy(name, rest, n);
        name[n] = 0;
        rest += n;
        int last = !*rest;
        if (strcmp(name, ".") == 0) continue;
        if (strcmp(name, "..") == 0) {
            if (!plen) return walked(cur, fail(-1, EXDEV));
            while (plen && phys[plen - 1] != '/')
                plen--;
            if (plen) plen--;
            close(cur);
            if ((cur = open_phys(dir_fd, phys, plen)) < 0) return -1;
            continue;
        }
        struct stat st;
        int link;
        if (last) {
            /* Nothing is followed with O_NOFOLLOW, nor by O_CREAT|O_EXCL. */
            if (flags & O_NOFOLLOW || (flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
                return walked(cur, openat(cur, name, flags | O_CLOEXEC, 0));
            int fd = openat(cur, name, flags | O_NOFOLLOW | O_CLOEXEC, 0);
            if (fd >= 0) /* O_PATH opens a symlink itself */
                link = flags & O_PATH && fstat(fd, &st) == 0 && S_ISLNK(st.st_mode);
            else
                link = (errno == ELOOP || errno == ENOTDIR) &&
                       fstatat(cur, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
            if (!link) return walked(cur, fd);
            if (fd >= 0) close(fd);
        } else {
            int fd = openat(cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0) return walked(cur, -1);
            if (fstat(fd, &st) < 0) return walked(cur, fail(fd, errno));
            link = S_ISLNK(st.st_mode);
            if (!link) {
                if (!S_ISDIR(st.st_mode)) return walked(cur, fail(fd, ENOTDIR));
                if (plen + 1 + n >= sizeof phys) return walked(cur, fail(fd, ENAMETOOLONG));
                if (plen) phys[plen++] = '/';
                memcpy(phys + plen, name, n);
                plen += n;
                close(cur);
                cur = fd;
                continue;
            }
            close(fd);
        }
        /* A symlink: its target, relative to where it is, goes in front of
         * what is left. Absolute ones lead out, as openat2 says. */
        if (no_symlinks || ++links > WALK_LINKS) return walked(cur, fail(-1, ELOOP));
        ssize_t tl = readlinkat(cur, name, target, sizeof target);
        if (tl < 0) return walked(cur, -1);
        if ((size_t)tl == sizeof target || (size_t)(rest - buf) < (size_t)tl)
            return walked(cur, fail(-1, ENAMETOOLONG));
        if (tl && target[0] == '/') return walked(cur, fail(-1, EXDEV));
        rest -= tl;
        memcpy(rest, target, (size_t)tl);
    }
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
