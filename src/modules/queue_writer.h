/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * queue_writer.h - the one thread that uses a job store, so that no event
 * loop ever waits on the database or the disk.
 *
 * A loop submits an operation: `apply` runs on the writer thread against
 * the store, inside a transaction; `done` runs back on the loop that
 * submitted it, as a post (loop.h), once the transaction is committed, so a
 * request is answered only after what it stored is on the disk.
 *
 * Group commit: the writer takes every operation waiting when it wakes and
 * runs them all in one transaction, with one commit and so one fsync. Many
 * requests that arrive together share it; one alone still commits at once.
 * With grouping off, each operation has a transaction of its own (for the
 * benchmark that shows what grouping saves).
 *
 * When the commit fails (the disk is full, say), nothing of the batch was
 * stored, and every operation of it gets the failure in rc.
 */
#ifndef HTD_QUEUE_WRITER_H
#define HTD_QUEUE_WRITER_H

#include <stdint.h>

#include "loop.h"
#include "queue_store.h"

typedef struct qw_op qw_op;
struct qw_op {
    qw_op *next;                        /* private: queue link */
    int (*apply)(qstore *s, qw_op *op); /* on the writer thread: a QS_ code */
    void (*done)(qw_op *op);            /* on the submitting loop, after the commit */
    loop *loop;                         /* the submitting loop, or NULL: done on the writer */
    int rc;                             /* apply's result, or the commit's failure */
    posted post;                        /* private: the way back */
};

typedef struct qwriter qwriter;

/* Starts the writer thread over s (which it then owns and closes). NULL
 * with err filled on failure. */
qwriter *qwriter_new(qstore *s, int group, char *err, size_t errlen);
/* Runs what is queued, then stops the thread and closes the store. The
 * `done` posts run when their loops next turn. */
void qwriter_free(qwriter *w);
void qwriter_submit(qwriter *w, qw_op *op);

/* Counts since the start, for the benchmark and the tests. */
typedef struct qwriter_stats {
    uint64_t ops;     /* operations applied */
    uint64_t commits; /* transactions committed (each one fsync of the log) */
    uint64_t failed;  /* transactions whose commit failed */
} qwriter_stats;
void qwriter_get_stats(qwriter *w, qwriter_stats *st);

#endif
