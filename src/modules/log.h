/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * log.h - access logs: a format compiled once from an nginx-style template
 * ("combined", "common" or "$remote_addr ... $status ..."), lines buffered
 * per loop and per file, written in whole lines so that threads sharing one
 * file never interleave.
 */
#ifndef HTD_LOG_H
#define HTD_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "module.h"

struct conn;
struct worker;
struct htd_request;
struct site;

typedef struct logfmt logfmt;

/* Compiles "combined", "common" or a template. NULL with a reason in err
 * for an unknown variable. */
logfmt *logfmt_compile(const char *spec, char *err, size_t errlen);
void logfmt_free(logfmt *f);

/* Logs a response on c: of its request in progress, to the log of the
 * request's virtual host; with none (a head that did not parse), of the
 * line as it came, to the top-level server's log. */
void log_access(const struct conn *c, int status, uint64_t bytes);

/* The module: log_access for every response. */
extern const htd_module log_module;
/* Writes out what loop l has buffered for the logs of site st. */
void log_flush(struct worker *l, struct site *st);
/* Writes out every loop's lines for st: for a site no loop uses any more. */
void log_flush_all(struct site *st);
/* Opens every log of st again (after rotation): the new file takes the old
 * descriptor's number, so loops writing at that moment are never confused. */
void log_reopen(struct site *st);
/* Opens path for appending ("-" is standard output). -1 with errno. */
int log_open(const char *path);

struct htd_req;
/* hr's id ($request_id): 32 hex digits, unique, made the first time it is
 * asked for and the same after; NULL when out of memory. */
const char *log_request_id(struct htd_req *hr);
/* A line in the error log (errlog.h) about connection c (or NULL): the
 * line names it (#c and its descriptor) and its request's id. */
void log_error(int level, const struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
