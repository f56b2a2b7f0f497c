/*
 * hello.c - htd embedded in a program of its own: /hello and /echo answered
 * by the program's handlers, every other path served as static files from ROOT.
 *
 *   build/examples/hello ROOT HOST:PORT
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "htd.h"

static htd_server *server;

static void on_signal(int sig)
{
    (void)sig;
    htd_server_stop(server);
}

static int hello(htd_req *req, void *arg)
{
    (void)arg;
    htd_str m = htd_req_method(req);
    if (!(m.len == 3 && memcmp(m.p, "GET", 3) == 0) && !(m.len == 4 && memcmp(m.p, "HEAD", 4) == 0))
        return HTD_DECLINED; /* the static handler answers 405 */
    static const char msg[] = "Hello from an embedded htd\n";
    htd_resp_header(req, "Cache-Control", "no-store");
    htd_respond(req, 200, "text/plain; charset=utf-8", msg, sizeof msg - 1);
    return HTD_DONE;
}

/* POST /echo answers with the request body: htd has read all of it (de-chunked,
 * after a 100 Continue if the client asked for one) before the handler runs. */
static int echo(htd_req *req, void *arg)
{
    (void)arg;
    htd_str m = htd_req_method(req);
    if (!(m.len == 4 && memcmp(m.p, "POST", 4) == 0)) return HTD_DECLINED;
    htd_str body = htd_req_body(req);
    htd_respond(req, 200, "application/octet-stream", body.p, body.len);
    return HTD_DONE;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s ROOT HOST:PORT\n", argv[0]);
        return 2;
    }
    const char *listen[] = {argv[2]};
    htd_config cfg = {.root = argv[1], .listen = listen, .nlisten = 1, .threads = 1};
    char err[256];
    if (!(server = htd_server_new(&cfg, err, sizeof err))) {
        fprintf(stderr, "hello: %s\n", err);
        return 2;
    }
    htd_server_handle(server, "/hello", hello, NULL);
    htd_server_handle(server, "/echo", echo, NULL);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("htd " HTD_VERSION " serving %s at http://%s/\n", argv[1], htd_server_address(server, 0));
    fflush(stdout);
    int rc = htd_server_run(server);
    htd_server_free(server);
    return rc == 0 ? 0 : 1;
}
