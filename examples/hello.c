/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hello.c - htd embedded in a program of its own: /hello, /echo and /request
 * answered by the program's handlers, every other path served as static
 * files from ROOT (and a config file's vhosts, if one is given). /count?N
 * streams N lines piece by piece (/page?N in one piece), /sendfile/NAME sends ROOT/NAME with
 * sendfile through the handler API. With gzip or brotli on in the config,
 * htd codes what the handlers answer, as it does files. An access
 * handler guards /hello/private and files under /private: without the
 * header "X-Key: sesame" they are 403.
 *
 *   build/examples/hello ROOT HOST:PORT [CONFIG]
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "htd.h"

static htd_server *server;

static void on_signal(int sig)
{
    (void)sig;
    htd_server_stop(server);
}

static int is(htd_str s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

/* In the access phase, before any content: refuse, or let the request go on. */
static int guard(htd_req *req, void *arg)
{
    (void)arg;
    if (is(htd_req_header(req, "x-key"), "sesame")) return HTD_DECLINED;
    static const char msg[] = "this needs the key\n";
    htd_respond(req, 403, "text/plain; charset=utf-8", msg, sizeof msg - 1);
    return HTD_DONE;
}

static int hello(htd_req *req, void *arg)
{
    (void)arg;
    htd_str m = htd_req_method(req);
    if (!is(m, "GET") && !is(m, "HEAD")) return HTD_DECLINED; /* the static handler answers 405 */
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
    if (!is(htd_req_method(req), "POST")) return HTD_DECLINED;
    htd_str body = htd_req_body(req);
    htd_respond(req, 200, "application/octet-stream", body.p, body.len);
    return HTD_DONE;
}

/* Writes "A SEP B\n" at out, unless out is NULL; its length either way. */
static size_t line(char *out, htd_str a, const char *sep, htd_str b)
{
    size_t sl = strlen(sep);
    if (out) {
        memcpy(out, a.p, a.len);
        memcpy(out + a.len, sep, sl);
        memcpy(out + a.len + sl, b.p, b.len);
        out[a.len + sl + b.len] = '\n';
    }
    return a.len + sl + b.len + 1;
}

#define STR(lit) ((htd_str){lit, sizeof lit - 1})

/* GET /request answers with what htd tells a handler of its request: a
 * line "NAME=VALUE" each for the method, the target, the version, the host
 * as sent, the vhost chosen and the client's address, then an empty line
 * and the header fields in the order sent. The body is measured, then
 * written into the request's memory, which goes when the request ends. */
static int request(htd_req *req, void *arg)
{
    (void)arg;
    if (!is(htd_req_method(req), "GET")) return HTD_DECLINED;
    char version[16];
    snprintf(version, sizeof version, "%d", htd_req_version(req));
    const htd_str about[][2] = {
        {STR("method"), htd_req_method(req)},         {STR("target"), htd_req_target(req)},
        {STR("version"), {version, strlen(version)}}, {STR("host"), htd_req_host(req)},
        {STR("vhost"), htd_req_vhost(req)},           {STR("peer"), htd_req_peer_addr(req)},
    };
    char *body = NULL;
    size_t len = 0;
    for (int pass = 0; pass < 2; pass++) { /* measure, then write */
        len = 0;
        for (size_t i = 0; i < sizeof about / sizeof about[0]; i++)
            len += line(body ? body + len : NULL, about[i][0], "=", about[i][1]);
        len += line(body ? body + len : NULL, STR(""), "", STR(""));
        htd_str name, value;
        for (size_t i = 0; htd_req_header_at(req, i, &name, &value) == 0; i++)
            len += line(body ? body + len : NULL, name, ": ", value);
        if (!body && !(body = htd_req_alloc(req, len))) {
            htd_respond(req, 500, "text/plain", "out of memory\n", 14);
            return HTD_DONE;
        }
    }
    htd_respond(req, 200, "text/plain; charset=utf-8", body, len);
    return HTD_DONE;
}

/* GET /count?N: N lines, one per call of the stream's next (streamed). */
typedef struct counter {
    long at, to;
} counter;

static int count_next(htd_req *req, void *arg)
{
    counter *k = arg;
    char line[32];
    int n = snprintf(line, sizeof line, "line %ld\n", ++k->at);
    htd_stream_write(req, line, (size_t)n);
    return k->at < k->to ? HTD_MORE : HTD_DONE;
}

static int count(htd_req *req, void *arg)
{
    (void)arg;
    htd_str q = htd_req_query(req);
    char num[16] = "0";
    if (q.len && q.len < sizeof num) memcpy(num, q.p, q.len), num[q.len] = 0;
    counter *k = htd_req_alloc(req, sizeof *k); /* lasts as long as the stream */
    if (!k) return HTD_DECLINED;
    *k = (counter){0, atol(num)};
    if (k->to <= 0) k->to = 1;
    /* The same N gives the same lines: they have an entity-tag. */
    char tag[40];
    snprintf(tag, sizeof tag, "\"count-%ld\"", k->to);
    htd_resp_header(req, "ETag", tag);
    htd_respond_stream(req, 200, "text/plain; charset=utf-8", count_next, NULL, k);
    return HTD_DONE;
}

/* GET /page?N: the same N lines as /count, written in one piece by one
 * call of next (a stream whose body is ready at once). */
static int page_next(htd_req *req, void *arg)
{
    counter *k = arg;
    size_t cap = (size_t)k->to * 24, len = 0;
    char *body = htd_req_alloc(req, cap);
    if (!body) return HTD_DONE;
    for (long i = 1; i <= k->to; i++)
        len += (size_t)snprintf(body + len, cap - len, "line %ld\n", i);
    htd_stream_write(req, body, len);
    return HTD_DONE;
}

static int page(htd_req *req, void *arg)
{
    (void)arg;
    htd_str q = htd_req_query(req);
    char num[16] = "0";
    if (q.len && q.len < sizeof num) memcpy(num, q.p, q.len), num[q.len] = 0;
    counter *k = htd_req_alloc(req, sizeof *k);
    if (!k) return HTD_DECLINED;
    *k = (counter){0, atol(num)};
    if (k->to <= 0 || k->to > 1000000) k->to = 1;
    htd_respond_stream(req, 200, "text/plain; charset=utf-8", page_next, NULL, k);
    return HTD_DONE;
}

/* POST /measure[?LIMIT]: the body taken as it comes (no max_body), its
 * length and a checksum answered at its end; past LIMIT bytes, 413 at
 * once. */
typedef struct measure {
    unsigned long long len, sum, limit;
} measure;

static void measure_data(htd_req *req, const char *p, size_t len, void *arg)
{
    measure *m = arg;
    char out[96];
    if (!p) { /* the end */
        int n = snprintf(out, sizeof out, "%llu bytes, sum %llu\n", m->len, m->sum);
        htd_respond(req, 200, "text/plain; charset=utf-8", out, (size_t)n);
        return;
    }
    for (size_t i = 0; i < len; i++)
        m->sum += (unsigned char)p[i];
    m->len += len;
    if (m->limit && m->len > m->limit) {
        static const char big[] = "too large\n";
        htd_respond(req, 413, "text/plain; charset=utf-8", big, sizeof big - 1);
    }
}

static int measure_body(htd_req *req, void *arg)
{
    (void)arg;
    if (!is(htd_req_method(req), "POST")) return HTD_DECLINED;
    measure *m = htd_req_alloc(req, sizeof *m); /* lasts as long as the request */
    if (!m) return HTD_DECLINED;
    htd_str q = htd_req_query(req);
    char num[24] = "0";
    if (q.len && q.len < sizeof num) memcpy(num, q.p, q.len), num[q.len] = 0;
    *m = (measure){0, 0, strtoull(num, NULL, 10)};
    if (htd_req_read_body(req, measure_data, NULL, m) < 0) return HTD_DECLINED;
    return HTD_DONE; /* answered at the body's end */
}

/* GET /sendfile/NAME: ROOT/NAME through htd_respond_file (sendfile). */
static int send_file(htd_req *req, void *arg)
{
    const char *root = arg;
    htd_str p = htd_req_path(req);
    char path[4096];
    snprintf(path, sizeof path, "%s%.*s", root, (int)(p.len - 9), p.p + 9);
    int fd = strstr(path, "/.") ? -1 : open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) close(fd);
        return HTD_DECLINED; /* a 404 from the static files */
    }
    size_t n = strlen(path);
    const char *type = n > 4 && strcmp(path + n - 4, ".txt") == 0 ? "text/plain; charset=utf-8"
                                                                  : "application/octet-stream";
    htd_respond_file(req, 200, type, fd, 0, (uint64_t)st.st_size);
    return HTD_DONE;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s ROOT HOST:PORT [CONFIG]\n", argv[0]);
        return 2;
    }
    const char *listen[] = {argv[2]};
    htd_config cfg = {.root = argv[1], .listen = listen, .nlisten = 1, .threads = 1};
    if (argc == 4) cfg.config_file = argv[3];
    char err[256];
    if (!(server = htd_server_new(&cfg, err, sizeof err))) {
        fprintf(stderr, "hello: %s\n", err);
        return 2;
    }
    htd_server_handle_phase(server, HTD_PHASE_ACCESS, "/hello/private", guard, NULL);
    htd_server_handle_phase(server, HTD_PHASE_ACCESS, "/private", guard, NULL);
    htd_server_handle(server, "/hello", hello, NULL);
    htd_server_handle(server, "/echo", echo, NULL);
    htd_server_handle(server, "/request", request, NULL);
    htd_server_handle(server, "/count", count, NULL);
    htd_server_handle(server, "/page", page, NULL);
    htd_server_handle_phase(server, HTD_PHASE_CONTENT | HTD_BODY_STREAMED, "/measure", measure_body,
                            NULL);
    htd_server_handle(server, "/sendfile/", send_file, argv[1]);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("htd " HTD_VERSION " serving %s at http://%s/\n", argv[1],
           htd_server_address(server, 0));
    fflush(stdout);
    int rc = htd_server_run(server);
    htd_server_free(server);
    return rc == 0 ? 0 : 1;
}
