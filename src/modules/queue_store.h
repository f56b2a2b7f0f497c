/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * queue_store.h - where the job queues (202 Accepted) keep their jobs: one
 * small interface, so that a backend other than SQLite (PostgreSQL, later)
 * is one more implementation of these functions and nothing else changes.
 *
 * A job is a request accepted for later: its method, target, header lines,
 * client address and body, under a queue's name. It is queued, then running
 * (leased by a processor), then done, failed or cancelled; a failed attempt
 * with attempts left goes back to queued, not before a time. Finished jobs
 * expire and are removed. Times are milliseconds since the Unix epoch.
 *
 * Nothing here is thread-safe: one thread at a time uses a store (the
 * queue's writer thread, or the `htd jobs` command). Changes between begin
 * and commit are one transaction: many requests share one commit and one
 * fsync (group commit). Every change is made in a transaction.
 */
#ifndef HTD_QUEUE_STORE_H
#define HTD_QUEUE_STORE_H

#include <stddef.h>
#include <stdint.h>

/* What the functions return. */
enum {
    QS_OK = 0,
    QS_NOTFOUND = -1, /* no such job (or it expired) */
    QS_DUP = -2,      /* enqueue: the idempotency key was seen with this body: that job */
    QS_CONFLICT = -3, /* enqueue: the key was seen with another body; cancel: not queued */
    QS_FULL = -4,     /* enqueue: the queue holds its maximum of queued jobs */
    QS_NOSPACE = -5,  /* the disk is full: nothing was stored */
    QS_EMPTY = -6,    /* lease: no job is ready */
    QS_ERROR = -7,    /* anything else; the store's message says what */
};

enum { QJ_QUEUED, QJ_RUNNING, QJ_DONE, QJ_FAILED, QJ_CANCELLED, QJ_STATES };

/* Now, in milliseconds since the Unix epoch, as the stores keep times. */
int64_t qstore_now_ms(void);
/* ms as RFC 3339 UTC, "2026-11-30T19:00:00Z", or with millis
 * "2026-11-30T19:00:00.123Z" (fitting in 32 bytes). */
void qstore_iso_time(int64_t ms, int millis, char *out, size_t cap);

/* The state's name, as the status monitor and `htd jobs` show it; its
 * number from a name, or -1. */
const char *qjob_state_name(int state);
int qjob_state_parse(const char *name);

#define QJOB_ID_LEN 22 /* 128 random bits in unpadded base64url */

/* Makes a new job id: QJOB_ID_LEN characters and a NUL. 0, or -1 if the
 * kernel gave no randomness. */
int qjob_new_id(char id[QJOB_ID_LEN + 1]);

/* A request to keep, as enqueue takes it. */
typedef struct qjob_req {
    const char *queue;
    const char *method, *target, *client;
    const char *headers; /* the header lines, "Name: value\r\n" each */
    size_t headers_len;
    const void *body;
    size_t body_len;
    const char *idem_key;     /* Idempotency-Key, or NULL */
    const uint8_t *body_hash; /* 32 bytes (SHA-256 of the body) when idem_key is set */
} qjob_req;

/* A job as read back; the strings and blobs are the job's own (malloc'd),
 * freed by qjob_clear. */
typedef struct qjob {
    char id[QJOB_ID_LEN + 1];
    char *queue;
    int state;
    int attempts;
    int64_t created, started, finished; /* 0 when not yet */
    int64_t not_before;                 /* a queued job is not leased before it */
    int64_t expires;                    /* 0 while not finished */
    char *method, *target, *client;
    char *headers;
    size_t headers_len;
    char *body;
    size_t body_len;
    char *idem_key;
    int exit_code;     /* the command's exit status, or -1 */
    int result_status; /* the result's HTTP status, 0 when none */
    char *result_type; /* its Content-Type, or NULL */
    char *result;
    size_t result_len;
    char *err; /* the last lines of stderr of the last failed attempt, or NULL */
} qjob;

void qjob_clear(qjob *j);

/* j as the status monitor's JSON object (one line and a newline): id,
 * queue, state, attempts, created, started, finished (RFC 3339 times, or
 * null), exit, monitor and result (URLs under base, the monitors' path,
 * "/.jobs/"), and error (stderr's last lines) when there is one. The
 * length it needs; written whole, with a NUL, only if that is below cap. */
size_t qjob_json(const qjob *j, const char *base, char *out, size_t cap);

/* The outcome of one attempt. */
typedef struct qjob_result {
    int exit_code;
    int status;       /* the result's HTTP status */
    const char *type; /* or NULL */
    const char *body;
    size_t body_len;
    const char *err; /* stderr's last lines, or NULL */
} qjob_result;

typedef struct qstore qstore;

typedef struct qstore_ops {
    int (*begin)(qstore *s);
    int (*commit)(qstore *s);
    void (*rollback)(qstore *s);
    /* Whether a transaction is open: a full disk may have ended it. */
    int (*active)(qstore *s);
    /* Stores a new job (id given, from qjob_new_id) unless the queue holds
     * max_queued queued jobs already (0: no maximum). With an idempotency
     * key seen before on the queue: QS_DUP and that job's id in id, or
     * QS_CONFLICT when its body differed. */
    int (*enqueue)(qstore *s, const qjob_req *r, int64_t now, unsigned max_queued,
                   char id[QJOB_ID_LEN + 1]);
    /* The oldest ready job of the queue, now running, its attempts counted.
     * QS_EMPTY when none is ready, with out->not_before the time the next
     * queued one will be (0: none is queued). */
    int (*lease)(qstore *s, const char *queue, int64_t now, qjob *out);
    /* A running job done (or, with final, failed: its attempts are spent),
     * with the attempt's outcome, kept until expires. */
    int (*finish)(qstore *s, const char *id, const qjob_result *r, int final, int64_t now,
                  int64_t expires);
    /* A running job's attempt failed with attempts left: queued again, not
     * before retry_at. */
    int (*retry_later)(qstore *s, const char *id, const qjob_result *r, int64_t retry_at);
    int (*get)(qstore *s, const char *id, qjob *out);
    /* Calls each for the jobs of queue (NULL: all) in state (-1: any), oldest
     * first, until it returns nonzero. */
    int (*list)(qstore *s, const char *queue, int state, int (*each)(const qjob *j, void *arg),
                void *arg);
    /* A queued job cancelled (QS_CONFLICT when it is not queued). */
    int (*cancel)(qstore *s, const char *id, int64_t now, int64_t expires);
    /* A failed or cancelled job queued again, its attempts from zero
     * (QS_CONFLICT when it is neither). */
    int (*requeue)(qstore *s, const char *id, int64_t now);
    /* Removes the jobs whose time ran out; how many, or QS_ERROR. */
    int (*expire)(qstore *s, int64_t now);
    /* At start: the jobs left running by a process that ended are queued
     * again; how many, or QS_ERROR. */
    int (*recover)(qstore *s, int64_t now);
    /* Removes the finished jobs of queue (NULL: all) in state (-1: done,
     * failed and cancelled); how many, or QS_ERROR. */
    int (*purge)(qstore *s, const char *queue, int state);
    /* How many jobs of the queue are queued. */
    int (*count_queued)(qstore *s, const char *queue, unsigned *n);
    void (*close)(qstore *s);
} qstore_ops;

struct qstore {
    const qstore_ops *ops;
    char msg[256]; /* what went wrong last */
};

/* The SQLite backend: the database file at path, created if missing (WAL,
 * synchronous=FULL). NULL with err filled when it cannot be opened. */
qstore *qstore_sqlite_open(const char *path, char *err, size_t errlen);

#endif
