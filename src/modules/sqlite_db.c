/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sqlite_db.c - statement helpers of the SQLite backends (sqlite_db.h).
 */
#include "sqlite_db.h"

#include <stdio.h>

int sqdb_fail(sqlite3 *db, int rc, char *msg, size_t cap)
{
    snprintf(msg, cap, "%s", sqlite3_errmsg(db));
    return rc == SQLITE_FULL ? QS_NOSPACE : QS_ERROR;
}

sqlite3_stmt *sqdb_stmt(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

void sqdb_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

void sqdb_bind_blob(sqlite3_stmt *st, int i, const void *p, size_t len)
{
    sqlite3_bind_blob64(st, i, p ? p : "", len, SQLITE_STATIC);
}

int sqdb_run(sqlite3 *db, sqlite3_stmt *st, char *msg, size_t cap)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? QS_OK : sqdb_fail(db, rc, msg, cap);
}

int sqdb_prepare(sqlite3 *db, const char *const *sql, sqlite3_stmt **st, size_t n)
{
    int rc = SQLITE_OK;
    for (size_t i = 0; rc == SQLITE_OK && i < n; i++)
        rc = sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st[i], NULL);
    return rc;
}
