/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_beneath.c - htd_open_beneath: files and directories beneath the root
 * open, close-on-exec; "" is the root itself; "..", absolute paths and
 * symlinks that lead out are refused, symlinks that stay inside are not.
 * htd_open_resolved: the same, and where the file is, symlinks followed.
 */
#include "beneath.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir_[] = "/tmp/htd-test-beneath-XXXXXX";

/* Opens rel beneath root and returns 0, or the errno it failed with. */
static int try_open(int root, const char *rel, int flags)
{
    int fd = htd_open_beneath(root, rel, flags);
    if (fd < 0) return errno;
    CHECK_EQ_INT(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    close(fd);
    return 0;
}

TEST(inside_opens_and_outside_is_refused)
{
    if (!mkdtemp(dir_)) {
        perror("mkdtemp");
        CHECK(0);
        return;
    }
    int top = open(dir_, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(top >= 0);
    CHECK_EQ_INT(mkdirat(top, "root", 0755), 0);
    int root = openat(top, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(root >= 0);
    CHECK_EQ_INT(mkdirat(root, "sub", 0755), 0);
    int fd = openat(root, "sub/file", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    close(fd);
    fd = openat(top, "secret", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    close(fd);
    CHECK_EQ_INT(symlinkat("sub/file", root, "in"), 0);
    CHECK_EQ_INT(symlinkat("../secret", root, "up"), 0);
    CHECK_EQ_INT(symlinkat("/etc/passwd", root, "abs"), 0);

    CHECK_EQ_INT(try_open(root, "sub/file", O_RDONLY), 0);
    CHECK_EQ_INT(try_open(root, "sub", O_RDONLY | O_DIRECTORY), 0);
    CHECK_EQ_INT(try_open(root, "in", O_RDONLY), 0);
    CHECK_EQ_INT(try_open(root, "sub/../sub/file", O_RDONLY), 0);
    CHECK_EQ_INT(try_open(root, "nope", O_RDONLY), ENOENT);
    CHECK_EQ_INT(try_open(root, "../secret", O_RDONLY), EXDEV);
    CHECK_EQ_INT(try_open(root, "sub/../../secret", O_RDONLY), EXDEV);
    CHECK_EQ_INT(try_open(root, "/etc/passwd", O_RDONLY), EXDEV);
    CHECK_EQ_INT(try_open(root, "up", O_RDONLY), EXDEV);
    CHECK_EQ_INT(try_open(root, "abs", O_RDONLY), EXDEV);

    /* "" is the root itself: the same directory as root. */
    fd = htd_open_beneath(root, "", O_RDONLY | O_DIRECTORY);
    CHECK(fd >= 0);
    struct stat a, b;
    CHECK(fd >= 0 && fstat(fd, &a) == 0 && fstat(root, &b) == 0 && a.st_ino == b.st_ino);
    if (fd >= 0) close(fd);

    static const char *const links[] = {"in", "up", "abs"};
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
        CHECK_EQ_INT(unlinkat(root, links[i], 0), 0);
    CHECK_EQ_INT(unlinkat(root, "sub/file", 0), 0);
    CHECK_EQ_INT(unlinkat(root, "sub", AT_REMOVEDIR), 0);
    CHECK_EQ_INT(unlinkat(top, "secret", 0), 0);
    CHECK_EQ_INT(unlinkat(top, "root", AT_REMOVEDIR), 0);
    close(root);
    close(top);
    CHECK_EQ_INT(rmdir(dir_), 0);
}

static char dir2_[] = "/tmp/htd-test-resolved-XXXXXX";

/* Opens rel beneath root with htd_open_resolved into where_ (filled with
 * '#' first): 0, or the errno it failed with. */
static char where_[64];
static int resolve(int root, const char *rel, int flags, size_t cap)
{
    memset(where_, '#', sizeof where_);
    int fd = htd_open_resolved(root, rel, flags, where_, cap);
    if (fd < 0) return errno;
    CHECK_EQ_INT(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    close(fd);
    return 0;
}

#define WHERE(rel, want)                                                                           \
    do {                                                                                           \
        CHECK_EQ_INT(resolve(root, (rel), O_RDONLY, sizeof where_), 0);                            \
        CHECK_STR(where_, strlen(where_), (want));                                                 \
    } while (0)

TEST(resolved_says_where_the_file_is_with_symlinks_followed)
{
    if (!mkdtemp(dir2_)) {
        perror("mkdtemp");
        CHECK(0);
        return;
    }
    int top = open(dir2_, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(top >= 0);
    CHECK_EQ_INT(mkdirat(top, "root", 0755), 0);
    int root = openat(top, "root", O_PATH | O_DIRECTORY | O_CLOEXEC); /* as a vhost's root */
    CHECK(root >= 0);
    CHECK_EQ_INT(mkdirat(root, "sub", 0755), 0);
    CHECK_EQ_INT(mkdirat(root, ".git", 0755), 0);
    static const char *const files[] = {"sub/file", ".env", ".git/config"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        int fd = openat(root, files[i], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        CHECK(fd >= 0);
        if (fd >= 0) close(fd);
    }
    int fd = openat(top, "secret", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    CHECK_EQ_INT(symlinkat(".env", root, "envlink"), 0);
    CHECK_EQ_INT(symlinkat(".git", root, "cfg"), 0);
    CHECK_EQ_INT(symlinkat("sub", root, "d"), 0);
    CHECK_EQ_INT(symlinkat("../.env", root, "sub/up"), 0);
    CHECK_EQ_INT(symlinkat("../secret", root, "out"), 0);
    CHECK_EQ_INT(symlinkat(".", root, "self"), 0);

    /* Without symlinks: rel itself, a '/' before it. */
    WHERE("sub/file", "/sub/file");
    WHERE("sub", "/sub");
    WHERE("", "/");
    WHERE(".env", "/.env");
    /* With them: the file the kernel opened. */
    WHERE("envlink", "/.env");
    WHERE("cfg/config", "/.git/config");
    WHERE("cfg", "/.git");
    WHERE("d/file", "/sub/file");
    WHERE("d/up", "/.env");
    WHERE("d/../d/file", "/sub/file");
    WHERE("self", "/");
    WHERE("self/d/file", "/sub/file");
    /* Refusals are htd_open_beneath's. */
    CHECK_EQ_INT(resolve(root, "out", O_RDONLY, sizeof where_), EXDEV);
    CHECK_EQ_INT(resolve(root, "../secret", O_RDONLY, sizeof where_), EXDEV);
    CHECK_EQ_INT(resolve(root, "nope", O_RDONLY, sizeof where_), ENOENT);
    CHECK_EQ_INT(resolve(root, "d/nope", O_RDONLY, sizeof where_), ENOENT);
    CHECK_EQ_INT(resolve(root, "sub/file/x", O_RDONLY, sizeof where_), ENOTDIR);
    /* where must hold the path and its NUL, either way. */
    CHECK_EQ_INT(resolve(root, "sub/file", O_RDONLY, 10), 0);
    CHECK_STR(where_, 9, "/sub/file");
    CHECK_EQ_INT(resolve(root, "sub/file", O_RDONLY, 9), ENAMETOOLONG);
    CHECK_EQ_INT(resolve(root, "d/file", O_RDONLY, 10), 0);
    CHECK_STR(where_, 9, "/sub/file");
    CHECK_EQ_INT(resolve(root, "d/file", O_RDONLY, 9), ENAMETOOLONG);
    /* O_PATH, as for a script or a sibling. */
    CHECK_EQ_INT(resolve(root, "envlink", O_PATH, sizeof where_), 0);
    CHECK_STR(where_, strlen(where_), "/.env");

    static const char *const links[] = {"envlink", "cfg", "d", "sub/up", "out", "self"};
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
        CHECK_EQ_INT(unlinkat(root, links[i], 0), 0);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        CHECK_EQ_INT(unlinkat(root, files[i], 0), 0);
    CHECK_EQ_INT(unlinkat(root, "sub", AT_REMOVEDIR), 0);
    CHECK_EQ_INT(unlinkat(root, ".git", AT_REMOVEDIR), 0);
    CHECK_EQ_INT(unlinkat(top, "secret", 0), 0);
    CHECK_EQ_INT(unlinkat(top, "root", AT_REMOVEDIR), 0);
    close(root);
    close(top);
    CHECK_EQ_INT(rmdir(dir2_), 0);
}

int main(void)
{
    RUN_TESTS();
}
