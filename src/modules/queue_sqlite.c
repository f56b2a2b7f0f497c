/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * queue_sqlite.c - the job store in SQLite (see queue_store.h): one database
 * file, WAL mode and synchronous=FULL, so a commit is on the disk when it
 * returns and readers (the `htd jobs` command) never block the writer.
 * Every statement is prepared once, at open.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue_store.h"
#include "sqlite_db.h"

enum {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_FIND_KEY,
    S_COUNT,
    S_INSERT,
    S_READY,
    S_NEXT,
    S_START,
    S_FINISH,
    S_RETRY,
    S_GET,
    S_LIST,
    S_CANCEL,
    S_EXISTS,
    S_REQUEUE,
    S_EXPIRE,
    S_RECOVER,
    S_PURGE,
    S_COUNT_ALL
};

#define COLUMNS                                                                                    \
    "id, queue, state, attempts, created, started, finished, not_before, expires, method, "        \
    "target, client, headers, body, idem_key, exit, result_status, result_type, result, err"

static const char *const sql[S_COUNT_ALL] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_FIND_KEY] = "SELECT id, body_hash FROM jobs WHERE queue = ?1 AND idem_key = ?2",
    [S_COUNT] = "SELECT n FROM queued_counts WHERE queue = ?1",
    [S_INSERT] = "INSERT INTO jobs (id, queue, state, attempts, created, not_before, method, "
                 "target, client, headers, body, idem_key, body_hash, exit) "
                 "VALUES (?1, ?2, 0, 0, ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, -1)",
    [S_NEXT] = "SELECT min(not_before) FROM jobs WHERE queue = ?1 AND state = 0",
    [S_READY] = "SELECT id FROM jobs WHERE queue = ?1 AND state = 0 AND not_before <= ?2 "
                "ORDER BY created, id LIMIT 1",
    [S_START] = "UPDATE jobs SET state = 1, attempts = attempts + 1, started = ?2 "
                "WHERE id = ?1 AND state = 0",
    [S_FINISH] = "UPDATE jobs SET state = ?2, finished = ?3, expires = ?4, exit = ?5, "
                 "result_status = ?6, result_type = ?7, result = ?8, err = ?9 "
                 "WHERE id = ?1 AND state = 1",
    [S_RETRY] = "UPDATE jobs SET state = 0, not_before = ?2, exit = ?3, err = ?4 "
                "WHERE id = ?1 AND state = 1",
    [S_GET] = "SELECT " COLUMNS " FROM jobs WHERE id = ?1",
    [S_LIST] = "SELECT " COLUMNS " FROM jobs WHERE (?1 IS NULL OR queue = ?1) "
               "AND (?2 < 0 OR state = ?2) ORDER BY created, id",
    [S_CANCEL] = "UPDATE jobs SET state = 4, finished = ?2, expires = ?3 "
                 "WHERE id = ?1 AND state = 0",
    [S_EXISTS] = "SELECT 1 FROM jobs WHERE id = ?1",
    [S_REQUEUE] = "UPDATE jobs SET state = 0, attempts = 0, not_before = ?2, started = NULL, "
                  "finished = NULL, expires = NULL WHERE id = ?1 AND state IN (3, 4)",
    [S_EXPIRE] = "DELETE FROM jobs WHERE expires IS NOT NULL AND expires <= ?1",
    [S_RECOVER] = "UPDATE jobs SET state = 0, not_before = ?1 WHERE state = 1",
    [S_PURGE] = "DELETE FROM jobs WHERE state IN (2, 3, 4) AND (?1 IS NULL OR queue = ?1) "
                "AND (?2 < 0 OR state = ?2)",
};

/* Version 1: the queued jobs of each queue counted by triggers, so that
 * enqueue's check of max_queued reads one row rather than counting them
 * all (which made accepting slower as a queue grew). Made, and filled from
 * the jobs there are, once. */
static const char counts_v1[] =
    "CREATE TABLE IF NOT EXISTS queued_counts ("
    " queue TEXT PRIMARY KEY NOT NULL, n INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TRIGGER IF NOT EXISTS jobs_queued_ins AFTER INSERT ON jobs WHEN new.state = 0 BEGIN"
    " INSERT INTO queued_counts VALUES (new.queue, 1)"
    " ON CONFLICT (queue) DO UPDATE SET n = n + 1; END;"
    "CREATE TRIGGER IF NOT EXISTS jobs_queued_del AFTER DELETE ON jobs WHEN old.state = 0 BEGIN"
    " UPDATE queued_counts SET n = n - 1 WHERE queue = old.queue; END;"
    "CREATE TRIGGER IF NOT EXISTS jobs_queued_upd AFTER UPDATE OF state ON jobs"
    " WHEN (old.state = 0) != (new.state = 0) BEGIN"
    " INSERT INTO queued_counts VALUES (new.queue, CASE WHEN new.state = 0 THEN 1 ELSE 0 END)"
    " ON CONFLICT (queue) DO UPDATE SET n = n + CASE WHEN new.state = 0 THEN 1 ELSE -1 END; END;"
    "DELETE FROM queued_counts;"
    "INSERT INTO queued_counts SELECT queue, count(*) FROM jobs WHERE state = 0 GROUP BY queue;"
    "PRAGMA user_version = 1;";

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS jobs ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " queue TEXT NOT NULL,"
    " state INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL,"
    " created INTEGER NOT NULL,"
    " started INTEGER,"
    " finished INTEGER,"
    " not_before INTEGER NOT NULL,"
    " expires INTEGER,"
    " method TEXT NOT NULL,"
    " target TEXT NOT NULL,"
    " client TEXT NOT NULL,"
    " headers BLOB NOT NULL,"
    " body BLOB NOT NULL,"
    " idem_key TEXT,"
    " body_hash BLOB,"
    " exit INTEGER NOT NULL,"
    " result_status INTEGER,"
    " result_type TEXT,"
    " result BLOB,"
    " err TEXT"
    ") WITHOUT ROWID;"
    "CREATE UNIQUE INDEX IF NOT EXISTS jobs_key ON jobs (queue, idem_key) "
    " WHERE idem_key IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (queue, state, created);"
    "CREATE INDEX IF NOT EXISTS jobs_expires ON jobs (expires) WHERE expires IS NOT NULL;";

typedef struct sqstore {
    qstore base;
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT_ALL];
} sqstore;

static sqstore *of(qstore *s)
{
    return (sqstore *)s;
}

static int fail(sqstore *q, int rc)
{
    return sqdb_fail(q->db, rc, q->base.msg, sizeof q->base.msg);
}

static sqlite3_stmt *stmt(sqstore *q, int which)
{
    return sqdb_stmt(q->st[which]);
}

static int run(sqstore *q, sqlite3_stmt *st)
{
    return sqdb_run(q->db, st, q->base.msg, sizeof q->base.msg);
}

static int sq_active(qstore *s)
{
    return !sqlite3_get_autocommit(of(s)->db);
}

static int sq_begin(qstore *s)
{
    sqstore *q = of(s);
    return run(q, stmt(q, S_BEGIN));
}

static int sq_commit(qstore *s)
{
    sqstore *q = of(s);
    return run(q, stmt(q, S_COMMIT));
}

static void sq_rollback(qstore *s)
{
    sqstore *q = of(s);
    if (sq_active(s)) (void)run(q, stmt(q, S_ROLLBACK));
}

static int sq_count_queued(qstore *s, const char *queue, unsigned *n)
{
    sqstore *q = of(s);
    sqlite3_stmt *st = stmt(q, S_COUNT);
    sqdb_bind_text(st, 1, queue);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        sqlite3_reset(st);
        return fail(q, rc);
    }
    *n = rc == SQLITE_ROW ? (unsigned)sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return QS_OK;
}

static int sq_enqueue(qstore *s, const qjob_req *r, int64_t now, unsigned max_queued,
                      char id[QJOB_ID_LEN + 1])
{
    sqstore *q = of(s);
    if (r->idem_key) {
        sqlite3_stmt *st = stmt(q, S_FIND_KEY);
        sqdb_bind_text(st, 1, r->queue);
        sqdb_bind_text(st, 2, r->idem_key);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const void *h = sqlite3_column_blob(st, 1);
            int same = h && sqlite3_column_bytes(st, 1) == 32 && memcmp(h, r->body_hash, 32) == 0;
            if (same) snprintf(id, QJOB_ID_LEN + 1, "%s", (const char *)sqlite3_column_text(st, 0));
            sqlite3_reset(st);
            return same ? QS_DUP : QS_CONFLICT;
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) return fail(q, rc);
    }
    if (max_queued) {
        unsigned n = 0;
        int rc = sq_count_queued(s, r->queue, &n);
        if (rc != QS_OK) return rc;
        if (n >= max_queued) return QS_FULL;
    }
    sqlite3_stmt *st = stmt(q, S_INSERT);
    sqdb_bind_text(st, 1, id);
    sqdb_bind_text(st, 2, r->queue);
    sqlite3_bind_int64(st, 3, now);
    sqdb_bind_text(st, 4, r->method);
    sqdb_bind_text(st, 5, r->target);
    sqdb_bind_text(st, 6, r->client);
    sqdb_bind_blob(st, 7, r->headers, r->headers_len);
    sqdb_bind_blob(st, 8, r->body, r->body_len);
    sqdb_bind_text(st, 9, r->idem_key);
    if (r->idem_key)
        sqlite3_bind_blob(st, 10, r->body_hash, 32, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 10);
    return run(q, st);
}

static char *col_dup(sqlite3_stmt *st, int i, size_t *len)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        if (len) *len = 0;
        return NULL;
    }
    const void *p = sqlite3_column_blob(st, i);
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    char *d = malloc(n + 1);
    if (!d) return NULL;
    if (n) memcpy(d, p, n);
    d[n] = 0;
    if (len) *len = n;
    return d;
}

/* Fills j from a row of COLUMNS. -1 when out of memory. */
static int read_row(sqlite3_stmt *st, qjob *j)
{
    memset(j, 0, sizeof *j);
    snprintf(j->id, sizeof j->id, "%s", (const char *)sqlite3_column_text(st, 0));
    j->state = sqlite3_column_int(st, 2);
    j->attempts = sqlite3_column_int(st, 3);
    j->created = sqlite3_column_int64(st, 4);
    j->started = sqlite3_column_int64(st, 5);
    j->finished = sqlite3_column_int64(st, 6);
    j->not_before = sqlite3_column_int64(st, 7);
    j->expires = sqlite3_column_int64(st, 8);
    j->exit_code = sqlite3_column_int(st, 15);
    j->result_status = sqlite3_column_int(st, 16);
    j->queue = col_dup(st, 1, NULL);
    j->method = col_dup(st, 9, NULL);
    j->target = col_dup(st, 10, NULL);
    j->client = col_dup(st, 11, NULL);
    j->headers = col_dup(st, 12, &j->headers_len);
    j->body = col_dup(st, 13, &j->body_len);
    j->idem_key = col_dup(st, 14, NULL);
    j->result_type = col_dup(st, 17, NULL);
    j->result = col_dup(st, 18, &j->result_len);
    j->err = col_dup(st, 19, NULL);
    /* The columns that are never NULL must have come back. */
    if (!j->queue || !j->method || !j->target || !j->client || !j->headers || !j->body) {
        qjob_clear(j);
        return -1;
    }
    return 0;
}

static int sq_get(qstore *s, const char *id, qjob *out)
{
    sqstore *q = of(s);
    sqlite3_stmt *st = stmt(q, S_GET);
    sqdb_bind_text(st, 1, id);
    int rc = sqlite3_step(st), ret = QS_OK;
    if (rc == SQLITE_DONE)
        ret = QS_NOTFOUND;
    else if (rc != SQLITE_ROW)
        ret = fail(q, rc);
    else if (read_row(st, out) < 0) {
        snprintf(q->base.msg, sizeof q->base.msg, "out of memory");
        ret = QS_ERROR;
    }
    sqlite3_reset(st);
    return ret;
}

static int sq_lease(qstore *s, const char *queue, int64_t now, qjob *out)
{
    sqstore *q = of(s);
    sqlite3_stmt *st = stmt(q, S_READY);
    sqdb_bind_text(st, 1, queue);
    sqlite3_bind_int64(st, 2, now);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) return fail(q, rc);
        /* None ready: when the next one will be (a retry's time), or 0. */
        out->not_before = 0;
        st = stmt(q, S_NEXT);
        sqdb_bind_text(st, 1, queue);
        if (sqlite3_step(st) == SQLITE_ROW) out->not_before = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
        return QS_EMPTY;
    }
    char id[QJOB_ID_LEN + 1];
    snprintf(id, sizeof id, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    st = stmt(q, S_START);
    sqdb_bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    if ((rc = run(q, st)) != QS_OK) return rc;
    return sq_get(s, id, out);
}

/* A statement that changes one job: QS_OK, QS_NOTFOUND when it changed
 * none. */
static int change_one(sqstore *q, sqlite3_stmt *st)
{
    int rc = run(q, st);
    if (rc != QS_OK) return rc;
    return sqlite3_changes(q->db) ? QS_OK : QS_NOTFOUND;
}

static void bind_result(sqlite3_stmt *st, const qjob_result *r, int exit_i, int err_i)
{
    sqlite3_bind_int(st, exit_i, r->exit_code);
    sqdb_bind_text(st, err_i, r->err);
}

static int sq_finish(qstore *s, const char *id, const qjob_result *r, int final, int64_t now,
                     int64_t expires)
{
    sqstore *q = of(s);
    sqlite3_stmt *st = stmt(q, S_FINISH);
    sqdb_bind_text(st, 1, id);
    sqlite3_bind_int(st, 2, final ? QJ_FAILED : QJ_DONE);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, expires);
    bind_result(st, r, 5, 9);
    sqlite3_bind_int(st, 6, r->status);
    sqdb_bind_text(st, 7, r->type);
    if (r->body)
        sqdb_bind_blob(st, 8, r->body, r->body_len);
    else
        sqlite3_bind_null(st, 8);
    return change_one(q, st);
}

static int sq_retry_later(qstore *s, const char *id, const qjob_result *r, int64_t retry_at)
{
    sqstore *q = of(s);
    sqlite3_stmt *st = stmt(q, S_RETRY);
    sqdb_bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, retry_at);
    bind_result(st, r, 3, 4);
    return change_one(q, st);
}

static int sq_list(qstore *s, const char *queue, int state, int (*each)(const qjob *j, void *arg),
                   void *arg)
{
    sqstore *q = of(s);
    sqlite3_stmt *st = stmt(q, S_LIST);
    sqdb_bind_text(st, 1, queue);
    sqlite3_bind_int(st, 2, state);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        qjob j;
        if (read_row(st, &j) < 0) {
            sqlite3_reset(st);
            snprintf(q->base.msg, sizeof q->base.msg, "out of memory");
            return QS_ERROR;
        }
        int stop = each(&j, arg);
        qjob_clear(&j);
        if (stop) break;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? QS_OK : fail(q, rc);
}

/* After a change that matched no job: QS_CONFLICT if the job exists (in
 * another state), else QS_NOTFOUND. */
static int exists_or(sqstore *q, const char *id)
{
    sqlite3_stmt *st = stmt(q, S_EXISTS);
    sqdb_bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? QS_CONFLICT : rc == SQLITE_DONE ? QS_NOTFOUND : fail(q, rc);
}

static int sq_cancel(qstore *s, const char *id, int64_t now, int64_t expires)
{
    sqstore *q = of(s);
    sqlite3_stmt *st = stmt(q, S_CANCEL);
    sqdb_bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, expires);
    int rc = change_one(q, st);
    return rc == QS_NOTFOUND ? exists_or(q, id) : rc;
}

static int sq_requeue(qstore *s, const char *id, int64_t now)
{
    sqstore *q = of(s);
    sqlite3_stmt *st = stmt(q, S_REQUEUE);
    sqdb_bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    int rc = change_one(q, st);
    return rc == QS_NOTFOUND ? exists_or(q, id) : rc;
}

/* Runs a statement that changes many jobs: how many, or the error. */
static int changes(sqstore *q, sqlite3_stmt *st)
{
    int rc = run(q, st);
    return rc == QS_OK ? sqlite3_changes(q->db) : rc;
}

static int sq_expire(qstore *s, int64_t now)
{
    sqstore *q = of(s);
    sqlite3_stmt *st = stmt(q, S_EXPIRE);
    sqlite3_bind_int64(st, 1, now);
    return changes(q, st);
}

static int sq_recover(qstore *s, int64_t now)
{
    sqstore *q = of(s);
    sqlite3_stmt *st = stmt(q, S_RECOVER);
    sqlite3_bind_int64(st, 1, now);
    return changes(q, st);
}

static int sq_purge(qstore *s, const char *queue, int state)
{
    sqstore *q = of(s);
    sqlite3_stmt *st = stmt(q, S_PURGE);
    sqdb_bind_text(st, 1, queue);
    sqlite3_bind_int(st, 2, state);
    return changes(q, st);
}

static void sq_close(qstore *s)
{
    sqstore *q = of(s);
    if (!q) return;
    for (int i = 0; i < S_COUNT_ALL; i++)
        sqlite3_finalize(q->st[i]);
    sqlite3_close_v2(q->db); /* closed once the ledger's statements are too */
    free(q);
}

static const qstore_ops sqlite_ops;

sqlite3 *qstore_sqlite_db(qstore *s)
{
    return s->ops == &sqlite_ops ? of(s)->db : NULL;
}

static const qstore_ops sqlite_ops = {
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .active = sq_active,
    .enqueue = sq_enqueue,
    .lease = sq_lease,
    .finish = sq_finish,
    .retry_later = sq_retry_later,
    .get = sq_get,
    .list = sq_list,
    .cancel = sq_cancel,
    .requeue = sq_requeue,
    .expire = sq_expire,
    .recover = sq_recover,
    .purge = sq_purge,
    .count_queued = sq_count_queued,
    .close = sq_close,
};

/* Brings a database made by an earlier htd up to this one's version. */
static int migrate(sqlite3 *db)
{
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) return rc;
    sqlite3_stmt *st;
    int version = 0;
    rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (rc == SQLITE_OK && version < 1) rc = sqlite3_exec(db, counts_v1, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

qstore *qstore_sqlite_open(const char *path, char *err, size_t errlen)
{
    sqstore *q = calloc(1, sizeof *q);
    if (!q) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    q->base.ops = &sqlite_ops;
    int rc = sqlite3_open_v2(
        path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    const char *step = "open";
    if (rc == SQLITE_OK) {
        /* Another process (htd jobs) may hold the write lock for a moment. */
        sqlite3_busy_timeout(q->db, 5000);
        step = "set WAL mode";
        rc = sqlite3_exec(q->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) {
        step = "set synchronous=FULL";
        rc = sqlite3_exec(q->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) {
        step = "create the jobs table";
        rc = sqlite3_exec(q->db, schema, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) {
        step = "count the queued jobs";
        rc = migrate(q->db);
    }
    if (rc == SQLITE_OK) {
        step = "prepare a statement";
        rc = sqdb_prepare(q->db, sql, q->st, S_COUNT_ALL);
    }
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "state database %s: cannot %s: %s", path, step,
                 q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
        sq_close(&q->base);
        return NULL;
    }
    return &q->base;
}
