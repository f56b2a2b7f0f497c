/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dav_props.h - WebDAV's dead properties and locks, kept in the state database
 * (statedb.h) so that a PROPPATCH is one transaction on the disk with the
 * others of its group commit. A resource is named by its URL path as the
 * store normalises it, without a trailing slash ("/dav/a/b"); a tree is a
 * path and every path below it.
 *
 * Every function runs on the state database's writer thread (an apply of
 * statedb_sync), against its connection.
 */
#ifndef HTD_DAV_PROPS_H
#define HTD_DAV_PROPS_H

#include <sqlite3.h>

#include "dav_lock.h"
#include "dav_xml.h"

/* The table, made if missing. SQLITE_OK or an error code. */
int davp_schema(sqlite3 *db);

/* Calls fn for each dead property of path and, with children, of the
 * resources just below it (not deeper), or with tree, of all below it.
 * SQLITE_OK or an error code. */
int davp_list(sqlite3 *db, const char *path, int children, int tree,
              void (*fn)(void *arg, const char *path, const char *ns, const char *name,
                         const char *xml),
              void *arg);

/* Applies p to path's properties, all or none (a savepoint). SQLITE_OK
 * or an error code. */
int davp_patch(sqlite3 *db, const char *path, const dav_patch *p);

/* The tree at from now at to (to's own tree gone first); a copy of it; its
 * removal. SQLITE_OK or an error code. */
int davp_move(sqlite3 *db, const char *from, const char *to);
int davp_copy(sqlite3 *db, const char *from, const char *to, int tree);
int davp_delete(sqlite3 *db, const char *path);
/* 1 when no dead property is kept at all, 0 when some is, or an error. */
int davp_empty(sqlite3 *db);

/* The locks (dav_lock.h), kept so that they outlive a restart: one put
 * (new, or refreshed), one dropped by its token, those rooted in a tree
 * dropped, and all loaded (those expired by now_ms deleted instead). */
int davp_lock_put(sqlite3 *db, const dav_lock *l);
int davp_lock_drop(sqlite3 *db, const char *token);
int davp_lock_drop_tree(sqlite3 *db, const char *path);
int davp_lock_load(sqlite3 *db, int64_t now_ms, int (*fn)(void *arg, const dav_lock *l), void *arg);

#endif
