/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dav_fs.c - WebDAV's tree operations on a writable area; see dav_fs.h.
 *
 * Each change becomes visible in one rename, fsynced with its directory
 * (a copy's documents and folders are synced in one syncfs before it):
 * a copy is built under a temporary name beside its destination and
 * renamed into place (exchanged with what it replaces), a delete renames
 * the tree aside before removing it, and a move is a rename. A crash
 * leaves either the old state or the new, and temporary trees, which the
 * store removes at the next start (STORE_TMP_PREFIX is the same prefix).
 * Below the resolved top of an operation, every directory is opened with
 * O_NOFOLLOW relative to its parent, and symlinks are neither followed nor
 * copied.
 */
#include "dav_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "beneath.h"
#include "rename.h"
#include "syncgroup.h"

#define COPY_CHUNK (1 << 20)

static int neg(void)
{
    return errno ? -errno : -EIO;
}

int davfs_parent(int area, const char *rel, char *leaf, size_t cap)
{
    const char *slash = strrchr(rel, '/');
    const char *name = slash ? slash + 1 : rel;
    size_t dl = slash ? (size_t)(slash - rel) : 0;
    if (!*name) return -EINVAL; /* the area itself has no parent here */
    if (strlen(name) >= cap) return -ENAMETOOLONG;
    strcpy(leaf, name);
    char dir[4096];
    if (dl >= sizeof dir) return -ENAMETOOLONG;
    memcpy(dir, rel, dl);
    dir[dl] = 0;
    int fd = htd_open_beneath(area, dir, O_RDONLY | O_DIRECTORY);
    return fd < 0 ? neg() : fd;
}

int davfs_stat(int area, const char *rel, struct stat *st)
{
    if (!*rel) {
        int fd = htd_open_beneath(area, "", O_RDONLY | O_DIRECTORY);
        if (fd < 0) return neg();
        int rc = fstat(fd, st) < 0 ? neg() : 0;
        close(fd);
        return rc;
    }
    char leaf[256];
    int pfd = davfs_parent(area, rel, leaf, sizeof leaf);
    if (pfd < 0) return pfd == -ENOTDIR ? -ENOENT : pfd;
    int rc = fstatat(pfd, leaf, st, AT_SYMLINK_NOFOLLOW) < 0 ? neg() : 0;
    close(pfd);
    return rc;
}

int davfs_mkcol(int area, const char *rel)
{
    char leaf[256];
    int pfd = davfs_parent(area, rel, leaf, sizeof leaf);
    if (pfd < 0) return pfd == -ENOTDIR ? -ENOENT : pfd == -EINVAL ? -EEXIST : pfd;
    int rc = mkdirat(pfd, leaf, 0755) < 0 ? neg() : fsync(pfd) < 0 ? neg() : 0;
    close(pfd);
    return rc;
}

/* A fresh temporary name. */
static int tmp_name(char *out, size_t cap)
{
    static atomic_ulong seq;
    unsigned char r[8];
    if (getrandom(r, sizeof r, 0) != sizeof r) return -EIO;
    snprintf(out, cap, DAVFS_TMP_PREFIX "%02x%02x%02x%02x%02x%02x%02x%02x-%lx", r[0], r[1], r[2],
             r[3], r[4], r[5], r[6], r[7], atomic_fetch_add(&seq, 1));
    return 0;
}

/* Calls fn(fd, entry, arg) for each entry of the directory name in dfd
 * (opened without following a symlink; fd is it), but "." and ".." and,
 * with skip_tmp, temporary names, until one fails: 0, or its -errno. */
static int each_entry(int dfd, const char *name, int skip_tmp,
                      int (*fn)(int fd, const char *entry, void *arg), void *arg)
{
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return neg();
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = neg();
        close(fd);
        return e;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
            (skip_tmp && !strncmp(de->d_name, DAVFS_TMP_PREFIX, sizeof DAVFS_TMP_PREFIX - 1)))
            continue;
        rc = fn(dirfd(d), de->d_name, arg);
    }
    closedir(d);
    return rc;
}

static int remove_at(int dfd, const char *name);

static int remove_entry(int fd, const char *entry, void *arg)
{
    (void)arg;
    return remove_at(fd, entry);
}

/* Removes name in dirfd and everything below it, following no symlink. */
static int remove_at(int dfd, const char *name)
{
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return errno == ENOENT ? 0 : neg();
    if (!S_ISDIR(st.st_mode)) return unlinkat(dfd, name, 0) < 0 ? neg() : 0;
    int rc = each_entry(dfd, name, 0, remove_entry, NULL);
    if (rc == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0) rc = neg();
    return rc;
}

/* The bytes of the documents at name in dfd and below it. */
static int size_at(int dfd, const char *name, int tree, uint64_t *bytes);

static int size_entry(int fd, const char *entry, void *arg)
{
    return size_at(fd, entry, 1, arg);
}

static int size_at(int dfd, const char *name, int tree, uint64_t *bytes)
{
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return errno == ENOENT ? 0 : neg();
    if (S_ISREG(st.st_mode)) *bytes += (uint64_t)st.st_size;
    if (!S_ISDIR(st.st_mode) || !tree) return 0;
    return each_entry(dfd, name, 1, size_entry, bytes);
}

int davfs_size(int area, const char *rel, int tree, uint64_t *bytes)
{
    *bytes = 0;
    if (!*rel) {
        int fd = htd_open_beneath(area, "", O_RDONLY | O_DIRECTORY);
        if (fd < 0) return neg();
        int rc = size_at(fd, ".", tree, bytes);
        close(fd);
        return rc;
    }
    char leaf[256];
    int pfd = davfs_parent(area, rel, leaf, sizeof leaf);
    if (pfd < 0) return pfd == -ENOTDIR || pfd == -ENOENT ? 0 : pfd;
    int rc = size_at(pfd, leaf, tree, bytes);
    close(pfd);
    return rc;
}

int davfs_delete(int area, const char *rel)
{
    char leaf[256], tmp[64];
    int pfd = davfs_parent(area, rel, leaf, sizeof leaf);
    if (pfd < 0) return pfd == -ENOTDIR ? -ENOENT : pfd;
    int rc = tmp_name(tmp, sizeof tmp);
    /* Gone in one step; then removed at leisure. */
    if (rc == 0) rc = renameat(pfd, leaf, pfd, tmp) < 0 ? neg() : 0;
    if (rc == 0) rc = fsync(pfd) < 0 ? neg() : 0;
    if (rc == 0) remove_at(pfd, tmp);
    close(pfd);
    return rc;
}

static int copy_file(int sfd, const char *sname, int dfd, const char *dname)
{
    int in = openat(sfd, sname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0) return neg();
    int out = openat(dfd, dname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) {
        int e = neg();
        close(in);
        return e;
    }
    int rc = 0;
    for (;;) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, COPY_CHUNK, 0);
        if (n == 0) break;
        if (n > 0) continue;
        if (errno == EINTR) continue;
        if (errno != EXDEV && errno != ENOSYS && errno != EINVAL) {
            rc = neg();
            break;
        }
        /* No copy_file_range between these files: read and write. */
        char *buf = malloc(COPY_CHUNK);
        if (!buf) {
            rc = -ENOMEM;
            break;
        }
        ssize_t r;
        while (rc == 0 && (r = read(in, buf, COPY_CHUNK)) != 0) {
            if (r < 0) {
                if (errno != EINTR) rc = neg();
                continue;
            }
            for (ssize_t off = 0; rc == 0 && off < r;) {
                ssize_t w = write(out, buf + off, (size_t)(r - off));
                if (w < 0 && errno != EINTR) rc = neg();
                if (w > 0) off += w;
            }
        }
        free(buf);
        break;
    }
    close(in);
    close(out);
    return rc;
}

/* A copy of sname (in sfd) as dname (in dfd): a document, or a directory
 * with (tree) what is below it. Symlinks and special files are left out. */
static int copy_at(int sfd, const char *sname, int dfd, const char *dname, int tree);

static int copy_entry(int fd, const char *entry, void *arg)
{
    return copy_at(fd, entry, *(int *)arg, entry, 1);
}

static int copy_at(int sfd, const char *sname, int dfd, const char *dname, int tree)
{
    struct stat st;
    if (fstatat(sfd, sname, &st, AT_SYMLINK_NOFOLLOW) < 0) return neg();
    if (S_ISREG(st.st_mode)) return copy_file(sfd, sname, dfd, dname);
    if (!S_ISDIR(st.st_mode)) return 0;
    if (mkdirat(dfd, dname, 0755) < 0) return neg();
    if (!tree) return 0;
    int d = openat(dfd, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (d < 0) return neg();
    int rc = each_entry(sfd, sname, 1, copy_entry, &d);
    close(d);
    return rc;
}

/* -errno of a RENAME_EXCHANGE that failed: EOPNOTSUPP where the file system
 * cannot exchange (EINVAL: NFS, ZFS before 2.2), so that it is not taken
 * for a move into the source's own subtree. */
static int exchange_failed(void)
{
    return errno == EINVAL || errno == ENOSYS ? -EOPNOTSUPP : neg();
}

/* Puts tmp (in dfd) in place as leaf: beside nothing, or over what is
 * there when overwrite is set (exchanged, then removed), else -EEXIST. */
static int place(int dfd, const char *tmp, const char *leaf, int overwrite)
{
    if (htd_rename_noreplace(dfd, tmp, dfd, leaf) == 0) return 0;
    if (errno != EEXIST) return neg();
    if (!overwrite) return -EEXIST;
    if (renameat2(dfd, tmp, dfd, leaf, RENAME_EXCHANGE) < 0) return exchange_failed();
    remove_at(dfd, tmp); /* what was there, now under the temporary name */
    return 0;
}

int davfs_copy(int from_area, const char *from, int to_area, const char *to, int tree,
               int overwrite)
{
    char sleaf[256], dleaf[256], tmp[64];
    int sfd = davfs_parent(from_area, from, sleaf, sizeof sleaf);
    if (sfd < 0) return sfd == -ENOTDIR ? -ENOENT : sfd;
    int dfd = davfs_parent(to_area, to, dleaf, sizeof dleaf);
    if (dfd < 0) {
        close(sfd);
        return dfd == -ENOENT || dfd == -ENOTDIR ? -ENOTDIR : dfd; /* no parent: 409 */
    }
    int rc = tmp_name(tmp, sizeof tmp);
    if (rc == 0) rc = copy_at(sfd, sleaf, dfd, tmp, tree);
    /* Everything the copy wrote, on the disk in one call rather than an
     * fsync per document and folder, before it is renamed into place. */
    if (rc == 0 && syncfs(dfd) < 0) rc = neg();
    if (rc == 0) rc = place(dfd, tmp, dleaf, overwrite);
    if (rc < 0)
        remove_at(dfd, tmp);
    else if (fsync(dfd) < 0)
        rc = neg();
    close(sfd);
    close(dfd);
    return rc;
}

/* How much of rel names its directory: up to its last '/', or 0. */
static size_t dir_len(const char *rel)
{
    const char *slash = strrchr(rel, '/');
    return slash ? (size_t)(slash - rel) : 0;
}

/* Marks the directory leaf (in dfd) as one to remove should it be found,
 * at the next start, under the name sleaf in the directory sfd: a file
 * DAVFS_DOOMED_PREFIX... in it saying so (davfs_doomed reads it), synced
 * with its directory. Its name in mark[0..cap). 0, or -errno. */
static int mark_doomed(int sfd, const char *sleaf, int dfd, const char *leaf, char *mark,
                       size_t cap)
{
    struct stat sd;
    char tmp[64], text[320];
    if (fstat(sfd, &sd) < 0 || tmp_name(tmp, sizeof tmp) < 0) return neg();
    snprintf(mark, cap, DAVFS_DOOMED_PREFIX "%s", tmp + sizeof DAVFS_TMP_PREFIX - 1);
    int n = snprintf(text, sizeof text, "%lu %lu %s\n", (unsigned long)sd.st_dev,
                     (unsigned long)sd.st_ino, sleaf);
    int dir = openat(dfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0) return neg();
    int fd = openat(dir, mark, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc =
        fd < 0 || write(fd, text, (size_t)n) != n || fsync(fd) < 0 || fsync(dir) < 0 ? neg() : 0;
    if (fd >= 0) close(fd);
    if (rc < 0) unlinkat(dir, mark, 0);
    close(dir);
    return rc;
}

int davfs_sync(int area)
{
    return syncgroup_sync(area);
}

int davfs_doomed(const char *mark_text, size_t len, const struct stat *parent, const char *leaf)
{
    char text[320];
    if (len >= sizeof text) return 0;
    memcpy(text, mark_text, len);
    text[len] = 0;
    unsigned long dev, ino;
    int at = 0;
    /* Exactly one space before the leaf: a name may begin with blanks. */
    if (sscanf(text, "%lu %lu%n", &dev, &ino, &at) != 2 || text[at] != ' ') return 0;
    at++;
    size_t ll = strlen(leaf);
    return dev == (unsigned long)parent->st_dev && ino == (unsigned long)parent->st_ino &&
           strncmp(text + at, leaf, ll) == 0 && text[at + ll] == '\n';
}

/* MOVE sleaf (in sfd) over what is at dleaf (in dfd). A document over a
 * document is one rename. Where a directory is either, the two are
 * exchanged, so that the destination is never missing, and what it was is
 * then renamed aside from the source's place and removed. A directory in
 * the way is first marked (mark_doomed): killed between the exchange and
 * the rename aside, htd would else find the old destination standing
 * under the source's name at its next start; the mark has the store's
 * cleaning remove it there, and found anywhere else only the mark goes. */
static int move_over(int sfd, const char *sleaf, int dfd, const char *dleaf, int *replaced)
{
    struct stat s, d;
    if (fstatat(sfd, sleaf, &s, AT_SYMLINK_NOFOLLOW) < 0 ||
        fstatat(dfd, dleaf, &d, AT_SYMLINK_NOFOLLOW) < 0)
        return neg();
    if (!S_ISDIR(s.st_mode) && !S_ISDIR(d.st_mode)) {
        if (renameat(sfd, sleaf, dfd, dleaf) < 0) return neg();
        *replaced = 1;
        return 0;
    }
    char mark[80], tmp[64];
    int marked = S_ISDIR(d.st_mode);
    if (marked) {
        int rc = mark_doomed(sfd, sleaf, dfd, dleaf, mark, sizeof mark);
        if (rc < 0) return rc;
    }
    if (renameat2(sfd, sleaf, dfd, dleaf, RENAME_EXCHANGE) < 0) {
        int rc = exchange_failed();
        if (marked) { /* still the destination's: only the mark goes */
            int dir = openat(dfd, dleaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (dir >= 0) {
                unlinkat(dir, mark, 0);
                close(dir);
            }
        }
        return rc;
    }
    *replaced = 1;
    if (tmp_name(tmp, sizeof tmp) == 0 && renameat(sfd, sleaf, sfd, tmp) == 0) {
        fsync(sfd);
        remove_at(sfd, tmp);
    }
    return 0;
}

int davfs_move(int from_area, const char *from, int to_area, const char *to, int overwrite,
               int *replaced)
{
    char sleaf[256], dleaf[256];
    *replaced = 0;
    int sfd = davfs_parent(from_area, from, sleaf, sizeof sleaf);
    if (sfd < 0) return sfd == -ENOTDIR ? -ENOENT : sfd;
    /* A rename within one directory (the common case) opens it once. */
    size_t dl = dir_len(from);
    int one = from_area == to_area && dl == dir_len(to) && !strncmp(from, to, dl);
    int dfd = one ? sfd : davfs_parent(to_area, to, dleaf, sizeof dleaf);
    if (one) {
        const char *leaf = to + dl + (to[dl] == '/');
        if (strlen(leaf) >= sizeof dleaf) {
            close(sfd);
            return -ENAMETOOLONG;
        }
        strcpy(dleaf, leaf);
    }
    if (dfd < 0) {
        close(sfd);
        return dfd == -ENOENT || dfd == -ENOTDIR ? -ENOTDIR : dfd;
    }
    int rc = 0;
    if (htd_rename_noreplace(sfd, sleaf, dfd, dleaf) < 0) {
        rc = neg();
        if (rc == -EEXIST && !overwrite) {
            /* as it is */
        } else if (rc == -EEXIST) {
            rc = move_over(sfd, sleaf, dfd, dleaf, replaced);
        } else if (rc == -EXDEV) {
            close(sfd);
            if (!one) close(dfd);
            struct stat st;
            *replaced = davfs_stat(to_area, to, &st) == 0;
            rc = davfs_copy(from_area, from, to_area, to, 1, overwrite);
            return rc < 0 ? rc : davfs_delete(from_area, from);
        }
    }
    close(sfd);
    if (!one) close(dfd);
    return rc;
}
