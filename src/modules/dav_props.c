/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dav_props.c - dead properties in SQLite; see dav_props.h.
 *
 * One row per property, keyed by (path, namespace, name); the value is the
 * property element as libxml2 serialized it. A tree is selected by a range
 * of the primary key: path itself, and "path/" <= p < "path0" ('0' comes
 * just after '/'), so moving or deleting a folder of a thousand documents
 * is one indexed statement.
 */
#include "dav_props.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char schema[] = "CREATE TABLE IF NOT EXISTS dav_props ("
                             " path TEXT NOT NULL,"
                             " ns TEXT NOT NULL,"
                             " name TEXT NOT NULL,"
                             " xml TEXT NOT NULL,"
                             " PRIMARY KEY (path, ns, name)) WITHOUT ROWID";

static const char lock_schema[] = "CREATE TABLE IF NOT EXISTS dav_locks ("
                                  " token TEXT PRIMARY KEY,"
                                  " root TEXT NOT NULL,"
                                  " infinity INTEGER NOT NULL,"
                                  " exclusive INTEGER NOT NULL,"
                                  " owner TEXT,"
                                  " timeout_s INTEGER NOT NULL,"
                                  " expires_ms INTEGER NOT NULL)";

int davp_schema(sqlite3 *db)
{
    int rc = sqlite3_exec(db, schema, NULL, NULL, NULL);
    return rc == SQLITE_OK ? sqlite3_exec(db, lock_schema, NULL, NULL, NULL) : rc;
}

/* The bounds of path's tree below it: "path/" and "path0". NULL when out
 * of memory (both freed). */
static int bounds(const char *path, char **lo, char **hi)
{
    size_t n = strlen(path);
    *lo = malloc(n + 2);
    *hi = malloc(n + 2);
    if (!*lo || !*hi) {
        free(*lo);
        free(*hi);
        return -1;
    }
    memcpy(*lo, path, n);
    memcpy(*hi, path, n);
    (*lo)[n] = '/';
    (*hi)[n] = '0';
    (*lo)[n + 1] = (*hi)[n + 1] = 0;
    return 0;
}

/* Prepares sql and binds path, lo and hi as ?1, ?2, ?3 (those it names). */
static sqlite3_stmt *tree_stmt(sqlite3 *db, const char *sql, const char *path, const char *lo,
                               const char *hi)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return NULL;
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(st) >= 3) {
        sqlite3_bind_text(st, 2, lo, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, hi, -1, SQLITE_STATIC);
    }
    return st;
}

int davp_list(sqlite3 *db, const char *path, int children, int tree,
              void (*fn)(void *arg, const char *path, const char *ns, const char *name,
                         const char *xml),
              void *arg)
{
    char *lo, *hi;
    if (bounds(path, &lo, &hi) < 0) return SQLITE_NOMEM;
    const char *sql = children || tree ? "SELECT path, ns, name, xml FROM dav_props "
                                         "WHERE path = ?1 OR (path >= ?2 AND path < ?3)"
                                       : "SELECT path, ns, name, xml FROM dav_props "
                                         "WHERE path = ?1";
    sqlite3_stmt *st = tree_stmt(db, sql, path, lo, hi);
    int rc = st ? SQLITE_ROW : sqlite3_errcode(db);
    size_t n = strlen(lo);
    while (st && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *p = (const char *)sqlite3_column_text(st, 0);
        /* Depth 1: a path just below, with no further slash. */
        if (!tree && strcmp(p, path) != 0 && strchr(p + n, '/')) continue;
        fn(arg, p, (const char *)sqlite3_column_text(st, 1),
           (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3));
    }
    sqlite3_finalize(st);
    free(lo);
    free(hi);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int davp_patch(sqlite3 *db, const char *path, const dav_patch *p)
{
    int rc = sqlite3_exec(db, "SAVEPOINT davp", NULL, NULL, NULL);
    if (rc != SQLITE_OK) return rc;
    sqlite3_stmt *set = NULL, *del = NULL;
    rc = sqlite3_prepare_v2(db,
                            "INSERT OR REPLACE INTO dav_props (path, ns, name, xml) "
                            "VALUES (?1, ?2, ?3, ?4)",
                            -1, &set, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(
            db, "DELETE FROM dav_props WHERE path = ?1 AND ns = ?2 AND name = ?3", -1, &del, NULL);
    for (size_t i = 0; rc == SQLITE_OK && i < p->n; i++) {
        const dav_patch_op *op = &p->ops[i];
        sqlite3_stmt *st = op->remove ? del : set;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, op->nm.ns, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, op->nm.name, -1, SQLITE_STATIC);
        if (!op->remove) sqlite3_bind_text(st, 4, op->xml, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    }
    sqlite3_finalize(set);
    sqlite3_finalize(del);
    if (rc != SQLITE_OK) sqlite3_exec(db, "ROLLBACK TO davp", NULL, NULL, NULL);
    sqlite3_exec(db, "RELEASE davp", NULL, NULL, NULL);
    return rc;
}

/* Runs sql over from's tree, with to as ?4. */
static int tree_run(sqlite3 *db, const char *sql, const char *from, const char *to)
{
    char *lo, *hi;
    if (bounds(from, &lo, &hi) < 0) return SQLITE_NOMEM;
    sqlite3_stmt *st = tree_stmt(db, sql, from, lo, hi);
    int rc = st ? SQLITE_OK : sqlite3_errcode(db);
    if (st && to) sqlite3_bind_text(st, 4, to, -1, SQLITE_STATIC);
    if (st) rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    sqlite3_finalize(st);
    free(lo);
    free(hi);
    return rc;
}

int davp_delete(sqlite3 *db, const char *path)
{
    return tree_run(db, "DELETE FROM dav_props WHERE path = ?1 OR (path >= ?2 AND path < ?3)", path,
                    NULL);
}

int davp_empty(sqlite3 *db)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT EXISTS (SELECT 1 FROM dav_props)", -1, &st, NULL) !=
        SQLITE_OK)
        return -1;
    int rc = sqlite3_step(st) == SQLITE_ROW ? !sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    return rc;
}

int davp_move(sqlite3 *db, const char *from, const char *to)
{
    int rc = davp_delete(db, to);
    if (rc == SQLITE_OK)
        rc = tree_run(db,
                      "UPDATE dav_props SET path = ?4 || substr(path, length(?1) + 1) "
                      "WHERE path = ?1 OR (path >= ?2 AND path < ?3)",
                      from, to);
    return rc;
}

int davp_copy(sqlite3 *db, const char *from, const char *to, int tree)
{
    int rc = davp_delete(db, to);
    if (rc == SQLITE_OK)
        rc = tree_run(db,
                      tree ? "INSERT INTO dav_props (path, ns, name, xml) "
                             "SELECT ?4 || substr(path, length(?1) + 1), ns, name, xml "
                             "FROM dav_props WHERE path = ?1 OR (path >= ?2 AND path < ?3)"
                           : "INSERT INTO dav_props (path, ns, name, xml) "
                             "SELECT ?4, ns, name, xml FROM dav_props WHERE path = ?1 AND "
                             "?2 IS NOT NULL AND ?3 IS NOT NULL",
                      from, to);
    return rc;
}

int davp_lock_put(sqlite3 *db, const dav_lock *l)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db,
                                "INSERT OR REPLACE INTO dav_locks (token, root, infinity, "
                                "exclusive, owner, timeout_s, expires_ms) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                                -1, &st, NULL);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, l->token, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, l->root, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, l->infinity);
    sqlite3_bind_int(st, 4, l->exclusive);
    if (l->owner) sqlite3_bind_text(st, 5, l->owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, l->timeout_s);
    sqlite3_bind_int64(st, 7, l->expires_ms);
    rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    sqlite3_finalize(st);
    return rc;
}

int davp_lock_drop(sqlite3 *db, const char *token)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "DELETE FROM dav_locks WHERE token = ?1", -1, &st, NULL);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, token, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    sqlite3_finalize(st);
    return rc;
}

int davp_lock_drop_tree(sqlite3 *db, const char *path)
{
    return tree_run(db, "DELETE FROM dav_locks WHERE root = ?1 OR (root >= ?2 AND root < ?3)", path,
                    NULL);
}

int davp_lock_load(sqlite3 *db, int64_t now_ms, int (*fn)(void *arg, const dav_lock *l), void *arg)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        db, "DELETE FROM dav_locks WHERE expires_ms != 0 AND expires_ms <= ?1", -1, &st, NULL);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_int64(st, 1, now_ms);
    rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_prepare_v2(db,
                            "SELECT token, root, infinity, exclusive, owner, timeout_s, "
                            "expires_ms FROM dav_locks",
                            -1, &st, NULL);
    if (rc != SQLITE_OK) return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        dav_lock l = {0};
        snprintf(l.token, sizeof l.token, "%s", (const char *)sqlite3_column_text(st, 0));
        l.root = (char *)sqlite3_column_text(st, 1);
        l.infinity = sqlite3_column_int(st, 2);
        l.exclusive = sqlite3_column_int(st, 3);
        l.owner = (char *)sqlite3_column_text(st, 4);
        l.timeout_s = (long)sqlite3_column_int64(st, 5);
        l.expires_ms = sqlite3_column_int64(st, 6);
        if (fn(arg, &l) < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}
