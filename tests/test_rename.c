/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_rename.c - htd_rename_noreplace: a file goes in place under a free
 * name; a taken one is EEXIST with both files as they were. Then the same
 * where renameat2 says EINVAL (as on NFS, or ZFS before 2.2: a seccomp
 * filter makes it so for the rest of this process), through the link; a
 * directory there is EOPNOTSUPP.
 */
#include "rename.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static char dir_[] = "/tmp/htd-test-rename-XXXXXX";
static int d_ = -1;

static void put(const char *name, const char *text)
{
    int fd = openat(d_, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    if (fd < 0) return;
    CHECK_EQ_INT((int)write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
}

/* The file's text, or "" if there is none. */
static const char *text_of(const char *name)
{
    static char buf[64];
    int fd = openat(d_, name, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? 0 : read(fd, buf, sizeof buf - 1);
    if (fd >= 0) close(fd);
    buf[n > 0 ? n : 0] = 0;
    return buf;
}

/* 0, or the errno htd_rename_noreplace failed with. */
static int try_rename(const char *from, const char *to)
{
    return htd_rename_noreplace(d_, from, d_, to) == 0 ? 0 : errno;
}

static void renames_without_replacing(void)
{
    put("tmp1", "one");
    CHECK_EQ_INT(try_rename("tmp1", "doc"), 0);
    CHECK(strcmp(text_of("doc"), "one") == 0);
    CHECK_EQ_INT(faccessat(d_, "tmp1", F_OK, 0), -1);
    put("tmp2", "two");
    CHECK_EQ_INT(try_rename("tmp2", "doc"), EEXIST);
    CHECK(strcmp(text_of("doc"), "one") == 0);
    CHECK(strcmp(text_of("tmp2"), "two") == 0);
    CHECK_EQ_INT(try_rename("nothing", "doc2"), ENOENT);
    CHECK_EQ_INT(unlinkat(d_, "doc", 0), 0);
    CHECK_EQ_INT(unlinkat(d_, "tmp2", 0), 0);
}

TEST(a_free_name_takes_the_file_and_a_taken_one_is_eexist)
{
    if (!mkdtemp(dir_)) {
        perror("mkdtemp");
        CHECK(0);
        return;
    }
    d_ = open(dir_, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(d_ >= 0);
    renames_without_replacing();
    CHECK_EQ_INT(mkdirat(d_, "sub", 0755), 0);
    CHECK_EQ_INT(try_rename("sub", "sub2"), 0);
    CHECK_EQ_INT(unlinkat(d_, "sub2", AT_REMOVEDIR), 0);
}

TEST(where_renameat2_cannot_the_link_does_the_same)
{
    struct sock_filter prog[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_renameat2, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog fprog = {.len = sizeof prog / sizeof prog[0], .filter = prog};
    CHECK_EQ_INT(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
    CHECK_EQ_INT(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog), 0);
    CHECK_EQ_INT(renameat2(d_, "x", d_, "y", RENAME_NOREPLACE), -1);
    CHECK_EQ_INT(errno, EINVAL); /* the filter is on */

    renames_without_replacing();
    CHECK_EQ_INT(mkdirat(d_, "sub", 0755), 0);
    CHECK_EQ_INT(try_rename("sub", "sub2"), EOPNOTSUPP); /* a directory cannot be linked */
    CHECK_EQ_INT(unlinkat(d_, "sub", AT_REMOVEDIR), 0);
    close(d_);
    CHECK_EQ_INT(rmdir(dir_), 0);
}

int main(void)
{
    RUN_TESTS();
}
