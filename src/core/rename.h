/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rename.h - putting a file in place under a name only if the name is free.
 */
#ifndef HTD_RENAME_H
#define HTD_RENAME_H

/*
 * Renames old (relative to olddirfd) to new (relative to newdirfd) unless
 * new exists, as renameat2(RENAME_NOREPLACE) does: -1 with EEXIST then, and
 * never a moment when another name's file is replaced. Where the filesystem
 * or the kernel cannot do that (EINVAL or ENOSYS: NFS, ZFS before 2.2, a
 * kernel before 3.15), a file that is not a directory is linked as new,
 * which fails with EEXIST just as atomically, and then unlinked as old. 0,
 * or -1 with errno: EOPNOTSUPP where neither can be done (a directory, or
 * no hard links there either), never an EINVAL that could be mistaken for
 * a rename into the file's own subtree.
 */
int htd_rename_noreplace(int olddirfd, const char *old, int newdirfd, const char *new);

#endif
