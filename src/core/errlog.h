/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * errlog.h - the error log: what goes wrong (and, at lower levels, what
 * happens) while htd serves, one line each, to standard error or a file.
 *
 * A line is the local time with milliseconds, the level in brackets, what
 * it is about when there is something (a connection, a request id: the
 * context the caller gives), then the message:
 *
 *   2026/12/01 02:30:00.123 [error] #c12 0f3c...e9 htd: cgi /x.sh: killed
 *
 * It is the process's, as standard error is: one per program, set up
 * before the server starts (by the last htd_server_new that names one) and
 * shared by every thread. Each line is one write(2) on an O_APPEND
 * descriptor, so lines from threads never interleave. Messages above the
 * level cost one comparison. Program output (usage, --check-config, the
 * CLI tools, the serving line) is not the error log.
 */
#ifndef HTD_ERRLOG_H
#define HTD_ERRLOG_H

#include <stdarg.h>
#include <stddef.h>

enum { ERRLOG_ERROR, ERRLOG_WARN, ERRLOG_NOTICE, ERRLOG_INFO, ERRLOG_DEBUG };

/* The level of a name ("error", "warn", "notice", "info", "debug"), or -1. */
int errlog_level_of(const char *name);

/* Sends the error log to path ("stderr" or NULL: standard error), keeping
 * lines up to level. 0, or -1 with why in err (the file cannot be opened):
 * the log is then unchanged. */
int errlog_open(const char *path, int level, char *err, size_t errlen);
/* Opens the file again (after rotation): the new file takes the old
 * descriptor's number, so threads writing at that moment are never
 * confused. 0 (also for standard error), or -1 with why in err. */
int errlog_reopen(char *err, size_t errlen);
/* Whether a message of level would be written. */
int errlog_wants(int level);

/* One line at level: ctx (or NULL) says what it is about. */
void errlog_ctx(int level, const char *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void errlog_vctx(int level, const char *ctx, const char *fmt, va_list ap);
/* One line at level about nothing in particular. */
void errlog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
