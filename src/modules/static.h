/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * static.h - serving files from the document root.
 */
#ifndef HTD_STATIC_H
#define HTD_STATIC_H

struct htd_req;

#include <stddef.h>
#include <sys/stat.h>

#include "htd.h"
#include "module.h"

/* The module: its content phase serves files from the vhost's root; its
 * error pages are the configured ones. */
extern const htd_module static_module;

/* Answers hr from the root: GET, HEAD and OPTIONS, with validators and ranges. */
void static_serve(struct htd_req *hr);

/* Answers hr with status and the file at page (a normalised path under
 * the vhost's root) as its body, with extra header lines. -1 if the page
 * cannot be served; nothing is queued then. */
int static_error_page(struct htd_req *hr, int status, const char *page, const char *extra,
                      size_t extra_len);

/* The request ends (answered, or its connection closing) while it holds a
 * directory listing: being made on the pool, or being sent. */
struct conn;
void static_list_detach(struct conn *c);

#endif
