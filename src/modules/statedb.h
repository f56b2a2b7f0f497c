/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * statedb.h - the server's durable state: one database (state_db, SQLite)
 * and the one writer thread over it (queue_writer.h), shared by the modules
 * that keep state: the job queues and the ledger. Their operations share
 * the writer's transactions, so a burst of submissions and charges is one
 * fsync.
 *
 * A module of its own, so that it lives as long as the server and goes
 * after every module that uses it (it is last in the registry): the others
 * find it with statedb_of(reg) in their start hook and open it there.
 */
#ifndef HTD_STATEDB_H
#define HTD_STATEDB_H

#include <stddef.h>

#include "ledger_store.h"
#include "module.h"
#include "queue_writer.h"

typedef struct statedb statedb;

extern const htd_module statedb_module;

statedb *statedb_of(const registry *reg);
/* Opens the database and starts the writer, once: 0, or -1 with err. */
int statedb_open(statedb *db, char *err, size_t errlen);
/* Once open: the writer, and the ledger (its operations run on the writer
 * thread, in an op's apply). */
qwriter *statedb_writer(statedb *db);
lstore *statedb_ledger(statedb *db);
/* Runs apply on the writer thread, in its transaction, and waits for the
 * commit: for threads that may wait (processors, starts), never a loop.
 * apply's result, or the commit's failure. */
int statedb_sync(statedb *db, int (*apply)(qstore *s, qw_op *op), void *arg);
/* The arg given to statedb_sync, from within its apply. */
void *statedb_sync_arg(qw_op *op);
statedb *statedb_sync_db(qw_op *op);

#endif
