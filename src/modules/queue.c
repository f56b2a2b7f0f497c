/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * queue.c - job queues (202 Accepted) as a module of the content phase.
 *
 * A POST or PUT under a queue's prefix has its body read (within the
 * queue's max_body), is copied whole (method, target, header lines, client,
 * body) into an operation for the writer thread, and waits suspended
 * (MOD_AGAIN) until the writer's commit is done: only then is it answered
 * 202, with Location: its status monitor. The writer's post runs the
 * connection again and the module is asked again; it finds the outcome in
 * its slot of the request.
 *
 * The monitors, under jobs_path ("/.jobs/ID" and "/.jobs/ID/result"), read
 * the job the same way, through the writer, so no loop ever waits on the
 * database. GET with Prefer: wait=N (RFC 7240) on a job not yet finished
 * stays suspended until the job ends (queue_finished posts to the loop) or
 * N seconds pass (a timer of the loop's), then reads the job again and
 * answers. DELETE cancels a queued job.
 *
 * A job belongs to its queue's vhost: its monitor is found only through a
 * request to that vhost, and access rules and passwords apply to the
 * monitor paths as to any other path.
 */
#include "queue.h"

#include <openssl/evp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cgienv.h"
#include "conn.h"
#include "errlog.h"
#include "fields.h"
#include "log.h"
#include "path.h"
#include "queue_run.h"
#include "req.h"
#include "statedb.h"

enum { K_SUBMIT, K_GET, K_CANCEL };

#define WAIT_TICK_MS 1000 /* the long-poll timers look at their deadline this often */
#define IDEM_KEY_MAX 255

/* One suspended request of the module: the operation it waits for, and,
 * while a monitor long-polls, its place among the waiters. */
typedef struct qreq {
    qw_op op;
    qsrv *srv;
    conn *c; /* NULL once the request went */
    worker *w;
    int kind;
    int back;   /* the operation is done: its outcome is in op.rc (and job) */
    int result; /* K_GET for /ID/result */
    const qrt *q;
    char *vhost; /* K_GET, K_CANCEL: the request's vhost, which the job's queue must be of */
    char id[QJOB_ID_LEN + 1];
    qjob job; /* K_GET, K_CANCEL: the job as it was read */
    qjob_req in;
    uint8_t hash[32];
    char *buf; /* K_SUBMIT: the copies in points into */
    /* Prefer: wait */
    unsigned wait_s;
    int waited;
    uint64_t deadline; /* loop milliseconds */
    htd_timer timer;
    struct qreq *wprev, *wnext;
    int wlinked;     /* among srv->waiters (under srv->wmu) */
    int wake_posted; /* taken off them by queue_finished: the post is on its way */
    posted wake;
} qreq;

static qsrv *srv_of(const worker *w)
{
    return registry_state(&w->srv->reg, &queue_module);
}

static void qreq_free(qreq *qr)
{
    qjob_clear(&qr->job);
    free(qr->buf);
    free(qr->vhost);
    free(qr);
}

/* ---- operations on the writer thread ---- */

/* Whether the job's queue is one of the vhost's (the request's). */
static int of_vhost(const qrt *q, const char *vn);

/* Whether the job may be seen through the vhost named vhost (its queue's)
 * and has not expired (the keeper removes it soon). */
static int job_visible(qsrv *s, const qjob *j, const char *vhost, int64_t now)
{
    const qrt *q = queue_find(s, j->queue);
    return q && of_vhost(q, vhost) && !(j->expires && j->expires <= now);
}

static int apply(qstore *st, qw_op *op)
{
    qreq *qr = (qreq *)op;
    int64_t now = qstore_now_ms();
    switch (qr->kind) {
    case K_SUBMIT:
        return st->ops->enqueue(st, &qr->in, now, qr->q->spec.max_queued, qr->id);
    case K_GET: {
        qjob_clear(&qr->job);
        int rc = st->ops->get(st, qr->id, &qr->job);
        if (rc == QS_OK && !job_visible(qr->srv, &qr->job, qr->vhost, now)) rc = QS_NOTFOUND;
        return rc;
    }
    default: { /* K_CANCEL */
        qjob_clear(&qr->job);
        int rc = st->ops->get(st, qr->id, &qr->job);
        if (rc != QS_OK) return rc;
        if (!job_visible(qr->srv, &qr->job, qr->vhost, now)) return QS_NOTFOUND;
        const qrt *q = queue_find(qr->srv, qr->job.queue);
        return st->ops->cancel(st, qr->id, now, now + (int64_t)q->spec.expire_s * 1000);
    }
    }
}

/* Back on the request's loop, after the commit. */
static void op_done(qw_op *op)
{
    qreq *qr = (qreq *)op;
    qr->back = 1;
    /* Stored, or cancelled, whether or not the client is still there. */
    if (qr->kind == K_SUBMIT && qr->op.rc == QS_OK) queue_kick((qrt *)qr->q);
    if (qr->kind == K_CANCEL && qr->op.rc == QS_OK) queue_finished(qr->srv, qr->id);
    if (!qr->c) { /* the request went meanwhile */
        qr->w->jobs_out--;
        qreq_free(qr);
        return;
    }
    conn_resume_request(qr->c);
}

static void submit(qreq *qr)
{
    qr->back = 0;
    qr->op = (qw_op){.apply = apply, .done = op_done, .loop = qr->w->loop};
    qwriter_submit(qr->srv->w, &qr->op);
}

/* ---- long-poll ---- */

typedef struct qlocal {
    htd_timer_list *ticks; /* WAIT_TICK_MS */
} qlocal;

static void unlink_waiter(qsrv *s, qreq *qr)
{
    if (qr->wprev)
        qr->wprev->wnext = qr->wnext;
    else
        s->waiters = qr->wnext;
    if (qr->wnext) qr->wnext->wprev = qr->wprev;
    qr->wprev = qr->wnext = NULL;
    qr->wlinked = 0;
}

/* The wait is over (the job ended, or the time ran out): read it again. */
static void wait_over(qreq *qr)
{
    htd_timer_disarm(&qr->timer);
    qr->wake_posted = 0;
    if (!qr->c) {
        qr->w->jobs_out--;
        qreq_free(qr);
        return;
    }
    submit(qr);
}

static void woken(posted *p)
{
    wait_over((qreq *)((char *)p - offsetof(qreq, wake)));
}

static void tick(htd_timer *t);

static htd_timer_list *local_ticks(worker *w)
{
    void **slot = loop_local(w->loop, &queue_module);
    if (!slot) return NULL;
    qlocal *ql = *slot;
    if (!ql) {
        if (!(ql = calloc(1, sizeof *ql))) return NULL;
        if (!(ql->ticks = loop_timers(w->loop, WAIT_TICK_MS, tick))) {
            free(ql);
            return NULL;
        }
        *slot = ql;
    }
    return ql->ticks;
}

static void tick(htd_timer *t)
{
    qreq *qr = (qreq *)((char *)t - offsetof(qreq, timer));
    uint64_t now = loop_now(qr->w->loop);
    /* A graceful stop does not wait out a long-poll: it answers now. */
    if (now < qr->deadline && !qr->w->stopping) {
        htd_timer_arm(local_ticks(qr->w), &qr->timer, now);
        return;
    }
    qsrv *s = qr->srv;
    pthread_mutex_lock(&s->wmu);
    int mine = qr->wlinked; /* else queue_finished took it: its post comes */
    if (mine) unlink_waiter(s, qr);
    pthread_mutex_unlock(&s->wmu);
    if (mine) wait_over(qr);
}

/* Suspends the monitor's request until its job ends or wait_s pass. 0, or
 * -1 (no timer: it answers now). */
static int start_waiting(qreq *qr)
{
    htd_timer_list *ticks = local_ticks(qr->w);
    if (!ticks) return -1;
    qsrv *s = qr->srv;
    qr->waited = 1;
    qr->deadline = loop_now(qr->w->loop) + (uint64_t)qr->wait_s * 1000;
    qr->wake.fn = woken;
    pthread_mutex_lock(&s->wmu);
    qr->wprev = NULL;
    qr->wnext = s->waiters;
    if (s->waiters) s->waiters->wprev = qr;
    s->waiters = qr;
    qr->wlinked = 1;
    pthread_mutex_unlock(&s->wmu);
    htd_timer_arm(ticks, &qr->timer, loop_now(qr->w->loop));
    conn_wait(qr->c);
    return 0;
}

void queue_finished(qsrv *s, const char *id)
{
    pthread_mutex_lock(&s->wmu);
    for (qreq *qr = s->waiters, *next; qr; qr = next) {
        next = qr->wnext;
        if (strcmp(qr->id, id) != 0) continue;
        unlink_waiter(s, qr);
        qr->wake_posted = 1;
        loop_post(qr->w->loop, &qr->wake);
    }
    pthread_mutex_unlock(&s->wmu);
}

/* ---- answers ---- */

static void answer_json_error(conn *c, int status, const char *why)
{
    conn_answer(c, status, why, NULL, 0);
}

/* The request's part of the slot is over: it answers now. */
static qreq *take(struct htd_req *hr)
{
    void **slot = req_slot(hr, &queue_module);
    qreq *qr = *slot;
    *slot = NULL;
    return qr;
}

static void note_job(struct htd_req *hr, const char *id)
{
    char *p = arena_dup(&hr->mem, id, QJOB_ID_LEN);
    if (p) hr->log_id = (htd_str){p, QJOB_ID_LEN};
}

static void answer_submit(struct htd_req *hr)
{
    qreq *qr = take(hr);
    conn *c = hr->c;
    qsrv *s = qr->srv;
    switch (qr->op.rc) {
    case QS_OK:
    case QS_DUP: {
        note_job(hr, qr->id);
        char url[512], body[1024];
        snprintf(url, sizeof url, "%s%s", s->jobs_path, qr->id);
        int n = snprintf(body, sizeof body, "{\"id\":\"%s\",\"queue\":\"%s\",\"monitor\":\"%s\"}\n",
                         qr->id, qr->q->spec.name, url);
        if (htd_resp_header(hr, "Location", url) < 0 ||
            htd_respond(hr, 202, "application/json", body,
                        n > 0 && (size_t)n < sizeof body ? (size_t)n : 0) < 0)
            conn_error(c, 500, "cannot make the response", 1);
        break;
    }
    case QS_CONFLICT:
        answer_json_error(c, 422, "this Idempotency-Key was used before with another request body");
        break;
    case QS_FULL: {
        static const char ra[] = "Retry-After: 5\r\n";
        conn_answer(c, 503, "the queue is full; try again later", ra, sizeof ra - 1);
        break;
    }
    case QS_NOSPACE:
        answer_json_error(c, 507, "the disk is full: the job was not stored");
        break;
    default:
        log_error(ERRLOG_ERROR, c, "htd: queue %s: cannot store a job", qr->q->spec.name);
        answer_json_error(c, 500, "the job could not be stored");
    }
    qreq_free(qr);
}

/* Seconds a client should wait before it looks at a job again. */
static unsigned retry_after(const qjob *j)
{
    int64_t left = j->state == QJ_QUEUED ? j->not_before - qstore_now_ms() : 0;
    return left > 1000 ? (unsigned)((left + 999) / 1000) : 1;
}

static int finished(const qjob *j)
{
    return j->state == QJ_DONE || j->state == QJ_FAILED || j->state == QJ_CANCELLED;
}

/* The job read for a GET: its monitor's JSON, or its result. */
static void answer_get(struct htd_req *hr)
{
    qreq *qr = take(hr);
    conn *c = hr->c;
    const qjob *j = &qr->job;
    if (qr->op.rc == QS_NOTFOUND) {
        answer_json_error(c, 404, "no such job (or it has expired)");
    } else if (qr->op.rc != QS_OK) {
        answer_json_error(c, 500, "the job could not be read");
    } else if (qr->result) {
        note_job(hr, qr->id);
        if (j->state != QJ_DONE) {
            answer_json_error(c, 404, "the job has no result: it is not done");
        } else {
            char type[256];
            snprintf(type, sizeof type, "%s", j->result_type ? j->result_type : "");
            if (htd_respond(hr, j->result_status ? j->result_status : 200, type[0] ? type : NULL,
                            j->result, j->result_len) < 0)
                conn_error(c, 500, "the job's result cannot be sent", 1);
        }
    } else {
        note_job(hr, qr->id);
        char body[8192];
        size_t n = qjob_json(j, qr->srv->jobs_path, body, sizeof body);
        if (n >= sizeof body) n = qjob_json(&(qjob){.state = j->state}, "", body, sizeof body);
        char ra[16];
        snprintf(ra, sizeof ra, "%u", retry_after(j));
        if ((!finished(j) && htd_resp_header(hr, "Retry-After", ra) < 0) ||
            htd_resp_header(hr, "Cache-Control", "no-store") < 0 ||
            htd_respond(hr, 200, "application/json", body, n) < 0)
            conn_error(c, 500, "cannot make the response", 1);
    }
    qreq_free(qr);
}

static void answer_cancel(struct htd_req *hr)
{
    qreq *qr = take(hr);
    conn *c = hr->c;
    note_job(hr, qr->id);
    if (qr->op.rc == QS_OK) {
        if (htd_respond(hr, 204, NULL, NULL, 0) < 0) conn_error(c, 500, "cannot respond", 1);
    } else if (qr->op.rc == QS_CONFLICT) {
        char why[96];
        snprintf(why, sizeof why, "the job is %s: only a queued job can be cancelled",
                 qjob_state_name(qr->job.state));
        answer_json_error(c, 409, why);
    } else if (qr->op.rc == QS_NOTFOUND) {
        answer_json_error(c, 404, "no such job (or it has expired)");
    } else if (qr->op.rc == QS_NOSPACE) {
        answer_json_error(c, 507, "the disk is full: the job was not cancelled");
    } else {
        answer_json_error(c, 500, "the job could not be cancelled");
    }
    qreq_free(qr);
}

/* ---- requests ---- */

static qreq *qreq_new(struct htd_req *hr, qsrv *s, int kind)
{
    qreq *qr = calloc(1, sizeof *qr);
    if (!qr) return NULL;
    qr->srv = s;
    qr->c = hr->c;
    qr->w = hr->c->w;
    qr->kind = kind;
    return qr;
}

/* Suspends hr until qr's operation is committed. */
static int suspend(struct htd_req *hr, qreq *qr)
{
    void **slot = req_slot(hr, &queue_module);
    if (!slot) {
        qreq_free(qr);
        conn_error(hr->c, 500, "out of request slots", 1);
        return MOD_DONE;
    }
    *slot = qr;
    conn_wait(hr->c);
    submit(qr);
    return MOD_AGAIN;
}

/* Prefer: wait=N (RFC 7240 4.3), or 0. */
static unsigned prefer_wait(const htd_request *r)
{
    htd_str v = htd_request_header(r, "prefer", 6);
    for (size_t i = 0; v.p && i + 5 <= v.len; i++) {
        if ((i && v.p[i - 1] != ',' && v.p[i - 1] != ' ' && v.p[i - 1] != '\t') ||
            strncasecmp(v.p + i, "wait", 4) != 0)
            continue;
        size_t k = i + 4;
        while (k < v.len && (v.p[k] == ' ' || v.p[k] == '\t'))
            k++;
        if (k >= v.len || v.p[k] != '=') continue;
        k++;
        while (k < v.len && (v.p[k] == ' ' || v.p[k] == '\t'))
            k++;
        unsigned n = 0;
        int digits = 0;
        for (; k < v.len && v.p[k] >= '0' && v.p[k] <= '9' && digits < 9; k++, digits++)
            n = n * 10 + (unsigned)(v.p[k] - '0');
        return digits ? n : 0;
    }
    return 0;
}

static const char *vhost_name(const struct htd_req *hr)
{
    return hr->vh ? hr->vh->name : NULL;
}

/* /.jobs/ID and /.jobs/ID/result */
static int monitor(struct htd_req *hr, qsrv *s)
{
    conn *c = hr->c;
    qreq *qr = req_get(hr, &queue_module);
    if (qr && qr->back) {
        if (qr->kind == K_CANCEL) {
            answer_cancel(hr);
            return MOD_DONE;
        }
        unsigned wait = qr->wait_s;
        if (qr->op.rc == QS_OK && !qr->result && !finished(&qr->job) && wait && !qr->waited &&
            start_waiting(qr) == 0)
            return MOD_AGAIN;
        answer_get(hr);
        return MOD_DONE;
    }
    const char *rest = hr->path + s->jobs_path_len;
    size_t rl = hr->path_len - s->jobs_path_len;
    int result = rl == QJOB_ID_LEN + 7 && memcmp(rest + QJOB_ID_LEN, "/result", 7) == 0;
    int ok = rl == QJOB_ID_LEN || result;
    for (size_t i = 0; ok && i < QJOB_ID_LEN; i++) {
        char ch = rest[i];
        ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
             ch == '-' || ch == '_';
    }
    if (!ok) {
        answer_json_error(c, 404, "no such job (or it has expired)");
        return MOD_DONE;
    }
    int m = hr->r->method_id;
    int kind = m == HTD_M_GET || m == HTD_M_HEAD ? K_GET
               : m == HTD_M_DELETE && !result    ? K_CANCEL
                                                 : -1;
    if (kind < 0) {
        static const char get[] = "Allow: GET, HEAD\r\n", all[] = "Allow: GET, HEAD, DELETE\r\n";
        conn_answer(c, 405, "a job's monitor takes GET, HEAD and DELETE; its result GET and HEAD",
                    result ? get : all, result ? sizeof get - 1 : sizeof all - 1);
        return MOD_DONE;
    }
    const char *vn = vhost_name(hr);
    if (!(qr = qreq_new(hr, s, kind)) || (vn && !(qr->vhost = strdup(vn)))) {
        if (qr) qreq_free(qr);
        conn_error(c, 500, "out of memory", 1);
        return MOD_DONE;
    }
    memcpy(qr->id, rest, QJOB_ID_LEN);
    qr->result = result;
    if (kind == K_GET && !result) {
        const qrt *q = NULL;
        unsigned cap = s->send_timeout_ms > 2000 ? s->send_timeout_ms / 1000 - 1 : 1;
        for (size_t i = 0; i < s->nq; i++)
            if (!q || s->q[i]->spec.max_wait_s > q->spec.max_wait_s) q = s->q[i];
        if (q && q->spec.max_wait_s < cap) cap = q->spec.max_wait_s;
        unsigned w = prefer_wait(hr->r);
        qr->wait_s = w < cap ? w : cap;
    }
    return suspend(hr, qr);
}

/* An Idempotency-Key's value: a quoted string (as the draft writes it, a
 * structured-field string) or a bare token. -1 if it is neither, or too long. */
static int idem_key(htd_str v, char *out, size_t cap)
{
    const char *p = v.p;
    size_t n = v.len;
    if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
        p++;
        n -= 2;
    }
    if (!n || n >= cap || n > IDEM_KEY_MAX) return -1;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e || p[i] == '"' || p[i] == '\\')
            return -1;
    memcpy(out, p, n);
    out[n] = 0;
    return 0;
}

/* A copy of the request as the job keeps it, in one block. */
static int copy_request(qreq *qr, struct htd_req *hr, const char *key)
{
    const htd_request *r = hr->r;
    char client[INET6_ADDRSTRLEN], port[8];
    /* The client as scripts see it: behind trusted proxies, the one they name. */
    env_addr_str((const struct sockaddr_storage *)&hr->client, client, sizeof client, port,
                 sizeof port);
    size_t hl = 0;
    for (size_t i = 0; i < r->nheaders; i++)
        hl += r->headers[i].name.len + r->headers[i].value.len + 4;
    size_t need = r->method.len + 1 + r->target.len + 1 + strlen(client) + 1 + hl + 1 +
                  hr->body.len + (key ? strlen(key) + 1 : 0);
    char *b = malloc(need ? need : 1);
    if (!b) return -1;
    qr->buf = b;
    char *p = b;
#define PUT(dst, src, len)                                                                         \
    do {                                                                                           \
        memcpy(p, (src), (len));                                                                   \
        (dst) = p;                                                                                 \
        p += (len);                                                                                \
    } while (0)
    PUT(qr->in.method, r->method.p, r->method.len);
    *p++ = 0;
    PUT(qr->in.target, r->target.p, r->target.len);
    *p++ = 0;
    PUT(qr->in.client, client, strlen(client));
    *p++ = 0;
    qr->in.headers = p;
    for (size_t i = 0; i < r->nheaders; i++) {
        const htd_header *h = &r->headers[i];
        memcpy(p, h->name.p, h->name.len);
        p += h->name.len;
        memcpy(p, ": ", 2);
        memcpy(p + 2, h->value.p, h->value.len);
        p += 2 + h->value.len;
        memcpy(p, "\r\n", 2);
        p += 2;
    }
    qr->in.headers_len = hl;
    *p++ = 0;
    if (hr->body.len) memcpy(p, hr->body.p, hr->body.len);
    qr->in.body = p;
    qr->in.body_len = hr->body.len;
    p += hr->body.len;
    if (key) {
        size_t kl = strlen(key) + 1;
        PUT(qr->in.idem_key, key, kl);
        unsigned hlen = 0;
        if (!EVP_Digest(hr->body.p ? hr->body.p : "", hr->body.len, qr->hash, &hlen, EVP_sha256(),
                        NULL))
            return -1;
        qr->in.body_hash = qr->hash;
    }
#undef PUT
    qr->in.queue = qr->q->spec.name;
    return 0;
}

static int accept_job(struct htd_req *hr, qsrv *s, qrt *q)
{
    conn *c = hr->c;
    qreq *qr = req_get(hr, &queue_module);
    if (qr && qr->back) {
        answer_submit(hr);
        return MOD_DONE;
    }
    const htd_request *r = hr->r;
    if (r->method_id != HTD_M_POST && r->method_id != HTD_M_PUT) {
        static const char allow[] = "Allow: POST, PUT\r\n";
        conn_answer(c, 405, "a queue takes POST and PUT", allow, sizeof allow - 1);
        return MOD_DONE;
    }
    char key[IDEM_KEY_MAX + 1];
    htd_str kv = htd_request_header(r, "idempotency-key", 15);
    if (kv.p && idem_key(kv, key, sizeof key) < 0) {
        conn_answer(c, 400, "Idempotency-Key must be a quoted string of at most 255 characters",
                    NULL, 0);
        return MOD_DONE;
    }
    if (!hr->body_taken && conn_body_pending(c)) {
        if (!r->chunked && (uint64_t)r->content_length > q->spec.max_body) {
            conn_error(c, 413, "request body larger than the queue accepts", 0);
            return MOD_DONE;
        }
        hr->body_max = q->spec.max_body;
        conn_read_body(c);
        return MOD_AGAIN;
    }
    if (!(qr = qreq_new(hr, s, K_SUBMIT))) {
        conn_error(c, 500, "out of memory", 1);
        return MOD_DONE;
    }
    qr->q = q;
    if (copy_request(qr, hr, kv.p ? key : NULL) < 0) {
        qreq_free(qr);
        conn_error(c, 500, "out of memory", 1);
        return MOD_DONE;
    }
    if (qjob_new_id(qr->id) < 0) {
        qreq_free(qr);
        conn_error(c, 500, "no randomness for a job id", 1);
        return MOD_DONE;
    }
    return suspend(hr, qr);
}

/* Whether q is of the vhost named vn (NULL: the top-level server's). */
static int of_vhost(const qrt *q, const char *vn)
{
    return q->vhost ? vn && strcmp(q->vhost, vn) == 0 : !vn;
}

static int content_phase(struct htd_req *hr)
{
    qsrv *s = srv_of(hr->c->w);
    if (htd_path_under(hr->path, hr->path_len, s->jobs_path, s->jobs_path_len))
        return monitor(hr, s);
    const char *vn = vhost_name(hr);
    qrt *best = NULL;
    for (size_t i = 0; i < s->nq; i++) {
        qrt *q = s->q[i];
        if (htd_path_under(hr->path, hr->path_len, q->spec.prefix, q->spec.len) &&
            of_vhost(q, vn) && (!best || q->spec.len > best->spec.len))
            best = q;
    }
    return best ? accept_job(hr, s, best) : MOD_DECLINED;
}

/* The request ends with its operation or wait still out: the operation's
 * done, or the wake, frees it. */
static void release(struct htd_req *hr)
{
    void **slot = req_slot(hr, &queue_module);
    qreq *qr = *slot;
    *slot = NULL;
    if (!qr) return;
    if (qr->back && !qr->wlinked && !qr->wake_posted) {
        qreq_free(qr);
        return;
    }
    qr->c = NULL;
    qsrv *s = qr->srv;
    pthread_mutex_lock(&s->wmu);
    int mine = qr->wlinked;
    if (mine) unlink_waiter(s, qr);
    pthread_mutex_unlock(&s->wmu);
    if (mine) wait_over(qr); /* frees it, as c is gone */
}

/* ---- the module's life ---- */

static int init(const htd_config *cfg, void **state, char *err, size_t errlen)
{
    qsrv *s = calloc(1, sizeof *s);
    const char *jp = cfg->jobs_path ? cfg->jobs_path : "/.jobs/";
    size_t jl = strlen(jp);
    if (!s || !(s->jobs_path = malloc(jl + 2))) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (jp[0] != '/') {
        snprintf(err, errlen, "jobs_path '%s' must start with '/'", jp);
        free(s->jobs_path);
        free(s);
        return -1;
    }
    memcpy(s->jobs_path, jp, jl + 1);
    if (jp[jl - 1] != '/') memcpy(s->jobs_path + jl++, "/", 2);
    s->jobs_path_len = jl;
    s->send_timeout_ms = cfg->send_timeout_ms;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_mutex_init(&s->wmu, NULL);
    *state = s;
    return 0;
}

/* A queue of the vhost named vn, from spec (copied). */
static qrt *add_queue(qsrv *s, const queue_spec *spec, const char *vn, const char *root, char *err,
                      size_t errlen)
{
    if (s->nq == QUEUES_MAX) {
        snprintf(err, errlen, "at most %d queues", QUEUES_MAX);
        return NULL;
    }
    qrt *q = calloc(1, sizeof *q);
    if (!q) goto oom;
    q->srv = s;
    q->spec = *spec;
    q->spec.name = strdup(spec->name);
    q->spec.prefix = strdup(spec->prefix);
    q->spec.command = spec->command ? strdup(spec->command) : NULL;
    q->vhost = vn ? strdup(vn) : NULL;
    q->root = strdup(root ? root : "");
    if (!q->spec.name || !q->spec.prefix || (spec->command && !q->spec.command) ||
        (vn && !q->vhost) || !q->root)
        goto oom;
    s->q[s->nq++] = q;
    return q;
oom:
    if (q) {
        free(q->spec.name);
        free(q->spec.prefix);
        free(q->spec.command);
        free(q->vhost);
        free(q->root);
        free(q);
    }
    snprintf(err, errlen, "out of memory");
    return NULL;
}

static int apply_recover(qstore *st, qw_op *op)
{
    int *n = statedb_sync_arg(op);
    *n = st->ops->recover(st, qstore_now_ms());
    return *n < 0 ? *n : QS_OK;
}

/* The state database, the jobs a crash left running queued again, and the
 * keeper: once, for the first queue. */
static int queue_open(qsrv *s, char *err, size_t errlen)
{
    if (s->w) return 0;
    if (statedb_open(s->db, err, errlen) < 0) return -1;
    s->w = statedb_writer(s->db);
    int n = 0;
    if (statedb_sync(s->db, apply_recover, &n) != QS_OK) {
        snprintf(err, errlen, "the state database: cannot queue again the jobs left running");
        return -1;
    }
    if (n > 0)
        errlog(ERRLOG_NOTICE, "htd: %d job%s left running when htd stopped %s queued again", n,
               n == 1 ? "" : "s", n == 1 ? "is" : "are");
    return queue_keeper_start(s, err, errlen);
}

static int start(void *state, const registry *reg, const site *st, char *err, size_t errlen)
{
    qsrv *s = state;
    s->db = statedb_of(reg);
    size_t total = 0;
    for (size_t i = 0; i < st->nvhosts; i++)
        total += st->vhosts[i].nqueues;
    for (size_t i = 0; i < st->nvhosts; i++) {
        const vhost *vh = &st->vhosts[i];
        for (size_t k = 0; k < vh->nqueues; k++)
            if (!add_queue(s, &vh->queues[k], vh->name, vh->root, err, errlen)) return -1;
    }
    /* No queue, no database: a program may still add one (htd_server_queue). */
    if (total && queue_open(s, err, errlen) < 0) return -1;
    for (size_t i = 0; i < s->nq; i++)
        if (s->q[i]->spec.command && queue_run_start(s->q[i], err, errlen) < 0) return -1;
    return 0;
}

static void fini(void *state)
{
    qsrv *s = state;
    queue_run_stop(s); /* the writer is the state database's, which goes after */
    for (size_t i = 0; i < s->nq; i++) {
        qrt *q = s->q[i];
        free(q->spec.name);
        free(q->spec.prefix);
        free(q->spec.command);
        free(q->vhost);
        free(q->root);
        free(q->threads);
        free(q->running);
        free(q);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->wmu);
    free(s->jobs_path);
    free(s);
}

static int wanted(const void *state, int ph)
{
    const qsrv *s = state;
    return ph == PH_CONTENT && s->nq > 0;
}

static void free_local(void *state)
{
    free(state);
}

const htd_module queue_module = {
    .name = "queue",
    .phase = {[PH_CONTENT] = content_phase},
    .init = init,
    .start = start,
    .fini = fini,
    .wanted = wanted,
    .release = release,
    .free_local = free_local,
};

int queue_set_handler(registry *reg, const char *prefix, htd_job_fn fn, void *arg)
{
    qsrv *s = registry_state(reg, &queue_module);
    char norm[4096], err[256];
    const char *why;
    if (!s || !fn || prefix[0] != '/' ||
        htd_path_normalize(prefix, strlen(prefix), norm, sizeof norm, &why) < 0)
        return -1;
    qrt *q = NULL;
    for (size_t i = 0; i < s->nq && !q; i++)
        if (!s->q[i]->vhost && strcmp(s->q[i]->spec.prefix, norm) == 0) q = s->q[i];
    if (q && (q->spec.command || q->fn)) return -1;
    if (!q) {
        queue_spec spec = {.name = norm, .prefix = norm, .len = strlen(norm)};
        queue_spec_defaults(&spec);
        if (!(q = add_queue(s, &spec, NULL, NULL, err, sizeof err))) return -1;
    }
    q->fn = fn;
    q->arg = arg;
    if (queue_open(s, err, sizeof err) < 0 || queue_run_start(q, err, sizeof err) < 0) {
        errlog(ERRLOG_ERROR, "htd: queue %s: %s", q->spec.name, err);
        return -1;
    }
    return 0;
}
