/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * transport.c - plain TCP, the first transport (see transport.h): each
 * function is the one system call a connection made before there were
 * transports, with the same flags, so that a keep-alive request still costs
 * one read and one send or sendmsg.
 */
#include "transport.h"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

static ssize_t plain_read(transport *t, int fd, void *buf, size_t len)
{
    (void)t;
    /* recv(2) rather than read(2): the same bytes without the file layer
     * (about 30 ns a call here). */
    return recv(fd, buf, len, 0);
}

static ssize_t plain_writev(transport *t, int fd, const struct iovec *iov, int cnt, int more)
{
    (void)t;
    int flags = MSG_NOSIGNAL | (more ? MSG_MORE : 0);
    /* One piece, the usual keep-alive response: send(2) spares the kernel
     * copying in a msghdr and an iovec (about 0.2 us a request here). */
    if (cnt == 1) return send(fd, iov[0].iov_base, iov[0].iov_len, flags);
    /* sendmsg rather than writev for its flags; it does not write to iov. */
    struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)cnt};
    return sendmsg(fd, &mh, flags);
}

static ssize_t plain_sendfile(transport *t, int fd, int file_fd, off_t *off, size_t len)
{
    (void)t;
    return sendfile(fd, file_fd, off, len);
}

static ssize_t plain_splice(transport *t, int fd, int pipe_fd, size_t len, int more)
{
    (void)t;
    /* Like sendfile, splice has no flag against SIGPIPE (see transport.h). */
    unsigned flags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK | (more ? SPLICE_F_MORE : 0);
    return splice(pipe_fd, NULL, fd, NULL, len, flags);
}

static int plain_shutdown(transport *t, int fd)
{
    (void)t;
    return shutdown(fd, SHUT_WR);
}

static void plain_close(transport *t, int fd)
{
    (void)t;
    close(fd);
}

static unsigned plain_pending(const transport *t)
{
    (void)t;
    return 0;
}

static const transport_ops plain_ops = {
    .read = plain_read,
    .writev = plain_writev,
    .sendfile = plain_sendfile,
    .splice = plain_splice,
    .shutdown = plain_shutdown,
    .close = plain_close,
    .pending = plain_pending,
};

transport transport_plain = {.ops = &plain_ops};
