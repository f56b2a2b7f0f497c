/* SPDX-License-Identifier: BSD-2-Clause */
/* bench/probe.c - how long other clients wait for a small file while a
 * server is loaded: bench/run's probe beside the compression workloads (10
 * and 24), where wrk keeps the server's one core busy compressing large
 * bodies.
 *
 * Open loop: request i is due at start + i / RATE, whatever became of the
 * ones before, and its latency runs from when it was due to the last byte
 * of its response, so a stall of the server shows in full instead of
 * delaying the schedule (no coordinated omission). The requests go out on
 * CONNS keep-alive connections of the probe's own: a request due goes out
 * on an idle one; if none is idle it waits for the first to come free (and
 * the wait is in its latency; such requests are counted as waited), or,
 * with MAXCONNS above CONNS, a new connection is opened for it, as a new
 * client would. A request not answered within TIMEOUT_MS of its due time is
 * a timeout error, and its connection is closed and opened again; it counts
 * in the percentiles at the timeout (a lower bound), so that a server that
 * loses requests does not look faster for it. Other errors are not in them.
 * Every response must be 200 with a Content-Length, no Content-Encoding or
 * Transfer-Encoding, and (with -f) exactly the file's bytes; anything else
 * is a status error and closes the connection.
 *
 * With -w WAIT it first opens all CONNS connections and completes one
 * request on each, one after the other (so the server has accepted them
 * all), prints "ready", and starts the schedule WAIT seconds later: bench/run
 * starts wrk when it reads that line. A failure there, or a warm-up longer
 * than the timeout, ends the probe with a message.
 *
 * It wakes by a timerfd at each due time. The lag of a send that found a
 * connection idle (when it went out against when it was due) is the probe's
 * own lateness, reported apart: a large lag means the probe itself was not
 * running, and its figures are not the server's. bench/run runs it on the
 * client core (not the server's) at a real-time priority; it sleeps between
 * requests and never waits on a timer set in the past.
 *
 *     cc -O2 -o probe bench/probe.c -lm
 *     probe [-r RATE] [-c CONNS] [-m MAXCONNS] [-d SECONDS] [-T TIMEOUT_MS] [-p PATH]
 *           [-f FILE] [-w WAIT] HOST PORT
 *
 * At the end it prints one line, "probe: key value key value ...": requests
 * scheduled, sent and completed, errors by kind, how many latencies the
 * percentiles are of (completed and timed out), the percentiles (nearest
 * rank) and mean in ms, how many sends found no connection idle
 * (waited), the other sends' lag (p99, max), connections opened beyond CONNS
 * and reopened after errors, and its rate, connections at the end, running
 * time (from the schedule's start) and CPU time.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum { C_DOWN, C_CONNECTING, C_IDLE, C_BUSY };
enum { E_CONNECT, E_IO, E_STATUS, E_TIMEOUT, E_KINDS };
static const char *err_names[E_KINDS] = {"connect", "io", "status", "timeout"};

#define BUF_MAX (64 * 1024)
#define CONNS_MAX 1024

struct conn {
    int fd;
    int state;
    unsigned events;
    long req;          /* C_BUSY: the request it carries */
    double retry_at;   /* C_DOWN: when to connect again */
    double idle_since; /* C_IDLE: since when */
    size_t wrote;      /* bytes of the request sent */
    char *buf;         /* the response so far */
    size_t len;
};

static double rate = 200, seconds = 4, timeout_s = 2, warm_wait = -1;
static int nconns = 4, maxconns = 256; /* open now; at most */
static const char *path = "/1k.bin", *file;
static struct sockaddr_in addr;
static char request[512];
static size_t request_len;
static char *want_body;
static long long want_len = -1;
static int ep, tfd;
static struct conn conns[CONNS_MAX];

static double t0;
static long total, next_req; /* requests scheduled; the next one not sent yet */
static long long completed, sent, waited, reconnects, opened, errors[E_KINDS];
/* ms: latency per completed request, and the timeout for each that timed
 * out (so that the percentiles count it, at least that long); lag of each
 * send that found an idle connection (the probe's own lateness) */
static double *lat, *lag;
static long lat_n, lag_n;
static long errors_shown;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double due(long i)
{
    return t0 + i / rate;
}

static void die(const char *what)
{
    fprintf(stderr, "probe: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void count_error(int kind, const char *what)
{
    errors[kind]++;
    if (errors_shown++ < 5) fprintf(stderr, "probe: %s error: %s\n", err_names[kind], what);
}

static void want(struct conn *c, unsigned events)
{
    if (c->events == events) return;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(ep, c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
    c->events = events;
}

/* Close the connection; it is opened again at once (after a connect error,
 * 50 ms later). */
static void drop(struct conn *c, double retry_at)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->events = 0;
    c->state = C_DOWN;
    c->retry_at = retry_at;
    c->len = 0;
}

static void fail(struct conn *c, int kind, const char *what)
{
    count_error(kind, what);
    drop(c, now() + (kind == E_CONNECT ? 0.05 : 0));
}

static void open_conn(struct conn *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) die("socket");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->len = 0;
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
        c->state = C_IDLE;
        c->idle_since = now();
        want(c, EPOLLIN);
    } else if (errno == EINPROGRESS) {
        c->state = C_CONNECTING;
        want(c, EPOLLOUT);
    } else {
        fail(c, E_CONNECT, strerror(errno));
    }
}

static void send_more(struct conn *c)
{
    while (c->wrote < request_len) {
        ssize_t n = send(c->fd, request + c->wrote, request_len - c->wrote, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN) {
                want(c, EPOLLIN | EPOLLOUT);
                return;
            }
            fail(c, E_IO, strerror(errno));
            return;
        }
        c->wrote += n;
    }
    want(c, EPOLLIN);
}

static void start_request(struct conn *c, long i, double t)
{
    c->state = C_BUSY;
    c->req = i;
    c->wrote = 0;
    c->len = 0;
    if (c->idle_since > due(i))
        waited++; /* no connection was idle when it was due */
    else
        lag[lag_n++] = (t - due(i)) * 1e3;
    sent++;
    send_more(c);
}

/* The response is in c->buf[0..len): complete (1), not yet (0) or wrong (-1, what says why). */
static int response_done(struct conn *c, const char **what, int *closes)
{
    char *e = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!e) {
        if (c->len == BUF_MAX) return *what = "head too long", -1;
        return 0;
    }
    size_t head = e - c->buf + 4;
    if (head < 12 || strncmp(c->buf, "HTTP/1.1 ", 9) != 0) return *what = "not HTTP/1.1", -1;
    if (atoi(c->buf + 9) != 200) return *what = "status not 200", -1;
    long long cl = -1;
    *closes = 0;
    for (char *p = c->buf; p && p < c->buf + head;) {
        p = memchr(p, '\n', c->buf + head - p);
        if (!p) break;
        p++;
        if (strncasecmp(p, "content-length:", 15) == 0) cl = atoll(p + 15);
        if (strncasecmp(p, "content-encoding:", 17) == 0) return *what = "Content-Encoding", -1;
        if (strncasecmp(p, "transfer-encoding:", 18) == 0) return *what = "Transfer-Encoding", -1;
        if (strncasecmp(p, "connection:", 11) == 0) {
            char line[128];
            char *eol = memchr(p, '\n', c->buf + head - p);
            size_t n = eol ? (size_t)(eol - p) : 0;
            if (n >= sizeof line) n = sizeof line - 1;
            memcpy(line, p, n);
            line[n] = 0;
            if (strcasestr(line, "close")) *closes = 1;
        }
    }
    if (cl < 0) return *what = "no Content-Length", -1;
    if (want_len >= 0 && cl != want_len) return *what = "wrong Content-Length", -1;
    if (c->len < head + cl) {
        if (head + cl > BUF_MAX) return *what = "body too long", -1;
        return 0;
    }
    if (c->len > head + cl) return *what = "bytes after the response", -1;
    if (want_body && memcmp(c->buf + head, want_body, cl) != 0) return *what = "wrong body", -1;
    return 1;
}

static void readable(struct conn *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->buf + c->len, BUF_MAX - c->len, 0);
        if (n < 0) {
            if (errno == EAGAIN) return;
            fail(c, E_IO, strerror(errno));
            return;
        }
        if (n == 0) {
            if (c->state == C_BUSY)
                fail(c, E_IO, "closed before the whole response");
            else
                drop(c, now()); /* an idle connection closed: open another */
            return;
        }
        if (c->state != C_BUSY) {
            fail(c, E_IO, "bytes nobody asked for");
            return;
        }
        c->len += n;
        const char *what = NULL;
        int closes = 0;
        int r = response_done(c, &what, &closes);
        if (r < 0) {
            fail(c, E_STATUS, what);
            return;
        }
        if (r == 1) {
            lat[lat_n++] = (now() - due(c->req)) * 1e3;
            completed++;
            c->state = C_IDLE;
            c->idle_since = now();
            c->len = 0;
            if (closes) drop(c, now());
            return;
        }
        if (c->len == BUF_MAX) {
            fail(c, E_STATUS, "response too long");
            return;
        }
    }
}

static void event(struct conn *c, unsigned ev)
{
    if (c->state == C_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            fail(c, E_CONNECT, strerror(err));
            return;
        }
        c->state = C_IDLE;
        c->idle_since = now();
        want(c, EPOLLIN);
        return;
    }
    if (c->state == C_BUSY && (ev & EPOLLOUT) && c->wrote < request_len) {
        send_more(c);
        if (c->state != C_BUSY) return;
    }
    if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) readable(c);
}

/* Arm the timer for the earliest of: the next request's due time (if a
 * connection is idle to take it; else a connection's event wakes the loop),
 * a busy request's timeout, the next request's timeout, a closed
 * connection's reconnect. Never in the past unless something is to be done
 * now: the probe may run at a real-time priority, and must not spin. */
static void arm(double t)
{
    double at = 1e300;
    int idle = 0;
    for (int i = 0; i < nconns; i++)
        idle |= conns[i].state == C_IDLE;
    if (next_req < total && idle) at = due(next_req);
    for (int i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        if (c->state == C_BUSY && due(c->req) + timeout_s < at) at = due(c->req) + timeout_s;
        if (c->state == C_DOWN && c->retry_at < at) at = c->retry_at;
    }
    if (next_req < total && due(next_req) + timeout_s < at) at = due(next_req) + timeout_s;
    if (at < t) at = t;
    if (at > 1e299) at = t + 0.1;
    struct itimerspec its = {0};
    its.it_value.tv_sec = (time_t)at;
    its.it_value.tv_nsec = (long)((at - (time_t)at) * 1e9);
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
    if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0) die("timerfd_settime");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest value with at least p% of the values at or below it. */
static double pct(const double *v, long n, double p)
{
    if (!n) return 0;
    long i = (long)ceil(p / 100.0 * n) - 1;
    if (i < 0) i = 0;
    return v[i];
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void usage(void)
{
    fprintf(stderr, "usage: probe [-r RATE] [-c CONNS] [-m MAXCONNS] [-d SECONDS] [-T TIMEOUT_MS] "
                    "[-p PATH] [-f FILE] [-w WAIT] HOST PORT\n");
    exit(2);
}

/* -w: open every connection and complete one request on each, one after the
 * other, before the schedule, so that the server has accepted them all
 * before the load starts. Any failure, or all of it taking longer than the
 * timeout, ends the probe. */
static void warm_up(void)
{
    double start = now();
    struct timeval tv = {.tv_sec = (time_t)timeout_s,
                         .tv_usec = (long)((timeout_s - (time_t)timeout_s) * 1e6)};
    for (int i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0) die("socket");
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("warm-up: connect");
        if (send(c->fd, request, request_len, MSG_NOSIGNAL) != (ssize_t)request_len)
            die("warm-up: send");
        c->len = 0;
        const char *what = NULL;
        int closes = 0, r = 0;
        while (r == 0) {
            ssize_t n = recv(c->fd, c->buf + c->len, BUF_MAX - c->len, 0);
            if (n <= 0) die(n == 0 ? "warm-up: closed" : "warm-up: recv");
            c->len += n;
            r = response_done(c, &what, &closes);
            if (r == 0 && now() - start > timeout_s) {
                fprintf(stderr, "probe: warm-up: no response within the timeout\n");
                exit(2);
            }
        }
        if (r < 0 || closes) {
            fprintf(stderr, "probe: warm-up: %s\n",
                    r < 0 ? what : "the server closes the connection");
            exit(2);
        }
        if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) < 0) die("fcntl");
        c->len = 0;
        c->state = C_IDLE;
        c->idle_since = now();
        want(c, EPOLLIN);
    }
    if (now() - start > timeout_s) {
        fprintf(stderr, "probe: warm-up took longer than the timeout\n");
        exit(2);
    }
}

static void read_file(const char *name)
{
    int fd = open(name, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) die(name);
    if (st.st_size > BUF_MAX / 2) {
        fprintf(stderr, "probe: %s is too large\n", name);
        exit(2);
    }
    want_body = malloc(st.st_size + 1);
    if (!want_body) die("malloc");
    if (read(fd, want_body, st.st_size) != st.st_size) die(name);
    want_len = st.st_size;
    close(fd);
}

int main(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "r:c:m:d:T:p:f:w:")) != -1) {
        switch (opt) {
        case 'r':
            rate = atof(optarg);
            break;
        case 'c':
            nconns = atoi(optarg);
            break;
        case 'm':
            maxconns = atoi(optarg);
            break;
        case 'd':
            seconds = atof(optarg);
            break;
        case 'T':
            timeout_s = atof(optarg) / 1000.0;
            break;
        case 'p':
            path = optarg;
            break;
        case 'f':
            file = optarg;
            break;
        case 'w':
            warm_wait = atof(optarg);
            break;
        default:
            usage();
        }
    }
    if (argc - optind != 2 || rate <= 0 || seconds <= 0 || timeout_s <= 0 || nconns < 1 ||
        maxconns < nconns || maxconns > CONNS_MAX)
        usage();
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)atoi(argv[optind + 1]));
    if (inet_pton(AF_INET, argv[optind], &addr.sin_addr) != 1) usage();
    request_len =
        (size_t)snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s:%s\r\n\r\n", path,
                         argv[optind], argv[optind + 1]);
    if (file) read_file(file);
    signal(SIGPIPE, SIG_IGN);

    total = (long)(seconds * rate);
    lat = calloc(total + 1, sizeof *lat);
    lag = calloc(total + 1, sizeof *lag);
    if (!lat || !lag) die("calloc");
    ep = epoll_create1(EPOLL_CLOEXEC);
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (ep < 0 || tfd < 0) die("epoll_create1/timerfd_create");
    struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev) < 0) die("epoll_ctl");

    double cpu0 = cpu_seconds();
    for (int i = 0; i < nconns; i++) {
        conns[i].fd = -1;
        conns[i].buf = malloc(BUF_MAX);
        if (!conns[i].buf) die("malloc");
    }
    if (warm_wait >= 0) {
        warm_up();
        printf("ready\n");
        fflush(stdout);
        t0 = now() + warm_wait;
    } else {
        t0 = now();
        for (int i = 0; i < nconns; i++)
            open_conn(&conns[i]);
    }
    struct epoll_event evs[CONNS_MAX + 1];
    for (;;) {
        double t = now();
        /* what waited past the timeout: a request in flight, or one not sent yet */
        for (int i = 0; i < nconns; i++) {
            if (conns[i].state == C_BUSY && t > due(conns[i].req) + timeout_s) {
                lat[lat_n++] = timeout_s * 1e3;
                fail(&conns[i], E_TIMEOUT, "no response within the timeout");
            }
        }
        while (next_req < total && t > due(next_req) + timeout_s) {
            lat[lat_n++] = timeout_s * 1e3;
            count_error(E_TIMEOUT, "no connection came free within the timeout");
            next_req++;
        }
        for (int i = 0; i < nconns; i++)
            if (conns[i].state == C_DOWN && t >= conns[i].retry_at) {
                reconnects++;
                open_conn(&conns[i]);
            }
        /* what is due goes out, oldest first, each on the connection idle the
         * longest (so a request waited only if none was idle when it was due) */
        while (next_req < total && due(next_req) <= t) {
            struct conn *c = NULL;
            for (int i = 0; i < nconns; i++)
                if (conns[i].state == C_IDLE && (!c || conns[i].idle_since < c->idle_since))
                    c = &conns[i];
            if (!c) break;
            start_request(c, next_req++, t);
        }
        /* what is due and found none idle gets a new connection, as a new
         * client would, rather than wait for one of these to come free */
        long waiting = 0;
        int coming = 0;
        while (next_req + waiting < total && due(next_req + waiting) <= t)
            waiting++;
        for (int i = 0; i < nconns; i++)
            coming += conns[i].state == C_CONNECTING || conns[i].state == C_DOWN;
        while (waiting > coming && nconns < maxconns) {
            struct conn *c = &conns[nconns++];
            c->fd = -1;
            c->buf = malloc(BUF_MAX);
            if (!c->buf) die("malloc");
            opened++;
            open_conn(c);
            coming++;
        }
        int busy = 0;
        for (int i = 0; i < nconns; i++)
            busy |= conns[i].state == C_BUSY;
        if (next_req >= total && !busy) break;
        arm(t);
        int n = epoll_wait(ep, evs, CONNS_MAX + 1, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            if (!evs[i].data.ptr) {
                uint64_t x;
                if (read(tfd, &x, sizeof x) < 0 && errno != EAGAIN) die("read timerfd");
                continue;
            }
            event(evs[i].data.ptr, evs[i].events);
        }
    }
    double took = now() - t0, cpu = cpu_seconds() - cpu0;

    qsort(lat, lat_n, sizeof *lat, cmp_double);
    qsort(lag, lag_n, sizeof *lag, cmp_double);
    double sum = 0;
    for (long i = 0; i < lat_n; i++)
        sum += lat[i];
    printf("probe: scheduled %ld sent %lld completed %lld", total, sent, completed);
    for (int k = 0; k < E_KINDS; k++)
        printf(" err_%s %lld", err_names[k], errors[k]);
    printf(" measured %ld p50_ms %.3f p90_ms %.3f p99_ms %.3f max_ms %.3f mean_ms %.3f", lat_n,
           pct(lat, lat_n, 50), pct(lat, lat_n, 90), pct(lat, lat_n, 99),
           lat_n ? lat[lat_n - 1] : 0.0, lat_n ? sum / lat_n : 0.0);
    printf(" waited %lld lag_p99_ms %.3f lag_max_ms %.3f opened %lld reconnects %lld", waited,
           pct(lag, lag_n, 99), lag_n ? lag[lag_n - 1] : 0.0, opened, reconnects);
    printf(" rate %.1f conns %d seconds %.3f client_cpu_s %.3f\n", rate, nconns, took, cpu);
    return 0;
}
