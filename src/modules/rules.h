/* SPDX-License-Identifier: BSD-2-Clause */
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

#include "module.h"

/* The module: its rewrite phase chooses the request's virtual host and
 * rule; its access phase checks addresses (403), credentials (401; a
 * password check waits on the pool) and redirects. */
extern const htd_module rules_module;

/* Sets c's request's vhost, scope and cache again, without the checks (a
 * request whose body has just been read). */
void rules_scope(struct conn *c);

/* The user named by hr's Basic credentials, whether or not a realm
 * accepted them (the access log's $remote_user), or {NULL, 0}. Decodes
 * Authorization if the auth check has not: once per request either way. */
htd_str rules_claimed_user(struct htd_req *hr);

/* A connection waiting for a password check is closing. */
void rules_detach(struct conn *c);

#endif
