/*
 * cgi.h - CGI/1.1 scripts (RFC 3875), run without ever blocking a loop.
 */
#ifndef HTD_CGI_H
#define HTD_CGI_H

#include <stddef.h>
#include <stdint.h>

#include "timer.h"

struct conn;
struct worker;
struct vhost;

/* Is the decoded path under one of vh's script prefixes? */
int cgi_claims(const struct vhost *vh, const char *path, size_t len);

/* Starts the script for the request in the loop's hreq (its head,
 * head_len bytes, at the connection's rpos). The connection enters CS_CGI,
 * or is answered (404, 403, 500, 503). */
void cgi_start(struct conn *c, size_t head_len);

/* CS_CGI: moves the request body to the script and its output to the
 * client. 1 if the connection changed state, 0 if it must wait. */
int cgi_step(struct conn *c);

/* The connection is closing: the script is killed. */
void cgi_detach(struct conn *c);

/* A script's time limit ran out: the callback of the worker's T_CGI list. */
void cgi_expired(htd_timer *t);

#endif
