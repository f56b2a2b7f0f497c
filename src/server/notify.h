/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * notify.h - telling a service manager (systemd) how the server is doing,
 * by its notification protocol, without libsystemd.
 */
#ifndef HTD_NOTIFY_H
#define HTD_NOTIFY_H

#include <sys/socket.h>
#include <sys/un.h>

typedef struct notify {
    int fd; /* -1: no manager is listening ($NOTIFY_SOCKET unset), and sends cost nothing */
    struct sockaddr_un addr;
    socklen_t addrlen;
} notify;

/* Opens the datagram socket $NOTIFY_SOCKET names (a path, or an abstract
 * name when it starts with '@'); n->fd is -1 when it is unset or unusable. */
void notify_open(notify *n);
void notify_close(notify *n);
/* Sends msg ("READY=1", "STATUS=...", several lines at once) if a manager
 * listens. Async-signal-safe: one sendto, nothing else. */
void notify_send(const notify *n, const char *msg);
/* RELOADING=1 with MONOTONIC_USEC= (the clock now), as Type=notify-reload
 * (systemd 253) wants it. */
void notify_reloading(const notify *n);

#endif
