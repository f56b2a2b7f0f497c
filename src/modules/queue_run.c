/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * queue_run.c - the queues' processor threads: each leases the oldest
 * ready job of its queue through the writer, runs it, and records the
 * outcome through the writer, waiting as it likes (it is not a loop).
 *
 * A command runs as a CGI script would for the original request (RFC 3875
 * variables, the body on its standard input), through /bin/sh -c, in a
 * process group of its own, under the queue's time limit; then the group
 * is killed. Exit 0 is the job done, with the output's CGI header giving
 * the result's status and type, and the rest (up to max_result) its body.
 * Anything else is a failed attempt: retried after retry_delay, doubled
 * each time, until the queue's attempts are spent; then the job has
 * failed, keeping the last lines of standard error.
 *
 * The program's handler (htd_server_queue) runs on the same threads, with
 * the htd_job functions of htd.h.
 */
#include "queue_run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgienv.h"
#include "errlog.h"
#include "fields.h"
#include "statedb.h"

#define ERR_KEEP 2048        /* bytes of standard error kept, the last ones */
#define RETRY_MAX_MS 3600000 /* the longest wait before a retry */
#define KEEP_EVERY_S 60      /* the keeper expires jobs this often */
#define IDLE_LOOK_MS 1000    /* an idle processor looks for jobs queued from outside this often */

qrt *queue_find(qsrv *s, const char *name)
{
    for (size_t i = 0; i < s->nq; i++)
        if (strcmp(s->q[i]->spec.name, name) == 0) return s->q[i];
    return NULL;
}

/* ---- waiting for the writer ---- */

/* What the processors' and the keeper's operations take and give, on the
 * writer thread (statedb_sync). */
typedef struct qsync {
    qrt *q;
    qjob job;
    const char *id;
    qjob_result res;
    int final;
    int64_t when;
} qsync;

static int run_sync(qsrv *s, qsync *w, int (*apply)(qstore *, qw_op *))
{
    return statedb_sync(s->db, apply, w);
}

static int apply_lease(qstore *st, qw_op *op)
{
    qsync *w = statedb_sync_arg(op);
    qjob_clear(&w->job);
    return st->ops->lease(st, w->q->spec.name, qstore_now_ms(), &w->job);
}

static int apply_finish(qstore *st, qw_op *op)
{
    qsync *w = statedb_sync_arg(op);
    int64_t now = qstore_now_ms();
    return st->ops->finish(st, w->id, &w->res, w->final, now,
                           now + (int64_t)w->q->spec.expire_s * 1000);
}

static int apply_retry(qstore *st, qw_op *op)
{
    qsync *w = statedb_sync_arg(op);
    return st->ops->retry_later(st, w->id, &w->res, w->when);
}

static int apply_expire(qstore *st, qw_op *op)
{
    (void)op;
    int n = st->ops->expire(st, qstore_now_ms());
    return n < 0 ? n : QS_OK;
}

/* ---- an attempt's outcome ---- */

typedef struct outcome {
    int ok; /* done */
    int exit_code;
    int status;
    char *type;
    char *body; /* malloc'd */
    size_t body_len;
    char err[ERR_KEEP + 1];
} outcome;

static void outcome_clear(outcome *o)
{
    free(o->type);
    free(o->body);
    memset(o, 0, sizeof *o);
}

static void set_err(outcome *o, const char *msg)
{
    snprintf(o->err, sizeof o->err, "%s", msg);
}

/* ---- commands ---- */

/* The stored "Name: value\r\n" lines as fields, pointing into them. */
static size_t parse_headers(const char *p, size_t len, htd_header *out, size_t max)
{
    size_t n = 0;
    const char *end = p + len;
    while (p < end && n < max) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon) {
            const char *v = colon + 1, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            out[n].name = (htd_str){p, (size_t)(colon - p)};
            out[n].value = (htd_str){v, (size_t)(ve - v)};
            n++;
        }
        p = eol + 1;
    }
    return n;
}

static htd_str find_header(const qjob *j, const char *name)
{
    htd_header h[HTD_MAX_HEADERS];
    size_t n = parse_headers(j->headers, j->headers_len, h, HTD_MAX_HEADERS);
    size_t nl = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (htd_str_ieq(h[i].name, name, nl)) return h[i].value;
    return (htd_str){NULL, 0};
}

static void build_env(envb *e, const qrt *q, const qjob *j)
{
    char num[32];
    env_str(e, "GATEWAY_INTERFACE", "CGI/1.1");
    env_str(e, "SERVER_SOFTWARE", "htd/" HTD_VERSION);
    env_str(e, "SERVER_PROTOCOL", "HTTP/1.1");
    env_str(e, "REQUEST_METHOD", j->method);
    env_str(e, "REQUEST_URI", j->target);
    const char *qm = strchr(j->target, '?');
    env_str(e, "QUERY_STRING", qm ? qm + 1 : "");
    size_t pl = qm ? (size_t)(qm - j->target) : strlen(j->target);
    size_t sl =
        q->spec.len && q->spec.prefix[q->spec.len - 1] == '/' ? q->spec.len - 1 : q->spec.len;
    env_add(e, "SCRIPT_NAME", q->spec.prefix, sl);
    if (pl > sl && strncmp(j->target, q->spec.prefix, sl) == 0)
        env_add(e, "PATH_INFO", j->target + sl, pl - sl);
    env_str(e, "REMOTE_ADDR", j->client);
    env_str(e, "REMOTE_HOST", j->client);
    snprintf(num, sizeof num, "%zu", j->body_len);
    env_str(e, "CONTENT_LENGTH", num);
    htd_str ct = find_header(j, "content-type");
    if (ct.p) env_add(e, "CONTENT_TYPE", ct.p, ct.len);
    htd_str host = find_header(j, "host");
    if (host.p) {
        size_t hl = host.len;
        const char *colon = host.p[0] == '[' ? NULL : memchr(host.p, ':', hl);
        env_add(e, "SERVER_NAME", host.p, colon ? (size_t)(colon - host.p) : hl);
    }
    if (q->root[0]) env_str(e, "DOCUMENT_ROOT", q->root);
    env_str(e, "HTD_JOB_ID", j->id);
    env_str(e, "HTD_JOB_QUEUE", j->queue);
    snprintf(num, sizeof num, "%d", j->attempts);
    env_str(e, "HTD_JOB_ATTEMPT", num);
    htd_header h[HTD_MAX_HEADERS];
    env_headers(e, h, parse_headers(j->headers, j->headers_len, h, HTD_MAX_HEADERS));
    env_end(e);
}

/* Appends p[0..n) to the kept tail of standard error. */
static void keep_err(char *buf, size_t *len, const char *p, size_t n)
{
    if (n >= ERR_KEEP) {
        memcpy(buf, p + n - ERR_KEEP, ERR_KEEP);
        *len = ERR_KEEP;
        return;
    }
    if (*len + n > ERR_KEEP) {
        size_t drop = *len + n - ERR_KEEP;
        memmove(buf, buf + drop, *len - drop);
        *len -= drop;
    }
    memcpy(buf + *len, p, n);
    *len += n;
}

/* The command's output, read: its CGI header into o's status and type,
 * the rest its body. -1 with o->err when it will not do. */
static int take_output(outcome *o, char *out, size_t len)
{
    if (!len) { /* nothing written: done, with nothing to say */
        o->status = 204;
        return 0;
    }
    htd_head_parser hp = {0};
    htd_response h;
    const char *why = "no header";
    int n = htd_parse_header_block(&hp, out, len, len < 16384 ? len : 16384, &h, &why);
    if (n <= 0) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "the command's output has no CGI header (%s): it must start with "
                 "\"Content-Type: ...\" and an empty line",
                 n == 0 ? "it ends before the empty line" : why);
        set_err(o, msg);
        return -1;
    }
    o->status = h.status ? h.status : 200;
    for (size_t k = 0; k < h.nheaders; k++)
        if (htd_str_ieq(h.headers[k].name, "content-type", 12))
            o->type = strndup(h.headers[k].value.p, h.headers[k].value.len);
    o->body_len = len - (size_t)n;
    o->body = malloc(o->body_len ? o->body_len : 1);
    if (!o->body) {
        set_err(o, "out of memory");
        return -1;
    }
    memcpy(o->body, out + n, o->body_len);
    return 0;
}

/* Reads what fd has now: into out[0..cap) at *olen (*too_big once there
 * is more), or into the kept tail of standard error. 0 at its end, 1 when
 * it has nothing more for now. */
static int drain(int fd, char *out, size_t cap, size_t *olen, int *too_big, char *ebuf,
                 size_t *elen)
{
    char buf[16384];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n == 0) return 0;
        if (n < 0)
            return errno == EINTR    ? drain(fd, out, cap, olen, too_big, ebuf, elen)
                   : errno == EAGAIN ? 1
                                     : 0;
        if (ebuf) {
            keep_err(ebuf, elen, buf, (size_t)n);
            continue;
        }
        size_t take = (size_t)n <= cap - *olen ? (size_t)n : cap - *olen;
        memcpy(out + *olen, buf, take);
        *olen += take;
        if (take < (size_t)n) *too_big = 1;
    }
}

/* Runs q's command for job j on processor thread idx. */
static void run_command(qrt *q, unsigned idx, const qjob *j, outcome *o)
{
    qsrv *s = q->srv;
    envb *e = calloc(1, sizeof *e);
    size_t cap = q->spec.max_result + 16384; /* the header block on top */
    char *out = malloc(cap);
    char errbuf[ERR_KEEP];
    size_t olen = 0, elen = 0;
    int in = -1, po[2] = {-1, -1}, pe[2] = {-1, -1}, pidfd = -1;
    pid_t pid = 0;
    o->exit_code = -1;
    if (!e || !out) {
        set_err(o, "out of memory");
        goto done;
    }
    build_env(e, q, j);
    if (e->full) {
        set_err(o, "the request's header fields do not fit in the command's environment");
        goto done;
    }
    in = memfd_create("htd-job-body", MFD_CLOEXEC);
    if (in < 0 || pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
        set_err(o, "cannot make the command's pipes");
        goto done;
    }
    for (size_t off = 0; off < j->body_len;) {
        ssize_t n = write(in, j->body + off, j->body_len - off);
        if (n <= 0) {
            set_err(o, "cannot write the body for the command");
            goto done;
        }
        off += (size_t)n;
    }
    lseek(in, 0, SEEK_SET);
    char *argv[] = {"/bin/sh", "-c", q->spec.command, NULL};
    int rc =
        cgi_spawn("/bin/sh", argv, e->vars, q->root[0] ? q->root : NULL, in, po[1], pe[1], &pid);
    close(po[1]);
    close(pe[1]);
    po[1] = pe[1] = -1;
    if (rc != 0) {
        pid = 0;
        set_err(o, "cannot run /bin/sh for the command");
        goto done;
    }
    pthread_mutex_lock(&s->mu);
    q->running[idx] = pid;
    int stopping = s->stopping;
    pthread_mutex_unlock(&s->mu);
    if (stopping) kill(-pid, SIGKILL);
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    fcntl(po[0], F_SETFL, O_NONBLOCK);
    fcntl(pe[0], F_SETFL, O_NONBLOCK);
    int64_t deadline = qstore_now_ms() + q->spec.timeout_ms;
    int exited = 0, timed_out = 0, too_big = 0, open_out = 1, open_err = 1;
    while ((open_out || open_err) && !exited) {
        int64_t left = deadline - qstore_now_ms();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        struct pollfd pf[3] = {{open_out ? po[0] : -1, POLLIN, 0},
                               {open_err ? pe[0] : -1, POLLIN, 0},
                               {pidfd, POLLIN, 0}};
        if (poll(pf, 3, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR) break;
        if (pf[2].revents) exited = 1; /* read what is left below, then stop */
        if (open_out && drain(po[0], out, cap, &olen, &too_big, NULL, NULL) == 0) open_out = 0;
        if (open_err && drain(pe[0], NULL, 0, NULL, NULL, errbuf, &elen) == 0) open_err = 0;
        if (pf[0].revents & (POLLHUP | POLLERR) && !(pf[0].revents & POLLIN)) open_out = 0;
        if (pf[1].revents & (POLLHUP | POLLERR) && !(pf[1].revents & POLLIN)) open_err = 0;
    }
    if (timed_out) kill(-pid, SIGKILL);
    int st = 0;
    if (!timed_out && !exited) { /* both pipes closed: wait for its end, within the limit */
        struct pollfd pf = {pidfd, POLLIN, 0};
        int64_t left = deadline - qstore_now_ms();
        if (left <= 0 || poll(&pf, 1, (int)left) == 0) {
            timed_out = 1;
            kill(-pid, SIGKILL);
        }
    }
    kill(-pid, SIGKILL); /* what it left behind in its group */
    waitpid(pid, &st, 0);
    pthread_mutex_lock(&s->mu);
    q->running[idx] = 0;
    pthread_mutex_unlock(&s->mu);
    memcpy(o->err, errbuf, elen);
    o->err[elen] = 0;
    if (timed_out) {
        char msg[96];
        snprintf(msg, sizeof msg, "\nhtd: the time limit of %.3g s ran out; the command was killed",
                 q->spec.timeout_ms / 1000.0);
        snprintf(o->err + elen, sizeof o->err - elen, "%s", elen ? msg : msg + 1);
        goto done;
    }
    if (WIFEXITED(st)) o->exit_code = WEXITSTATUS(st);
    if (WIFSIGNALED(st)) o->exit_code = 128 + WTERMSIG(st);
    if (o->exit_code != 0) goto done;
    if (too_big) {
        set_err(o, "the command's output is larger than the queue's max_result");
        goto done;
    }
    if (take_output(o, out, olen) == 0) o->ok = 1;
done:
    if (pidfd >= 0) close(pidfd);
    if (in >= 0) close(in);
    for (int i = 0; i < 2; i++) {
        if (po[i] >= 0) close(po[i]);
        if (pe[i] >= 0) close(pe[i]);
    }
    free(out);
    free(e);
}

/* ---- the program's handler ---- */

struct htd_job {
    const qrt *q;
    const qjob *j;
    outcome *o;
    int answered;
};

static htd_str str_of(const char *s)
{
    return (htd_str){s ? s : "", s ? strlen(s) : 0};
}

htd_str htd_job_id(const htd_job *j)
{
    return (htd_str){j->j->id, QJOB_ID_LEN};
}

htd_str htd_job_queue(const htd_job *j)
{
    return str_of(j->j->queue);
}

htd_str htd_job_method(const htd_job *j)
{
    return str_of(j->j->method);
}

htd_str htd_job_target(const htd_job *j)
{
    return str_of(j->j->target);
}

htd_str htd_job_body(const htd_job *j)
{
    return (htd_str){j->j->body ? j->j->body : "", j->j->body_len};
}

htd_str htd_job_client(const htd_job *j)
{
    return str_of(j->j->client);
}

htd_str htd_job_header(const htd_job *j, const char *name)
{
    return find_header(j->j, name);
}

int htd_job_attempt(const htd_job *j)
{
    return j->j->attempts;
}

int htd_job_result(htd_job *j, int status, const char *content_type, const void *body, size_t len)
{
    if (status < 100 || status > 599 || len > j->q->spec.max_result) return -1;
    char *b = malloc(len ? len : 1), *t = content_type ? strdup(content_type) : NULL;
    if (!b || (content_type && !t)) {
        free(b);
        free(t);
        return -1;
    }
    if (len) memcpy(b, body, len);
    free(j->o->body);
    free(j->o->type);
    j->o->body = b;
    j->o->body_len = len;
    j->o->type = t;
    j->o->status = status;
    j->answered = 1;
    return 0;
}

static void run_handler(qrt *q, const qjob *j, outcome *o)
{
    htd_job job = {.q = q, .j = j, .o = o};
    o->exit_code = -1;
    q->fn(&job, q->arg);
    if (!job.answered) {
        set_err(o, "the handler gave no result");
    } else if (o->status >= 200 && o->status < 300) {
        o->ok = 1;
        o->exit_code = 0;
    } else {
        snprintf(o->err, sizeof o->err, "the handler's result was %d", o->status);
    }
}

/* ---- the processors ---- */

typedef struct proc {
    qrt *q;
    unsigned idx;
} proc;

static int stopping(qsrv *s)
{
    pthread_mutex_lock(&s->mu);
    int v = s->stopping;
    pthread_mutex_unlock(&s->mu);
    return v;
}

/* Records the attempt's outcome; wakes the monitors waiting for the job
 * when it has ended. */
static void record(qrt *q, const qjob *j, outcome *o)
{
    qsrv *s = q->srv;
    qsync w = {.q = q, .id = j->id};
    w.res = (qjob_result){.exit_code = o->exit_code,
                          .status = o->status,
                          .type = o->type,
                          .body = o->body,
                          .body_len = o->body_len,
                          .err = o->err[0] ? o->err : NULL};
    int rc;
    if (o->ok) {
        w.final = 0;
        rc = run_sync(s, &w, apply_finish);
    } else if ((unsigned)j->attempts >= q->spec.attempts) {
        w.final = 1;
        rc = run_sync(s, &w, apply_finish);
    } else {
        uint64_t delay = q->spec.retry_ms;
        for (int i = 1; i < j->attempts && delay < RETRY_MAX_MS; i++)
            delay *= 2;
        w.when = qstore_now_ms() + (int64_t)(delay < RETRY_MAX_MS ? delay : RETRY_MAX_MS);
        rc = run_sync(s, &w, apply_retry);
        if (rc == QS_OK) return;
    }
    if (rc == QS_OK)
        queue_finished(s, j->id);
    else
        errlog(ERRLOG_ERROR, "htd: queue %s: job %s: its outcome could not be stored (%d)",
               q->spec.name, j->id, rc);
}

static void *processor(void *arg)
{
    proc *p = arg;
    qrt *q = p->q;
    qsrv *s = q->srv;
    while (!stopping(s)) {
        qsync w = {.q = q};
        int rc = run_sync(s, &w, apply_lease);
        if (rc == QS_OK) {
            outcome o = {0};
            if (q->spec.command)
                run_command(q, p->idx, &w.job, &o);
            else
                run_handler(q, &w.job, &o);
            /* Killed because htd stops: the job stays running, and is
             * queued again at the next start. */
            if (!stopping(s)) record(q, &w.job, &o);
            outcome_clear(&o);
            qjob_clear(&w.job);
            continue;
        }
        int64_t next = rc == QS_EMPTY ? w.job.not_before : 0;
        qjob_clear(&w.job);
        if (rc != QS_EMPTY)
            errlog(ERRLOG_ERROR, "htd: queue %s: cannot lease a job (%d)", q->spec.name, rc);
        /* Nothing ready: wait for a kick, or for the next retry's time, or
         * look again in a second (for a job `htd jobs retry` queued from
         * outside). */
        int64_t now = qstore_now_ms(), wait = IDLE_LOOK_MS;
        if (next && next - now < wait) wait = next > now ? next - now : 1;
        pthread_mutex_lock(&s->mu);
        if (!s->stopping && !q->kick) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += wait / 1000;
            ts.tv_nsec += (wait % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        }
        if (q->kick) q->kick--;
        pthread_mutex_unlock(&s->mu);
    }
    free(p);
    return NULL;
}

void queue_kick(qrt *q)
{
    qsrv *s = q->srv;
    pthread_mutex_lock(&s->mu);
    if (q->kick < (int)q->spec.workers) q->kick++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Threads of the queues' own, with every signal blocked: signals are the
 * program's. */
static int spawn_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(t, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int queue_run_start(qrt *q, char *err, size_t errlen)
{
    unsigned n = q->spec.workers;
    if (!(q->threads = calloc(n, sizeof *q->threads)) ||
        !(q->running = calloc(n, sizeof *q->running))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (unsigned i = 0; i < n; i++) {
        proc *p = malloc(sizeof *p);
        if (p) *p = (proc){q, i};
        int rc = p ? spawn_thread(&q->threads[i], processor, p) : ENOMEM;
        if (rc != 0) {
            free(p);
            snprintf(err, errlen, "queue %s: cannot start its processors: %s", q->spec.name,
                     strerror(rc));
            return -1;
        }
        q->nthreads++;
    }
    return 0;
}

static void *keeper(void *arg)
{
    qsrv *s = arg;
    uint64_t every = KEEP_EVERY_S; /* or the shortest expiry, if shorter */
    for (size_t i = 0; i < s->nq; i++)
        if (s->q[i]->spec.expire_s < every) every = s->q[i]->spec.expire_s;
    for (;;) {
        qsync w = {0};
        run_sync(s, &w, apply_expire);
        pthread_mutex_lock(&s->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)every;
        while (!s->stopping && pthread_cond_timedwait(&s->cv, &s->mu, &ts) != ETIMEDOUT) {
        }
        int stop = s->stopping;
        pthread_mutex_unlock(&s->mu);
        if (stop) return NULL;
    }
}

int queue_keeper_start(qsrv *s, char *err, size_t errlen)
{
    int rc = spawn_thread(&s->keeper, keeper, s);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the job queue's keeper thread: %s", strerror(rc));
        return -1;
    }
    s->keeper_started = 1;
    return 0;
}

void queue_run_stop(qsrv *s)
{
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    for (size_t i = 0; i < s->nq; i++)
        for (unsigned k = 0; s->q[i]->running && k < s->q[i]->spec.workers; k++)
            if (s->q[i]->running[k] > 0) kill(-s->q[i]->running[k], SIGKILL);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < s->nq; i++)
        for (unsigned k = 0; k < s->q[i]->nthreads; k++)
            pthread_join(s->q[i]->threads[k], NULL);
    if (s->keeper_started) pthread_join(s->keeper, NULL);
}
