/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * statedb.c - the server's state database and its writer (statedb.h).
 */
#include "statedb.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct statedb {
    char *path;
    int group;
    qwriter *w; /* owns the job store, on whose connection the ledger is */
    lstore *ledger;
};

statedb *statedb_of(const registry *reg)
{
    return registry_state(reg, &statedb_module);
}

int statedb_open(statedb *db, char *err, size_t errlen)
{
    if (db->w) return 0;
    qstore *q = qstore_sqlite_open(db->path, err, errlen);
    if (!q) return -1;
    char why[256];
    if (!(db->ledger = ledger_sqlite_on(q, why, sizeof why))) {
        snprintf(err, errlen, "state database %s: %s", db->path, why);
        q->ops->close(q);
        return -1;
    }
    if (!(db->w = qwriter_new(q, db->group, err, errlen))) { /* it closed q */
        db->ledger = NULL;
        return -1;
    }
    return 0;
}

qwriter *statedb_writer(statedb *db)
{
    return db->w;
}

lstore *statedb_ledger(statedb *db)
{
    return db->ledger;
}

typedef struct sync_op {
    qw_op op; /* first */
    int (*apply)(qstore *s, qw_op *op);
    void *arg;
    statedb *db;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
} sync_op;

static int sync_apply(qstore *s, qw_op *op)
{
    sync_op *o = (sync_op *)op;
    return o->apply(s, op);
}

static void sync_done(qw_op *op)
{
    sync_op *o = (sync_op *)op;
    pthread_mutex_lock(&o->mu);
    o->done = 1;
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
}

void *statedb_sync_arg(qw_op *op)
{
    return ((sync_op *)op)->arg;
}

statedb *statedb_sync_db(qw_op *op)
{
    return ((sync_op *)op)->db;
}

int statedb_sync(statedb *db, int (*apply)(qstore *s, qw_op *op), void *arg)
{
    sync_op o = {
        .op = {.apply = sync_apply, .done = sync_done}, .apply = apply, .arg = arg, .db = db};
    pthread_mutex_init(&o.mu, NULL);
    pthread_cond_init(&o.cv, NULL);
    qwriter_submit(db->w, &o.op);
    pthread_mutex_lock(&o.mu);
    while (!o.done)
        pthread_cond_wait(&o.cv, &o.mu);
    pthread_mutex_unlock(&o.mu);
    pthread_mutex_destroy(&o.mu);
    pthread_cond_destroy(&o.cv);
    return o.op.rc;
}

static int init(const htd_config *cfg, void **state, char *err, size_t errlen)
{
    statedb *db = calloc(1, sizeof *db);
    if (!db || !(db->path = strdup(cfg->state_db ? cfg->state_db : "htd-state.db"))) {
        free(db);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    db->group = !cfg->queue_no_group_commit;
    *state = db;
    return 0;
}

static void fini(void *state)
{
    statedb *db = state;
    /* What is left runs first; the connection, whose close waits for the
     * ledger's statements (sqlite3_close_v2), goes with the ledger. */
    qwriter_free(db->w);
    if (db->ledger) db->ledger->ops->close(db->ledger);
    free(db->path);
    free(db);
}

const htd_module statedb_module = {
    .name = "statedb",
    .init = init,
    .fini = fini,
};
