/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * routes.h - the embedder's handlers as a content module.
 */
#ifndef HTD_ROUTES_H
#define HTD_ROUTES_H

#include "htd.h"
#include "module.h"

extern const htd_module routes_module;

/* Adds a handler for the paths under prefix (whole segments) in phase
 * (HTD_PHASE_ACCESS, HTD_PHASE_CONTENT, with HTD_BODY_STREAMED or not), after
 * those added before. 0, or -1 when out of memory. */
int routes_add(registry *reg, int phase, const char *prefix, htd_handler_fn fn, void *arg);

#endif
