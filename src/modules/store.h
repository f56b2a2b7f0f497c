/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * store.h - the writable document store: PUT, POST and DELETE under the
 * writable areas of the document tree.
 *
 * Every step that touches the disk (making directories, checking
 * preconditions, writing, fsync, rename, unlink) runs on the jobs pool; the
 * upload's sink says it is busy meanwhile and no more of the body is read, so a
 * slow disk slows only its own upload. A document is written to a temporary
 * file beside it, fsynced, renamed over the old one and its directory
 * fsynced before the answer: readers see the old bytes or the new, never a
 * mix, and a crash at any moment leaves one of the two.
 */
#ifndef HTD_STORE_H
#define HTD_STORE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "module.h"

struct conn;
struct server_ctx;
struct htd_request;
struct htd_req;
struct upload;

#define STORE_TMP_PREFIX ".htd-tmp-"

/* The module: its content phase takes PUT, POST and DELETE in the writable
 * areas of the request's vhost (the connection gives it the body in
 * CS_SINK). Its per-server state is the writable areas of the settings
 * (root, writable, max_upload; the top level's when the server is made,
 * each vhost's with the first site), made, opened, cleaned of a killed
 * htd's temporary files and measured for their quotas. A write that would
 * take an area past its quota is 507: a declared body before anything is
 * written, a chunked one as soon as it passes. */
extern const htd_module store_module;

/* The writable areas are the top-level server's (writable = [...] at the
 * top level, under its root) and each vhost's (writable in the vhost,
 * under its root); vhost names the one a request is for: its first name
 * (vhost.name), NULL for the top-level server. */

/* Is path (decoded, normalised) inside a writable area of vhost? */
int store_writable(const struct server_ctx *s, const char *vhost, const char *path, size_t len);
/* The writable area of vhost that path is in: its index, with its
 * directory (O_PATH) in *fd and the length of its prefix in path (without
 * a trailing '/'). -1 when none. */
int store_area(const struct server_ctx *s, const char *vhost, const char *path, size_t len, int *fd,
               size_t *prefix);
/* The vhost name area i is for (the store's copy: it lasts as long as the
 * server), NULL for the top-level server. */
const char *store_area_vhost(const struct server_ctx *s, int i);
/* Whether area i speaks WebDAV (webdav = true where it was set). */
int store_area_dav(const struct server_ctx *s, int i);
/* Area i's quota: 0 with its size and the bytes its documents take now, or
 * -1 when it has none. */
int store_quota(const struct server_ctx *s, int i, uint64_t *quota, uint64_t *used);
/* Takes bytes more of area i's quota for a change about to be made: 0, or
 * -1 (nothing taken) when they would take it past the quota (507). */
int store_quota_take(const struct server_ctx *s, int i, int64_t bytes);
/* Counts bytes (negative: freed) in area i without a check: what a change
 * made, less what was taken for it. */
void store_quota_add(const struct server_ctx *s, int i, int64_t bytes);
/* The lock under which the store checks preconditions and renames: WebDAV
 * changes take it too. */
pthread_mutex_t *store_commit_lock(const struct server_ctx *s);

/* Parses a size: digits with an optional K, M or G. -1 if it is not one. */
int store_parse_size(const char *v, size_t len, uint64_t *out);
/* A writable area "PREFIX", "PREFIX:SIZE", "PREFIX:SIZE:QUOTA" or
 * "PREFIX::QUOTA": the normalised prefix into norm, the size limit of a
 * document (or 0) into *max, the total size of the area's documents (or 0)
 * into *quota. -1 with a reason. */
int store_parse_area(const char *spec, char *norm, size_t cap, uint64_t *max, uint64_t *quota,
                     const char **why);

/* Takes over a PUT, POST or DELETE in a writable area; the request head has
 * been consumed and its body (if any) is next in the read buffer. */
void store_start(struct conn *c, const struct htd_request *r, const struct htd_req *hr);

/* For conn.c: the connection is closing; the upload finishes on its own. */
void store_detach(struct conn *c);

#endif
