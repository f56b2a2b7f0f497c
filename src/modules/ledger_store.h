/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ledger_store.h - where metered paths (402 Payment Required) keep their
 * accounts: one small interface, as the job store's (queue_store.h), so that
 * a backend other than SQLite is one more implementation of these functions.
 *
 * An account has an id, a balance, a credit limit (how far below zero the
 * balance may go; 0: no overdraft), the hash of its secret key, and what is
 * reserved of it by responses under way. Every change of a balance is an
 * entry with its reason, so a balance is always the sum of its entries
 * (verify checks it). Amounts are whole credits; times are milliseconds
 * since the Unix epoch.
 *
 * A response is paid in two steps: reserve (before it is produced: the
 * price, which must fit between the balance, what is reserved already, and
 * the limit) and settle (when it is over: the amount actually charged, at
 * most the reservation, becomes an entry) or release (it is not charged).
 * Reservations left open by a process that ended are released at the next
 * start (recover): the module settles a response before its last byte is
 * sent, so a response a client received whole was settled, and one whose
 * reservation is still open at a crash was never received whole.
 *
 * A store keeps the accounts it has read in memory, so that a reservation
 * does not read them again while nobody else changes the database.
 *
 * Nothing here is thread-safe, and a ledger store has no transactions of its
 * own: it shares the job store's database and transactions (the writer
 * thread's group commit, queue_writer.h), made with ledger_sqlite_on.
 */
#ifndef HTD_LEDGER_STORE_H
#define HTD_LEDGER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "queue_store.h"

/* What the functions return; the same codes as the job store's where they
 * mean the same. */
enum {
    LS_OK = QS_OK,
    LS_NOTFOUND = QS_NOTFOUND, /* no such account, or reservation */
    LS_EXISTS = -2,            /* create: the account is there already */
    LS_NOFUNDS = -3,           /* reserve, debit: beyond the credit limit */
    LS_CHARGED = -4,           /* reserve: the idempotency key was charged already */
    LS_NOSPACE = QS_NOSPACE,
    LS_ERROR = QS_ERROR,
};

#define LACCT_ID_MAX 64 /* an account id: 1 to 64 of [A-Za-z0-9._-] */
#define LKEY_HASH_LEN 32

/* Whether s (NUL-terminated) is a well-formed account id. */
int lacct_id_ok(const char *s);

typedef struct lacct {
    char id[LACCT_ID_MAX + 1];
    int64_t balance;
    int64_t limit;    /* the credit limit: the balance never goes below -limit */
    int64_t reserved; /* by responses under way */
    uint8_t key_hash[LKEY_HASH_LEN];
    int64_t created;
} lacct;

/* What an entry records besides its amount; any may be NULL or 0. */
typedef struct lreason {
    const char *kind; /* "credit", "debit", "charge" */
    const char *note;
    const char *request; /* the request's id, for a charge */
    const char *vhost, *path;
    int status;
    uint64_t bytes;
    const char *idem_key; /* a charge's Idempotency-Key */
} lreason;

/* An entry as read back; its strings last until the callback returns. */
typedef struct lentry {
    int64_t seq; /* increasing */
    const char *account;
    int64_t amount;  /* + credit, - debit or charge */
    int64_t balance; /* after it */
    int64_t time;
    lreason why;
} lentry;

typedef struct lstore lstore;

typedef struct lstore_ops {
    int (*create)(lstore *s, const char *id, int64_t limit, const uint8_t *key_hash, int64_t now);
    int (*get)(lstore *s, const char *id, lacct *out);
    /* Calls each for every account, in id order, until it returns nonzero. */
    int (*accounts)(lstore *s, int (*each)(const lacct *a, void *arg), void *arg);
    /* A credit (amount > 0) or debit (amount < 0) made by hand: an entry.
     * A debit that would take the balance, less what is reserved, below
     * -limit is LS_NOFUNDS. */
    int (*adjust)(lstore *s, const char *id, int64_t amount, const lreason *why, int64_t now);
    int (*set_limit)(lstore *s, const char *id, int64_t limit);
    int (*set_key)(lstore *s, const char *id, const uint8_t *key_hash);
    /* Reserves amount for the response whose reservation id is res (from
     * qjob_new_id), or as much of it as the account has room for if that
     * is at least least (a hold for a response whose size is not known
     * yet): what it reserved in *got (may be NULL). LS_NOFUNDS, with the
     * account in *acct, when balance - reserved - least would be below
     * -limit. With an idempotency key that was charged for this account and
     * path since `since`: LS_CHARGED, and nothing is reserved. acct may be
     * NULL. */
    int (*reserve)(lstore *s, const char *id, int64_t least, int64_t amount, const char *res,
                   const char *path, const char *idem_key, int64_t since, int64_t now, lacct *acct,
                   int64_t *got);
    /* Lowers reservation res to amount, when it holds more: the rest is
     * let go at once (the response's size became known). */
    int (*lower)(lstore *s, const char *res, int64_t amount);
    /* Ends reservation res: amount (at most what it reserved) is charged, an
     * entry with why, unless it is 0; the rest is let go. */
    int (*settle)(lstore *s, const char *res, int64_t amount, const lreason *why, int64_t now);
    /* At start: every open reservation released; how many, or LS_ERROR. */
    int (*recover)(lstore *s);
    /* Calls each for the entries of account id (NULL: all), oldest first,
     * from time since (0: all), until it returns nonzero. */
    int (*history)(lstore *s, const char *id, int64_t since,
                   int (*each)(const lentry *e, void *arg), void *arg);
    /* Checks that every balance is the sum of its entries, every reserved
     * amount the sum of its open reservations, and no balance below its
     * limit; each is called with the account and what is wrong. How many
     * problems, or LS_ERROR. */
    int (*verify)(lstore *s, void (*each)(const char *id, const char *what, void *arg), void *arg);
    void (*close)(lstore *s);
} lstore_ops;

struct lstore {
    const lstore_ops *ops;
    char msg[256]; /* what went wrong last */
};

/* The SQLite ledger, in the database of the job store q (which must be
 * SQLite's, qstore_sqlite_open), its tables made if missing. It uses q's
 * connection and transactions, so close it before q. NULL with err filled. */
lstore *ledger_sqlite_on(qstore *q, char *err, size_t errlen);

#endif
