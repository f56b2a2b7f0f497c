/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * queue_writer.c - the job store's writer thread with group commit (see
 * queue_writer.h). One mutex and condition variable guard the waiting
 * operations; the thread takes them all at once.
 */
#include "queue_writer.h"

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct qwriter {
    qstore *store;
    int group;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    qw_op *head, *tail;
    int stopping;
    qwriter_stats stats;
    pthread_t thread;
};

static void op_done(posted *p)
{
    qw_op *op = (qw_op *)((char *)p - offsetof(qw_op, post));
    op->done(op);
}

static void give_back(qw_op *op)
{
    if (op->loop) {
        op->post.fn = op_done;
        loop_post(op->loop, &op->post);
    } else {
        op->done(op);
    }
}

/* Runs ops (a list) in one transaction and hands each back. */
static void run_batch(qwriter *w, qw_op *ops, uint64_t *nops, uint64_t *ncommits, uint64_t *nfailed)
{
    qstore *s = w->store;
    int rc = s->ops->begin(s);
    qw_op *op;
    for (op = ops; op && rc == QS_OK; op = op->next) {
        op->rc = op->apply(s, op);
        (*nops)++;
        /* A full disk can make SQLite roll the whole transaction back: what
         * came before in the batch is then gone too, and so is the rest. */
        if ((op->rc == QS_NOSPACE || op->rc == QS_ERROR) && !s->ops->active(s)) rc = op->rc;
    }
    if (rc == QS_OK) rc = s->ops->commit(s);
    if (rc == QS_OK) {
        (*ncommits)++;
    } else {
        s->ops->rollback(s);
        (*nfailed)++;
        for (op = ops; op; op = op->next)
            op->rc = rc;
    }
    while (ops) {
        op = ops;
        ops = ops->next;
        give_back(op);
    }
}

static void *writer(void *arg)
{
    qwriter *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->stopping)
            pthread_cond_wait(&w->cv, &w->mu);
        qw_op *ops = w->head;
        if (!ops) break; /* stopping, and nothing left */
        if (w->group) {
            w->head = w->tail = NULL; /* all of them, in one transaction */
        } else {
            w->head = ops->next;
            if (!w->head) w->tail = NULL;
            ops->next = NULL;
        }
        pthread_mutex_unlock(&w->mu);
        uint64_t nops = 0, ncommits = 0, nfailed = 0;
        run_batch(w, ops, &nops, &ncommits, &nfailed);
        pthread_mutex_lock(&w->mu);
        w->stats.ops += nops;
        w->stats.commits += ncommits;
        w->stats.failed += nfailed;
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

qwriter *qwriter_new(qstore *s, int group, char *err, size_t errlen)
{
    qwriter *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        s->ops->close(s);
        return NULL;
    }
    w->store = s;
    w->group = group;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    /* Signals are for the program's own thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&w->thread, NULL, writer, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the job queue's writer thread: %s", strerror(rc));
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        s->ops->close(s);
        free(w);
        return NULL;
    }
    return w;
}

void qwriter_free(qwriter *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    w->store->ops->close(w->store);
    free(w);
}

void qwriter_submit(qwriter *w, qw_op *op)
{
    op->next = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->tail)
        w->tail->next = op;
    else
        w->head = op;
    w->tail = op;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void qwriter_get_stats(qwriter *w, qwriter_stats *st)
{
    pthread_mutex_lock(&w->mu);
    *st = w->stats;
    pthread_mutex_unlock(&w->mu);
}
