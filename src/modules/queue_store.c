/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * queue_store.c - what every job store shares: job ids, state names, and
 * freeing a job read back (see queue_store.h).
 */
#include "queue_store.h"

#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "token.h"

int64_t qstore_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void qstore_iso_time(int64_t ms, int millis, char *out, size_t cap)
{
    int64_t frac = (ms % 1000 + 1000) % 1000;
    time_t t = (time_t)((ms - frac) / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, cap, "-");
        return;
    }
    int n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (n > 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, millis ? ".%03dZ" : "Z", (int)frac);
}

static const char *const state_names[QJ_STATES] = {
    [QJ_QUEUED] = "queued", [QJ_RUNNING] = "running",     [QJ_DONE] = "done",
    [QJ_FAILED] = "failed", [QJ_CANCELLED] = "cancelled",
};

const char *qjob_state_name(int state)
{
    return state >= 0 && state < QJ_STATES ? state_names[state] : "unknown";
}

int qjob_state_parse(const char *name)
{
    for (int i = 0; i < QJ_STATES; i++)
        if (strcmp(name, state_names[i]) == 0) return i;
    return -1;
}

_Static_assert(TOKEN_LEN(16) == QJOB_ID_LEN, "a job id is 128 random bits");

int qjob_new_id(char id[QJOB_ID_LEN + 1])
{
    return token_new(id, 16);
}

void qjob_clear(qjob *j)
{
    free(j->queue);
    free(j->method);
    free(j->target);
    free(j->client);
    free(j->headers);
    free(j->body);
    free(j->idem_key);
    free(j->result_type);
    free(j->result);
    free(j->err);
    memset(j, 0, sizeof *j);
}

/* ---- the job as JSON ---- */

typedef struct jbuf {
    char *p;
    size_t cap, len; /* len may pass cap: what it would have needed */
} jbuf;

static void jput(jbuf *b, const char *s, size_t n)
{
    if (b->len < b->cap) memcpy(b->p + b->len, s, b->len + n <= b->cap ? n : b->cap - b->len);
    b->len += n;
}

static void jputs(jbuf *b, const char *s)
{
    jput(b, s, strlen(s));
}

/* s as a JSON string: quotes, escapes for '"', '\\' and control bytes;
 * other bytes as they are (the job's own, UTF-8 or not). */
static void jstr(jbuf *b, const char *s)
{
    if (!s) {
        jputs(b, "null");
        return;
    }
    size_t n = strlen(s);
    char small[256];
    size_t need = json_escape(small, sizeof small, s, n);
    jput(b, "\"", 1);
    if (need < sizeof small) {
        jput(b, small, need);
    } else { /* stderr's last lines: escaped straight into the buffer */
        if (b->len < b->cap) json_escape(b->p + b->len, b->cap - b->len, s, n);
        b->len += need;
    }
    jput(b, "\"", 1);
}

/* Milliseconds since the epoch as RFC 3339 UTC, or null for 0. */
static void jtime(jbuf *b, int64_t ms)
{
    if (!ms) {
        jputs(b, "null");
        return;
    }
    char t[40];
    qstore_iso_time(ms, 1, t, sizeof t);
    jput(b, "\"", 1);
    jputs(b, t);
    jput(b, "\"", 1);
}

size_t qjob_json(const qjob *j, const char *base, char *out, size_t cap)
{
    jbuf b = {out, cap, 0};
    char num[32], url[512];
    jputs(&b, "{\"id\":");
    jstr(&b, j->id);
    jputs(&b, ",\"queue\":");
    jstr(&b, j->queue);
    jputs(&b, ",\"state\":");
    jstr(&b, qjob_state_name(j->state));
    snprintf(num, sizeof num, ",\"attempts\":%d", j->attempts);
    jputs(&b, num);
    jputs(&b, ",\"created\":");
    jtime(&b, j->created);
    jputs(&b, ",\"started\":");
    jtime(&b, j->started);
    jputs(&b, ",\"finished\":");
    jtime(&b, j->finished);
    jputs(&b, ",\"exit\":");
    if (j->exit_code >= 0 && (j->state == QJ_DONE || j->state == QJ_FAILED || j->attempts)) {
        snprintf(num, sizeof num, "%d", j->exit_code);
        jputs(&b, num);
    } else {
        jputs(&b, "null");
    }
    jputs(&b, ",\"monitor\":");
    snprintf(url, sizeof url, "%s%s", base, j->id);
    jstr(&b, url);
    jputs(&b, ",\"result\":");
    if (j->state == QJ_DONE) {
        snprintf(url, sizeof url, "%s%s/result", base, j->id);
        jstr(&b, url);
    } else {
        jputs(&b, "null");
    }
    if (j->err) {
        jputs(&b, ",\"error\":");
        jstr(&b, j->err);
    }
    jputs(&b, "}\n");
    if (b.len < cap) out[b.len] = 0;
    return b.len;
}
