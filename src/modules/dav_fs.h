/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dav_fs.h - what WebDAV does to the files of a writable area: making a
 * collection, and deleting, copying and moving whole trees, each as atomic
 * as the filesystem allows and durable before it returns.
 *
 * Paths are relative to an area's directory (open, O_PATH), "" being the
 * area itself; each is resolved beneath it, and nothing below is followed
 * through a symlink, so no tree operation leaves the area. They block on
 * the disk: the jobs pool runs them. Each returns 0 or -errno.
 */
#ifndef HTD_DAV_FS_H
#define HTD_DAV_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* Temporary names (dotfiles, never served, cleaned at start) start so. */
#define DAVFS_TMP_PREFIX ".htd-tmp-"
/* A file so named in a directory marks it for removal at the next start,
 * should it be found where its text says (davfs_doomed); anywhere else the
 * file alone goes, as any temporary name. */
#define DAVFS_DOOMED_PREFIX ".htd-tmp-doomed-"

/* Makes the changes made so far in area's filesystem durable, in a sync
 * shared with the threads that ask at the same time (syncgroup.h). */
int davfs_sync(int area);

/* Whether the mark's text mark_text[0..len) dooms the directory it was
 * found in, whose name is leaf in a directory of status parent. */
int davfs_doomed(const char *mark_text, size_t len, const struct stat *parent, const char *leaf);

/* The directory of rel's parent, opened beneath area, and rel's last
 * segment in leaf[0..cap). -ENOENT/-ENOTDIR when the parent is missing. */
int davfs_parent(int area, const char *rel, char *leaf, size_t cap);
/* rel's status (a symlink's own). */
int davfs_stat(int area, const char *rel, struct stat *st);
/* The bytes of the documents at rel (tree: and below it; symlinks not
 * followed) into *bytes: 0 (nothing there is 0 bytes), or -errno. */
int davfs_size(int area, const char *rel, int tree, uint64_t *bytes);

/* A new directory: -EEXIST, -ENOENT (no parent). */
int davfs_mkcol(int area, const char *rel);
/* rel and all below it: gone at once (renamed aside), then removed. */
int davfs_delete(int area, const char *rel);
/* A copy of from at to (in another area, maybe): a document, a collection
 * alone (tree 0) or with everything below it. Built aside and renamed into
 * place, over what was at to when overwrite is set (-EEXIST if not). */
int davfs_copy(int from_area, const char *from, int to_area, const char *to, int tree,
               int overwrite);
/* from renamed to to, over what was there when overwrite is set (-EEXIST if
 * not; *replaced says whether something was): one rename in the root; across
 * filesystems, a copy and a delete. The rename is on the disk once
 * davfs_sync has returned for the areas it touched: the caller syncs after
 * letting go of its lock, so that moves at once share their syncs. */
int davfs_move(int from_area, const char *from, int to_area, const char *to, int overwrite,
               int *replaced);

#endif
