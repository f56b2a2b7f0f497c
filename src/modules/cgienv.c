/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cgienv.c - a CGI program's environment and its start (cgienv.h).
 */
#include "cgienv.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fields.h"
#include "loop.h"

void env_add(envb *e, const char *name, const char *v, size_t vlen)
{
    size_t nl = strlen(name);
    if (e->n == ENV_MAX || e->used + nl + vlen + 2 > sizeof e->buf) {
        e->full = 1;
        return;
    }
    char *p = e->buf + e->used;
    memcpy(p, name, nl);
    p[nl] = '=';
    memcpy(p + nl + 1, v, vlen);
    p[nl + 1 + vlen] = 0;
    e->vars[e->n++] = p;
    e->used += nl + vlen + 2;
}

void env_str(envb *e, const char *name, const char *v)
{
    env_add(e, name, v, strlen(v));
}

void env_end(envb *e)
{
    const char *path = getenv("PATH");
    env_str(e, "PATH", path ? path : "/usr/local/bin:/usr/bin:/bin");
    e->vars[e->n] = NULL;
}

void env_addr_str(const struct sockaddr_storage *ss, char *host, size_t hcap, char *port,
                  size_t pcap)
{
    host[0] = port[0] = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, (socklen_t)hcap);
        snprintf(port, pcap, "%u", ntohs(a->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
            inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], host, (socklen_t)hcap);
        else
            inet_ntop(AF_INET6, &a->sin6_addr, host, (socklen_t)hcap);
        snprintf(port, pcap, "%u", ntohs(a->sin6_port));
    }
}

void env_headers(envb *e, const htd_header *hd, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        htd_str name = hd[i].name;
        if (htd_str_ieq(name, "proxy", 5) || htd_str_ieq(name, "authorization", 13) ||
            htd_str_ieq(name, "content-length", 14) || htd_str_ieq(name, "content-type", 12) ||
            memchr(name.p, '_', name.len) || name.len > 100)
            continue;
        int seen = 0;
        for (size_t k = 0; k < i && !seen; k++)
            seen = hd[k].name.len == name.len && strncasecmp(hd[k].name.p, name.p, name.len) == 0;
        if (seen) continue;
        char var[108] = "HTTP_";
        for (size_t k = 0; k < name.len; k++) {
            char ch = name.p[k];
            var[5 + k] = ch == '-' ? '_' : ch >= 'a' && ch <= 'z' ? (char)(ch - 32) : ch;
        }
        var[5 + name.len] = 0;
        char val[RBUF_SIZE]; /* a head is at most RBUF_SIZE: every value fits */
        size_t vl = 0;
        for (size_t k = i; k < n; k++) {
            if (hd[k].name.len != name.len || strncasecmp(hd[k].name.p, name.p, name.len) != 0)
                continue;
            if (vl && vl + 2 < sizeof val) {
                memcpy(val + vl, ", ", 2);
                vl += 2;
            }
            size_t m = hd[k].value.len < sizeof val - vl ? hd[k].value.len : sizeof val - vl;
            memcpy(val + vl, hd[k].value.p, m);
            vl += m;
        }
        env_add(e, var, val, vl);
    }
}

int cgi_spawn(const char *path, char *const argv[], char *const envp[], const char *dir, int in,
              int out, int err, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in, 0);
    posix_spawn_file_actions_adddup2(&fa, out, 1);
    posix_spawn_file_actions_adddup2(&fa, err, 2);
    if (dir) posix_spawn_file_actions_addchdir_np(&fa, dir);
    posix_spawnattr_init(&at);
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    int dsigs[] = {SIGPIPE, SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGCHLD, SIGXFSZ};
    for (size_t i = 0; i < sizeof dsigs / sizeof dsigs[0]; i++)
        sigaddset(&dfl, dsigs[i]);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    loop_sharing_fds(); /* until its exec, the child holds copies of every descriptor */
    int rc = posix_spawn(pid, path, &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return rc;
}
