/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * listen.h - listening addresses and their sockets.
 */
#ifndef HTD_LISTEN_H
#define HTD_LISTEN_H

#include <stddef.h>
#include <sys/socket.h>

typedef struct listen_addr {
    struct sockaddr_storage ss;
    socklen_t sslen;
    char name[80];      /* "127.0.0.1:8080", "[::1]:8080" */
    int proxy_protocol; /* connections start with a PROXY protocol header */
    int tls;            /* connections speak TLS (HTTPS) */
    int inherited;      /* from the service manager: one socket the workers share */
} listen_addr;

/* Splits "HOST:PORT", "[V6]:PORT" or "PORT" (host[0] then 0) into host (of
 * cap bytes) and *port, a number from 0 to 65535 in spec. -1 if it is not. */
int hostport_split(const char *spec, char *host, size_t cap, const char **port);
/* Parses "HOST:PORT", "[V6]:PORT" or "PORT", optionally followed by the
 * options " tls" or " proxy_protocol", into a; -1 with a reason. */
int listen_parse(const char *spec, listen_addr *a, char *err, size_t errlen);
/* Binds a once without SO_REUSEPORT, so that another program on the port
 * is reported instead of silently shared; names a. For port 0 it binds with
 * SO_REUSEPORT instead, learns the port the kernel picked, and gives the
 * socket in *keep (the first worker's: else -1). -1 with a reason. */
int listen_probe(listen_addr *a, int *keep, char *err, size_t errlen);
/* A nonblocking listening socket on a (reuseport: SO_REUSEPORT, one per
 * worker), or -1 with a reason. */
int listen_socket(listen_addr *a, int reuseport, char *err, size_t errlen);
/* How many listening sockets a service manager passed, from descriptor 3
 * on ($LISTEN_FDS, when $LISTEN_PID is this process; sd_listen_fds(3)),
 * or 0; their names ($LISTEN_FDNAMES, colon-separated) into names[0..cap)
 * ("" when none). The variables are removed from the environment. */
int listen_activated(char *names, size_t cap);
/* The options a socket's name gives: "http", "https", "http+proxy" or
 * "https+proxy" (an upgrade names them so; a unit may with
 * FileDescriptorName=). 0 with a's tls and proxy_protocol set, or -1 for
 * another name. */
int listen_options_of_name(const char *name, size_t len, listen_addr *a);
/* The name that says a's options. */
const char *listen_name_of_options(const listen_addr *a);
/* Takes the inherited socket fd as a listener: checks it is a listening
 * TCP socket, makes it nonblocking and close-on-exec, and names a after its
 * address (options 0). -1 with a reason. */
int listen_adopt(int fd, listen_addr *a, char *err, size_t errlen);
/* Whether a and b have the same port. */
int listen_same_port(const listen_addr *a, const listen_addr *b);

#endif
