/*
 * log.h - the access log in the Combined Log Format, buffered per loop and
 * written in whole lines, so that threads sharing one file never interleave.
 */
#ifndef HTD_LOG_H
#define HTD_LOG_H

#include <stdint.h>

struct conn;
struct loop;
struct htd_request;

void log_access(struct loop *l, const struct conn *c, const struct htd_request *r, int status,
                uint64_t bytes);
void log_flush(struct loop *l);

#endif
