/*
 * beneath.c - the one openat2 call: every file htd serves, writes or runs is
 * opened through it, relative to a root or area it may not leave.
 */
#include "beneath.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

int htd_open_beneath(int dir_fd, const char *rel, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    return (int)syscall(SYS_openat2, dir_fd, *rel ? rel : ".", &how, sizeof how);
}
