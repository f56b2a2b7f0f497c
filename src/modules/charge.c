/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * charge.c - metered paths (402 Payment Required): a module of the access
 * phase, with a header filter and a hook at the end of the request.
 *
 * A request under a scope with a price names the account to pay in
 * ChargeTo and proves it (Authorization: Bearer KEY, or the Basic user of
 * the scope's realm when it is the account's id). Its price is reserved
 * through the state database's writer before anything is produced, the
 * request waiting (conn_wait) for the commit: the per-request part at
 * least, and for a per-KiB price as much of max_kib's worth as the account
 * has. When the response's head is written its size is known (or known not
 * to be, for a body that streams): the header filter lowers the
 * reservation to what the response costs, or, when the account could not
 * cover it, answers 402 in its place. When its response is wholly
 * queued (the release hook), a gate goes before the response's last byte
 * (outq.h): once everything before it is sent, the charge is settled, and
 * only after that commit does the last byte go. So a response received
 * whole was charged, and a charge never exists for one that did not begin;
 * reservations still open at a start are released (lstore recover).
 */
#include "charge.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "errlog.h"
#include "json.h"
#include "ledger_key.h"
#include "log.h"
#include "queue_store.h"
#include "req.h"
#include "response.h"
#include "statedb.h"

enum { K_RESERVE, K_SETTLE };

typedef struct charge {
    qw_op op; /* first */
    statedb *db;
    worker *w;
    conn *c; /* NULL once the connection went */
    int kind;
    int back;
    char account[LACCT_ID_MAX + 1];
    uint8_t key_hash[LKEY_HASH_LEN];
    int bearer;
    char res[QJOB_ID_LEN + 1];
    int64_t price;    /* the per-request part */
    int64_t per_kib;  /* and per started KiB of the body */
    unsigned max_kib; /* at most this many KiB are charged */
    unsigned window_s;
    int64_t asked;    /* price + per_kib * max_kib: the most a response costs */
    int64_t reserved; /* what is held for it: from price up to asked */
    int repeat;       /* an Idempotency-Key charged before: nothing to charge */
    char idem[256];
    int status;     /* the response's, as logged */
    uint64_t bytes; /* its body's */
    int64_t amount; /* to settle */
    lacct acct;     /* as the reservation left it */
    lreason why;
    char path[256];
    conn_gate gate;
} charge;

enum { LS_BADKEY = -20 };

static statedb *db_of(const worker *w)
{
    return statedb_of(&w->srv->reg);
}

static int apply(qstore *st, qw_op *op)
{
    (void)st;
    charge *ch = (charge *)op;
    lstore *l = statedb_ledger(ch->db);
    int64_t now = qstore_now_ms();
    if (ch->kind == K_SETTLE) return l->ops->settle(l, ch->res, ch->amount, &ch->why, now);
    lacct a;
    int rc = l->ops->get(l, ch->account, &a);
    if (rc != LS_OK) return rc;
    if (ch->bearer && memcmp(a.key_hash, ch->key_hash, LKEY_HASH_LEN) != 0) return LS_BADKEY;
    return l->ops->reserve(l, ch->account, ch->price, ch->asked, ch->res, ch->path,
                           ch->idem[0] ? ch->idem : NULL, now - (int64_t)ch->window_s * 1000, now,
                           &ch->acct, &ch->reserved);
}

/* What a response with body bytes of body costs: the request's price and
 * each started KiB, up to max_kib of them. */
static int64_t amount_for(const charge *ch, uint64_t body)
{
    uint64_t kib = (body + 1023) / 1024;
    if (kib > ch->max_kib) kib = ch->max_kib;
    return ch->price + ch->per_kib * (int64_t)kib;
}

/* ---- back on the loop ---- */

static void settled(charge *ch);

static void op_done(qw_op *op)
{
    charge *ch = (charge *)op;
    ch->back = 1;
    if (ch->kind == K_SETTLE) {
        settled(ch);
        return;
    }
    if (!ch->c) { /* the request went while its reservation was made */
        ch->w->jobs_out--;
        if (ch->op.rc == LS_OK) { /* nothing was served: let it go */
            ch->kind = K_SETTLE;
            ch->amount = 0;
            ch->back = 0;
            ch->op = (qw_op){.apply = apply, .done = op_done, .loop = NULL};
            qwriter_submit(statedb_writer(ch->db), &ch->op);
            return;
        }
        free(ch);
        return;
    }
    conn_resume_request(ch->c);
}

static void submit(charge *ch, int kind, loop *l)
{
    ch->kind = kind;
    ch->back = 0;
    ch->op = (qw_op){.apply = apply, .done = op_done, .loop = l};
    qwriter_submit(statedb_writer(ch->db), &ch->op);
}

/* The settle is committed: the last byte may go. */
static void settled(charge *ch)
{
    if (ch->op.rc != LS_OK)
        log_error(ERRLOG_ERROR, ch->c, "htd: charge %s to %s: the ledger refused the settle (%d)",
                  ch->path, ch->account, ch->op.rc);
    if (ch->c) {
        conn *c = ch->c;
        ch->c = NULL;
        conn_gate_open(c, &ch->gate); /* may close c; ch is done either way */
    }
    free(ch);
}

static void gate_reached(conn_gate *g, conn *c)
{
    charge *ch = (charge *)((char *)g - offsetof(charge, gate));
    (void)c;
    submit(ch, K_SETTLE, ch->w->loop);
}

static void gate_dropped(conn_gate *g, uint64_t unsent)
{
    charge *ch = (charge *)((char *)g - offsetof(charge, gate));
    ch->c = NULL;
    if (ch->gate.called) return; /* its settle is on its way: it frees ch */
    /* Cut before all of it went: the client is charged for the body it
     * got (unsent is the end of the response: the body's tail), and for
     * nothing if none of the body went. */
    uint64_t sent = ch->bytes > unsent ? ch->bytes - unsent : 0;
    ch->amount = sent ? amount_for(ch, sent) : 0;
    ch->why.bytes = sent;
    submit(ch, K_SETTLE, NULL);
}

/* ---- the access phase ---- */

/* 402: the schemes accepted, for programs in PAYMENT-REQUIRED (base64 of
 * a JSON object shaped as x402 v2's), and for people in the body. acct is
 * the account's state when it was too poor, else NULL. */
static int answer_402(struct htd_req *hr, const char *why, const meter *m, const lacct *acct)
{
    int head = hr->r->method_id == HTD_M_HEAD;
    char accepts[512];
    snprintf(accepts, sizeof accepts,
             "[{\"scheme\":\"htd-credits\",\"network\":\"htd\",\"asset\":\"credits\","
             "\"amount\":\"%lld\",\"maxTimeoutSeconds\":0,\"extra\":{\"perKiB\":\"%lld\","
             "\"maxKiB\":%u,\"header\":\"ChargeTo\",\"proof\":[\"Bearer\",\"Basic\"]}}]",
             (long long)(head ? m->head : m->request), (long long)(head ? 0 : m->per_kib),
             m->max_kib);
    char path[1600]; /* the decoded path may hold quotes and backslashes */
    json_escape(path, sizeof path, hr->path, hr->path_len > 256 ? 256 : hr->path_len);
    char pr[2400];
    int n = snprintf(pr, sizeof pr,
                     "{\"x402Version\":2,\"error\":\"%s\",\"resource\":{\"url\":\"%s\"},"
                     "\"accepts\":%s}",
                     why, path, accepts);
    unsigned char b64[3300];
    if (n > 0 && (size_t)n < sizeof pr) {
        EVP_EncodeBlock(b64, (const unsigned char *)pr, n);
        htd_resp_header(hr, "PAYMENT-REQUIRED", (const char *)b64);
    }
    char body[1536];
    int bl;
    if (acct)
        bl = snprintf(body, sizeof body,
                      "{\"error\":\"%s\",\"account\":\"%s\",\"balance\":%lld,\"reserved\":%lld,"
                      "\"limit\":%lld,\"accepts\":%s}\n",
                      why, acct->id, (long long)acct->balance, (long long)acct->reserved,
                      (long long)acct->limit, accepts);
    else
        bl = snprintf(body, sizeof body, "{\"error\":\"%s\",\"accepts\":%s}\n", why, accepts);
    if (htd_respond(hr, 402, "application/json", body,
                    bl > 0 && (size_t)bl < sizeof body ? (size_t)bl : 0) < 0)
        conn_answer(hr->c, 402, why, NULL, 0);
    return MOD_DONE;
}

static int access_phase(struct htd_req *hr)
{
    const meter *m = hr->sc ? hr->sc->meter : NULL;
    if (!m) return MOD_DECLINED;
    conn *c = hr->c;
    int head = hr->r->method_id == HTD_M_HEAD;
    int64_t price = head ? m->head : m->request, per_kib = head ? 0 : m->per_kib;
    if (!price && !per_kib) return MOD_DECLINED;
    charge *ch = req_get(hr, &charge_module);
    if (ch && ch->back) {
        switch (ch->op.rc) {
        case LS_OK:
        case LS_CHARGED:
            /* What it costs is known, and said (Charge), when its head is
             * written: the header filter. */
            ch->repeat = ch->op.rc == LS_CHARGED;
            return MOD_DECLINED; /* on to the content; the release hook settles */
        case LS_BADKEY:
            *(charge **)req_slot(hr, &charge_module) = NULL;
            free(ch);
            conn_answer(c, 401, "the key does not open this account", NULL, 0);
            return MOD_DONE;
        case LS_NOFUNDS: {
            char why[200];
            snprintf(why, sizeof why, "account %s has %lld credits available; this takes %s%lld",
                     ch->account,
                     (long long)(ch->acct.balance - ch->acct.reserved + ch->acct.limit),
                     ch->asked > ch->price ? "at least " : "", (long long)ch->price);
            *(charge **)req_slot(hr, &charge_module) = NULL;
            lacct a = ch->acct;
            free(ch);
            return answer_402(hr, why, m, &a);
        }
        case LS_NOTFOUND:
            *(charge **)req_slot(hr, &charge_module) = NULL;
            free(ch);
            return answer_402(hr, "no such account", m, NULL);
        default:
            *(charge **)req_slot(hr, &charge_module) = NULL;
            free(ch);
            conn_answer(c, 500, "the ledger could not reserve the price", NULL, 0);
            return MOD_DONE;
        }
    }
    htd_str to = htd_request_header(hr->r, "chargeto", 8);
    if (!to.p)
        return answer_402(hr, "this costs credits: name the account to pay in ChargeTo", m, NULL);
    if (!(ch = calloc(1, sizeof *ch))) {
        conn_answer(c, 500, "out of memory", NULL, 0);
        return MOD_DONE;
    }
    snprintf(ch->account, sizeof ch->account, "%.*s", (int)to.len, to.p);
    if (to.len > LACCT_ID_MAX || !lacct_id_ok(ch->account)) {
        free(ch);
        conn_answer(c, 400, "ChargeTo is not an account id", NULL, 0);
        return MOD_DONE;
    }
    htd_str auth = htd_request_known(hr->r, HTD_H_AUTHORIZATION);
    if (auth.p && auth.len > 7 && strncasecmp(auth.p, "Bearer ", 7) == 0) {
        ch->bearer = 1;
        if (ledger_key_hash(auth.p + 7, auth.len - 7, ch->key_hash) < 0) {
            free(ch);
            conn_answer(c, 500, "no SHA-256", NULL, 0);
            return MOD_DONE;
        }
    } else if (!(hr->user.p && hr->user.len == to.len && memcmp(hr->user.p, to.p, to.len) == 0)) {
        free(ch);
        static const char wa[] = "WWW-Authenticate: Bearer realm=\"htd\"\r\n";
        conn_answer(c, 401, "prove the account in ChargeTo: Authorization: Bearer KEY", wa,
                    sizeof wa - 1);
        return MOD_DONE;
    }
    void **slot = req_slot(hr, &charge_module);
    if (!slot || qjob_new_id(ch->res) < 0) {
        free(ch);
        conn_answer(c, 500, "cannot reserve", NULL, 0);
        return MOD_DONE;
    }
    ch->db = db_of(c->w);
    ch->w = c->w;
    ch->c = c;
    ch->price = price;
    ch->per_kib = per_kib;
    ch->max_kib = m->max_kib;
    ch->window_s = m->window_s;
    ch->asked = price + per_kib * (int64_t)m->max_kib;
    htd_str ik = htd_request_header(hr->r, "idempotency-key", 15);
    if (ik.p && ik.len >= 2 && ik.p[0] == '"' && ik.p[ik.len - 1] == '"') {
        ik.p++;
        ik.len -= 2;
    }
    if (ik.p && ik.len && ik.len < sizeof ch->idem)
        snprintf(ch->idem, sizeof ch->idem, "%.*s", (int)ik.len, ik.p);
    snprintf(ch->path, sizeof ch->path, "%.*s", (int)hr->path_len, hr->path);
    *slot = ch;
    conn_wait(c);
    submit(ch, K_RESERVE, c->w->loop);
    return MOD_AGAIN;
}

/* ---- the head: what the response costs ---- */

/* Lowering a reservation to what its response costs: an operation of its
 * own (the charge's may be in use by then), done on the writer. */
typedef struct lowering {
    qw_op op; /* first */
    statedb *db;
    char res[QJOB_ID_LEN + 1];
    int64_t amount;
} lowering;

static int apply_lower(qstore *st, qw_op *op)
{
    (void)st;
    lowering *lo = (lowering *)op;
    lstore *l = statedb_ledger(lo->db);
    return l->ops->lower(l, lo->res, lo->amount);
}

static void lowered(qw_op *op)
{
    free(op);
}

/* Lets go at once of what ch holds beyond amount, for other requests of
 * the account. Before its settle, in the writer's order. */
static void lower_to(charge *ch, int64_t amount)
{
    lowering *lo = malloc(sizeof *lo);
    if (!lo) return; /* the hold stays whole until the settle: nothing lost */
    *lo = (lowering){.op = {.apply = apply_lower, .done = lowered, .loop = NULL},
                     .db = ch->db,
                     .amount = amount};
    memcpy(lo->res, ch->res, sizeof lo->res);
    qwriter_submit(statedb_writer(ch->db), &lo->op);
    ch->reserved = amount;
}

/* The header filter: a served response's cost is known now, from its
 * length (or, when it streams, is at most max_kib's worth). It must be
 * covered by what is held, else the account is asked for more with a 402
 * in the response's place; what is held beyond it is let go; and the
 * response says what it costs (Charge). */
static int head_filter(struct htd_req *hr, const resp *r)
{
    charge *ch = req_get(hr, &charge_module);
    if (!ch || !ch->back) return HEAD_GO;
    if (ch->repeat) {
        htd_resp_header(hr, "Charge", "0; repeat");
        return HEAD_GO;
    }
    int st = r->status;
    if (!((st >= 200 && st < 300) || st == 304)) return HEAD_GO; /* released at the end */
    int known = r->length >= 0 || hr->c->head_only || st == 204 || st == 304;
    uint64_t body = r->length > 0 && !hr->c->head_only ? (uint64_t)r->length : 0;
    int64_t need = known ? amount_for(ch, body) : ch->asked;
    int64_t avail = ch->acct.balance - ch->acct.reserved + ch->acct.limit;
    char v[200];
    if (need > ch->reserved) {
        if (known)
            snprintf(v, sizeof v,
                     "account %s has %lld credits available; this response is %llu bytes and "
                     "costs %lld",
                     ch->account, (long long)(avail + ch->reserved), (unsigned long long)body,
                     (long long)need);
        else
            snprintf(v, sizeof v,
                     "account %s has %lld credits available; this response's length is not "
                     "known before it ends, and it may cost %lld",
                     ch->account, (long long)(avail + ch->reserved), (long long)need);
        lacct a = ch->acct;
        a.reserved -= ch->reserved; /* as it is without this request */
        answer_402(hr, v, hr->sc->meter, &a);
        return HEAD_REFUSED;
    }
    if (known && need < ch->reserved) {
        avail += ch->reserved - need;
        lower_to(ch, need);
    }
    /* The balance left: as the account stood at the reservation, less
     * this response's cost (others under way may take more meanwhile). */
    if (known)
        snprintf(v, sizeof v, "%lld; balance=%lld", (long long)need,
                 (long long)(avail - ch->acct.limit));
    else
        snprintf(v, sizeof v, "%lld; per-kib=%lld; reserved=%lld; available=%lld",
                 (long long)ch->price, (long long)ch->per_kib, (long long)ch->reserved,
                 (long long)(avail - ch->acct.limit));
    htd_resp_header(hr, "Charge", v);
    return HEAD_GO;
}

/* The request is over: its response is wholly queued (or the connection
 * closes). Charged responses settle at a gate before their last byte. */
static void release(struct htd_req *hr)
{
    void **slot = req_slot(hr, &charge_module);
    charge *ch = *slot;
    *slot = NULL;
    if (!ch) return;
    if (!ch->back) { /* its reservation is still being made: op_done lets it go */
        ch->c = NULL;
        return;
    }
    if (ch->repeat) { /* charged before (Idempotency-Key): nothing was reserved */
        free(ch);
        return;
    }
    int st = ch->status;
    int served = (st >= 200 && st < 300) || st == 304;
    ch->why = (lreason){.kind = "charge",
                        .path = ch->path,
                        .status = st,
                        .bytes = ch->bytes,
                        .idem_key = ch->idem[0] ? ch->idem : NULL};
    ch->amount = served && !ch->repeat ? amount_for(ch, ch->bytes) : 0;
    conn *c = hr->c;
    if (served && c && c->out) {
        ch->gate = (conn_gate){.reached = gate_reached, .dropped = gate_dropped};
        if (conn_out_gate(c, &ch->gate) == 0) return;
    }
    /* Not charged, or no gate could go in: released (or, with no gate,
     * charged at once: the response is queued whole). */
    ch->c = NULL;
    submit(ch, K_SETTLE, NULL);
}

/* At start: a reservation still open belongs to a response that was never
 * received whole (its settle comes before its last byte): released. */
static int apply_recover(qstore *st, qw_op *op)
{
    (void)st;
    int *n = statedb_sync_arg(op);
    statedb *db = statedb_sync_db(op);
    *n = statedb_ledger(db)->ops->recover(statedb_ledger(db));
    return *n < 0 ? *n : LS_OK;
}

/* The module's per-server state: whether the first site prices anything
 * (a reload that adds prices needs the ledger open: a restart, for now). */
typedef struct charging {
    int priced;
} charging;

static int init(const htd_config *cfg, void **state, char *err, size_t errlen)
{
    (void)cfg;
    if (!(*state = calloc(1, sizeof(charging)))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static void fini(void *state)
{
    free(state);
}

/* Nothing priced at start: not in the access phase at all. */
static int wanted(const void *state, int ph)
{
    return (ph == PH_ACCESS || ph == PH_HEAD || ph == PH_LOG) && ((const charging *)state)->priced;
}

static int start(void *state, const registry *reg, const site *st, char *err, size_t errlen)
{
    int any = 0;
    for (size_t i = 0; i < st->nvhosts && !any; i++) {
        const vhost *vh = &st->vhosts[i];
        any = vh->sc.meter != NULL;
        for (size_t k = 0; k < vh->nrules && !any; k++)
            any = vh->rules[k].sc.meter != NULL;
    }
    if (!any) return 0;
    ((charging *)state)->priced = 1;
    statedb *db = statedb_of(reg);
    if (statedb_open(db, err, errlen) < 0) return -1;
    int n = 0;
    if (statedb_sync(db, apply_recover, &n) != LS_OK) {
        snprintf(err, errlen, "the state database: cannot release the reservations left open");
        return -1;
    }
    if (n > 0)
        errlog(ERRLOG_NOTICE, "htd: %d reservation%s left open when htd stopped released", n,
               n == 1 ? "" : "s");
    return 0;
}

/* Every response is logged before its request ends: what it was. */
static void log_hook(const conn *c, int status, uint64_t bytes)
{
    struct htd_req *hr = conn_current(c);
    charge *ch = hr ? req_get(hr, &charge_module) : NULL;
    if (!ch) return;
    ch->status = status;
    ch->bytes = bytes;
    /* What it will be charged, for the access log (which comes after). */
    int served = (status >= 200 && status < 300) || status == 304;
    hr->log_account = (htd_str){ch->account, strlen(ch->account)};
    hr->log_charge = served && !ch->repeat && ch->back ? amount_for(ch, bytes) : 0;
}

const htd_module charge_module = {
    .name = "charge",
    .phase = {[PH_ACCESS] = access_phase},
    .init = init,
    .fini = fini,
    .wanted = wanted,
    .start = start,
    .release = release,
    .log = log_hook,
    .head = head_filter,
};
