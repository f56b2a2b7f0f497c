/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * listen.c - listening addresses: "HOST:PORT" parsed and resolved, probed
 * once alone, then one SO_REUSEPORT socket per worker thread; or sockets
 * inherited from a service manager (socket activation).
 */
#include "listen.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_BACKLOG 4096
#define NOTSENT_LOWAT (16 * 1024) /* bytes queued unsent before a socket is not writable */

/* Splits "HOST:PORT", "[V6]:PORT" or "PORT", then options after a space,
 * and resolves it. */
int hostport_split(const char *spec, char *host, size_t cap, const char **port)
{
    const char *colon = strrchr(spec, ':');
    host[0] = 0;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':' || (size_t)(close - spec - 1) >= cap) return -1;
        memcpy(host, spec + 1, (size_t)(close - spec - 1));
        host[close - spec - 1] = 0;
        *port = close + 2;
    } else if (colon) {
        if ((size_t)(colon - spec) >= cap) return -1;
        memcpy(host, spec, (size_t)(colon - spec));
        host[colon - spec] = 0;
        *port = colon + 1;
    } else {
        *port = spec;
    }
    char *end;
    errno = 0;
    long p = strtol(*port, &end, 10);
    return !**port || *end || errno || p < 0 || p > 65535 ? -1 : 0;
}

int listen_parse(const char *whole, listen_addr *a, char *err, size_t errlen)
{
    char spec[300];
    size_t n = strcspn(whole, " ");
    if (n >= sizeof spec) {
        snprintf(err, errlen, "bad listen address '%s': too long", whole);
        return -1;
    }
    memcpy(spec, whole, n);
    spec[n] = 0;
    a->proxy_protocol = 0;
    a->tls = 0;
    for (const char *o = whole + n; *o;) {
        o += strspn(o, " ");
        size_t k = strcspn(o, " ");
        if (k == 14 && memcmp(o, "proxy_protocol", 14) == 0)
            a->proxy_protocol = 1;
        else if (k == 3 && memcmp(o, "tls", 3) == 0)
            a->tls = 1;
        else if (k) {
            snprintf(err, errlen, "bad listen option '%.*s' in '%s' (known: tls, proxy_protocol)",
                     (int)k, o, whole);
            return -1;
        }
        o += k;
    }
    /* The PROXY header comes before the handshake, in the clear: a reading
     * of it beneath the TLS transport is not there yet. */
    if (a->tls && a->proxy_protocol) {
        snprintf(err, errlen, "'%s': tls and proxy_protocol on one listener are not supported yet",
                 whole);
        return -1;
    }
    char host[256] = "";
    const char *port;
    if (hostport_split(spec, host, sizeof host, &port) < 0) goto bad;

    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", spec, gai_strerror(rc));
        return -1;
    }
    /* With no host, prefer IPv4's 0.0.0.0 as nginx does. */
    struct addrinfo *pick = res;
    for (struct addrinfo *ai = res; ai && !host[0]; ai = ai->ai_next)
        if (ai->ai_family == AF_INET) pick = ai;
    memcpy(&a->ss, pick->ai_addr, pick->ai_addrlen);
    a->sslen = pick->ai_addrlen;
    freeaddrinfo(res);
    return 0;
bad:
    snprintf(err, errlen, "bad listen address '%s': expected HOST:PORT, [IPV6]:PORT or PORT", spec);
    return -1;
}

static void name_addr(listen_addr *a)
{
    char h[INET6_ADDRSTRLEN + 2], p[8];
    getnameinfo((struct sockaddr *)&a->ss, a->sslen, h, sizeof h, p, sizeof p,
                NI_NUMERICHOST | NI_NUMERICSERV);
    if (a->ss.ss_family == AF_INET6)
        snprintf(a->name, sizeof a->name, "[%s]:%s", h, p);
    else
        snprintf(a->name, sizeof a->name, "%s:%s", h, p);
}

static void tune(int fd);
static void defer_accept(int fd);

int listen_socket(listen_addr *a, int reuseport, char *err, size_t errlen)
{
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a socket for %s: %s", a->name, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (a->ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    tune(fd);
    if (bind(fd, (struct sockaddr *)&a->ss, a->sslen) < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", a->name,
                 errno == EADDRINUSE ? "address already in use" : strerror(errno));
        close(fd);
        return -1;
    }
    if (listen(fd, LISTEN_BACKLOG) < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", a->name, strerror(errno));
        close(fd);
        return -1;
    }
    defer_accept(fd);
    return fd;
}

int listen_probe(listen_addr *a, int *keep, char *err, size_t errlen)
{
    name_addr(a);
    *keep = -1;
    const struct sockaddr_in *in4 = (const struct sockaddr_in *)&a->ss;
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;
    int any = a->ss.ss_family == AF_INET ? in4->sin_port == 0 : in6->sin6_port == 0;
    /* Port 0: the kernel's pick is nobody else's, and the socket that got it
     * is kept as the first of the group, so that no other socket (a
     * client's, say) takes the port between this and the workers' binds. */
    int fd = listen_socket(a, any, err, errlen);
    if (fd < 0) return -1;
    socklen_t len = sizeof a->ss;
    getsockname(fd, (struct sockaddr *)&a->ss, &len);
    a->sslen = len;
    if (any)
        *keep = fd;
    else
        close(fd);
    name_addr(a);
    return 0;
}

/* What every listening socket gets, bound here or inherited. */
static void tune(int fd)
{
    int one = 1;
    /* Accepted sockets inherit it: a response written in pieces (a script's,
     * a compressed file's) must not wait on Nagle for its last small one.
     * Whole responses go out in one write (MSG_MORE where a file follows). */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* Inherited too: a socket is writable again only when less than this is
     * queued and not yet sent, so a large file goes out from our own turns
     * rather than piling up megabytes in the kernel, which the receiver's
     * ACKs then push out on its time (on loopback, its CPU). It does not
     * limit what is in flight. Measured with bench/run (bench/README.md,
     * "Large files"): with the kernel's default (no limit) the mixed-size
     * workload ran at 34,000-37,000 requests/s and 19-22 us a request, with
     * 16 KiB at 43,600-45,100 and 13.4-13.6 us. */
    int lowat = NOTSENT_LOWAT;
    setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
}

static void defer_accept(int fd)
{
    /* Wake us only once the request has arrived. */
    int secs = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof secs);
}

int listen_activated(char *names, size_t cap)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS"),
               *fdnames = getenv("LISTEN_FDNAMES");
    names[0] = 0;
    if (!pid || !fds) return 0;
    char *end;
    errno = 0;
    long p = strtol(pid, &end, 10);
    if (errno || *end || p != (long)getpid()) return 0; /* meant for another process */
    long n = strtol(fds, &end, 10);
    if (errno || *end || n <= 0 || n > 1024) return 0;
    if (fdnames) snprintf(names, cap, "%s", fdnames);
    /* Taken: neither a script nor a program started from here may think
     * they are its own. */
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return (int)n;
}

int listen_adopt(int fd, listen_addr *a, char *err, size_t errlen)
{
    int listening = 0, type = 0;
    socklen_t ln = sizeof listening, lt = sizeof type;
    a->sslen = sizeof a->ss;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ln) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &lt) < 0 ||
        getsockname(fd, (struct sockaddr *)&a->ss, &a->sslen) < 0) {
        snprintf(err, errlen, "socket activation: descriptor %d: %s", fd, strerror(errno));
        return -1;
    }
    if (!listening || type != SOCK_STREAM ||
        (a->ss.ss_family != AF_INET && a->ss.ss_family != AF_INET6)) {
        snprintf(err, errlen,
                 "socket activation: descriptor %d is not a listening TCP socket "
                 "(ListenStream= of an IP address and port)",
                 fd);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        snprintf(err, errlen, "socket activation: descriptor %d: %s", fd, strerror(errno));
        return -1;
    }
    tune(fd);
    defer_accept(fd);
    name_addr(a);
    return 0;
}

int listen_same_port(const listen_addr *a, const listen_addr *b)
{
    const struct sockaddr_in *a4 = (const struct sockaddr_in *)&a->ss,
                             *b4 = (const struct sockaddr_in *)&b->ss;
    const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&a->ss,
                              *b6 = (const struct sockaddr_in6 *)&b->ss;
    in_port_t pa = a->ss.ss_family == AF_INET ? a4->sin_port : a6->sin6_port;
    in_port_t pb = b->ss.ss_family == AF_INET ? b4->sin_port : b6->sin6_port;
    return pa == pb;
}

static const char *const option_names[] = {"http", "https", "http+proxy", "https+proxy"};

int listen_options_of_name(const char *name, size_t len, listen_addr *a)
{
    for (int i = 0; i < 4; i++)
        if (strlen(option_names[i]) == len && memcmp(option_names[i], name, len) == 0) {
            a->tls = i & 1;
            a->proxy_protocol = i >> 1;
            return 0;
        }
    return -1;
}

const char *listen_name_of_options(const listen_addr *a)
{
    return option_names[(a->tls ? 1 : 0) | (a->proxy_protocol ? 2 : 0)];
}
