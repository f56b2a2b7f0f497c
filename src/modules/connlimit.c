/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connlimit.c - connections per client address (see connlimit.h).
 */
#include "connlimit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "conn.h"

#define SHARDS 64   /* locks: two workers rarely wait on one another */
#define BUCKETS 256 /* chains per shard */

typedef struct addr_count {
    struct addr_count *next;
    uint8_t key[16];
    unsigned n;
} addr_count;

typedef struct shard {
    pthread_mutex_t mu;
    addr_count *bucket[BUCKETS];
} shard;

typedef struct limits {
    unsigned max;
    unsigned prefix6;
    uint64_t seed; /* so that no client can choose addresses that share a chain */
    shard shard[SHARDS];
} limits;

void connlimit_key(const struct sockaddr_in6 *peer, unsigned prefix6, uint8_t key[16])
{
    memset(key, 0, 16);
    if (peer->sin6_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)peer;
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &v4->sin_addr, 4);
        return;
    }
    const uint8_t *a = peer->sin6_addr.s6_addr;
    unsigned whole = prefix6 / 8, rest = prefix6 % 8;
    memcpy(key, a, whole);
    if (rest) key[whole] = (uint8_t)(a[whole] & (0xff00u >> rest));
}

static uint64_t hash(const limits *lm, const uint8_t key[16])
{
    uint64_t a, b;
    memcpy(&a, key, 8);
    memcpy(&b, key + 8, 8);
    uint64_t h = (a ^ lm->seed) * 0x9e3779b97f4a7c15ull;
    h = (h ^ (h >> 29) ^ b) * 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
}

/* The entry of key in its shard's chain (the shard locked), or the link to
 * where it would go. */
static addr_count **find(shard *sh, uint64_t h, const uint8_t key[16])
{
    addr_count **p = &sh->bucket[(h / SHARDS) % BUCKETS];
    while (*p && memcmp((*p)->key, key, 16) != 0)
        p = &(*p)->next;
    return p;
}

static limits *limits_of(const conn *c)
{
    return registry_state(&c->w->srv->reg, &connlimit_module);
}

static int on_open(conn *c)
{
    limits *lm = limits_of(c);
    if (!lm) return 0;
    uint8_t key[16];
    connlimit_key(&c->peer, lm->prefix6, key);
    uint64_t h = hash(lm, key);
    shard *sh = &lm->shard[h % SHARDS];
    int rc = 0;
    pthread_mutex_lock(&sh->mu);
    addr_count **p = find(sh, h, key);
    if (!*p && (*p = calloc(1, sizeof **p))) memcpy((*p)->key, key, 16);
    if (!*p || (*p)->n >= lm->max)
        rc = -1; /* full, or no memory to count it: not taken */
    else
        (*p)->n++;
    pthread_mutex_unlock(&sh->mu);
    return rc;
}

static void on_close(const conn *c)
{
    limits *lm = limits_of(c);
    if (!lm) return;
    uint8_t key[16];
    connlimit_key(&c->peer, lm->prefix6, key);
    uint64_t h = hash(lm, key);
    shard *sh = &lm->shard[h % SHARDS];
    pthread_mutex_lock(&sh->mu);
    addr_count **p = find(sh, h, key);
    addr_count *e = *p;
    if (e && --e->n == 0) {
        *p = e->next;
        free(e);
    }
    pthread_mutex_unlock(&sh->mu);
}

static int init(const htd_config *cfg, void **state, char *err, size_t errlen)
{
    if (!cfg->max_conns_per_ip) return 0;
    if (cfg->ipv6_prefix > 128) {
        snprintf(err, errlen, "ipv6_prefix must be from 1 to 128 bits, not %u", cfg->ipv6_prefix);
        return -1;
    }
    limits *lm = calloc(1, sizeof *lm);
    if (!lm) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    lm->max = cfg->max_conns_per_ip;
    lm->prefix6 = cfg->ipv6_prefix ? cfg->ipv6_prefix : 64;
    if (getrandom(&lm->seed, sizeof lm->seed, 0) != sizeof lm->seed) lm->seed = (uintptr_t)lm;
    for (int i = 0; i < SHARDS; i++)
        pthread_mutex_init(&lm->shard[i].mu, NULL);
    *state = lm;
    return 0;
}

static void fini(void *state)
{
    limits *lm = state;
    for (int i = 0; i < SHARDS; i++) {
        for (int b = 0; b < BUCKETS; b++)
            while (lm->shard[i].bucket[b]) {
                addr_count *e = lm->shard[i].bucket[b];
                lm->shard[i].bucket[b] = e->next;
                free(e);
            }
        pthread_mutex_destroy(&lm->shard[i].mu);
    }
    free(lm);
}

/* Without max_conns_per_ip there is no state, and no hook runs. */
static int wanted(const void *state, int ph)
{
    return state && ph == PH_CONN;
}

const htd_module connlimit_module = {
    .name = "connlimit",
    .init = init,
    .fini = fini,
    .wanted = wanted,
    .conn_open = on_open,
    .conn_close = on_close,
};
