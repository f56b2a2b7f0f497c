/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * beneath.h - opening a file beneath a directory, never outside it.
 */
#ifndef HTD_BENEATH_H
#define HTD_BENEATH_H

#include <stddef.h>

/*
 * Opens rel relative to the directory dir_fd with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS), so the kernel refuses any "..", absolute symlink
 * or symlink that would lead out of dir_fd (EXDEV, ELOOP), whatever a racing
 * rename does to the tree; where openat2 cannot be used, htd_open_walk
 * (below) keeps the same rules. The descriptor is close-on-exec. An empty
 * rel opens dir_fd's directory itself. flags must not create (no O_CREAT,
 * O_TMPFILE: the mode would be 0). A descriptor, or -1 with errno set.
 */
int htd_open_beneath(int dir_fd, const char *rel, int flags);

/*
 * As htd_open_beneath, and says where the file it opened is: its path from
 * dir_fd's directory as the kernel resolved it, symlinks followed, starting
 * with '/' ("/" for the directory itself), NUL-terminated in where[0..cap).
 * So "envlink", a symlink to ".env", says "/.env", and a rule on names can
 * be applied to the file itself rather than to what it was called. A path
 * with no symlink in it costs what htd_open_beneath costs (it is opened
 * with RESOLVE_NO_SYMLINKS first, and where is "/" and rel); one with them
 * is opened again and asked of /proc/self/fd. -1 with errno as
 * htd_open_beneath, or ENAMETOOLONG (where is too small), or EXDEV when
 * where the file is cannot be told (no /proc, or it is not below where
 * dir_fd's directory is now).
 */
int htd_open_resolved(int dir_fd, const char *rel, int flags, char *where, size_t cap);

/*
 * What the two above do where openat2 cannot be used (a kernel before 5.6,
 * valgrind, a seccomp filter that does not know it: they are asked once,
 * and use this walk from then on). It opens rel a name at a time, never
 * letting the kernel follow anything: each symlink's target is read and put
 * in front of what is left (at most 40 of them, then ELOOP; none at all if
 * no_symlinks, as RESOLVE_NO_SYMLINKS), ".." goes back up the way the walk
 * came and never above dir_fd, and an absolute path or target is refused
 * (EXDEV), as openat2(RESOLVE_BENEATH) does. What it cannot do is what
 * the kernel does against a rename racing the walk: a directory the walk
 * is in, moved out of dir_fd's tree meanwhile (a local writer, or a WebDAV
 * MOVE to another writable area), is followed where it went, down; ".."
 * still never leaves the way the walk came. Errors may differ from the
 * kernel's where both refuse (a magic link is EXDEV or ENOENT, not ELOOP);
 * ".." after a directory that may be read but not searched is allowed. A
 * descriptor, or -1 with errno set.
 */
int htd_open_walk(int dir_fd, const char *rel, int flags, int no_symlinks);

#endif
