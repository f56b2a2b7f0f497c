/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * proxy_health.h - the proxy's active health checks (proxy_health.c): one
 * checker, on one loop, for every upstream group with a health_check; its
 * verdicts are the servers' check_down, which every loop's choice of a
 * server reads (proxy.c).
 */
#ifndef HTD_PROXY_HEALTH_H
#define HTD_PROXY_HEALTH_H

#include "loop.h"
#include "site.h"

typedef struct health health;

/* Does a group of st have a health_check? */
int health_wanted(const site *st);

/* The checker of loop l, following st: hc itself if st is the site it
 * checks already; else its checks move to st's groups, all due at once
 * (hc NULL: one is made, unless st checks nothing). NULL: nothing checked. */
health *health_follow(health *hc, loop *l, site *st);

/* Ends the checks under way and frees hc (the loop ends). NULL is nothing. */
void health_free(health *hc);

#endif
