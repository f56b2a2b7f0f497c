/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * jobs_cli.c - `htd jobs`: the job queues' database from the command line.
 *
 * It opens the same SQLite file the running server writes, through the
 * same store interface (queue_store.h; the opening and the command line are
 * state_cli.h's, shared with `htd ledger`). Each change is a transaction of
 * its own.
 *
 * Options may come before or after the command. A job id may start with
 * '-' (it is base64url), so an argument shaped like an id is always taken
 * as one, never as an option.
 */
#include "jobs_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htd.h"
#include "queue_store.h"
#include "site.h"
#include "state_cli.h"

#define WHO "htd jobs"
#define complain(...) cli_complain(WHO, __VA_ARGS__)

static void usage(FILE *f)
{
    fputs("usage: htd jobs [--db FILE | -c CONFIG] COMMAND [ARGS]\n"
          "\n"
          "Looks at and changes the job queues' database, also while htd runs.\n"
          "\n"
          "  list [--queue NAME] [--state STATE] [--json]\n"
          "                     the jobs, oldest first: a line each (ID, STATE, ATTEMPTS,\n"
          "                     CREATED in UTC, QUEUE, METHOD, TARGET), or with --json\n"
          "                     the status monitor's JSON object each\n"
          "  show ID            a job: its status monitor's JSON, then its stored request,\n"
          "                     its result and the last lines of its stderr\n"
          "  retry ID           queue a failed or cancelled job again, attempts from zero\n"
          "  cancel ID          cancel a queued job\n"
          "  purge [--queue NAME] [--state done|failed|cancelled]\n"
          "                     remove finished jobs and print how many\n"
          "\n"
          "      --db FILE      the state database (default: the config's state_db with -c,\n"
          "                     else htd-state.db in the current directory)\n"
          "  -c, --config FILE  take the database from FILE (its state_db, or\n"
          "                     htd-state.db beside it)\n"
          "      --queue NAME   only the queue NAME (its prefix, after its vhost's name)\n"
          "      --state STATE  only jobs that are queued, running, done, failed or\n"
          "                     cancelled\n"
          "      --json         one JSON object per line\n"
          "  -h, --help         this help\n"
          "\n"
          "Exit status: 0 done; 1 the job is not in a state for that; 2 a usage error,\n"
          "no such job, or a database error.\n",
          f);
}

/* ---- the command line ---- */

enum { CMD_LIST, CMD_SHOW, CMD_RETRY, CMD_CANCEL, CMD_PURGE, CMDS };

/* What each command is called, whether it takes a job id, and which of
 * --queue, --state and --json it takes. */
enum { TAKES_QUEUE = 1, TAKES_STATE = 2, TAKES_JSON = 4 };
static const cli_command commands[CMDS] = {
    [CMD_LIST] = {"list", 0, 0, "", TAKES_QUEUE | TAKES_STATE | TAKES_JSON},
    [CMD_SHOW] = {"show", 1, 1, "a job id", 0},
    [CMD_RETRY] = {"retry", 1, 1, "a job id", 0},
    [CMD_CANCEL] = {"cancel", 1, 1, "a job id", 0},
    [CMD_PURGE] = {"purge", 0, 0, "", TAKES_QUEUE | TAKES_STATE},
};

typedef struct jobs_args {
    cli_args cli;   /* the command (CMD_*), the database */
    const char *id; /* show, retry, cancel */
    const char *queue;
    int state; /* -1: any */
    int json;
} jobs_args;

static const cli_option options[] = {
    {"--queue", 'q', 1, TAKES_QUEUE},
    {"--state", 's', 1, TAKES_STATE},
    {"--json", 'j', 0, TAKES_JSON},
};

/* Whether s has the shape of a job id (qjob_new_id): QJOB_ID_LEN
 * characters of base64url. */
static int id_shaped(const char *s)
{
    size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
    return n == QJOB_ID_LEN && !s[n];
}

static int set_option(void *ctx, const cli_option *o, const char *v)
{
    jobs_args *a = ctx;
    switch (o->key) {
    case 'q':
        a->queue = v;
        break;
    case 's':
        if ((a->state = qjob_state_parse(v)) < 0)
            return complain(EXIT_USAGE,
                            "--state: expected queued, running, done, failed or cancelled, got "
                            "'%s'",
                            v);
        break;
    case 'j':
        a->json = 1;
        break;
    }
    return 0;
}

/* The whole command line into a, checked; 0, or the exit status of a usage
 * error. */
static int parse_args(int argc, char **argv, jobs_args *a)
{
    static const cli_spec spec = {.who = WHO,
                                  .commands = commands,
                                  .ncommands = CMDS,
                                  .options = options,
                                  .noptions = sizeof options / sizeof options[0],
                                  .shaped = id_shaped,
                                  .option = set_option,
                                  .usage = usage};
    *a = (jobs_args){.state = -1};
    int rc = cli_parse(&spec, argc, argv, &a->cli, a);
    if (rc || a->cli.help) return rc;
    a->id = a->cli.args[0];
    if (a->cli.cmd == CMD_PURGE && (a->state == QJ_QUEUED || a->state == QJ_RUNNING))
        return complain(EXIT_USAGE, "purge removes finished jobs only: --state done, failed or "
                                    "cancelled");
    return 0;
}

/* ---- the database ---- */

/* Where the jobs are, and where their status monitors are. */
typedef struct jobs_db {
    char path[4096];
    char base[1024]; /* the monitors' path, for the JSON's URLs */
    qstore *store;
} jobs_db;

/* The monitors' path, from a config's jobs_path. */
static void take_jobs_path(const htd_config *cfg, void *arg)
{
    jobs_db *d = arg;
    if (cfg->jobs_path) snprintf(d->base, sizeof d->base, "%s", cfg->jobs_path);
}

static int open_db(const jobs_args *a, jobs_db *d)
{
    snprintf(d->base, sizeof d->base, "/.jobs/");
    return state_db_open(WHO, a->cli.db, a->cli.config, d->path, sizeof d->path, &d->store,
                         take_jobs_path, d);
}

static int db_error(const jobs_db *d)
{
    return state_db_error(WHO, d->path, d->store->msg);
}

/* ---- printing ---- */

/* Bytes from clients and scripts, line by line after indent, with control
 * bytes escaped so that none reaches a terminal as a command. */
static void put_lines(const char *p, size_t n, const char *indent)
{
    while (n) {
        size_t len = 0;
        while (len < n && p[len] != '\n')
            len++;
        size_t next = len < n ? len + 1 : len;
        if (len && p[len - 1] == '\r') len--;
        fputs(indent, stdout);
        for (size_t i = 0; i < len; i++) {
            unsigned char ch = (unsigned char)p[i];
            if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
                printf("\\x%02x", ch);
            else
                putchar(ch);
        }
        putchar('\n');
        p += next;
        n -= next;
    }
}

/* "1 byte", "2 bytes": how many of what. */
static void put_count(size_t n, const char *what)
{
    printf("%zu %s%s", n, what, n == 1 ? "" : "s");
}

static int put_json(const qjob *j, const char *base)
{
    char small[4096], *out = small;
    size_t need = qjob_json(j, base, small, sizeof small);
    if (need >= sizeof small) {
        if (!(out = malloc(need + 1))) return -1;
        qjob_json(j, base, out, need + 1);
    }
    fputs(out, stdout);
    if (out != small) free(out);
    return 0;
}

/* ---- list ---- */

/* The jobs as read, so that the columns can be as wide as their widest. */
typedef struct row {
    char id[QJOB_ID_LEN + 1];
    char created[32];
    int state, attempts;
    char *queue, *method, *target;
} row;

typedef struct table {
    row *rows;
    size_t n, cap;
    int oom;
} table;

static int add_row(const qjob *j, void *arg)
{
    table *t = arg;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        row *r = realloc(t->rows, cap * sizeof *r);
        if (!r) return t->oom = 1;
        t->rows = r;
        t->cap = cap;
    }
    row *r = &t->rows[t->n];
    memcpy(r->id, j->id, sizeof r->id);
    qstore_iso_time(j->created, 0, r->created, sizeof r->created);
    r->state = j->state;
    r->attempts = j->attempts;
    r->queue = strdup(j->queue);
    r->method = strdup(j->method);
    r->target = strdup(j->target);
    t->n++; /* counted even when a copy failed, so that it is freed */
    if (!r->queue || !r->method || !r->target) return t->oom = 1;
    return 0;
}

static void free_table(table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->rows[i].queue);
        free(t->rows[i].method);
        free(t->rows[i].target);
    }
    free(t->rows);
}

/* The columns as wide as their widest. ID, STATE and CREATED are as wide as
 * any can be (an id, the longest state name, a time), whatever is listed,
 * so that they stay put from one listing to the next. */
static void print_table(const table *t)
{
    int wid = QJOB_ID_LEN, wstate = 0, wattempts = (int)strlen("ATTEMPTS");
    int wcreated = (int)strlen("2000-01-01T00:00:00Z"), wqueue = (int)strlen("QUEUE");
    int wmethod = (int)strlen("METHOD");
    for (int st = 0; st < QJ_STATES; st++)
        wstate = cli_widest(wstate, qjob_state_name(st));
    for (size_t i = 0; i < t->n; i++) {
        const row *r = &t->rows[i];
        char num[16];
        snprintf(num, sizeof num, "%d", r->attempts);
        wid = cli_widest(wid, r->id);
        wattempts = cli_widest(wattempts, num);
        wcreated = cli_widest(wcreated, r->created);
        wqueue = cli_widest(wqueue, r->queue);
        wmethod = cli_widest(wmethod, r->method);
    }
    printf("%-*s  %-*s  %*s  %-*s  %-*s  %-*s  %s\n", wid, "ID", wstate, "STATE", wattempts,
           "ATTEMPTS", wcreated, "CREATED", wqueue, "QUEUE", wmethod, "METHOD", "TARGET");
    for (size_t i = 0; i < t->n; i++) {
        const row *r = &t->rows[i];
        printf("%-*s  %-*s  %*d  %-*s  %-*s  %-*s  %s\n", wid, r->id, wstate,
               qjob_state_name(r->state), wattempts, r->attempts, wcreated, r->created, wqueue,
               r->queue, wmethod, r->method, r->target);
    }
}

typedef struct json_lines {
    const char *base;
    int oom;
} json_lines;

static int add_json(const qjob *j, void *arg)
{
    json_lines *l = arg;
    if (put_json(j, l->base) < 0) return l->oom = 1;
    return 0;
}

static int cmd_list(const jobs_args *a, jobs_db *d)
{
    qstore *s = d->store;
    if (a->json) {
        json_lines l = {d->base, 0};
        if (s->ops->list(s, a->queue, a->state, add_json, &l) != QS_OK) return db_error(d);
        return l.oom ? complain(EXIT_USAGE, "out of memory") : EXIT_OK;
    }
    table t = {0};
    int rc = s->ops->list(s, a->queue, a->state, add_row, &t);
    if (rc == QS_OK && !t.oom) print_table(&t);
    free_table(&t);
    if (rc != QS_OK) return db_error(d);
    return t.oom ? complain(EXIT_USAGE, "out of memory") : EXIT_OK;
}

/* ---- show ---- */

static void print_request(const qjob *j)
{
    printf("request: %s %s from %s\n", j->method, j->target, j->client);
    put_lines(j->headers, j->headers_len, "  ");
    fputs("body: ", stdout);
    put_count(j->body_len, "byte");
    putchar('\n');
}

static void print_result(const qjob *j)
{
    if (!j->result_status && !j->result_type && !j->result) return;
    /* "200 text/plain, 3 bytes", less what the job does not have. */
    fputs("result: ", stdout);
    if (j->result_status) printf("%d", j->result_status);
    if (j->result_type) printf("%s%s", j->result_status ? " " : "", j->result_type);
    if (j->result_status || j->result_type) fputs(", ", stdout);
    put_count(j->result_len, "byte");
    putchar('\n');
}

static int cmd_show(const jobs_args *a, jobs_db *d)
{
    qstore *s = d->store;
    qjob j;
    int rc = s->ops->get(s, a->id, &j);
    if (rc == QS_NOTFOUND) return complain(EXIT_USAGE, "no job %s", a->id);
    if (rc != QS_OK) return db_error(d);
    rc = put_json(&j, d->base) < 0 ? complain(EXIT_USAGE, "out of memory") : EXIT_OK;
    if (rc == EXIT_OK) {
        print_request(&j);
        print_result(&j);
        if (j.err) {
            puts("stderr:");
            put_lines(j.err, strlen(j.err), "  ");
        }
    }
    qjob_clear(&j);
    return rc;
}

/* ---- changes: retry, cancel, purge ---- */

/* How long a job cancelled here is kept: a queue's default `expire`. The
 * queue's own setting is in its server's config, which is not built here. */
static int64_t keep_ms(void)
{
    queue_spec q = {0};
    queue_spec_defaults(&q);
    return (int64_t)q.expire_s * 1000;
}

/* The change itself, inside the transaction. */
static int apply(qstore *s, int cmd, const char *id)
{
    int64_t now = qstore_now_ms();
    return cmd == CMD_CANCEL ? s->ops->cancel(s, id, now, now + keep_ms())
                             : s->ops->requeue(s, id, now);
}

/* Why a job in another state cannot be changed (the job still read in the
 * transaction, so the state named is the one that refused). */
static int wrong_state(qstore *s, int cmd, const char *id)
{
    qjob j;
    int got = s->ops->get(s, id, &j) == QS_OK;
    const char *state = got ? qjob_state_name(j.state) : "in another state";
    const char *only = cmd == CMD_CANCEL ? "a queued job can be cancelled"
                                         : "a failed or cancelled job can be retried";
    int rc = complain(EXIT_STATE, "job %s is %s; only %s", id, state, only);
    if (got) qjob_clear(&j);
    return rc;
}

static int cmd_change(const jobs_args *a, jobs_db *d)
{
    qstore *s = d->store;
    if (s->ops->begin(s) != QS_OK) return db_error(d);
    int rc = apply(s, a->cli.cmd, a->id);
    if (rc == QS_OK && (rc = s->ops->commit(s)) == QS_OK) {
        printf("job %s %s\n", a->id, a->cli.cmd == CMD_CANCEL ? "cancelled" : "queued again");
        return EXIT_OK;
    }
    int code = rc == QS_CONFLICT   ? wrong_state(s, a->cli.cmd, a->id)
               : rc == QS_NOTFOUND ? complain(EXIT_USAGE, "no job %s", a->id)
                                   : db_error(d);
    s->ops->rollback(s);
    return code;
}

static int cmd_purge(const jobs_args *a, jobs_db *d)
{
    qstore *s = d->store;
    if (s->ops->begin(s) != QS_OK) return db_error(d);
    int n = s->ops->purge(s, a->queue, a->state);
    if (n < 0 || s->ops->commit(s) != QS_OK) {
        int code = db_error(d);
        s->ops->rollback(s);
        return code;
    }
    fputs("purged ", stdout);
    put_count((size_t)n, "job");
    putchar('\n');
    return EXIT_OK;
}

int jobs_cli(int argc, char **argv)
{
    jobs_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc || a.cli.help) return rc;
    jobs_db d = {0};
    if ((rc = open_db(&a, &d))) return rc;
    switch (a.cli.cmd) {
    case CMD_LIST:
        rc = cmd_list(&a, &d);
        break;
    case CMD_SHOW:
        rc = cmd_show(&a, &d);
        break;
    case CMD_PURGE:
        rc = cmd_purge(&a, &d);
        break;
    default:
        rc = cmd_change(&a, &d);
    }
    d.store->ops->close(d.store);
    return cli_flush(WHO, rc);
}
