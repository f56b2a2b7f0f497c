/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ratelimit.h - request rate limits per vhost or rule (rate_limit), keyed by
 * the client's address, a request header or the user a realm accepted, as
 * nginx's limit_req.
 *
 * Each key has a bucket kept as one number, its theoretical arrival time
 * (GCRA, the generic cell rate algorithm): the time at which the key would
 * be back within its rate had it sent nothing more. A request at `now` is
 * within the limit when that time is at most `burst` intervals ahead of
 * now, and moves it one interval on; a request beyond is refused (429 with
 * Retry-After) without moving it. With delay, a request within the burst
 * but ahead of the rate waits until its turn (nginx's burst without
 * nodelay), and one beyond the burst is refused.
 *
 * The buckets are the server's, shared by every worker without a lock: a
 * fixed table (rate_limit_slots, 65536 by default, 8 bytes each) of 64-bit
 * words, each holding a key's tag and its arrival time, changed by one
 * compare-and-swap per request. Sets of 8 words share a cache line; a key
 * lives in the set its keyed hash picks. A word whose time has passed holds
 * nothing worth keeping (its key would start fresh anyway), so it is free;
 * when the 8 are all live, a new key takes the word least ahead, whose key
 * loses the least. Memory never grows, whatever the number of keys.
 */
#ifndef HTD_RATELIMIT_H
#define HTD_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "module.h"

/* Two entries of one module, so that each kind of key is counted where it
 * is known: ratelimit_module before the rule's checks (address, header:
 * refused, redirected and unauthenticated requests count, password
 * guessing included, as with nginx's preaccess phase), and
 * ratelimit_user_module after them (the user a realm accepted). */
extern const htd_module ratelimit_module;
extern const htd_module ratelimit_user_module;

enum { RL_KEY_ADDR, RL_KEY_HEADER, RL_KEY_USER };

/* A scope's limit, as the config sets it (config.c builds it; site.h). */
typedef struct ratelimit {
    uint64_t zone;     /* where it is set (ratelimit_zone): its buckets are its own */
    uint64_t interval; /* microseconds between requests at the rate */
    uint32_t burst;    /* requests beyond the rate taken at once (or queued, with delay) */
    uint8_t key;       /* RL_KEY_* */
    uint8_t delay;     /* wait for a turn within the burst rather than pass at once */
    char *header;      /* RL_KEY_HEADER: the field's name, NUL-terminated */
    size_t header_len;
} ratelimit;

#define RL_RATE_MAX 1000000  /* requests per second or minute */
#define RL_BURST_MAX 1000000 /* requests */
#define RL_SLOTS_DEFAULT 65536
#define RL_SLOTS_MIN 64
#define RL_SLOTS_MAX (1u << 24)

/* "Nr/s" or "Nr/m", N a whole number from 1 to RL_RATE_MAX: the interval
 * between requests in microseconds. -1 if s is not one. */
int ratelimit_parse_rate(const char *s, uint64_t *interval);
/* "addr", "user" or "header:NAME" (NAME a field name) into rl's key and
 * header (malloc'd). -1 if s is none of those, or when out of memory. */
int ratelimit_parse_key(const char *s, ratelimit *rl);
/* The identity of a limit set in vhost (NULL: the top level), in its rule
 * of kind (site.h RULE_*) and pattern pat, or in no rule (pat NULL): the
 * same for the same place across reloads, so buckets outlive a reload. */
uint64_t ratelimit_zone(const char *vhost, int kind, const char *pat);
void ratelimit_free(ratelimit *rl);

/* One request of a bucket: GCRA over microseconds. tat is the bucket's
 * theoretical arrival time (0 for a fresh one), now the clock, interval
 * the rate's, tolerance how far ahead of now tat may be (burst * interval).
 * 1 if the request is within the limit: tat moves one interval on and
 * *wait is how long until its turn (0 when it is within the rate); 0 if it
 * is beyond: tat stays and *wait is how long until one would be within. */
int ratelimit_step(uint64_t *tat, uint64_t now, uint64_t interval, uint64_t tolerance,
                   uint64_t *wait);

/* The shared table of buckets: slots words (a multiple of 8), NULL when
 * out of memory. Its pages are mapped as they are first written. */
typedef struct rl_table rl_table;
rl_table *ratelimit_table_new(size_t slots);
void ratelimit_table_free(rl_table *t);
/* ratelimit_step on the bucket of the key whose hash is h, at now
 * (microseconds, from 1 up), safe from any thread. */
int ratelimit_take(rl_table *t, uint64_t h, uint64_t now, uint64_t interval, uint64_t tolerance,
                   uint64_t *wait);

/* SipHash-2-4 of the words pre[0..npre) (as little-endian bytes) followed
 * by p[0..len), under the key k0, k1: keys a client chooses (header
 * values) cannot be made to crowd one set without knowing the key. */
uint64_t ratelimit_siphash(uint64_t k0, uint64_t k1, const uint64_t *pre, size_t npre,
                           const void *p, size_t len);

#endif
