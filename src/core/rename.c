/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rename.c - a rename that never replaces (see rename.h).
 */
#include "rename.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int htd_rename_noreplace(int olddirfd, const char *old, int newdirfd, const char *new)
{
    if (renameat2(olddirfd, old, newdirfd, new, RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS) return -1;
    if (linkat(olddirfd, old, newdirfd, new, 0) < 0) {
        /* A directory, a file hard links may not be made to, or no hard
         * links here at all: it cannot be done here. A name that is taken
         * says EEXIST. */
        if (errno == EPERM || errno == EOPNOTSUPP || errno == ENOSYS) errno = EOPNOTSUPP;
        return -1;
    }
    /* The file is in place; the old name goes. If that fails, the file is
     * under both names, and the caller's temporary is left over. */
    unlinkat(olddirfd, old, 0);
    return 0;
}
