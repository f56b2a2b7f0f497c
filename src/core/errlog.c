/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * errlog.c - the error log (errlog.h). Its state is the process's, like
 * standard error, which it replaces: the descriptor lines go to and the
 * level; both atomic, for the threads that write while the program sets
 * them up or reopens the file.
 */
#include "errlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_LEN 4096

static const char *const names[] = {"error", "warn", "notice", "info", "debug"};

static struct {
    atomic_int fd;    /* where lines go: STDERR_FILENO, or a file opened O_APPEND */
    atomic_int level; /* lines up to this level are written */
    char path[4096];  /* the file's, to reopen it; "" for standard error */
} elog = {STDERR_FILENO, ERRLOG_NOTICE, ""};

int errlog_level_of(const char *name)
{
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

static int open_file(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

int errlog_open(const char *path, int level, char *err, size_t errlen)
{
    int fd = STDERR_FILENO;
    if (path && strcmp(path, "stderr") != 0) {
        if (strlen(path) >= sizeof elog.path) {
            snprintf(err, errlen, "the error log's path is too long");
            return -1;
        }
        if ((fd = open_file(path)) < 0) {
            snprintf(err, errlen, "cannot open the error log %s: %s", path, strerror(errno));
            return -1;
        }
    }
    int old = atomic_exchange(&elog.fd, fd);
    if (old != STDERR_FILENO && old != fd) close(old);
    snprintf(elog.path, sizeof elog.path, "%s", fd == STDERR_FILENO ? "" : path);
    atomic_store(&elog.level, level);
    return 0;
}

int errlog_reopen(char *err, size_t errlen)
{
    int cur = atomic_load(&elog.fd);
    if (cur == STDERR_FILENO || !elog.path[0]) return 0;
    int fd = open_file(elog.path);
    if (fd < 0) {
        snprintf(err, errlen, "cannot reopen the error log %s: %s; still writing the old file",
                 elog.path, strerror(errno));
        return -1;
    }
    dup3(fd, cur, O_CLOEXEC);
    close(fd);
    return 0;
}

int errlog_wants(int level)
{
    return level <= atomic_load_explicit(&elog.level, memory_order_relaxed);
}

void errlog_vctx(int level, const char *ctx, const char *fmt, va_list ap)
{
    if (!errlog_wants(level)) return;
    if (level < ERRLOG_ERROR) level = ERRLOG_ERROR;
    if (level > ERRLOG_DEBUG) level = ERRLOG_DEBUG;
    char line[LINE_MAX_LEN];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof line, "%Y/%m/%d %H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, ".%03ld [%s] %s%s", ts.tv_nsec / 1000000,
                          names[level], ctx ? ctx : "", ctx ? " " : "");
    int k = vsnprintf(line + n, sizeof line - n, fmt, ap);
    if (k < 0) k = 0;
    n = n + (size_t)k < sizeof line - 1 ? n + (size_t)k : sizeof line - 2;
    /* A message is one line: a newline in it (a script's text) would let
     * what follows pass for a line of its own. */
    for (size_t i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
    line[n++] = '\n';
    /* One write, so lines never interleave; a full disk loses the line. */
    ssize_t w = write(atomic_load_explicit(&elog.fd, memory_order_relaxed), line, n);
    (void)w;
}

void errlog_ctx(int level, const char *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    errlog_vctx(level, ctx, fmt, ap);
    va_end(ap);
}

void errlog(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    errlog_vctx(level, NULL, fmt, ap);
    va_end(ap);
}
