/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sqlite_db.h - what the SQLite backends of the server's durable state (the
 * job store, queue_sqlite.c; the ledger, ledger_sqlite.c) share: one
 * connection, so one transaction and one fsync covers both, and the small
 * helpers around statements.
 */
#ifndef HTD_SQLITE_DB_H
#define HTD_SQLITE_DB_H

#include <sqlite3.h>
#include <stddef.h>

#include "queue_store.h"

/* The connection of a job store made by qstore_sqlite_open. */
sqlite3 *qstore_sqlite_db(qstore *q);

/* SQLite's message for rc into msg; QS_NOSPACE for a full disk, else
 * QS_ERROR. */
int sqdb_fail(sqlite3 *db, int rc, char *msg, size_t cap);
/* st, reset and with no parameters bound. */
sqlite3_stmt *sqdb_stmt(sqlite3_stmt *st);
/* s, or NULL for a NULL s; not copied (SQLITE_STATIC). */
void sqdb_bind_text(sqlite3_stmt *st, int i, const char *s);
/* A zero-length blob, not NULL, for an empty one; not copied. */
void sqdb_bind_blob(sqlite3_stmt *st, int i, const void *p, size_t len);
/* Runs a statement that returns no rows: QS_OK, or sqdb_fail's. */
int sqdb_run(sqlite3 *db, sqlite3_stmt *st, char *msg, size_t cap);
/* Prepares sql[0..n) once, for the connection's life, into st. SQLITE_OK
 * or the first failure. */
int sqdb_prepare(sqlite3 *db, const char *const *sql, sqlite3_stmt **st, size_t n);

#endif
