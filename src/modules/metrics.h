/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * metrics.h - the status endpoint: a rule with `metrics = true;` answers
 * GET and HEAD with the server's counts, in the Prometheus text format, or
 * in JSON when the request's Accept prefers application/json. It answers at
 * the end of the access phase, once the rule's own checks (addresses,
 * passwords, rate limits) have let the request through, so that no content
 * module can take its path whatever content_order says.
 *
 * What it reports: the responses by virtual host and status class and their
 * durations (a histogram), which its log hook counts per loop; the workers'
 * counters (connections, bytes, the open-file cache: context.h), the job
 * pool's queue, the scripts running and the reloads, read when asked; the
 * version and commit. Each loop counts in a block of its own, with plain
 * stores (counters.h), which the scraping worker sums over every loop.
 *
 * A server that starts with no metrics rule has none of its hooks called
 * (wanted): adding the first one takes a restart, as prices do.
 */
#ifndef HTD_METRICS_H
#define HTD_METRICS_H

#include "module.h"

extern const htd_module metrics_module;

#endif
