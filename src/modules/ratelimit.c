/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ratelimit.c - request rate limits (see ratelimit.h): the GCRA step, the
 * server's lock-free table of buckets, and the two access-phase entries
 * that answer 429 or delay a request.
 *
 * Clocks: a bucket's time is in microseconds of CLOCK_MONOTONIC, read once
 * per limited request (a vDSO call, some 20 ns). The loop's clock is the
 * coarse one (a tick of up to 4 ms), which would let only burst + 1
 * requests through per tick and so cap a rate above a few hundred a second;
 * the fine one costs little and keeps any rate up to a million a second.
 * A delayed request waits on the loop's clock, in milliseconds rounded up,
 * so it never goes before its turn; the coarse clock is never ahead of the
 * fine one.
 *
 * Waiting: the loop's timer lists each have one duration, so a delayed
 * request rides three lists, of 256, 16 and 1 ms, each time on the longest
 * that does not pass its due time: at most wait/256 + 30 wake-ups, and it
 * is back within the loop clock's tick of its turn. Its timer lives in the
 * request's arena; if the connection closes meanwhile, the release hook
 * takes it off its list.
 */
#include "ratelimit.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

#include "conn.h"
#include "connlimit.h"
#include "fields.h"
#include "req.h"
#include "site.h"

/* ---- SipHash-2-4 (Aumasson and Bernstein, 2012) ---- */

static inline uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

typedef struct sip {
    uint64_t v0, v1, v2, v3;
} sip;

static inline void sip_round(sip *s)
{
    s->v0 += s->v1;
    s->v1 = rotl(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = rotl(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = rotl(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = rotl(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = rotl(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = rotl(s->v2, 32);
}

static inline void sip_word(sip *s, uint64_t m)
{
    s->v3 ^= m;
    sip_round(s);
    sip_round(s);
    s->v0 ^= m;
}

static inline uint64_t le64(const unsigned char *p, size_t n)
{
    uint64_t m = 0;
    for (size_t i = 0; i < n; i++)
        m |= (uint64_t)p[i] << (8 * i);
    return m;
}

uint64_t ratelimit_siphash(uint64_t k0, uint64_t k1, const uint64_t *pre, size_t npre,
                           const void *p, size_t len)
{
    sip s = {k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull, k0 ^ 0x6c7967656e657261ull,
             k1 ^ 0x7465646279746573ull};
    for (size_t i = 0; i < npre; i++)
        sip_word(&s, pre[i]);
    const unsigned char *b = p;
    size_t whole = len & ~(size_t)7;
    for (size_t i = 0; i < whole; i += 8)
        sip_word(&s, le64(b + i, 8));
    sip_word(&s, ((uint64_t)(npre * 8 + len) << 56) | le64(b + whole, len & 7));
    s.v2 ^= 0xff;
    for (int i = 0; i < 4; i++)
        sip_round(&s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

/* ---- the step and the table ---- */

int ratelimit_step(uint64_t *tat, uint64_t now, uint64_t interval, uint64_t tolerance,
                   uint64_t *wait)
{
    uint64_t t = *tat > now ? *tat : now;
    if (t - now > tolerance) {
        *wait = t - now - tolerance;
        return 0;
    }
    *wait = t - now;
    *tat = t + interval;
    return 1;
}

#define WAYS 8 /* words per set: one cache line */
#define TAT_BITS 48
#define TAT_MASK ((UINT64_C(1) << TAT_BITS) - 1) /* 8.9 years of microseconds */

/* Each word: the top 16 bits of its key's hash (the tag; the set comes
 * from the low 32), then its arrival time. A word at or before now is
 * free, whatever its tag. */
struct rl_table {
    _Atomic uint64_t *w;
    size_t nsets;
    size_t bytes;
};

rl_table *ratelimit_table_new(size_t slots)
{
    rl_table *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->nsets = (slots + WAYS - 1) / WAYS;
    t->bytes = t->nsets * WAYS * sizeof *t->w;
    /* Anonymous pages are zero and take memory only once written: a table
     * no limit touches costs nothing, and a set is one aligned line. */
    void *p = mmap(NULL, t->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        free(t);
        return NULL;
    }
    t->w = p;
    return t;
}

void ratelimit_table_free(rl_table *t)
{
    if (!t) return;
    munmap((void *)t->w, t->bytes);
    free(t);
}

int ratelimit_take(rl_table *t, uint64_t h, uint64_t now, uint64_t interval, uint64_t tolerance,
                   uint64_t *wait)
{
    _Atomic uint64_t *set = t->w + (((uint64_t)(uint32_t)h * t->nsets) >> 32) * WAYS;
    uint64_t tag = h & ~TAT_MASK;
    for (;;) {
        uint64_t seen[WAYS];
        int mine = -1, spare = -1, least = -1;
        for (int i = 0; i < WAYS && mine < 0; i++) {
            /* Relaxed: a word is the whole of a bucket, published by
             * nothing else, and the exchange below is on it alone. */
            seen[i] = atomic_load_explicit(&set[i], memory_order_relaxed);
            uint64_t tat = seen[i] & TAT_MASK;
            if (tat <= now) {
                if (spare < 0) spare = i;
            } else if ((seen[i] & ~TAT_MASK) == tag) {
                mine = i;
            } else if (least < 0 || tat < (seen[least] & TAT_MASK)) {
                least = i;
            }
        }
        /* The key's live word; else a free one; else the one least ahead,
         * whose key starts fresh when it comes back. */
        int i = mine >= 0 ? mine : spare >= 0 ? spare : least;
        uint64_t tat = mine >= 0 ? seen[i] & TAT_MASK : 0;
        if (!ratelimit_step(&tat, now, interval, tolerance, wait)) return 0;
        if (tat > TAT_MASK) tat = TAT_MASK;
        if (atomic_compare_exchange_weak_explicit(&set[i], &seen[i], tag | tat,
                                                  memory_order_relaxed, memory_order_relaxed))
            return 1;
        /* Another worker changed the set since it was read: read it again. */
    }
}

/* ---- settings ---- */

int ratelimit_parse_rate(const char *s, uint64_t *interval)
{
    uint64_t n = 0;
    const char *p = s;
    while (*p >= '0' && *p <= '9' && n <= RL_RATE_MAX)
        n = n * 10 + (uint64_t)(*p++ - '0');
    if (p == s || n < 1 || n > RL_RATE_MAX || p[0] != 'r' || p[1] != '/' ||
        (p[2] != 's' && p[2] != 'm') || p[3])
        return -1;
    uint64_t per = p[2] == 's' ? 1000000 : 60000000;
    *interval = (per + n / 2) / n;
    return 0;
}

int ratelimit_parse_key(const char *s, ratelimit *rl)
{
    if (strcmp(s, "addr") == 0) {
        rl->key = RL_KEY_ADDR;
        return 0;
    }
    if (strcmp(s, "user") == 0) {
        rl->key = RL_KEY_USER;
        return 0;
    }
    if (strncmp(s, "header:", 7) != 0 || !htd_is_token(s + 7, strlen(s + 7))) return -1;
    if (!(rl->header = strdup(s + 7))) return -1;
    rl->header_len = strlen(rl->header);
    rl->key = RL_KEY_HEADER;
    return 0;
}

uint64_t ratelimit_zone(const char *vhost, int kind, const char *pat)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a: the place is the config's, not a client's */
    const unsigned char *p = (const unsigned char *)(vhost ? vhost : "");
    for (; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    h = (h ^ 0xff) * 0x100000001b3ull; /* no vhost name holds it */
    h = (h ^ (unsigned)(pat ? kind + 1 : 0)) * 0x100000001b3ull;
    for (p = (const unsigned char *)(pat ? pat : ""); *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return h;
}

void ratelimit_free(ratelimit *rl)
{
    if (!rl) return;
    free(rl->header);
    free(rl);
}

/* ---- the module ---- */

typedef struct rl_server {
    rl_table *table;
    uint64_t k0, k1; /* the hash's key, random per server */
    uint64_t epoch;  /* the fine clock when the table was made, less a microsecond */
    unsigned prefix6;
    uint64_t max_wait; /* microseconds: a delayed request is back well before the send timeout */
} rl_server;

static uint64_t clock_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int init(const htd_config *cfg, void **state, char *err, size_t errlen)
{
    /* Limits are set in a config file only: without one there are none,
     * and the phases lose the module (wanted). */
    if (!cfg->config_file) return 0;
    unsigned slots = cfg->rate_limit_slots ? cfg->rate_limit_slots : RL_SLOTS_DEFAULT;
    if (slots < RL_SLOTS_MIN || slots > RL_SLOTS_MAX) {
        snprintf(err, errlen, "rate_limit_slots must be from %u to %u, not %u", RL_SLOTS_MIN,
                 RL_SLOTS_MAX, slots);
        return -1;
    }
    rl_server *s = calloc(1, sizeof *s);
    if (!s || !(s->table = ratelimit_table_new(slots))) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    uint64_t key[2];
    if (getrandom(key, sizeof key, 0) != sizeof key) {
        key[0] = (uintptr_t)s ^ clock_us();
        key[1] = (uintptr_t)&key ^ 0x9e3779b97f4a7c15ull;
    }
    s->k0 = key[0];
    s->k1 = key[1];
    s->epoch = clock_us() - 1;
    s->prefix6 = cfg->ipv6_prefix ? cfg->ipv6_prefix : 64;
    uint64_t send_ms = cfg->send_timeout_ms;
    s->max_wait = send_ms > 1000 ? (send_ms - 1000) * 1000 : 0;
    *state = s;
    return 0;
}

static void fini(void *state)
{
    rl_server *s = state;
    ratelimit_table_free(s->table);
    free(s);
}

static int wanted(const void *state, int ph)
{
    return state && ph == PH_ACCESS;
}

/* The second entry has no state of its own: this marks that it is wanted. */
static int init_user(const htd_config *cfg, void **state, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    if (cfg->config_file) *state = (void *)&ratelimit_user_module;
    return 0;
}

/* A request's slot (keyed by ratelimit_module) holds its rl_wait while it
 * waits for its turn, then this mark until it is asked again. */
static char admitted;

typedef struct rl_wait {
    htd_timer timer;
    conn *c;
    uint64_t due; /* the loop's milliseconds */
} rl_wait;

/* Per loop: the timer lists delayed requests ride, longest first. */
#define NLISTS 3
static const uint64_t durations[NLISTS] = {256, 16, 1};

typedef struct rl_local {
    htd_timer_list *lists[NLISTS];
    int ok; /* every list was had */
} rl_local;

static void on_timer(htd_timer *t);

static rl_local *local_of(worker *w)
{
    void **slot = loop_local(w->loop, &ratelimit_module);
    if (slot && !*slot && (*slot = calloc(1, sizeof(rl_local)))) {
        rl_local *lc = *slot;
        lc->ok = 1;
        for (int i = 0; i < NLISTS; i++)
            lc->ok &= (lc->lists[i] = loop_timers(w->loop, durations[i], on_timer)) != NULL;
    }
    return slot && *slot && ((rl_local *)*slot)->ok ? *slot : NULL;
}

static void free_local(void *state)
{
    free(state); /* the lists are the loop's */
}

/* On the longest list that does not take wt past its due time. */
static void arm(rl_local *lc, rl_wait *wt, uint64_t now)
{
    uint64_t left = wt->due - now;
    int i = 0;
    while (i < NLISTS - 1 && durations[i] > left)
        i++;
    htd_timer_arm(lc->lists[i], &wt->timer, now);
}

static void on_timer(htd_timer *t)
{
    rl_wait *wt = (rl_wait *)((char *)t - offsetof(rl_wait, timer));
    conn *c = wt->c;
    worker *w = c->w;
    htd_timer_disarm(t);
    if (w->now < wt->due) {
        arm(local_of(w), wt, w->now); /* it had its lists to be here */
        return;
    }
    *req_slot(c->req, &ratelimit_module) = &admitted;
    conn_resume_request(c);
}

static void release(struct htd_req *hr)
{
    void **slot = req_slot(hr, &ratelimit_module);
    if (*slot != &admitted) { /* the connection closes while it waits */
        rl_wait *wt = *slot;
        htd_timer_disarm(&wt->timer);
        hr->w->jobs_out--; /* conn_wait counted it; conn_resume_request will not run */
    }
    *slot = NULL;
}

/* The bucket's hash: the limit's zone, then the key. A header or user a
 * request lacks makes it count by its address, so that leaving it out
 * cannot escape the limit. */
static uint64_t key_hash(const rl_server *s, const ratelimit *rl, const struct htd_req *hr)
{
    uint64_t pre[2] = {rl->zone, rl->key};
    htd_str v = {NULL, 0};
    if (rl->key == RL_KEY_HEADER)
        v = htd_request_header(hr->r, rl->header, rl->header_len);
    else if (rl->key == RL_KEY_USER)
        v = hr->user;
    if (v.p && v.len) return ratelimit_siphash(s->k0, s->k1, pre, 2, v.p, v.len);
    pre[1] = RL_KEY_ADDR;
    const struct sockaddr_in6 *peer = &hr->client; /* behind a trusted proxy, the client */
    uint8_t a[16];
    /* A mapped IPv4 peer is one address, not one of a /64 of them. */
    int mapped = peer->sin6_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&peer->sin6_addr);
    connlimit_key(peer, mapped ? 128 : s->prefix6, a);
    return ratelimit_siphash(s->k0, s->k1, pre, 2, a, sizeof a);
}

/* One of the access phase's entries: user_stage says which keys it
 * counts. */
static int limit(struct htd_req *hr, int user_stage)
{
    const ratelimit *rl = hr->sc ? hr->sc->ratelimit : NULL;
    if (!rl || (rl->key == RL_KEY_USER) != user_stage) return MOD_DECLINED;
    if (hr->nslots && req_get(hr, &ratelimit_module) == &admitted) {
        *req_slot(hr, &ratelimit_module) = NULL; /* back from its wait */
        return MOD_DECLINED;
    }
    conn *c = hr->c;
    worker *w = c->w;
    const rl_server *s = registry_state(&w->srv->reg, &ratelimit_module);
    uint64_t tolerance = (uint64_t)rl->burst * rl->interval;
    if (rl->delay && tolerance > s->max_wait) tolerance = s->max_wait;
    uint64_t now = clock_us(), wait;
    if (!ratelimit_take(s->table, key_hash(s, rl, hr), now - s->epoch, rl->interval, tolerance,
                        &wait)) {
        char ra[48];
        unsigned long long sec = (wait + 999999) / 1000000;
        int n = snprintf(ra, sizeof ra, "Retry-After: %llu\r\n", sec ? sec : 1);
        conn_answer(c, 429, "too many requests; try again later", ra, (size_t)n);
        return MOD_DONE;
    }
    if (!rl->delay || wait == 0) return MOD_DECLINED;
    /* Its turn is later: it waits, reading nothing, while the loop serves
     * the others. Rounded up to the loop's millisecond, never before. */
    rl_local *lc = local_of(w);
    rl_wait *wt = lc ? arena_alloc(&hr->mem, sizeof *wt) : NULL;
    void **slot = wt ? req_slot(hr, &ratelimit_module) : NULL;
    if (!slot) {
        static const char ra[] = "Retry-After: 1\r\n";
        conn_answer(c, 503, "cannot delay the request", ra, sizeof ra - 1);
        return MOD_DONE;
    }
    *wt = (rl_wait){.c = c, .due = (now + wait + 999) / 1000};
    if (wt->due <= w->now) return MOD_DECLINED;
    *slot = wt;
    conn_wait(c);
    arm(lc, wt, w->now);
    return MOD_AGAIN;
}

static int before_rules(struct htd_req *hr)
{
    return limit(hr, 0);
}

static int after_auth(struct htd_req *hr)
{
    return limit(hr, 1);
}

const htd_module ratelimit_module = {
    .name = "ratelimit",
    .phase = {[PH_ACCESS] = before_rules},
    .init = init,
    .fini = fini,
    .wanted = wanted,
    .release = release,
    .free_local = free_local,
};

const htd_module ratelimit_user_module = {
    .name = "ratelimit_user",
    .phase = {[PH_ACCESS] = after_auth},
    .init = init_user,
    .wanted = wanted,
};
