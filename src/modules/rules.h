/*
 * rules.h - what the config says about a request before anything serves it:
 * its virtual host, its rule, access (403), Basic authentication (401) and
 * redirects (301, 302, ...).
 */
#ifndef HTD_RULES_H
#define HTD_RULES_H

#include <stddef.h>

#include "htd.h"

struct conn;

enum { RULES_GO = 0, RULES_DONE = 1 };

/* For the request in the loop's hreq, whose head is head_len bytes at the
 * connection's rpos. RULES_GO: serve it (hreq's vh, sc and cache are set).
 * RULES_DONE: it was answered, or it waits for a password check (CS_WAIT);
 * either way the caller is done with it. */
int rules_apply(struct conn *c, size_t head_len);

/* Sets the loop's hreq vhost, scope and cache again for c's request, without
 * the checks (a request whose body has just been read). */
void rules_scope(struct conn *c);

/* The user named by hr's Basic credentials, whether or not a realm
 * accepted them (the access log's $remote_user), or {NULL, 0}. Decodes
 * Authorization if the auth check has not: once per request either way. */
htd_str rules_claimed_user(struct htd_req *hr);

/* A connection waiting for a password check is closing. */
void rules_detach(struct conn *c);

#endif
