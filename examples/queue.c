/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * queue.c - a job queue processed by the program's own handler: POST or PUT
 * under /resize/ is stored durably and answered 202 with a status monitor
 * under /.jobs/; the handler then runs on one of the queue's processor
 * threads, where it may take its time (here: it counts the words of the
 * body, slowly when the body says "slow"), and its result is served at the
 * monitor's result URL. A body of "fail" fails every attempt, to show the
 * retries.
 *
 *   build/examples/queue ROOT HOST:PORT DATABASE
 *
 * The handler may run twice for one job (delivery is at least once: a job
 * whose process was killed while it ran runs again at the next start), so
 * what it does must be safe to repeat.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "htd.h"

static htd_server *server;

static void on_signal(int sig)
{
    (void)sig;
    htd_server_stop(server);
}

/* On a processor thread, never on a worker: blocking here holds up no
 * connection. */
static void count_words(htd_job *job, void *arg)
{
    (void)arg;
    htd_str body = htd_job_body(job);
    if (body.len == 4 && memcmp(body.p, "fail", 4) == 0) {
        static const char msg[] = "cannot do that\n";
        htd_job_result(job, 422, "text/plain; charset=utf-8", msg, sizeof msg - 1);
        return;
    }
    if (body.len == 4 && memcmp(body.p, "slow", 4) == 0) usleep(500 * 1000);
    size_t words = 0;
    for (size_t i = 0; i < body.len; i++)
        if (body.p[i] != ' ' && body.p[i] != '\n' &&
            (i == 0 || body.p[i - 1] == ' ' || body.p[i - 1] == '\n'))
            words++;
    char out[256];
    htd_str id = htd_job_id(job), ct = htd_job_header(job, "content-type");
    int n = snprintf(out, sizeof out,
                     "{\"job\":\"%.*s\",\"words\":%zu,\"attempt\":%d,\"type\":\"%.*s\"}\n",
                     (int)id.len, id.p, words, htd_job_attempt(job), (int)ct.len, ct.p ? ct.p : "");
    htd_job_result(job, 200, "application/json", out, (size_t)n);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s ROOT HOST:PORT DATABASE\n", argv[0]);
        return 2;
    }
    const char *listen[] = {argv[2]};
    htd_config cfg = {
        .root = argv[1], .listen = listen, .nlisten = 1, .threads = 1, .state_db = argv[3]};
    char err[256];
    if (!(server = htd_server_new(&cfg, err, sizeof err))) {
        fprintf(stderr, "queue: %s\n", err);
        return 2;
    }
    if (htd_server_queue(server, "/resize/", count_words, NULL) < 0) {
        fprintf(stderr, "queue: cannot make the queue /resize/\n");
        htd_server_free(server);
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("htd " HTD_VERSION " serving %s at http://%s/\n", argv[1],
           htd_server_address(server, 0));
    fflush(stdout);
    int rc = htd_server_run(server);
    htd_server_free(server);
    return rc == 0 ? 0 : 1;
}
