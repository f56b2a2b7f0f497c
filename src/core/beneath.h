/*
 * beneath.h - opening a file beneath a directory, never outside it.
 */
#ifndef HTD_BENEATH_H
#define HTD_BENEATH_H

/*
 * Opens rel relative to the directory dir_fd with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS), so the kernel refuses any "..", absolute symlink
 * or symlink that would lead out of dir_fd (EXDEV, ELOOP), whatever a racing
 * rename does to the tree. The descriptor is close-on-exec. An empty rel
 * opens dir_fd's directory itself. A descriptor, or -1 with errno set.
 */
int htd_open_beneath(int dir_fd, const char *rel, int flags);

#endif
