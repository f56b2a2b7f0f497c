/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * upgrade.c - handing the listening sockets to a new program without
 * refusing or cutting a connection (nginx's binary upgrade on SIGUSR2).
 *
 * The running server starts the program with its listening sockets from
 * descriptor 3 on, named as socket activation names them (LISTEN_FDS and
 * LISTEN_PID, sd_listen_fds(3)), so the new server adopts them as it would
 * systemd's, and with one more descriptor, a pipe's writing end, in
 * HTD_UPGRADE_READY. Both serve the same sockets for a moment: a connection
 * waiting in a socket's queue is accepted by whichever asks first, and none
 * is lost, because no socket closes while a process holds it. Once the new
 * server serves, it writes one byte to the pipe, and the old one stops
 * gracefully (its connections finish); if the new program ends first, the
 * pipe reads as closed and the old one goes on alone.
 */
#include "upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

#define READY_VAR "HTD_UPGRADE_READY="
#define ENV_ADDED 4 /* LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES, HTD_UPGRADE_READY */

/* The variables this file sets, which the child must not get twice. */
static int ours(const char *e)
{
    static const char *const names[] = {"LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES=", READY_VAR};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strncmp(e, names[i], strlen(names[i])) == 0) return 1;
    return 0;
}

/* Decimal digits of v at p, NUL-terminated; async-signal-safe. */
static void put_decimal(char *p, long v)
{
    char d[24];
    int n = 0;
    do
        d[n++] = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    while (n > 0)
        *p++ = d[--n];
    *p = 0;
}

/* In the child, between fork and exec, where only async-signal-safe calls
 * may be made: fds[0..n) go to descriptors 3..3+n and ready to 3+n, every
 * other descriptor from there up is closed, and the program runs. */
static void child(const char *path, char *const argv[], char **envp, char *pid_at, const int *fds,
                  size_t n, int ready)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    put_decimal(pid_at, (long)getpid());
    int top = 3 + (int)n + 1, moved[UPGRADE_MAX_FDS + 1];
    /* Each through a copy above every target first: a source may sit where
     * another is going. */
    for (size_t i = 0; i <= n; i++)
        if ((moved[i] = fcntl(i < n ? fds[i] : ready, F_DUPFD, top)) < 0) _exit(127);
    for (size_t i = 0; i <= n; i++)
        if (dup2(moved[i], 3 + (int)i) < 0) _exit(127);
    syscall(SYS_close_range, (unsigned)top, ~0u, 0u);
    execve(path, argv, envp);
    _exit(127);
}

pid_t upgrade_spawn(const char *path, char *const argv[], const int *fds, size_t n,
                    const char *names, int *ready, char *err, size_t errlen)
{
    if (n == 0 || n > UPGRADE_MAX_FDS) {
        snprintf(err, errlen, "%zu listening sockets to hand over (at most %d)", n,
                 UPGRADE_MAX_FDS);
        return -1;
    }
    if (access(path, X_OK) < 0) {
        snprintf(err, errlen, "cannot run %s: %s", path, strerror(errno));
        return -1;
    }
    /* Everything the child needs is made here: after fork it may not
     * allocate. */
    size_t ne = 0;
    while (environ[ne])
        ne++;
    char **envp = malloc((ne + ENV_ADDED + 1) * sizeof *envp);
    char fdsvar[40], readyvar[40], pidvar[40] = "LISTEN_PID=";
    size_t namelen = strlen("LISTEN_FDNAMES=") + strlen(names) + 1;
    char *namesvar = malloc(namelen);
    int p[2];
    if (!envp || !namesvar || pipe2(p, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        free(envp);
        free(namesvar);
        return -1;
    }
    snprintf(namesvar, namelen, "LISTEN_FDNAMES=%s", names);
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (!ours(environ[i])) envp[k++] = environ[i];
    snprintf(fdsvar, sizeof fdsvar, "LISTEN_FDS=%zu", n);
    snprintf(readyvar, sizeof readyvar, READY_VAR "%zu", 3 + n);
    envp[k++] = fdsvar;
    envp[k++] = namesvar;
    envp[k++] = readyvar;
    envp[k++] = pidvar;
    envp[k] = NULL;
    pid_t pid = fork();
    if (pid == 0) child(path, argv, envp, pidvar + strlen(pidvar), fds, n, p[1]);
    int e = errno;
    free(envp);
    free(namesvar);
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        snprintf(err, errlen, "cannot start %s: %s", path, strerror(e));
        return -1;
    }
    *ready = p[0];
    return pid;
}

int upgrade_inherited(void)
{
    const char *v = getenv("HTD_UPGRADE_READY");
    if (!v) return -1;
    char *end;
    errno = 0;
    long fd = strtol(v, &end, 10);
    unsetenv("HTD_UPGRADE_READY"); /* not for scripts, nor for the next upgrade's child */
    if (errno || *end || fd < 3 || fd > 3 + UPGRADE_MAX_FDS) return -1;
    if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0) return -1;
    return (int)fd;
}

void upgrade_say_ready(int fd)
{
    if (fd < 0) return;
    (void)!write(fd, "1", 1);
    close(fd);
}
