/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cgi.h - CGI/1.1 scripts (RFC 3875), run without ever blocking a loop.
 */
#ifndef HTD_CGI_H
#define HTD_CGI_H

#include <stddef.h>
#include <stdint.h>

#include "module.h"
#include "timer.h"

struct conn;
struct worker;
struct vhost;
struct rule;

/* Is the decoded path a script: its rule's cgi = true (or false) if set,
 * else whether it is under one of vh's script prefixes? ru may be NULL. */
int cgi_claims(const struct vhost *vh, const struct rule *ru, const char *path, size_t len);

/* The module: its content phase runs the scripts under vh's prefixes (the
 * connection enters CS_GEN), or answers 403, 404, 500 or 503. */
extern const htd_module cgi_module;

/* The generator (GEN_*, module.h): moves the request body to the script and its output to the
 * client. 1 if the connection changed state, 0 if it must wait. */
int cgi_step(struct conn *c);

/* The connection is closing: the script is killed. */
void cgi_detach(struct conn *c);

/* How many of the server's scripts are running now (started and not yet
 * reaped), for monitoring. */
unsigned cgi_running(const registry *reg);

/* A script's time limit ran out: the callback of the worker's T_CGI list. */
void cgi_expired(htd_timer *t);

#endif
