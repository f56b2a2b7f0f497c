/* SPDX-License-Identifier: BSD-2-Clause */
/* test_ledger_store.c - the ledger (ledger_store.h) over SQLite, on a job
 * store's database of its own under /tmp. */
#include "ledger_store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_db.h"
#include "state_db.h"
#include "test.h"

static const uint8_t KEY[LKEY_HASH_LEN] = {1, 2, 3};

/* Runs f in a transaction of q's, as the writer thread would. */
#define IN_TX(q, expr)                                                                             \
    do {                                                                                           \
        CHECK_EQ_INT((q)->ops->begin(q), QS_OK);                                                   \
        expr;                                                                                      \
        CHECK_EQ_INT((q)->ops->commit(q), QS_OK);                                                  \
    } while (0)

static lstore *open_ledger(qstore **q)
{
    *q = open_fresh();
    if (!*q) return NULL;
    char err[256];
    lstore *l = ledger_sqlite_on(*q, err, sizeof err);
    if (!l) fprintf(stderr, "%s\n", err);
    return l;
}

static void close_ledger(qstore *q, lstore *l)
{
    l->ops->close(l);
    q->ops->close(q);
    remove_fresh();
}

static lacct account(lstore *l, const char *id)
{
    lacct a = {0};
    CHECK_EQ_INT(l->ops->get(l, id, &a), LS_OK);
    return a;
}

static int problems_seen;
static void note_problem(const char *id, const char *what, void *arg)
{
    (void)arg;
    fprintf(stderr, "  (expected) %s: %s\n", id, what);
    problems_seen++;
}

static const lreason credit = {.kind = "credit", .note = "top-up"};

TEST(account_ids_are_1_to_64_safe_characters)
{
    CHECK(lacct_id_ok("acme-corp_1.test"));
    CHECK(!lacct_id_ok(""));
    CHECK(!lacct_id_ok("a b"));
    CHECK(!lacct_id_ok("a/b"));
    char id[66];
    memset(id, 'a', 65);
    id[65] = 0;
    CHECK(!lacct_id_ok(id));
    id[64] = 0;
    CHECK(lacct_id_ok(id));
}

TEST(reserve_then_settle_charges_what_was_served_never_more_than_reserved)
{
    qstore *q;
    lstore *l = open_ledger(&q);
    CHECK(l != NULL);
    if (!l) return;
    IN_TX(q, CHECK_EQ_INT(l->ops->create(l, "acme", 0, KEY, 1000), LS_OK));
    IN_TX(q, CHECK_EQ_INT(l->ops->create(l, "acme", 0, KEY, 1000), LS_EXISTS));
    lacct a = account(l, "acme");
    CHECK_EQ_INT(a.balance, 0);
    CHECK(memcmp(a.key_hash, KEY, LKEY_HASH_LEN) == 0);
    IN_TX(q, CHECK_EQ_INT(l->ops->adjust(l, "acme", 100, &credit, 2000), LS_OK));
    IN_TX(q,
          CHECK_EQ_INT(l->ops->reserve(l, "acme", 30, 30, "r1", "/api/x", NULL, 0, 3000, &a, NULL),
                       LS_OK));
    CHECK_EQ_INT(a.reserved, 30);
    /* 100 - 30 leaves 70: 80 more does not fit. */
    lacct seen = {0};
    IN_TX(q, CHECK_EQ_INT(
                 l->ops->reserve(l, "acme", 80, 80, "r2", "/api/x", NULL, 0, 3000, &seen, NULL),
                 LS_NOFUNDS));
    CHECK_EQ_INT(seen.balance, 100);
    CHECK_EQ_INT(seen.reserved, 30);
    lreason why = {.kind = "charge",
                   .request = "req-1",
                   .vhost = "api.test",
                   .path = "/api/x",
                   .status = 200,
                   .bytes = 1024};
    IN_TX(q, CHECK_EQ_INT(l->ops->settle(l, "r1", 20, &why, 4000), LS_OK));
    a = account(l, "acme");
    CHECK_EQ_INT(a.balance, 80);
    CHECK_EQ_INT(a.reserved, 0);
    IN_TX(q, CHECK_EQ_INT(l->ops->settle(l, "r1", 20, &why, 4000), LS_NOTFOUND));
    /* More than reserved is capped at the reservation. */
    IN_TX(q, CHECK_EQ_INT(
                 l->ops->reserve(l, "acme", 10, 10, "r3", "/api/x", NULL, 0, 5000, NULL, NULL),
                 LS_OK));
    IN_TX(q, CHECK_EQ_INT(l->ops->settle(l, "r3", 999, &why, 5000), LS_OK));
    CHECK_EQ_INT(account(l, "acme").balance, 70);
    /* Settling 0 releases. */
    IN_TX(q, CHECK_EQ_INT(
                 l->ops->reserve(l, "acme", 70, 70, "r4", "/api/x", NULL, 0, 6000, NULL, NULL),
                 LS_OK));
    IN_TX(q, CHECK_EQ_INT(l->ops->settle(l, "r4", 0, &why, 6000), LS_OK));
    a = account(l, "acme");
    CHECK_EQ_INT(a.balance, 70);
    CHECK_EQ_INT(a.reserved, 0);
    IN_TX(q, CHECK_EQ_INT(l->ops->reserve(l, "nobody", 1, 1, "r5", "/", NULL, 0, 6000, NULL, NULL),
                          LS_NOTFOUND));
    close_ledger(q, l);
}

TEST(a_credit_limit_allows_that_much_below_zero_and_no_more)
{
    qstore *q;
    lstore *l = open_ledger(&q);
    CHECK(l != NULL);
    if (!l) return;
    IN_TX(q, CHECK_EQ_INT(l->ops->create(l, "b", 50, KEY, 1000), LS_OK));
    IN_TX(q, CHECK_EQ_INT(l->ops->reserve(l, "b", 50, 50, "r1", "/", NULL, 0, 1000, NULL, NULL),
                          LS_OK));
    IN_TX(q, CHECK_EQ_INT(l->ops->reserve(l, "b", 1, 1, "r2", "/", NULL, 0, 1000, NULL, NULL),
                          LS_NOFUNDS));
    lreason debit = {.kind = "debit"};
    IN_TX(q, CHECK_EQ_INT(l->ops->adjust(l, "b", -1, &debit, 1000), LS_NOFUNDS));
    IN_TX(q, CHECK_EQ_INT(l->ops->adjust(l, "zz", -1, &debit, 1000), LS_NOTFOUND));
    IN_TX(q, CHECK_EQ_INT(l->ops->settle(l, "r1", 50, &(lreason){.kind = "charge"}, 1000), LS_OK));
    CHECK_EQ_INT(account(l, "b").balance, -50);
    IN_TX(q, CHECK_EQ_INT(l->ops->set_limit(l, "b", 60), LS_OK));
    IN_TX(q, CHECK_EQ_INT(l->ops->adjust(l, "b", -10, &debit, 1000), LS_OK));
    CHECK_EQ_INT(account(l, "b").balance, -60);
    CHECK_EQ_INT(l->ops->verify(l, note_problem, NULL), 0);
    close_ledger(q, l);
}

static int entries_seen;
static int count_entry(const lentry *e, void *arg)
{
    int64_t *sum = arg;
    *sum += e->amount;
    entries_seen++;
    return 0;
}

TEST(history_sums_to_the_balance_and_verify_finds_a_balance_changed_behind_its_back)
{
    qstore *q;
    lstore *l = open_ledger(&q);
    CHECK(l != NULL);
    if (!l) return;
    IN_TX(q, CHECK_EQ_INT(l->ops->create(l, "c", 0, KEY, 1000), LS_OK));
    IN_TX(q, CHECK_EQ_INT(l->ops->adjust(l, "c", 500, &credit, 1000), LS_OK));
    for (int i = 0; i < 5; i++) {
        char res[8];
        snprintf(res, sizeof res, "r%d", i);
        IN_TX(q, CHECK_EQ_INT(
                     l->ops->reserve(l, "c", 10, 10, res, "/p", NULL, 0, 2000 + i, NULL, NULL),
                     LS_OK));
        IN_TX(q, CHECK_EQ_INT(l->ops->settle(l, res, 7, &(lreason){.kind = "charge"}, 2000 + i),
                              LS_OK));
    }
    int64_t sum = 0;
    entries_seen = 0;
    CHECK_EQ_INT(l->ops->history(l, "c", 0, count_entry, &sum), LS_OK);
    CHECK_EQ_INT(entries_seen, 6);
    CHECK_EQ_INT(sum, 500 - 35);
    CHECK_EQ_INT(account(l, "c").balance, 465);
    sum = 0;
    entries_seen = 0;
    CHECK_EQ_INT(l->ops->history(l, "c", 2003, count_entry, &sum), LS_OK);
    CHECK_EQ_INT(entries_seen, 2);
    problems_seen = 0;
    CHECK_EQ_INT(l->ops->verify(l, note_problem, NULL), 0);
    sqlite3_exec(qstore_sqlite_db(q), "UPDATE accounts SET balance = 1 WHERE id = 'c'", NULL, NULL,
                 NULL);
    CHECK_EQ_INT(l->ops->verify(l, note_problem, NULL), 2);
    CHECK_EQ_INT(problems_seen, 2);
    close_ledger(q, l);
}

TEST(recover_releases_what_a_crash_left_reserved)
{
    qstore *q;
    lstore *l = open_ledger(&q);
    CHECK(l != NULL);
    if (!l) return;
    IN_TX(q, CHECK_EQ_INT(l->ops->create(l, "d", 0, KEY, 1000), LS_OK));
    IN_TX(q, CHECK_EQ_INT(l->ops->adjust(l, "d", 10, &credit, 1000), LS_OK));
    IN_TX(q,
          CHECK_EQ_INT(l->ops->reserve(l, "d", 4, 4, "r1", "/", NULL, 0, 1000, NULL, NULL), LS_OK));
    IN_TX(q,
          CHECK_EQ_INT(l->ops->reserve(l, "d", 6, 6, "r2", "/", NULL, 0, 1000, NULL, NULL), LS_OK));
    CHECK_EQ_INT(account(l, "d").reserved, 10);
    IN_TX(q, CHECK_EQ_INT(l->ops->recover(l), 2));
    lacct a = account(l, "d");
    CHECK_EQ_INT(a.reserved, 0);
    CHECK_EQ_INT(a.balance, 10);
    CHECK_EQ_INT(l->ops->verify(l, note_problem, NULL), 0);
    close_ledger(q, l);
}

TEST(an_idempotency_key_charged_for_the_account_and_path_is_not_charged_again)
{
    qstore *q;
    lstore *l = open_ledger(&q);
    CHECK(l != NULL);
    if (!l) return;
    IN_TX(q, CHECK_EQ_INT(l->ops->create(l, "e", 0, KEY, 1000), LS_OK));
    IN_TX(q, CHECK_EQ_INT(l->ops->adjust(l, "e", 10, &credit, 1000), LS_OK));
    IN_TX(q, CHECK_EQ_INT(l->ops->reserve(l, "e", 3, 3, "r1", "/p", "k1", 0, 1000, NULL, NULL),
                          LS_OK));
    lreason why = {.kind = "charge", .path = "/p", .idem_key = "k1", .status = 200};
    IN_TX(q, CHECK_EQ_INT(l->ops->settle(l, "r1", 3, &why, 1000), LS_OK));
    IN_TX(q, CHECK_EQ_INT(l->ops->reserve(l, "e", 3, 3, "r2", "/p", "k1", 500, 1500, NULL, NULL),
                          LS_CHARGED));
    /* Another path, another key, or past the window: charged. */
    IN_TX(q,
          CHECK_EQ_INT(l->ops->reserve(l, "e", 3, 3, "r3", "/other", "k1", 500, 1500, NULL, NULL),
                       LS_OK));
    IN_TX(q, CHECK_EQ_INT(l->ops->reserve(l, "e", 3, 3, "r4", "/p", "k2", 500, 1500, NULL, NULL),
                          LS_OK));
    IN_TX(q, CHECK_EQ_INT(l->ops->reserve(l, "e", 1, 1, "r5", "/p", "k1", 1200, 1500, NULL, NULL),
                          LS_OK));
    CHECK_EQ_INT(account(l, "e").reserved, 7);
    close_ledger(q, l);
}

TEST(a_hold_takes_what_the_account_has_from_least_up_and_is_lowered_when_the_size_is_known)
{
    qstore *q;
    lstore *l = open_ledger(&q);
    CHECK(l != NULL);
    if (!l) return;
    IN_TX(q, CHECK_EQ_INT(l->ops->create(l, "f", 0, KEY, 1000), LS_OK));
    IN_TX(q, CHECK_EQ_INT(l->ops->adjust(l, "f", 20, &credit, 1000), LS_OK));
    /* Up to 100 asked, at least 5: the account's 20. */
    int64_t got = -1;
    lacct a;
    IN_TX(q, CHECK_EQ_INT(l->ops->reserve(l, "f", 5, 100, "r1", "/k", NULL, 0, 1000, &a, &got),
                          LS_OK));
    CHECK_EQ_INT(got, 20);
    CHECK_EQ_INT(a.reserved, 20);
    /* Nothing left for another's least. */
    IN_TX(q, CHECK_EQ_INT(l->ops->reserve(l, "f", 1, 1, "r2", "/k", NULL, 0, 1000, &a, &got),
                          LS_NOFUNDS));
    CHECK_EQ_INT(a.reserved, 20);
    /* The size is known: 7 of it is kept, the rest let go at once. */
    IN_TX(q, CHECK_EQ_INT(l->ops->lower(l, "r1", 7), LS_OK));
    CHECK_EQ_INT(account(l, "f").reserved, 7);
    IN_TX(q, CHECK_EQ_INT(l->ops->lower(l, "r1", 9), LS_OK)); /* never raised */
    CHECK_EQ_INT(account(l, "f").reserved, 7);
    IN_TX(q, CHECK_EQ_INT(l->ops->reserve(l, "f", 13, 13, "r2", "/k", NULL, 0, 1000, NULL, &got),
                          LS_OK));
    lreason why = {.kind = "charge", .path = "/k", .status = 200};
    IN_TX(q, CHECK_EQ_INT(l->ops->settle(l, "r1", 7, &why, 1000), LS_OK));
    IN_TX(q, CHECK_EQ_INT(l->ops->settle(l, "r2", 13, &why, 1000), LS_OK));
    a = account(l, "f");
    CHECK_EQ_INT(a.balance, 0);
    CHECK_EQ_INT(a.reserved, 0);
    CHECK_EQ_INT(l->ops->lower(l, "r1", 0), LS_NOTFOUND);
    CHECK_EQ_INT(l->ops->verify(l, note_problem, NULL), 0);
    close_ledger(q, l);
}

TEST(an_account_changed_by_another_connection_is_read_again)
{
    qstore *q;
    lstore *l = open_ledger(&q);
    CHECK(l != NULL);
    if (!l) return;
    IN_TX(q, CHECK_EQ_INT(l->ops->create(l, "g", 0, KEY, 1000), LS_OK));
    CHECK_EQ_INT(account(l, "g").balance, 0); /* cached now */
    /* htd ledger, in another process: another connection to the file. */
    char err[256];
    qstore *q2 = qstore_sqlite_open(db_path, err, sizeof err);
    CHECK(q2 != NULL);
    if (!q2) return;
    lstore *l2 = ledger_sqlite_on(q2, err, sizeof err);
    CHECK(l2 != NULL);
    static const uint8_t KEY2[LKEY_HASH_LEN] = {9};
    IN_TX(q2, CHECK_EQ_INT(l2->ops->adjust(l2, "g", 50, &credit, 2000), LS_OK));
    IN_TX(q2, CHECK_EQ_INT(l2->ops->set_key(l2, "g", KEY2), LS_OK));
    l2->ops->close(l2);
    q2->ops->close(q2);
    lacct a = account(l, "g");
    CHECK_EQ_INT(a.balance, 50);
    CHECK(memcmp(a.key_hash, KEY2, LKEY_HASH_LEN) == 0);
    /* A transaction that rolls back leaves no trace in the copies. */
    CHECK_EQ_INT(q->ops->begin(q), QS_OK);
    CHECK_EQ_INT(l->ops->reserve(l, "g", 30, 30, "r1", "/", NULL, 0, 3000, NULL, NULL), LS_OK);
    CHECK_EQ_INT(account(l, "g").reserved, 30);
    q->ops->rollback(q);
    CHECK_EQ_INT(account(l, "g").reserved, 0);
    close_ledger(q, l);
}

int main(void)
{
    RUN_TESTS();
}
