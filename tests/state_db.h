/* SPDX-License-Identifier: BSD-2-Clause */
/* state_db.h - for the unit tests of the state database (the job store, the
 * ledger): a fresh SQLite job store in a directory of its own under /tmp,
 * and its removal. */
#ifndef HTD_TEST_STATE_DB_H
#define HTD_TEST_STATE_DB_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "queue_store.h"

static char db_dir[64];
static char db_path[96];

/* A store in a new directory (db_path names its file), or NULL. */
static qstore *open_fresh(void)
{
    snprintf(db_dir, sizeof db_dir, "/tmp/htd-queue-test.XXXXXX");
    if (!mkdtemp(db_dir)) return NULL;
    snprintf(db_path, sizeof db_path, "%s/jobs.db", db_dir);
    char err[256];
    qstore *s = qstore_sqlite_open(db_path, err, sizeof err);
    if (!s) fprintf(stderr, "%s\n", err);
    return s;
}

/* Removes the database's files and their directory (the store is closed). */
static void remove_fresh(void)
{
    char p[128];
    static const char *const tails[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", db_path, tails[i]);
        unlink(p);
    }
    rmdir(db_dir);
}

#endif
