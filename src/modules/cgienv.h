/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cgienv.h - what running a program as a CGI script (RFC 3875) takes,
 * whoever runs it: the scripts of a request (cgi.c) and the commands of a
 * job queue (queue_run.c). The environment's variables, and the spawn in a
 * process group of its own.
 */
#ifndef HTD_CGIENV_H
#define HTD_CGIENV_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "context.h"
#include "parser.h"

/* Room for every header field of the largest head, twice over (names grow
 * by "HTTP_"), and the fixed variables. */
#define ENV_MAX (HTD_MAX_HEADERS + 48)
#define ENV_BYTES (2 * RBUF_SIZE + 8192)

typedef struct envb {
    char *vars[ENV_MAX + 1]; /* NULL-terminated once env_end is called */
    size_t n;
    char buf[ENV_BYTES];
    size_t used;
    int full; /* something did not fit: the program must not run without it */
} envb;

void env_add(envb *e, const char *name, const char *v, size_t vlen);
void env_str(envb *e, const char *name, const char *v);
/* PATH as htd's, and the terminating NULL. */
void env_end(envb *e);
/* The address ss as text (no reverse lookup) and its port. */
void env_addr_str(const struct sockaddr_storage *ss, char *host, size_t hcap, char *port,
                  size_t pcap);
/* The header fields hd[0..n) as HTTP_* variables, repeated fields joined
 * with ", ". Not: Proxy (httpoxy: programs take HTTP_PROXY for their
 * proxy), Authorization (the credentials are the server's business),
 * Content-Length and Content-Type (given as CONTENT_*), and names with '_',
 * which would pass for the '-' spelling of another field. */
void env_headers(envb *e, const htd_header *hd, size_t n);

/* Starts path with argv and envp in a process group of its own (a kill of
 * the group takes its children too), with default signal dispositions and
 * none blocked, fds in, out and err as its standard input, output and
 * error, in directory dir (NULL: htd's). 0 with *pid, or an errno. */
int cgi_spawn(const char *path, char *const argv[], char *const envp[], const char *dir, int in,
              int out, int err, pid_t *pid);

#endif
