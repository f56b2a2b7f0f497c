/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * notify.c - the service manager's notification protocol (sd_notify(3)):
 * each state is one datagram of "KEY=VALUE" lines to the AF_UNIX socket
 * named by $NOTIFY_SOCKET. The socket is opened once, at the server's
 * creation, so that a send is a single sendto and nothing at all when no
 * manager asked for them.
 */
#include "notify.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void notify_open(notify *n)
{
    n->fd = -1;
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || (path[0] != '/' && path[0] != '@')) return;
    size_t len = strlen(path);
    if (len < 2 || len > sizeof n->addr.sun_path) return;
    memset(&n->addr, 0, sizeof n->addr);
    n->addr.sun_family = AF_UNIX;
    memcpy(n->addr.sun_path, path, len);
    if (path[0] == '@') n->addr.sun_path[0] = 0; /* abstract: no file, no terminating NUL */
    n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '/'));
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
}

void notify_close(notify *n)
{
    if (n->fd >= 0) close(n->fd);
    n->fd = -1;
}

void notify_send(const notify *n, const char *msg)
{
    if (n->fd < 0) return;
    /* A manager that has gone or whose queue is full loses a state; the
     * server goes on serving either way. */
    (void)!sendto(n->fd, msg, strlen(msg), MSG_NOSIGNAL, (const struct sockaddr *)&n->addr,
                  n->addrlen);
}

void notify_reloading(const notify *n)
{
    if (n->fd < 0) return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char msg[80];
    snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
    notify_send(n, msg);
}
