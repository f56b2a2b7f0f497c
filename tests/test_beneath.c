/*
 * test_beneath.c - htd_open_beneath: files and directories beneath the root
 * open, close-on-exec; "" is the root itself; "..", absolute paths and
 * symlinks that lead out are refused, symlinks that stay inside are not.
 */
#include "beneath.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
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

int main(void)
{
    RUN_TESTS();
}
