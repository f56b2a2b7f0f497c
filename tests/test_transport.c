/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_transport.c - plain TCP's transport over a socketpair (and, for
 * MSG_MORE, which only TCP heeds, over loopback TCP): reads and the end of
 * the stream, EAGAIN both ways, vectored writes in order, a write with more
 * held back until one without, a range of a file by sendfile, a pipe's
 * bytes by splice (and left in the pipe when the socket is full), shutdown seen
 * by the peer as the end of the stream, no SIGPIPE from a write, close, and
 * nothing ever pending.
 */
#include "test.h"
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static transport *const t = &transport_plain;

/* sv[0] the server's end, nonblocking as a connection's is; sv[1] the
 * client's, blocking. */
static int unix_pair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return -1;
    return fcntl(sv[0], F_SETFL, O_NONBLOCK);
}

static int tcp_pair(int sv[2])
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    sv[0] = sv[1] = -1;
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ls >= 0 && bind(ls, (struct sockaddr *)&a, sizeof a) == 0 && listen(ls, 1) == 0 &&
        getsockname(ls, (struct sockaddr *)&a, &alen) == 0 &&
        (sv[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 &&
        connect(sv[1], (struct sockaddr *)&a, sizeof a) == 0)
        sv[0] = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (ls >= 0) close(ls);
    return sv[0] < 0 ? -1 : 0;
}

static void close_pair(int sv[2])
{
    close(sv[0]);
    close(sv[1]);
}

/* Reads exactly len bytes from the client's end, waiting at most 2 s for
 * each piece: len, or what came before the wait ran out or the stream ended. */
static size_t peer_read(int fd, char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 2000) != 1) break;
        ssize_t n = read(fd, buf + got, len - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    return got;
}

/* Does the client's end read the end of the stream (within 2 s)? */
static int at_end(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char c;
    return poll(&p, 1, 2000) == 1 && read(fd, &c, 1) == 0;
}

TEST(read_returns_what_the_peer_wrote_then_eagain)
{
    int sv[2];
    CHECK_EQ_INT(unix_pair(sv), 0);
    char buf[64];
    errno = 0;
    CHECK_EQ_INT(transport_read(t, sv[0], buf, sizeof buf), -1);
    CHECK_EQ_INT(errno, EAGAIN);
    CHECK_EQ_INT(write(sv[1], "GET / HTTP/1.1\r\n", 16), 16);
    ssize_t n = transport_read(t, sv[0], buf, sizeof buf);
    CHECK_STR(buf, n, "GET / HTTP/1.1\r\n");
    errno = 0;
    CHECK_EQ_INT(transport_read(t, sv[0], buf, sizeof buf), -1);
    CHECK_EQ_INT(errno, EAGAIN);
    CHECK_EQ_INT(transport_pending(t), 0);
    close_pair(sv);
}

TEST(read_returns_0_once_the_peer_has_closed)
{
    int sv[2];
    CHECK_EQ_INT(unix_pair(sv), 0);
    CHECK_EQ_INT(write(sv[1], "ab", 2), 2);
    close(sv[1]);
    char buf[8];
    ssize_t n = transport_read(t, sv[0], buf, sizeof buf);
    CHECK_STR(buf, n, "ab");
    CHECK_EQ_INT(transport_read(t, sv[0], buf, sizeof buf), 0);
    close(sv[0]);
}

TEST(writev_sends_the_pieces_in_order)
{
    int sv[2];
    CHECK_EQ_INT(unix_pair(sv), 0);
    struct iovec iov[3] = {
        {"HTTP/1.1 200 OK\r\n", 17}, {"Content-Length: 2\r\n\r\n", 21}, {"hi", 2}};
    CHECK_EQ_INT(transport_writev(t, sv[0], iov, 3, 0), 40);
    char buf[64];
    size_t n = peer_read(sv[1], buf, 40);
    CHECK_STR(buf, n, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
    close_pair(sv);
}

/* Bytes the kernel holds in fd's send queue, not yet sent. */
static int unsent(int fd)
{
    int n = -1;
    return ioctl(fd, SIOCOUTQNSD, &n) < 0 ? -1 : n;
}

TEST(writev_with_more_holds_a_head_back_until_a_write_without)
{
    int sv[2];
    CHECK_EQ_INT(tcp_pair(sv), 0);
    struct iovec head = {"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n", 38};
    CHECK_EQ_INT(transport_writev(t, sv[0], &head, 1, 1), 38);
    CHECK_EQ_INT(unsent(sv[0]), 38); /* MSG_MORE: corked, waiting for the body */
    struct iovec body = {"body", 4};
    CHECK_EQ_INT(transport_writev(t, sv[0], &body, 1, 0), 4);
    char buf[64];
    size_t n = peer_read(sv[1], buf, 42);
    CHECK_STR(buf, n, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody");
    CHECK_EQ_INT(unsent(sv[0]), 0);
    close_pair(sv);
}

/* An unlinked file holding data[0..len). */
static int temp_file(const void *data, size_t len)
{
    char path[] = "/tmp/htd-test-transport-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    CHECK_EQ_INT(write(fd, data, len), len);
    return fd;
}

TEST(sendfile_sends_a_range_of_a_file_and_advances_the_offset)
{
    char data[1000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)('a' + i % 26);
    int file = temp_file(data, sizeof data);
    int sv[2];
    CHECK_EQ_INT(unix_pair(sv), 0);

    off_t off = 100;
    CHECK_EQ_INT(transport_sendfile(t, sv[0], file, &off, 300), 300);
    CHECK_EQ_INT(off, 400);
    char buf[300];
    CHECK_EQ_INT(peer_read(sv[1], buf, 300), 300);
    CHECK(memcmp(buf, data + 100, 300) == 0);
    CHECK_EQ_INT(lseek(file, 0, SEEK_CUR), sizeof data); /* the file's offset is not used */

    off = sizeof data; /* the file ends there: it shrank under the caller */
    CHECK_EQ_INT(transport_sendfile(t, sv[0], file, &off, 10), 0);
    CHECK_EQ_INT(off, sizeof data);
    close_pair(sv);
    close(file);
}

TEST(splice_moves_a_pipes_bytes_to_the_socket_in_order)
{
    char data[3000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)('a' + i % 26);
    int sv[2], pp[2];
    CHECK_EQ_INT(tcp_pair(sv), 0);
    CHECK_EQ_INT(pipe2(pp, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK(transport_can_splice(t));
    CHECK_EQ_INT(write(pp[1], data, sizeof data), sizeof data);

    CHECK_EQ_INT(transport_splice(t, sv[0], pp[0], 1000, 0), 1000);
    char buf[3000];
    CHECK_EQ_INT(peer_read(sv[1], buf, 1000), 1000);
    CHECK(memcmp(buf, data, 1000) == 0);
    CHECK_EQ_INT(transport_splice(t, sv[0], pp[0], 2000, 0), 2000);
    CHECK_EQ_INT(peer_read(sv[1], buf, 2000), 2000);
    CHECK(memcmp(buf, data + 1000, 2000) == 0);
    /* An empty pipe is "not now", not the end. */
    errno = 0;
    CHECK_EQ_INT(transport_splice(t, sv[0], pp[0], 10, 0), -1);
    CHECK_EQ_INT(errno, EAGAIN);
    close(pp[0]);
    close(pp[1]);
    close_pair(sv);
}

TEST(shutdown_is_the_end_of_the_stream_for_the_peer_and_reading_goes_on)
{
    int sv[2];
    CHECK_EQ_INT(unix_pair(sv), 0);
    struct iovec iov = {"bye\n", 4};
    CHECK_EQ_INT(transport_writev(t, sv[0], &iov, 1, 0), 4);
    CHECK_EQ_INT(transport_shutdown(t, sv[0]), 0);
    char buf[16];
    size_t n = peer_read(sv[1], buf, 4);
    CHECK_STR(buf, n, "bye\n");
    CHECK(at_end(sv[1]));
    /* The client's last bytes can still be drained (CS_LINGER). */
    CHECK_EQ_INT(write(sv[1], "late", 4), 4);
    ssize_t k = transport_read(t, sv[0], buf, sizeof buf);
    CHECK_STR(buf, k, "late");
    close_pair(sv);
}

TEST(a_write_after_the_end_fails_with_epipe_and_raises_no_sigpipe)
{
    int sv[2];
    CHECK_EQ_INT(unix_pair(sv), 0);
    close(sv[1]);
    sigset_t sigpipe, old, pending;
    sigemptyset(&sigpipe);
    sigaddset(&sigpipe, SIGPIPE);
    sigprocmask(SIG_BLOCK, &sigpipe, &old);
    struct iovec iov = {"x", 1};
    errno = 0;
    CHECK_EQ_INT(transport_writev(t, sv[0], &iov, 1, 0), -1);
    CHECK_EQ_INT(errno, EPIPE);
    sigpending(&pending);
    CHECK(!sigismember(&pending, SIGPIPE));
    if (sigismember(&pending, SIGPIPE)) sigwaitinfo(&sigpipe, NULL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(sv[0]);
}

TEST(writes_to_a_full_socket_say_eagain)
{
    int sv[2];
    CHECK_EQ_INT(unix_pair(sv), 0);
    static char chunk[65536];
    struct iovec iov = {chunk, sizeof chunk};
    ssize_t n;
    int writes = 0;
    while ((n = transport_writev(t, sv[0], &iov, 1, 0)) > 0 && writes < 10000)
        writes++;
    CHECK_EQ_INT(n, -1);
    CHECK_EQ_INT(errno, EAGAIN);

    int file = temp_file(chunk, sizeof chunk);
    off_t off = 0;
    errno = 0;
    CHECK_EQ_INT(transport_sendfile(t, sv[0], file, &off, sizeof chunk), -1);
    CHECK_EQ_INT(errno, EAGAIN);
    CHECK_EQ_INT(off, 0);

    /* A pipe's bytes stay in the pipe. */
    int pp[2];
    CHECK_EQ_INT(pipe2(pp, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_EQ_INT(write(pp[1], chunk, 4096), 4096);
    errno = 0;
    CHECK_EQ_INT(transport_splice(t, sv[0], pp[0], 4096, 0), -1);
    CHECK_EQ_INT(errno, EAGAIN);
    int held = 0;
    CHECK_EQ_INT(ioctl(pp[0], FIONREAD, &held), 0);
    CHECK_EQ_INT(held, 4096);
    close(pp[0]);
    close(pp[1]);
    CHECK_EQ_INT(transport_pending(t), 0);
    close(file);
    close_pair(sv);
}

TEST(close_closes_the_socket)
{
    int sv[2];
    CHECK_EQ_INT(unix_pair(sv), 0);
    transport_close(t, sv[0]);
    errno = 0;
    CHECK_EQ_INT(fcntl(sv[0], F_GETFD), -1);
    CHECK_EQ_INT(errno, EBADF);
    CHECK(at_end(sv[1]));
    close(sv[1]);
}

int main(void)
{
    RUN_TESTS();
}
