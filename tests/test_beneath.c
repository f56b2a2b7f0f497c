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
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

/* An empty file name in dir. */
static void touch(int dir, const char *name)
{
    int fd = openat(dir, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
}

/* Makes dir (a mkdtemp template) and a directory "root" in it: root's
 * descriptor, opened with how, and the top's in *top; -1 if it failed. */
static int make_root(char *dir, int how, int *top)
{
    *top = -1;
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        CHECK(0);
        return -1;
    }
    *top = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(*top >= 0);
    CHECK_EQ_INT(mkdirat(*top, "root", 0755), 0);
    int root = openat(*top, "root", how | O_DIRECTORY | O_CLOEXEC);
    CHECK(root >= 0);
    return root;
}

TEST(inside_opens_and_outside_is_refused)
{
    int top, root = make_root(dir_, O_RDONLY, &top);
    if (root < 0) return;
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
    int top, root = make_root(dir2_, O_PATH, &top); /* O_PATH: as a vhost's root */
    if (root < 0) return;
    CHECK_EQ_INT(mkdirat(root, "sub", 0755), 0);
    CHECK_EQ_INT(mkdirat(root, ".git", 0755), 0);
    static const char *const files[] = {"sub/file", ".env", ".git/config"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        touch(root, files[i]);
    touch(top, "secret");
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

static char dir3_[] = "/tmp/htd-test-walk-XXXXXX";

/* What opening rel beneath root gives: the errno, or 0 and the file's inode
 * in *ino. */
static int outcome(int fd, ino_t *ino)
{
    struct stat st;
    if (fd < 0) return errno;
    CHECK_EQ_INT(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    CHECK_EQ_INT(fstat(fd, &st), 0);
    *ino = st.st_ino;
    close(fd);
    return 0;
}

/* htd_open_walk opens what openat2(RESOLVE_BENEATH) opens, and refuses what
 * it refuses with the same errno; with no_symlinks, what
 * RESOLVE_NO_SYMLINKS does. */
static void agree(int root, const char *rel, int flags)
{
    for (int nosym = 0; nosym < 2; nosym++) {
        ino_t a = 0, b = 0;
        struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC),
                               .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
                                          (nosym ? RESOLVE_NO_SYMLINKS : 0)};
        int kernel =
            outcome((int)syscall(SYS_openat2, root, *rel ? rel : ".", &how, sizeof how), &a);
        int walk = outcome(htd_open_walk(root, rel, flags, nosym), &b);
        if (kernel != walk || a != b)
            fprintf(stderr, "  walk of \"%s\" (flags %#x%s): %s, openat2: %s\n", rel, flags,
                    nosym ? ", no symlinks" : "", walk ? strerror(walk) : "opened",
                    kernel ? strerror(kernel) : "opened");
        CHECK_EQ_INT(walk, kernel);
        CHECK(a == b);
    }
}

TEST(the_walk_without_openat2_agrees_with_it)
{
    int top, root = make_root(dir3_, O_PATH, &top);
    if (root < 0) return;
    static const char *const dirs[] = {"sub", "a", "a/b", "a/b/c", ".git"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        CHECK_EQ_INT(mkdirat(root, dirs[i], 0755), 0);
    static const char *const files[] = {"sub/file", "a/b/c/deep", ".env", "top"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        touch(root, files[i]);
    touch(top, "secret");
    static const char *const links[][2] = {
        {"in", "sub/file"},
        {"d", "sub"},
        {"d2", "d/"},
        {"chain", "in"},
        {"up", "../secret"},
        {"abs", "/etc/passwd"},
        {"absd", "/tmp"},
        {"self", "."},
        {"loop1", "loop2"},
        {"loop2", "loop1"},
        {"dangling", "nope"},
        {"sub/back", "../top"},
        {"a/b/c/far", "../../../sub/file"},
        {"a/b/c/out", "../../../../secret"},
        {"a/b/cd", "c/"},
        {"a/b/dd", "./c/./deep"},
        {"sub/dot", "../.env"},
        {"a/b/c/rel", "../../b/c/deep"},
        {"sub/root", ".."},
        {"sub/above", "../.."},
    };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
        CHECK_EQ_INT(symlinkat(links[i][1], root, links[i][0]), 0);

    static const char *const rels[] = {
        "",
        ".",
        "./",
        "..",
        "../secret",
        "/etc/passwd",
        "sub",
        "sub/",
        "sub//file",
        "./sub/./file",
        "sub/file",
        "sub/file/",
        "sub/file/x",
        "sub/nope",
        "nope/x",
        "in",
        "in/",
        "chain",
        "d",
        "d/",
        "d/file",
        "d2/file",
        "up",
        "abs",
        "absd",
        "absd/x",
        "self",
        "self/self/sub/file",
        "loop1",
        "loop1/x",
        "dangling",
        "sub/back",
        "a/b/c/far",
        "a/b/c/out",
        "a/b/cd/deep",
        "a/b/dd",
        "sub/dot",
        "a/b/c/rel",
        "sub/root",
        "sub/root/top",
        "sub/above",
        "sub/above/secret",
        "a/b/../b/c/deep",
        "a/b/c/../../../top",
        "a/b/c/../../../../secret",
        "sub/..",
        "sub/../..",
        ".env",
        ".git",
        "d/../top",
        "d/../../secret",
    };
    static const int flags[] = {O_RDONLY,
                                O_RDONLY | O_DIRECTORY,
                                O_PATH,
                                O_PATH | O_DIRECTORY,
                                O_RDONLY | O_NOFOLLOW,
                                O_PATH | O_NOFOLLOW};
    for (size_t i = 0; i < sizeof rels / sizeof rels[0]; i++)
        for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++)
            agree(root, rels[i], flags[f]);

    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
        CHECK_EQ_INT(unlinkat(root, links[i][0], 0), 0);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        CHECK_EQ_INT(unlinkat(root, files[i], 0), 0);
    for (size_t i = sizeof dirs / sizeof dirs[0]; i-- > 0;)
        CHECK_EQ_INT(unlinkat(root, dirs[i], AT_REMOVEDIR), 0);
    CHECK_EQ_INT(unlinkat(top, "secret", 0), 0);
    CHECK_EQ_INT(unlinkat(top, "root", AT_REMOVEDIR), 0);
    close(root);
    close(top);
    CHECK_EQ_INT(rmdir(dir3_), 0);
}

int main(void)
{
    RUN_TESTS();
}
