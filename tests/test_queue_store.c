/* SPDX-License-Identifier: BSD-2-Clause */
/* test_queue_store.c - the job store (queue_store.h) over SQLite, in a
 * database file of its own under /tmp. */
#include "queue_store.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "state_db.h"
#include "test.h"

static qjob_req request(const char *queue, const char *body, const char *key, const uint8_t *hash)
{
    return (qjob_req){.queue = queue,
                      .method = "POST",
                      .target = "/q/mail?to=x",
                      .client = "127.0.0.1",
                      .headers = "Content-Type: text/plain\r\n",
                      .headers_len = 26,
                      .body = body,
                      .body_len = strlen(body),
                      .idem_key = key,
                      .body_hash = hash};
}

/* Enqueues in its own transaction, as the writer thread would. */
static int enqueue(qstore *s, const qjob_req *r, int64_t now, unsigned max, char *id)
{
    if (s->ops->begin(s) != QS_OK) return QS_ERROR;
    int rc = s->ops->enqueue(s, r, now, max, id);
    if (s->ops->commit(s) != QS_OK) return QS_ERROR;
    return rc;
}

TEST(ids_are_22_url_safe_characters_and_differ)
{
    char a[QJOB_ID_LEN + 1], b[QJOB_ID_LEN + 1];
    CHECK_EQ_INT(qjob_new_id(a), 0);
    CHECK_EQ_INT(qjob_new_id(b), 0);
    CHECK_EQ_INT(strlen(a), 22);
    CHECK(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 22);
    CHECK(strcmp(a, b) != 0);
}

TEST(state_names_round_trip)
{
    for (int i = 0; i < QJ_STATES; i++)
        CHECK_EQ_INT(qjob_state_parse(qjob_state_name(i)), i);
    CHECK_EQ_INT(qjob_state_parse("sleeping"), -1);
    CHECK(strcmp(qjob_state_name(QJ_CANCELLED), "cancelled") == 0);
}

TEST(a_job_goes_queued_running_done_and_keeps_what_was_asked)
{
    qstore *s = open_fresh();
    CHECK(s != NULL);
    if (!s) return;
    char id[QJOB_ID_LEN + 1];
    qjob_new_id(id);
    qjob_req r = request("/q/", "hello", NULL, NULL);
    CHECK_EQ_INT(enqueue(s, &r, 1000, 0, id), QS_OK);

    qjob j;
    CHECK_EQ_INT(s->ops->get(s, id, &j), QS_OK);
    CHECK_EQ_INT(j.state, QJ_QUEUED);
    CHECK_EQ_INT(j.attempts, 0);
    CHECK_EQ_INT(j.created, 1000);
    CHECK_STR(j.body, j.body_len, "hello");
    CHECK_STR(j.headers, j.headers_len, "Content-Type: text/plain\r\n");
    CHECK(strcmp(j.target, "/q/mail?to=x") == 0 && strcmp(j.method, "POST") == 0);
    CHECK(strcmp(j.client, "127.0.0.1") == 0 && strcmp(j.queue, "/q/") == 0);
    CHECK(j.idem_key == NULL && j.result == NULL && j.started == 0);
    qjob_clear(&j);

    CHECK_EQ_INT(s->ops->begin(s), QS_OK);
    CHECK_EQ_INT(s->ops->lease(s, "/q/", 2000, &j), QS_OK);
    CHECK(strcmp(j.id, id) == 0);
    CHECK_EQ_INT(j.state, QJ_RUNNING);
    CHECK_EQ_INT(j.attempts, 1);
    CHECK_EQ_INT(j.started, 2000);
    qjob_clear(&j);
    CHECK_EQ_INT(s->ops->lease(s, "/q/", 2000, &j), QS_EMPTY);
    qjob_result res = {
        .exit_code = 0, .status = 200, .type = "application/json", .body = "{}", .body_len = 2};
    CHECK_EQ_INT(s->ops->finish(s, id, &res, 0, 3000, 9000), QS_OK);
    CHECK_EQ_INT(s->ops->finish(s, id, &res, 0, 3000, 9000),
                 QS_NOTFOUND); /* not running any more */
    CHECK_EQ_INT(s->ops->commit(s), QS_OK);

    CHECK_EQ_INT(s->ops->get(s, id, &j), QS_OK);
    CHECK_EQ_INT(j.state, QJ_DONE);
    CHECK_EQ_INT(j.finished, 3000);
    CHECK_EQ_INT(j.expires, 9000);
    CHECK_EQ_INT(j.result_status, 200);
    CHECK(j.result_type && strcmp(j.result_type, "application/json") == 0);
    CHECK_STR(j.result, j.result_len, "{}");
    qjob_clear(&j);

    /* Expiry removes it, and only when its time has come. */
    CHECK_EQ_INT(s->ops->begin(s), QS_OK);
    CHECK_EQ_INT(s->ops->expire(s, 8999), 0);
    CHECK_EQ_INT(s->ops->expire(s, 9000), 1);
    CHECK_EQ_INT(s->ops->commit(s), QS_OK);
    CHECK_EQ_INT(s->ops->get(s, id, &j), QS_NOTFOUND);
    s->ops->close(s);
    remove_fresh();
}

TEST(retries_wait_their_time_then_the_job_fails_with_its_stderr)
{
    qstore *s = open_fresh();
    if (!s) return;
    char id[QJOB_ID_LEN + 1];
    qjob_new_id(id);
    qjob_req r = request("/q/", "", NULL, NULL);
    CHECK_EQ_INT(enqueue(s, &r, 1000, 0, id), QS_OK);
    qjob j;
    CHECK_EQ_INT(s->ops->begin(s), QS_OK);
    CHECK_EQ_INT(s->ops->lease(s, "/q/", 1000, &j), QS_OK);
    CHECK_EQ_INT(j.body_len, 0);
    CHECK(j.body != NULL);
    qjob_clear(&j);
    qjob_result bad = {.exit_code = 3, .err = "no route to host"};
    CHECK_EQ_INT(s->ops->retry_later(s, id, &bad, 5000), QS_OK);
    CHECK_EQ_INT(s->ops->lease(s, "/q/", 4999, &j), QS_EMPTY);
    CHECK_EQ_INT(s->ops->lease(s, "/q/", 5000, &j), QS_OK);
    CHECK_EQ_INT(j.attempts, 2);
    CHECK(j.err && strcmp(j.err, "no route to host") == 0);
    CHECK_EQ_INT(j.exit_code, 3);
    qjob_clear(&j);
    CHECK_EQ_INT(s->ops->finish(s, id, &bad, 1, 6000, 10000), QS_OK);
    CHECK_EQ_INT(s->ops->commit(s), QS_OK);
    CHECK_EQ_INT(s->ops->get(s, id, &j), QS_OK);
    CHECK_EQ_INT(j.state, QJ_FAILED);
    CHECK(j.result == NULL);
    qjob_clear(&j);

    /* Queued again by hand (htd jobs retry): attempts from zero. */
    CHECK_EQ_INT(s->ops->begin(s), QS_OK);
    CHECK_EQ_INT(s->ops->requeue(s, id, 7000), QS_OK);
    CHECK_EQ_INT(s->ops->requeue(s, id, 7000), QS_CONFLICT);
    CHECK_EQ_INT(s->ops->requeue(s, "nope", 7000), QS_NOTFOUND);
    CHECK_EQ_INT(s->ops->commit(s), QS_OK);
    CHECK_EQ_INT(s->ops->get(s, id, &j), QS_OK);
    CHECK_EQ_INT(j.state, QJ_QUEUED);
    CHECK_EQ_INT(j.attempts, 0);
    CHECK_EQ_INT(j.expires, 0);
    qjob_clear(&j);
    s->ops->close(s);
    remove_fresh();
}

TEST(oldest_first_per_queue_and_the_maximum_of_queued_jobs)
{
    qstore *s = open_fresh();
    if (!s) return;
    char a[QJOB_ID_LEN + 1], b[QJOB_ID_LEN + 1], c[QJOB_ID_LEN + 1], d[QJOB_ID_LEN + 1];
    qjob_new_id(a);
    qjob_new_id(b);
    qjob_new_id(c);
    qjob_new_id(d);
    qjob_req q1 = request("/one/", "1", NULL, NULL), q2 = request("/two/", "2", NULL, NULL);
    CHECK_EQ_INT(enqueue(s, &q1, 2000, 2, b), QS_OK);
    CHECK_EQ_INT(enqueue(s, &q1, 1000, 2, a), QS_OK);
    CHECK_EQ_INT(enqueue(s, &q1, 3000, 2, c), QS_FULL);
    CHECK_EQ_INT(enqueue(s, &q2, 3000, 2, d), QS_OK); /* another queue, its own count */
    unsigned n = 0;
    CHECK_EQ_INT(s->ops->count_queued(s, "/one/", &n), QS_OK);
    CHECK_EQ_INT(n, 2);
    qjob j;
    CHECK_EQ_INT(s->ops->get(s, c, &j), QS_NOTFOUND); /* nothing stored when full */
    CHECK_EQ_INT(s->ops->begin(s), QS_OK);
    CHECK_EQ_INT(s->ops->lease(s, "/one/", 5000, &j), QS_OK);
    CHECK(strcmp(j.id, a) == 0);
    qjob_clear(&j);
    /* A cancel: only while queued. */
    CHECK_EQ_INT(s->ops->cancel(s, a, 5000, 9000), QS_CONFLICT);
    CHECK_EQ_INT(s->ops->cancel(s, b, 5000, 9000), QS_OK);
    CHECK_EQ_INT(s->ops->cancel(s, b, 5000, 9000), QS_CONFLICT);
    CHECK_EQ_INT(s->ops->cancel(s, "nope", 5000, 9000), QS_NOTFOUND);
    CHECK_EQ_INT(s->ops->lease(s, "/one/", 5000, &j), QS_EMPTY);
    CHECK_EQ_INT(s->ops->commit(s), QS_OK);
    CHECK_EQ_INT(enqueue(s, &q1, 6000, 2, c), QS_OK); /* room again */
    s->ops->close(s);
    remove_fresh();
}

static int count_each(const qjob *j, void *arg)
{
    (void)j;
    ++*(int *)arg;
    return 0;
}

TEST(idempotency_keys_give_the_same_job_or_a_conflict)
{
    qstore *s = open_fresh();
    if (!s) return;
    uint8_t h1[32] = {1}, h2[32] = {2};
    char a[QJOB_ID_LEN + 1], b[QJOB_ID_LEN + 1];
    qjob_new_id(a);
    qjob_new_id(b);
    qjob_req r1 = request("/q/", "x", "key-1", h1);
    CHECK_EQ_INT(enqueue(s, &r1, 1000, 0, a), QS_OK);
    char again[QJOB_ID_LEN + 1];
    qjob_new_id(again);
    CHECK_EQ_INT(enqueue(s, &r1, 2000, 0, again), QS_DUP);
    CHECK(strcmp(again, a) == 0);
    qjob_req r2 = request("/q/", "y", "key-1", h2);
    char b_before[QJOB_ID_LEN + 1];
    memcpy(b_before, b, sizeof b);
    CHECK_EQ_INT(enqueue(s, &r2, 2000, 0, b), QS_CONFLICT);
    CHECK(memcmp(b, b_before, sizeof b) == 0); /* id is only written for QS_DUP */
    /* The same key on another queue is another job. */
    qjob_req r3 = request("/other/", "x", "key-1", h1);
    CHECK_EQ_INT(enqueue(s, &r3, 2000, 0, b), QS_OK);
    int n = 0;
    CHECK_EQ_INT(s->ops->list(s, NULL, -1, count_each, &n), QS_OK);
    CHECK_EQ_INT(n, 2);
    n = 0;
    CHECK_EQ_INT(s->ops->list(s, "/q/", QJ_QUEUED, count_each, &n), QS_OK);
    CHECK_EQ_INT(n, 1);
    s->ops->close(s);
    remove_fresh();
}

TEST(jobs_left_running_are_queued_again_when_the_store_reopens)
{
    qstore *s = open_fresh();
    if (!s) return;
    char a[QJOB_ID_LEN + 1];
    qjob_new_id(a);
    qjob_req r = request("/q/", "x", NULL, NULL);
    CHECK_EQ_INT(enqueue(s, &r, 1000, 0, a), QS_OK);
    qjob j;
    CHECK_EQ_INT(s->ops->begin(s), QS_OK);
    CHECK_EQ_INT(s->ops->lease(s, "/q/", 1000, &j), QS_OK);
    qjob_clear(&j);
    CHECK_EQ_INT(s->ops->commit(s), QS_OK);
    s->ops->close(s); /* as if the process ended */
    char err[256];
    s = qstore_sqlite_open(db_path, err, sizeof err);
    CHECK(s != NULL);
    if (!s) return;
    CHECK_EQ_INT(s->ops->begin(s), QS_OK);
    CHECK_EQ_INT(s->ops->recover(s, 4000), 1);
    CHECK_EQ_INT(s->ops->lease(s, "/q/", 4000, &j), QS_OK);
    CHECK_EQ_INT(j.attempts, 2); /* the interrupted attempt counts */
    qjob_clear(&j);
    CHECK_EQ_INT(s->ops->commit(s), QS_OK);
    /* Purge removes finished jobs only. */
    CHECK_EQ_INT(s->ops->begin(s), QS_OK);
    CHECK_EQ_INT(s->ops->purge(s, NULL, -1), 0);
    qjob_result ok = {.status = 200};
    CHECK_EQ_INT(s->ops->finish(s, a, &ok, 0, 5000, 99000), QS_OK);
    CHECK_EQ_INT(s->ops->purge(s, "/other/", -1), 0);
    CHECK_EQ_INT(s->ops->purge(s, "/q/", QJ_FAILED), 0);
    CHECK_EQ_INT(s->ops->purge(s, "/q/", -1), 1);
    CHECK_EQ_INT(s->ops->commit(s), QS_OK);
    s->ops->close(s);
    remove_fresh();
}

TEST(an_unusable_path_is_an_error_that_names_it)
{
    char err[256] = "";
    qstore *s = qstore_sqlite_open("/nonexistent-dir/jobs.db", err, sizeof err);
    CHECK(s == NULL);
    CHECK(strstr(err, "/nonexistent-dir/jobs.db") != NULL);
}

static unsigned queued(qstore *s, const char *queue)
{
    unsigned n = 999;
    CHECK_EQ_INT(s->ops->count_queued(s, queue, &n), QS_OK);
    return n;
}

TEST(the_count_of_queued_jobs_follows_every_change_of_state)
{
    qstore *s = open_fresh();
    CHECK(s != NULL);
    if (!s) return;
    CHECK_EQ_INT(queued(s, "/q/"), 0);
    char a[QJOB_ID_LEN + 1], b[QJOB_ID_LEN + 1], c[QJOB_ID_LEN + 1], d[QJOB_ID_LEN + 1];
    qjob_req r = request("/q/", "x", NULL, NULL), other = request("/other/", "y", NULL, NULL);
    qjob_new_id(a);
    qjob_new_id(b);
    qjob_new_id(c);
    qjob_new_id(d);
    CHECK_EQ_INT(enqueue(s, &r, 1000, 0, a), QS_OK);
    CHECK_EQ_INT(enqueue(s, &r, 1001, 0, b), QS_OK);
    CHECK_EQ_INT(enqueue(s, &r, 1002, 3, c), QS_OK);
    CHECK_EQ_INT(enqueue(s, &r, 1003, 3, d), QS_FULL);
    CHECK_EQ_INT(enqueue(s, &other, 1003, 1, d), QS_OK);
    CHECK_EQ_INT(queued(s, "/q/"), 3);
    CHECK_EQ_INT(queued(s, "/other/"), 1);
    qjob j = {0};
    qjob_result fail = {.exit_code = 1}, ok = {.exit_code = 0, .status = 200};
    CHECK_EQ_INT(s->ops->begin(s), QS_OK);
    CHECK_EQ_INT(s->ops->lease(s, "/q/", 5000, &j), QS_OK); /* a: running */
    CHECK_EQ_INT(queued(s, "/q/"), 2);
    CHECK_EQ_INT(s->ops->retry_later(s, a, &fail, 9000), QS_OK); /* queued again */
    CHECK_EQ_INT(queued(s, "/q/"), 3);
    qjob_clear(&j);
    CHECK_EQ_INT(s->ops->lease(s, "/q/", 5000, &j), QS_OK); /* b: a waits till 9000 */
    CHECK(strcmp(j.id, b) == 0);
    CHECK_EQ_INT(s->ops->finish(s, b, &ok, 0, 5001, 99000), QS_OK);
    CHECK_EQ_INT(queued(s, "/q/"), 2);
    CHECK_EQ_INT(s->ops->cancel(s, c, 5002, 99000), QS_OK);
    CHECK_EQ_INT(queued(s, "/q/"), 1);
    CHECK_EQ_INT(s->ops->requeue(s, c, 5003), QS_OK);
    CHECK_EQ_INT(queued(s, "/q/"), 2);
    CHECK_EQ_INT(s->ops->purge(s, "/q/", -1), 1); /* b */
    CHECK_EQ_INT(queued(s, "/q/"), 2);
    CHECK_EQ_INT(s->ops->commit(s), QS_OK);
    qjob_clear(&j);
    s->ops->close(s);
    /* Opened again: the count is as it was. */
    char err[256];
    s = qstore_sqlite_open(db_path, err, sizeof err);
    CHECK(s != NULL);
    if (s) {
        CHECK_EQ_INT(queued(s, "/q/"), 2);
        CHECK_EQ_INT(queued(s, "/other/"), 1);
        s->ops->close(s);
    }
    remove_fresh();
}

TEST(a_job_as_json_escapes_its_strings_and_says_null_for_what_is_not_yet)
{
    qjob j = {.id = "AAAAAAAAAAAAAAAAAAAAAA",
              .queue = "/q/",
              .state = QJ_QUEUED,
              .created = 1764528000123,
              .exit_code = -1};
    char out[1024];
    size_t n = qjob_json(&j, "/.jobs/", out, sizeof out);
    CHECK_STR(out, strlen(out),
              "{\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"queue\":\"/q/\",\"state\":\"queued\","
              "\"attempts\":0,\"created\":\"2025-11-30T18:40:00.123Z\",\"started\":null,"
              "\"finished\":null,\"exit\":null,"
              "\"monitor\":\"/.jobs/AAAAAAAAAAAAAAAAAAAAAA\",\"result\":null}\n");
    CHECK_EQ_INT((int)n, (int)strlen(out));
    char err[] = "a \"quote\" \\ and\na tab\t";
    j.state = QJ_DONE;
    j.attempts = 2;
    j.exit_code = 0;
    j.err = err;
    qjob_json(&j, "/.jobs/", out, sizeof out);
    CHECK(strstr(out, "\"result\":\"/.jobs/AAAAAAAAAAAAAAAAAAAAAA/result\"") != NULL);
    CHECK(strstr(out, "\"exit\":0,") != NULL);
    CHECK(strstr(out, "\"error\":\"a \\\"quote\\\" \\\\ and\\u000aa tab\\u0009\"}") != NULL);
    /* Too small: nothing written past cap, and the length it needs. */
    char small[16] = "untouched";
    size_t need = qjob_json(&j, "/.jobs/", small, 8);
    CHECK(need > 100);
    CHECK_STR(small + 8, 1, "d");
}

int main(void)
{
    RUN_TESTS();
}
