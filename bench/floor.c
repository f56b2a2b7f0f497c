/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * floor.c - the kernel's floor for the keep-alive workloads: one epoll loop
 * that answers every read with a fixed 1 KiB response from memory, with no
 * parsing, no files and no timers. Whatever CPU it spends per request is
 * the part no HTTP server can remove. bench/run runs it as the server
 * "floor" (bench/run --servers htd,floor --workloads 1); by hand:
 * cc -O2 -o /tmp/floor bench/floor.c && taskset -c 0 /tmp/floor PORT
 * It reads and writes with the cheapest calls a socket has, recv(2) and
 * send(2), which skip the file layer that read(2) and write(2) go through.
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 18099;
    static char resp[2048];
    int hl =
        snprintf(resp, sizeof resp,
                 "HTTP/1.1 200 OK\r\nServer: floor\r\nContent-Type: application/octet-stream\r\n"
                 "Content-Length: 1024\r\n\r\n");
    memset(resp + hl, 'x', 1024);
    size_t rl = (size_t)hl + 1024;
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 4096) < 0) {
        perror("floor: bind");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls}, evs[256];
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    char buf[16384];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                int c;
                while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    struct epoll_event ce = {.events = EPOLLIN | EPOLLET, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                }
                continue;
            }
            ssize_t r = recv(fd, buf, sizeof buf, 0);
            if (r <= 0) {
                close(fd);
                continue;
            }
            if (send(fd, resp, rl, MSG_NOSIGNAL) < 0) close(fd);
        }
    }
}
