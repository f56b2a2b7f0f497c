/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ledger_sqlite.c - the ledger in SQLite (see ledger_store.h), in the job
 * store's database and on its connection, so that the writer thread's one
 * transaction (and fsync) covers jobs and charges alike.
 *
 * Three tables: accounts (each with its balance and what is reserved of it,
 * kept by the statements below), entries (one row per change of a balance,
 * with the balance after it), reservations (open ones only: settling or
 * releasing deletes the row). A balance is changed only in the statement
 * pair that adds its entry, inside one transaction.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_store.h"
#include "sqlite_db.h"

enum {
    L_CREATE,
    L_GET,
    L_ALL,
    L_ADD,
    L_ENTRY,
    L_LIMIT,
    L_KEY,
    L_CHARGED,
    L_RESERVE,
    L_HOLD,
    L_FIND_RES,
    L_DROP_RES,
    L_UNHOLD,
    L_LOWER,
    L_VERSION,
    L_RECOVER_ACCTS,
    L_RECOVER,
    L_HISTORY,
    L_VERIFY,
    L_COUNT
};

#define ACCOUNT_COLUMNS "id, balance, credit_limit, reserved, key_hash, created"

static const char *const sql[L_COUNT] = {
    [L_CREATE] = "INSERT INTO accounts (id, balance, credit_limit, reserved, key_hash, created) "
                 "VALUES (?1, 0, ?2, 0, ?3, ?4)",
    [L_GET] = "SELECT " ACCOUNT_COLUMNS " FROM accounts WHERE id = ?1",
    [L_ALL] = "SELECT " ACCOUNT_COLUMNS " FROM accounts ORDER BY id",
    /* A change of balance, when the account has room for it (?3: check). */
    [L_ADD] = "UPDATE accounts SET balance = balance + ?2 WHERE id = ?1 "
              "AND (?3 = 0 OR balance - reserved + ?2 >= -credit_limit)",
    [L_ENTRY] = "INSERT INTO entries (account, amount, balance, time, kind, note, request, vhost, "
                "path, status, bytes, idem_key) "
                "SELECT ?1, ?2, balance, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11 "
                "FROM accounts WHERE id = ?1",
    [L_LIMIT] = "UPDATE accounts SET credit_limit = ?2 WHERE id = ?1",
    [L_KEY] = "UPDATE accounts SET key_hash = ?2 WHERE id = ?1",
    [L_CHARGED] = "SELECT 1 FROM entries WHERE account = ?1 AND idem_key = ?2 AND path = ?3 "
                  "AND time >= ?4 AND kind = 'charge' LIMIT 1",
    [L_RESERVE] = "UPDATE accounts SET reserved = reserved + ?2 WHERE id = ?1 "
                  "AND balance - reserved - ?2 >= -credit_limit",
    [L_HOLD] = "INSERT INTO reservations (id, account, amount, created) VALUES (?1, ?2, ?3, ?4)",
    [L_FIND_RES] = "SELECT account, amount FROM reservations WHERE id = ?1",
    [L_DROP_RES] = "DELETE FROM reservations WHERE id = ?1",
    [L_UNHOLD] = "UPDATE accounts SET reserved = reserved - ?2 WHERE id = ?1",
    [L_LOWER] = "UPDATE reservations SET amount = ?2 WHERE id = ?1",
    /* Changes when another connection (htd ledger) commits. */
    [L_VERSION] = "PRAGMA data_version",
    [L_RECOVER_ACCTS] = "UPDATE accounts SET reserved = 0 WHERE reserved != 0",
    [L_RECOVER] = "DELETE FROM reservations",
    [L_HISTORY] = "SELECT seq, account, amount, balance, time, kind, note, request, vhost, path, "
                  "status, bytes, idem_key FROM entries WHERE (?1 IS NULL OR account = ?1) "
                  "AND time >= ?2 ORDER BY seq",
    [L_VERIFY] =
        "SELECT a.id, a.balance, a.reserved, a.credit_limit, "
        "(SELECT coalesce(sum(e.amount), 0) FROM entries e WHERE e.account = a.id), "
        "(SELECT coalesce(sum(r.amount), 0) FROM reservations r WHERE r.account = a.id), "
        "(SELECT e.balance FROM entries e WHERE e.account = a.id ORDER BY e.seq DESC LIMIT 1) "
        "FROM accounts a ORDER BY a.id",
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS accounts ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " balance INTEGER NOT NULL,"
    " credit_limit INTEGER NOT NULL,"
    " reserved INTEGER NOT NULL,"
    " key_hash BLOB NOT NULL,"
    " created INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS entries ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " account TEXT NOT NULL,"
    " amount INTEGER NOT NULL,"
    " balance INTEGER NOT NULL,"
    " time INTEGER NOT NULL,"
    " kind TEXT NOT NULL,"
    " note TEXT, request TEXT, vhost TEXT, path TEXT, status INTEGER, bytes INTEGER,"
    " idem_key TEXT"
    ");"
    "CREATE INDEX IF NOT EXISTS entries_account ON entries (account, seq);"
    "CREATE INDEX IF NOT EXISTS entries_key ON entries (account, idem_key) "
    " WHERE idem_key IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS reservations ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " account TEXT NOT NULL,"
    " amount INTEGER NOT NULL,"
    " created INTEGER NOT NULL"
    ") WITHOUT ROWID;";

/* The accounts read, in memory: a direct-mapped table by the id's hash, a
 * bounded size however many accounts there are. Every change this
 * connection makes to a cached account is made to the copy too; a change
 * by another connection (the data version moves) empties the table. */
#define CACHE_SLOTS 1024

typedef struct cached {
    lacct a;
    int valid;
} cached;

typedef struct sqledger {
    lstore base;
    sqlite3 *db; /* the job store's */
    sqlite3_stmt *st[L_COUNT];
    int64_t version; /* the data version the cache is of */
    cached cache[CACHE_SLOTS];
} sqledger;

static sqledger *of(lstore *s)
{
    return (sqledger *)s;
}

static int fail(sqledger *l, int rc)
{
    return sqdb_fail(l->db, rc, l->base.msg, sizeof l->base.msg);
}

static sqlite3_stmt *stmt(sqledger *l, int which)
{
    return sqdb_stmt(l->st[which]);
}

static int run(sqledger *l, sqlite3_stmt *st)
{
    return sqdb_run(l->db, st, l->base.msg, sizeof l->base.msg);
}

/* A statement that changes one row: LS_OK, or miss when it changed none. */
static int change_one(sqledger *l, sqlite3_stmt *st, int miss)
{
    int rc = run(l, st);
    if (rc != LS_OK) return rc;
    return sqlite3_changes(l->db) ? LS_OK : miss;
}

int lacct_id_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return n >= 1 && n <= LACCT_ID_MAX;
}

static cached *slot_of(sqledger *l, const char *id)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *id; id++)
        h = (h ^ (uint8_t)*id) * 16777619u;
    return &l->cache[h & (CACHE_SLOTS - 1)];
}

/* id's cached copy, or NULL. */
static cached *cache_find(sqledger *l, const char *id)
{
    cached *e = slot_of(l, id);
    return e->valid && strcmp(e->a.id, id) == 0 ? e : NULL;
}

static void cache_forget(sqledger *l, const char *id)
{
    cached *e = cache_find(l, id);
    if (e) e->valid = 0;
}

static void cache_clear(sqledger *l)
{
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        l->cache[i].valid = 0;
}

/* A transaction rolled back: the cached copies may hold what it undid. */
static void rolled_back(void *arg)
{
    cache_clear(arg);
}

/* Empties the cache when another connection has committed since it was
 * filled. LS_OK, or the failure. */
static int cache_check(sqledger *l)
{
    sqlite3_stmt *st = stmt(l, L_VERSION);
    int rc = sqlite3_step(st);
    int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) return fail(l, rc);
    if (v != l->version) {
        cache_clear(l);
        l->version = v;
    }
    return LS_OK;
}

static void read_account(sqlite3_stmt *st, lacct *a)
{
    memset(a, 0, sizeof *a);
    snprintf(a->id, sizeof a->id, "%s", (const char *)sqlite3_column_text(st, 0));
    a->balance = sqlite3_column_int64(st, 1);
    a->limit = sqlite3_column_int64(st, 2);
    a->reserved = sqlite3_column_int64(st, 3);
    if (sqlite3_column_bytes(st, 4) == LKEY_HASH_LEN)
        memcpy(a->key_hash, sqlite3_column_blob(st, 4), LKEY_HASH_LEN);
    a->created = sqlite3_column_int64(st, 5);
}

static int sl_create(lstore *s, const char *id, int64_t limit, const uint8_t *key_hash, int64_t now)
{
    sqledger *l = of(s);
    lacct a;
    int rc = s->ops->get(s, id, &a);
    if (rc == LS_OK) return LS_EXISTS;
    if (rc != LS_NOTFOUND) return rc;
    sqlite3_stmt *st = stmt(l, L_CREATE);
    sqdb_bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, limit);
    sqdb_bind_blob(st, 3, key_hash, LKEY_HASH_LEN);
    sqlite3_bind_int64(st, 4, now);
    return run(l, st);
}

static int sl_get(lstore *s, const char *id, lacct *out)
{
    sqledger *l = of(s);
    int ret = cache_check(l);
    if (ret != LS_OK) return ret;
    cached *e = cache_find(l, id);
    if (e) {
        *out = e->a;
        return LS_OK;
    }
    sqlite3_stmt *st = stmt(l, L_GET);
    sqdb_bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        read_account(st, out);
        e = slot_of(l, id);
        *e = (cached){.a = *out, .valid = 1};
    } else {
        ret = rc == SQLITE_DONE ? LS_NOTFOUND : fail(l, rc);
    }
    sqlite3_reset(st);
    return ret;
}

static int sl_accounts(lstore *s, int (*each)(const lacct *a, void *arg), void *arg)
{
    sqledger *l = of(s);
    sqlite3_stmt *st = stmt(l, L_ALL);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        lacct a;
        read_account(st, &a);
        if (each(&a, arg)) break;
    }
    int ret = rc == SQLITE_ROW || rc == SQLITE_DONE ? LS_OK : fail(l, rc);
    sqlite3_reset(st);
    return ret;
}

/* An entry of amount for account id, with the balance the account has now. */
static int add_entry(sqledger *l, const char *id, int64_t amount, const lreason *why, int64_t now)
{
    sqlite3_stmt *st = stmt(l, L_ENTRY);
    sqdb_bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, amount);
    sqlite3_bind_int64(st, 3, now);
    sqdb_bind_text(st, 4, why->kind);
    sqdb_bind_text(st, 5, why->note);
    sqdb_bind_text(st, 6, why->request);
    sqdb_bind_text(st, 7, why->vhost);
    sqdb_bind_text(st, 8, why->path);
    if (why->status) sqlite3_bind_int(st, 9, why->status);
    if (why->bytes || why->status) sqlite3_bind_int64(st, 10, (sqlite3_int64)why->bytes);
    sqdb_bind_text(st, 11, why->idem_key);
    return change_one(l, st, LS_NOTFOUND);
}

/* Changes id's balance by amount and records it; a decrease must leave
 * room (check). */
static int move(sqledger *l, const char *id, int64_t amount, int check, const lreason *why,
                int64_t now)
{
    sqlite3_stmt *st = stmt(l, L_ADD);
    sqdb_bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, amount);
    sqlite3_bind_int(st, 3, check);
    int rc = change_one(l, st, LS_NOFUNDS);
    cached *e = cache_find(l, id);
    if (e && rc == LS_OK)
        e->a.balance += amount;
    else if (e)
        e->valid = 0;
    if (rc == LS_NOFUNDS) {
        lacct a;
        if (sl_get(&l->base, id, &a) == LS_NOTFOUND) return LS_NOTFOUND;
    }
    if (rc != LS_OK) return rc;
    return add_entry(l, id, amount, why, now);
}

static int sl_adjust(lstore *s, const char *id, int64_t amount, const lreason *why, int64_t now)
{
    return move(of(s), id, amount, amount < 0, why, now);
}

static int sl_set_limit(lstore *s, const char *id, int64_t limit)
{
    sqledger *l = of(s);
    sqlite3_stmt *st = stmt(l, L_LIMIT);
    sqdb_bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, limit);
    cache_forget(l, id);
    return change_one(l, st, LS_NOTFOUND);
}

static int sl_set_key(lstore *s, const char *id, const uint8_t *key_hash)
{
    sqledger *l = of(s);
    sqlite3_stmt *st = stmt(l, L_KEY);
    sqdb_bind_text(st, 1, id);
    sqdb_bind_blob(st, 2, key_hash, LKEY_HASH_LEN);
    cache_forget(l, id);
    return change_one(l, st, LS_NOTFOUND);
}

static int sl_reserve(lstore *s, const char *id, int64_t least, int64_t amount, const char *res,
                      const char *path, const char *idem_key, int64_t since, int64_t now,
                      lacct *acct, int64_t *got)
{
    sqledger *l = of(s);
    if (idem_key) {
        sqlite3_stmt *st = stmt(l, L_CHARGED);
        sqdb_bind_text(st, 1, id);
        sqdb_bind_text(st, 2, idem_key);
        sqdb_bind_text(st, 3, path);
        sqlite3_bind_int64(st, 4, since);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_ROW) return LS_CHARGED;
        if (rc != SQLITE_DONE) return fail(l, rc);
    }
    lacct a;
    int rc = sl_get(s, id, &a);
    if (rc != LS_OK) return rc;
    int64_t room = a.balance - a.reserved + a.limit;
    if (room < least) {
        if (acct) *acct = a;
        return LS_NOFUNDS;
    }
    if (amount > room) amount = room;
    sqlite3_stmt *st = stmt(l, L_RESERVE);
    sqdb_bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, amount);
    /* The statement checks the room again: the cache cannot overdraw. */
    rc = change_one(l, st, LS_ERROR);
    cached *e = cache_find(l, id);
    if (rc != LS_OK) {
        if (e) e->valid = 0;
        return rc;
    }
    st = stmt(l, L_HOLD);
    sqdb_bind_text(st, 1, res);
    sqdb_bind_text(st, 2, id);
    sqlite3_bind_int64(st, 3, amount);
    sqlite3_bind_int64(st, 4, now);
    rc = run(l, st);
    if (rc != LS_OK) {
        if (e) e->valid = 0;
        return rc;
    }
    if (e) e->a.reserved += amount;
    a.reserved += amount;
    if (acct) *acct = a;
    if (got) *got = amount;
    return LS_OK;
}

/* Reservation res: its account (id, of LACCT_ID_MAX + 1) and amount. */
static int find_res(sqledger *l, const char *res, char *id, int64_t *held)
{
    sqlite3_stmt *st = stmt(l, L_FIND_RES);
    sqdb_bind_text(st, 1, res);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? LS_NOTFOUND : fail(l, rc);
    }
    snprintf(id, LACCT_ID_MAX + 1, "%s", (const char *)sqlite3_column_text(st, 0));
    *held = sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    return LS_OK;
}

/* Lets go of part of what id has reserved. */
static int unhold(sqledger *l, const char *id, int64_t part)
{
    sqlite3_stmt *st = stmt(l, L_UNHOLD);
    sqdb_bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, part);
    int rc = run(l, st);
    cached *e = cache_find(l, id);
    if (e && rc == LS_OK)
        e->a.reserved -= part;
    else if (e)
        e->valid = 0;
    return rc;
}

static int sl_lower(lstore *s, const char *res, int64_t amount)
{
    sqledger *l = of(s);
    char id[LACCT_ID_MAX + 1];
    int64_t held;
    int rc = find_res(l, res, id, &held);
    if (rc != LS_OK || amount >= held) return rc;
    if (amount < 0) amount = 0;
    sqlite3_stmt *st = stmt(l, L_LOWER);
    sqdb_bind_text(st, 1, res);
    sqlite3_bind_int64(st, 2, amount);
    if ((rc = run(l, st)) != LS_OK) return rc;
    return unhold(l, id, held - amount);
}

static int sl_settle(lstore *s, const char *res, int64_t amount, const lreason *why, int64_t now)
{
    sqledger *l = of(s);
    char id[LACCT_ID_MAX + 1];
    int64_t held;
    int rc = find_res(l, res, id, &held);
    if (rc != LS_OK) return rc;
    if (amount > held) amount = held; /* never more than was reserved */
    if (amount < 0) amount = 0;
    sqlite3_stmt *st = stmt(l, L_DROP_RES);
    sqdb_bind_text(st, 1, res);
    if ((rc = run(l, st)) != LS_OK) return rc;
    if ((rc = unhold(l, id, held)) != LS_OK) return rc;
    /* What was reserved had room: what is charged, at most that, has too. */
    return amount ? move(l, id, -amount, 0, why, now) : LS_OK;
}

static int sl_recover(lstore *s)
{
    sqledger *l = of(s);
    cache_clear(l);
    int rc = run(l, stmt(l, L_RECOVER));
    if (rc != LS_OK) return rc;
    int n = sqlite3_changes(l->db);
    rc = run(l, stmt(l, L_RECOVER_ACCTS));
    return rc == LS_OK ? n : rc;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i); /* NULL for NULL */
}

static int sl_history(lstore *s, const char *id, int64_t since,
                      int (*each)(const lentry *e, void *arg), void *arg)
{
    sqledger *l = of(s);
    sqlite3_stmt *st = stmt(l, L_HISTORY);
    sqdb_bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, since);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        lentry e = {.seq = sqlite3_column_int64(st, 0),
                    .account = col_text(st, 1),
                    .amount = sqlite3_column_int64(st, 2),
                    .balance = sqlite3_column_int64(st, 3),
                    .time = sqlite3_column_int64(st, 4)};
        e.why = (lreason){.kind = col_text(st, 5),
                          .note = col_text(st, 6),
                          .request = col_text(st, 7),
                          .vhost = col_text(st, 8),
                          .path = col_text(st, 9),
                          .status = sqlite3_column_int(st, 10),
                          .bytes = (uint64_t)sqlite3_column_int64(st, 11),
                          .idem_key = col_text(st, 12)};
        if (each(&e, arg)) break;
    }
    int ret = rc == SQLITE_ROW || rc == SQLITE_DONE ? LS_OK : fail(l, rc);
    sqlite3_reset(st);
    return ret;
}

static int sl_verify(lstore *s, void (*each)(const char *id, const char *what, void *arg),
                     void *arg)
{
    sqledger *l = of(s);
    sqlite3_stmt *st = stmt(l, L_VERIFY);
    int rc, problems = 0;
    char what[256];
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = col_text(st, 0);
        long long bal = sqlite3_column_int64(st, 1), res = sqlite3_column_int64(st, 2),
                  lim = sqlite3_column_int64(st, 3), sum = sqlite3_column_int64(st, 4),
                  held = sqlite3_column_int64(st, 5);
        int has_last = sqlite3_column_type(st, 6) != SQLITE_NULL;
        long long last = sqlite3_column_int64(st, 6);
        if (bal != sum) {
            snprintf(what, sizeof what, "balance %lld is not the sum of its entries, %lld", bal,
                     sum);
            each(id, what, arg);
            problems++;
        }
        if (has_last && last != bal) {
            snprintf(what, sizeof what, "balance %lld is not the last entry's, %lld", bal, last);
            each(id, what, arg);
            problems++;
        }
        if (res != held) {
            snprintf(what, sizeof what, "reserved %lld is not the sum of its reservations, %lld",
                     res, held);
            each(id, what, arg);
            problems++;
        }
        if (bal < -lim) {
            snprintf(what, sizeof what, "balance %lld is below its credit limit of %lld", bal, lim);
            each(id, what, arg);
            problems++;
        }
    }
    int ret = rc == SQLITE_DONE ? problems : fail(l, rc);
    sqlite3_reset(st);
    return ret;
}

static void sl_close(lstore *s)
{
    sqledger *l = of(s);
    if (!l) return;
    sqlite3_rollback_hook(l->db, NULL, NULL);
    for (int i = 0; i < L_COUNT; i++)
        sqlite3_finalize(l->st[i]);
    free(l);
}

static const lstore_ops sqlite_ledger_ops = {
    .create = sl_create,
    .get = sl_get,
    .accounts = sl_accounts,
    .adjust = sl_adjust,
    .set_limit = sl_set_limit,
    .set_key = sl_set_key,
    .reserve = sl_reserve,
    .lower = sl_lower,
    .settle = sl_settle,
    .recover = sl_recover,
    .history = sl_history,
    .verify = sl_verify,
    .close = sl_close,
};

lstore *ledger_sqlite_on(qstore *q, char *err, size_t errlen)
{
    sqlite3 *db = qstore_sqlite_db(q);
    if (!db) {
        snprintf(err, errlen, "the ledger needs the SQLite state database");
        return NULL;
    }
    sqledger *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->base.ops = &sqlite_ledger_ops;
    l->db = db;
    const char *step = "create the ledger's tables";
    int rc = sqlite3_exec(db, schema, NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        step = "prepare a ledger statement";
        rc = sqdb_prepare(db, sql, l->st, L_COUNT);
    }
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot %s: %s", step, sqlite3_errmsg(db));
        sl_close(&l->base);
        return NULL;
    }
    sqlite3_rollback_hook(db, rolled_back, l);
    return &l->base;
}
