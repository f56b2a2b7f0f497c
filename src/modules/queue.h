/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * queue.h - job queues (202 Accepted): the module that stores POSTs and PUTs
 * under a queue's prefix as jobs, answers 202 with a status monitor, and
 * serves the monitors (GET with long-poll, DELETE to cancel) and results.
 * The jobs run on the queue's processor threads (queue_run.h).
 */
#ifndef HTD_QUEUE_H
#define HTD_QUEUE_H

#include "htd.h"
#include "module.h"

extern const htd_module queue_module;

/* htd_server_queue on the server's registry. */
int queue_set_handler(registry *reg, const char *prefix, htd_job_fn fn, void *arg);

#endif
