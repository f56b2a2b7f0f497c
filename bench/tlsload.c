/* SPDX-License-Identifier: BSD-2-Clause */
/* bench/tlsload.c - TLS handshakes per second, for bench/run's workloads 16
 * and 17.
 *
 * Keeps N connections in flight from one thread (nonblocking sockets, one
 * epoll set). Each connection is a TCP connect, a TLS handshake, one
 * "GET PATH HTTP/1.1" with "Connection: close", the whole response read and
 * checked (200, as many body bytes as Content-Length says), a close_notify
 * and a close; then its slot starts the next connection at once. With -r a
 * slot offers a session the server gave one of its earlier connections, as a
 * returning browser does: the newest TLS 1.3 ticket it has not used yet (a
 * TLS 1.3 ticket is used once, as RFC 8446 asks of clients and browsers do;
 * a server sends one or more with every handshake, or none after a
 * resumption, as it likes), or its TLS 1.2 session, which is reused until the
 * server gives a new one. A slot with no session left makes a full handshake.
 * Without -r no session is ever offered, so every handshake is a full one.
 * The client never verifies the certificate chain (the handshake's signature
 * is still checked: OpenSSL always does).
 *
 *     cc -O2 -o tlsload bench/tlsload.c -lssl -lcrypto
 *     tlsload [-r] [-c CONNS] [-d SECONDS] [-p PATH] [-s SNI] [-V 1.2|1.3]
 *             [-T TIMEOUT] HOST PORT
 *
 * It prints one line, "tlsload: key value key value ...", for bench/run:
 * connections completed in the run (handshake, request and response all
 * done), their rate, how many offered a session and how many the server
 * resumed, errors by kind, latency percentiles (connect to the response's
 * last byte), the client's own CPU time, and the protocol, cipher and key
 * exchange group of the first completed connection. Connections still in
 * flight when the time is up are dropped and not counted.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { ST_IDLE, ST_CONNECT, ST_HANDSHAKE, ST_WRITE, ST_READ };
enum { E_CONNECT, E_HANDSHAKE, E_IO, E_STATUS, E_TIMEOUT, E_KINDS };
static const char *err_names[E_KINDS] = {"connect", "handshake", "io", "status", "timeout"};

#define HEAD_MAX 8192
#define POOL 4 /* sessions a slot keeps, newest last; older ones are dropped */

struct slot {
    int fd;
    SSL *ssl;
    int state;
    unsigned events;         /* what the fd is registered for in epoll */
    double t0;               /* when its connect started */
    SSL_SESSION *pool[POOL]; /* -r: sessions its connections got, not used yet */
    int npool;
    int offered;         /* this connection offered a session */
    char head[HEAD_MAX]; /* the response head, as it comes in */
    size_t head_len;
    int head_done;
    int status;
    long long body_want; /* Content-Length, or -1: read to the end */
    long long body_got;
};

static int resume, conns = 64, timeout_s = 10, max_version = TLS1_3_VERSION;
static double seconds = 5;
static const char *path = "/1k.bin", *sni;
static struct sockaddr_in addr;
static char request[1024];
static size_t request_len;
static int ep;
static SSL_CTX *ctx;

static long long done, offered, resumed, tickets, errors[E_KINDS], body_bytes;
static double *lat; /* µs, one per completed connection */
static size_t lat_n, lat_cap;
static char proto[32] = "-", cipher[64] = "-", group[32] = "-";
static int errors_shown;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what)
{
    fprintf(stderr, "tlsload: %s: %s\n", what, strerror(errno));
    exit(2);
}

/* The first few errors go to stderr with OpenSSL's reason, the rest are counted. */
static void show_error(int kind, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    if (errors_shown++ < 5) {
        char buf[256] = "";
        if (e) ERR_error_string_n(e, buf, sizeof buf);
        fprintf(stderr, "tlsload: %s error: %s%s%s\n", err_names[kind], what, e ? ": " : "", buf);
    }
    ERR_clear_error();
}

/* Every session the server gives is counted; with -r the slot keeps it. */
static int new_session(SSL *ssl, SSL_SESSION *sess)
{
    struct slot *s = SSL_get_app_data(ssl);
    tickets++;
    if (!resume || !s) return 0;
    if (s->npool == POOL) {
        SSL_SESSION_free(s->pool[0]);
        memmove(s->pool, s->pool + 1, (POOL - 1) * sizeof *s->pool);
        s->npool--;
    }
    s->pool[s->npool++] = sess;
    return 1; /* the reference is ours now */
}

static void want(struct slot *s, unsigned events)
{
    if (s->events == events) return;
    struct epoll_event ev = {.events = events, .data.ptr = s};
    if (epoll_ctl(ep, s->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s->fd, &ev) < 0) die("epoll_ctl");
    s->events = events;
}

static void drop(struct slot *s)
{
    if (s->ssl) {
        SSL_set_app_data(s->ssl, NULL);
        SSL_free(s->ssl);
        s->ssl = NULL;
    }
    if (s->fd >= 0) close(s->fd); /* also takes it out of the epoll set */
    s->fd = -1;
    s->events = 0;
    s->state = ST_IDLE;
}

static void fail(struct slot *s, int kind, const char *what)
{
    errors[kind]++;
    show_error(kind, what);
    drop(s);
}

static void start(struct slot *s)
{
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) die("socket");
    int one = 1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    s->t0 = now();
    s->head_len = 0;
    s->head_done = 0;
    s->status = 0;
    s->body_want = -1;
    s->body_got = 0;
    s->offered = 0;
    s->ssl = SSL_new(ctx);
    if (!s->ssl) {
        fprintf(stderr, "tlsload: SSL_new failed\n");
        exit(2);
    }
    SSL_set_app_data(s->ssl, s);
    SSL_set_fd(s->ssl, s->fd);
    SSL_set_connect_state(s->ssl);
    if (sni) SSL_set_tlsext_host_name(s->ssl, sni);
    if (resume && s->npool) {
        SSL_SESSION *sess = s->pool[s->npool - 1];
        SSL_set_session(s->ssl, sess); /* takes a reference of its own */
        s->offered = 1;
        if (SSL_SESSION_get_protocol_version(sess) >= TLS1_3_VERSION) {
            SSL_SESSION_free(sess); /* used once */
            s->npool--;
        }
    }
    if (connect(s->fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
        s->state = ST_HANDSHAKE;
    } else if (errno == EINPROGRESS) {
        s->state = ST_CONNECT;
    } else {
        fail(s, E_CONNECT, strerror(errno));
        return;
    }
    want(s, EPOLLOUT);
}

/* A complete response: count it, close politely, and go again. */
static void finish(struct slot *s)
{
    double us = (now() - s->t0) * 1e6;
    if (s->status != 200) {
        char what[64];
        snprintf(what, sizeof what, "status %d", s->status);
        fail(s, E_STATUS, what);
        return;
    }
    if (done == 0) {
        snprintf(proto, sizeof proto, "%s", SSL_get_version(s->ssl));
        snprintf(cipher, sizeof cipher, "%s", SSL_get_cipher_name(s->ssl));
        int nid = SSL_get_negotiated_group(s->ssl);
        const char *name = nid ? OBJ_nid2sn(nid & ~TLSEXT_nid_unknown) : NULL;
        snprintf(group, sizeof group, "%s", name ? name : "-");
    }
    done++;
    body_bytes += s->body_got;
    if (s->offered) offered++;
    if (SSL_session_reused(s->ssl)) resumed++;
    if (lat_n == lat_cap) {
        lat_cap = lat_cap ? lat_cap * 2 : 65536;
        lat = realloc(lat, lat_cap * sizeof *lat);
        if (!lat) die("realloc");
    }
    lat[lat_n++] = us;
    SSL_shutdown(s->ssl); /* our close_notify, once; the server's is not waited for */
    ERR_clear_error();
    drop(s);
}

/* The head is in s->head[0..head_len): status and Content-Length. */
static int parse_head(struct slot *s, size_t end)
{
    if (end < 12 || strncmp(s->head, "HTTP/1.", 7) != 0) return -1;
    s->status = atoi(s->head + 9);
    for (char *p = s->head; p && p < s->head + end;) {
        p = memchr(p, '\n', s->head + end - p);
        if (!p) break;
        p++;
        if (strncasecmp(p, "content-length:", 15) == 0) s->body_want = atoll(p + 15);
    }
    return 0;
}

/* What came after the head in buf[0..n) is body. */
static int take(struct slot *s, const char *buf, size_t n)
{
    if (!s->head_done) {
        size_t room = HEAD_MAX - s->head_len;
        size_t c = n < room ? n : room;
        memcpy(s->head + s->head_len, buf, c);
        size_t old = s->head_len;
        s->head_len += c;
        char *e = memmem(s->head, s->head_len, "\r\n\r\n", 4);
        if (!e) {
            if (s->head_len == HEAD_MAX) return -1;
            return 0;
        }
        size_t end = e - s->head + 4;
        if (parse_head(s, end) < 0) return -1;
        s->head_done = 1;
        s->body_got = (long long)(old + n) - (long long)end; /* body bytes in this read */
    } else {
        s->body_got += n;
    }
    return 0;
}

static void drive(struct slot *s)
{
    char buf[65536];
    int r, e;
    for (;;) {
        switch (s->state) {
        case ST_CONNECT: {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err) {
                fail(s, E_CONNECT, strerror(err));
                return;
            }
            s->state = ST_HANDSHAKE;
            break;
        }
        case ST_HANDSHAKE:
            r = SSL_connect(s->ssl);
            if (r == 1) {
                s->state = ST_WRITE;
                break;
            }
            e = SSL_get_error(s->ssl, r);
            if (e == SSL_ERROR_WANT_READ) {
                want(s, EPOLLIN);
                return;
            }
            if (e == SSL_ERROR_WANT_WRITE) {
                want(s, EPOLLOUT);
                return;
            }
            fail(s, E_HANDSHAKE,
                 e == SSL_ERROR_SYSCALL ? (errno ? strerror(errno) : "connection closed")
                                        : "SSL_connect");
            return;
        case ST_WRITE:
            r = SSL_write(s->ssl, request, (int)request_len);
            if (r > 0) {
                s->state = ST_READ;
                break;
            }
            e = SSL_get_error(s->ssl, r);
            if (e == SSL_ERROR_WANT_READ) {
                want(s, EPOLLIN);
                return;
            }
            if (e == SSL_ERROR_WANT_WRITE) {
                want(s, EPOLLOUT);
                return;
            }
            fail(s, E_IO, "SSL_write");
            return;
        case ST_READ:
            r = SSL_read(s->ssl, buf, sizeof buf);
            if (r > 0) {
                if (take(s, buf, r) < 0) {
                    fail(s, E_STATUS, "not an HTTP/1.x response head");
                    return;
                }
                if (s->head_done && s->body_want >= 0 && s->body_got >= s->body_want) {
                    if (s->body_got > s->body_want) {
                        fail(s, E_STATUS, "more body than Content-Length");
                        return;
                    }
                    finish(s);
                    return;
                }
                break;
            }
            e = SSL_get_error(s->ssl, r);
            if (e == SSL_ERROR_WANT_READ) {
                want(s, EPOLLIN);
                return;
            }
            if (e == SSL_ERROR_WANT_WRITE) {
                want(s, EPOLLOUT);
                return;
            }
            if (s->head_done && s->body_want < 0 &&
                (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL)) {
                finish(s); /* no length: the body ends with the connection */
                return;
            }
            fail(s, E_IO,
                 e == SSL_ERROR_ZERO_RETURN ? "closed before the whole response"
                 : e == SSL_ERROR_SYSCALL
                     ? (errno ? strerror(errno) : "EOF before the whole response")
                     : "SSL_read");
            return;
        default:
            return;
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double p)
{
    if (!lat_n) return 0;
    size_t i = (size_t)(p / 100.0 * (lat_n - 1) + 0.5);
    return lat[i] / 1000.0;
}

static void usage(void)
{
    fprintf(stderr, "usage: tlsload [-r] [-c CONNS] [-d SECONDS] [-p PATH] [-s SNI] [-V 1.2|1.3] "
                    "[-T TIMEOUT] HOST PORT\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "rc:d:p:s:V:T:")) != -1) {
        switch (opt) {
        case 'r':
            resume = 1;
            break;
        case 'c':
            conns = atoi(optarg);
            break;
        case 'd':
            seconds = atof(optarg);
            break;
        case 'p':
            path = optarg;
            break;
        case 's':
            sni = optarg;
            break;
        case 'T':
            timeout_s = atoi(optarg);
            break;
        case 'V':
            if (strcmp(optarg, "1.2") == 0)
                max_version = TLS1_2_VERSION;
            else if (strcmp(optarg, "1.3") == 0)
                max_version = TLS1_3_VERSION;
            else
                usage();
            break;
        default:
            usage();
        }
    }
    if (argc - optind != 2 || conns < 1 || seconds <= 0 || timeout_s < 1) usage();
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(atoi(argv[optind + 1]));
    if (inet_pton(AF_INET, argv[optind], &addr.sin_addr) != 1) usage();
    request_len = snprintf(request, sizeof request,
                           "GET %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n", path,
                           sni ? sni : argv[optind], argv[optind + 1]);
    if (request_len >= sizeof request) usage();
    signal(SIGPIPE, SIG_IGN);

    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        fprintf(stderr, "tlsload: SSL_CTX_new failed\n");
        return 2;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, max_version);
    /* sessions go to the callback (which counts them and, with -r, keeps the
     * newest per slot), never to a cache of OpenSSL's */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, new_session);

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    struct slot *slots = calloc(conns, sizeof *slots);
    struct epoll_event *evs = calloc(conns, sizeof *evs);
    if (!slots || !evs) die("calloc");
    double cpu0 = cpu_seconds(), t_start = now(), t_end = t_start + seconds;
    for (int i = 0; i < conns; i++) {
        slots[i].fd = -1;
        start(&slots[i]);
    }
    double t;
    while ((t = now()) < t_end) {
        int ms = (int)((t_end - t) * 1000) + 1;
        int n = epoll_wait(ep, evs, conns, ms < 100 ? ms : 100);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++)
            drive(evs[i].data.ptr);
        t = now();
        for (int i = 0; i < conns; i++) {
            struct slot *s = &slots[i];
            if (s->state != ST_IDLE && t - s->t0 > timeout_s)
                fail(s, E_TIMEOUT, "no response in time");
            if (s->state == ST_IDLE && t < t_end) start(s);
        }
    }
    double elapsed = now() - t_start, cpu = cpu_seconds() - cpu0;
    long long unfinished = 0;
    for (int i = 0; i < conns; i++) {
        if (slots[i].state != ST_IDLE) {
            unfinished++;
            drop(&slots[i]);
        }
        while (slots[i].npool)
            SSL_SESSION_free(slots[i].pool[--slots[i].npool]);
    }
    qsort(lat, lat_n, sizeof *lat, cmp_double);
    printf("tlsload: completed %lld seconds %.3f rate %.1f offered %lld resumed %lld full %lld "
           "tickets %lld",
           done, elapsed, done / elapsed, offered, resumed, done - resumed, tickets);
    for (int k = 0; k < E_KINDS; k++)
        printf(" err_%s %lld", err_names[k], errors[k]);
    printf(" unfinished %lld p50_ms %.3f p90_ms %.3f p99_ms %.3f max_ms %.3f client_cpu_s %.3f"
           " body_bytes %lld protocol %s cipher %s group %s\n",
           unfinished, pct(50), pct(90), pct(99), lat_n ? lat[lat_n - 1] / 1000.0 : 0.0, cpu,
           body_bytes, proto, cipher, group);
    SSL_CTX_free(ctx);
    free(slots);
    free(evs);
    free(lat);
    return done ? 0 : 1;
}
