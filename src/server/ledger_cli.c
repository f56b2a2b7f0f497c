/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ledger_cli.c - `htd ledger`: the accounts of metered paths (402 Payment
 * Required) from the command line.
 *
 * It opens the state database as `htd jobs` does (state_cli.h) and the
 * ledger on the job store's connection (ledger_sqlite_on). Every change is
 * one transaction of the job store's, begun before the account is read and
 * committed after it is read back, so that a refusal names the figures that
 * refused it and what is printed is what was committed.
 *
 * A secret key is printed once, on stdout alone, so that
 * `key=$(htd ledger create acme)` takes it; the database keeps only its
 * SHA-256 (ledger_key.h).
 *
 * Options may come before or after the command. An account id may start
 * with '-'; such an id goes after "--". An argument of '-' and digits is
 * taken as an amount, for the amount's own error.
 */
#include "ledger_cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_key.h"
#include "ledger_store.h"
#include "state_cli.h"

#define WHO "htd ledger"
#define complain(...) cli_complain(WHO, __VA_ARGS__)

/* The most given at once (an amount, a credit limit), and the highest
 * balance: far from int64's end, so that no sum overflows (SQLite would
 * make it a float). */
#define MAX_AMOUNT 1000000000000000LL     /* 10^15 */
#define MAX_BALANCE 1000000000000000000LL /* 10^18 */

static void usage(FILE *f)
{
    fputs("usage: htd ledger [--db FILE | -c CONFIG] COMMAND [ARGS]\n"
          "\n"
          "Looks at and changes the accounts of metered paths in the state database,\n"
          "also while htd runs. Amounts are whole credits.\n"
          "\n"
          "  create ACCOUNT [--limit N]\n"
          "                     a new account with a credit limit of N (default 0);\n"
          "                     prints its secret key, which is shown this once only\n"
          "  credit ACCOUNT N [--note TEXT]\n"
          "                     add N to the balance; prints the account as balance does\n"
          "  debit ACCOUNT N [--note TEXT]\n"
          "                     take N off the balance, which may not go below minus the\n"
          "                     credit limit (less what is reserved); prints the account\n"
          "  balance [ACCOUNT]  the line \"ACCOUNT balance B reserved R limit L\"; without\n"
          "                     ACCOUNT, a table of every account\n"
          "  history ACCOUNT [--since TIME]\n"
          "                     the account's entries, oldest first: SEQ, TIME (UTC),\n"
          "                     AMOUNT, BALANCE after it, KIND and the details it has\n"
          "  export --csv [ACCOUNT] [--since TIME]\n"
          "                     every entry (or ACCOUNT's) as CSV (RFC 4180), with the\n"
          "                     header seq,time,account,amount,balance,kind,note,request,\n"
          "                     vhost,path,status,bytes,idem_key\n"
          "  verify             check every balance against its entries and what is\n"
          "                     reserved against its reservations; prints each problem,\n"
          "                     then a summary\n"
          "  rotate-key ACCOUNT a new secret key, shown this once only; the old one stops\n"
          "                     working\n"
          "  limit ACCOUNT N    set the credit limit: how far below zero the balance may go\n"
          "\n"
          "      --db FILE      the state database (default: the config's state_db with -c,\n"
          "                     else htd-state.db in the current directory)\n"
          "  -c, --config FILE  take the database from FILE (its state_db, or\n"
          "                     htd-state.db beside it)\n"
          "      --limit N      create: the credit limit\n"
          "      --note TEXT    credit, debit: why, kept with the entry\n"
          "      --since TIME   history, export: the entries from TIME on, given as\n"
          "                     2026-11-30T19:00:00Z or 2026-11-30 (UTC), or in seconds\n"
          "                     since 1970\n"
          "      --csv          export: as CSV\n"
          "  -h, --help         this help\n"
          "\n"
          "An ACCOUNT is 1 to 64 of A-Z a-z 0-9 . _ -; one that starts with '-' goes\n"
          "after -- (options before it). N is a whole number up to 10^15, at least 1\n"
          "for credit and debit.\n"
          "A key is printed on stdout alone (a note goes to stderr); the database keeps\n"
          "only its SHA-256.\n"
          "\n"
          "Exit status: 0 done; 1 refused: the account exists already, too little for a\n"
          "debit, a limit below the balance, or problems found by verify; 2 a usage\n"
          "error, no such account, or a database error.\n",
          f);
}

/* ---- the command line ---- */

enum {
    CMD_CREATE,
    CMD_CREDIT,
    CMD_DEBIT,
    CMD_BALANCE,
    CMD_HISTORY,
    CMD_EXPORT,
    CMD_VERIFY,
    CMD_ROTATE,
    CMD_LIMIT,
    CMDS
};

/* What each command is called, how many arguments it takes (an account,
 * then an amount), and which of --limit, --note, --since and --csv it
 * takes. */
enum { TAKES_LIMIT = 1, TAKES_NOTE = 2, TAKES_SINCE = 4, TAKES_CSV = 8 };
static const cli_command commands[CMDS] = {
    [CMD_CREATE] = {"create", 1, 1, "an account", TAKES_LIMIT},
    [CMD_CREDIT] = {"credit", 2, 2, "an account and an amount", TAKES_NOTE},
    [CMD_DEBIT] = {"debit", 2, 2, "an account and an amount", TAKES_NOTE},
    [CMD_BALANCE] = {"balance", 0, 1, "", 0},
    [CMD_HISTORY] = {"history", 1, 1, "an account", TAKES_SINCE},
    [CMD_EXPORT] = {"export", 0, 1, "", TAKES_CSV | TAKES_SINCE},
    [CMD_VERIFY] = {"verify", 0, 0, "", 0},
    [CMD_ROTATE] = {"rotate-key", 1, 1, "an account", 0},
    [CMD_LIMIT] = {"limit", 2, 2, "an account and a credit limit", 0},
};

typedef struct ledger_args {
    cli_args cli;        /* the command (CMD_*), its arguments, the database */
    const char *account; /* the first argument, or NULL */
    int64_t amount;      /* credit, debit, limit: the second */
    int64_t limit;       /* create: --limit */
    const char *note;
    int64_t since; /* 0: from the first entry */
} ledger_args;

static const cli_option options[] = {
    {"--limit", 'l', 1, TAKES_LIMIT},
    {"--note", 'n', 1, TAKES_NOTE},
    {"--since", 's', 1, TAKES_SINCE},
    {"--csv", 'v', 0, TAKES_CSV},
};

/* A negative number: an amount, wrong, rather than an unknown option. */
static int number_shaped(const char *s)
{
    size_t n = strspn(s + 1, "0123456789");
    return s[0] == '-' && n && !s[1 + n];
}

/* s as a whole number from min to max into *out; 0, or -1. */
static int whole(const char *s, int64_t min, int64_t max, int64_t *out)
{
    size_t n = strspn(s, "0123456789");
    if (!n || s[n] || n > 18) return -1;
    long long v = strtoll(s, NULL, 10);
    if (v < min || v > max) return -1;
    *out = v;
    return 0;
}

static int bad_number(const char *what, const char *s, int64_t min)
{
    return complain(EXIT_USAGE, "%s: expected a whole number from %lld to %lld, got '%s'", what,
                    (long long)min, MAX_AMOUNT, s);
}

static int set_option(void *ctx, const cli_option *o, const char *v)
{
    ledger_args *a = ctx;
    switch (o->key) {
    case 'l':
        if (whole(v, 0, MAX_AMOUNT, &a->limit) < 0) return bad_number("--limit", v, 0);
        break;
    case 'n':
        a->note = *v ? v : NULL;
        break;
    case 's':
        if (cli_parse_time(v, &a->since) < 0)
            return complain(EXIT_USAGE,
                            "--since: expected a time like 2026-11-30T19:00:00Z or 2026-11-30 "
                            "(UTC), or seconds since 1970, got '%s'",
                            v);
        break;
    }
    return 0;
}

/* The whole command line into a, checked: the account's id, the amount;
 * 0, or the exit status of a usage error. */
static int parse_args(int argc, char **argv, ledger_args *a)
{
    static const cli_spec spec = {.who = WHO,
                                  .commands = commands,
                                  .ncommands = CMDS,
                                  .options = options,
                                  .noptions = sizeof options / sizeof options[0],
                                  .shaped = number_shaped,
                                  .option = set_option,
                                  .usage = usage};
    *a = (ledger_args){0};
    const cli_args *c = &a->cli;
    int rc = cli_parse(&spec, argc, argv, &a->cli, a);
    if (rc || c->help) return rc;
    if (c->cmd == CMD_EXPORT && !(c->flags & TAKES_CSV))
        return complain(EXIT_USAGE, "export needs --csv (see htd ledger --help)");
    if (c->nargs > 0 && !lacct_id_ok(a->account = c->args[0]))
        return complain(EXIT_USAGE, "'%s' is not an account id: 1 to 64 of A-Z a-z 0-9 . _ -",
                        a->account);
    int64_t least = c->cmd == CMD_LIMIT ? 0 : 1;
    if (c->nargs > 1 && whole(c->args[1], least, MAX_AMOUNT, &a->amount) < 0)
        return bad_number(commands[c->cmd].name, c->args[1], least);
    return 0;
}

/* ---- the database ---- */

typedef struct ledger_db {
    char path[4096];
    qstore *q;
    lstore *l; /* on q's connection */
} ledger_db;

static int open_db(const ledger_args *a, ledger_db *d)
{
    int rc =
        state_db_open(WHO, a->cli.db, a->cli.config, d->path, sizeof d->path, &d->q, NULL, NULL);
    if (rc) return rc;
    char err[512];
    if (!(d->l = ledger_sqlite_on(d->q, err, sizeof err))) return state_db_error(WHO, d->path, err);
    return 0;
}

static int db_error(const ledger_db *d, const char *msg)
{
    return state_db_error(WHO, d->path, msg);
}

/* The account id into *x: 0, or the exit status after complaining. */
static int get_account(const ledger_db *d, const char *id, lacct *x)
{
    int rc = d->l->ops->get(d->l, id, x);
    if (rc == LS_NOTFOUND) return complain(EXIT_USAGE, "no account %s", id);
    return rc == LS_OK ? 0 : db_error(d, d->l->msg);
}

/* "1 account", "2 accounts". */
static void put_count(size_t n, const char *what)
{
    printf("%zu %s%s", n, what, n == 1 ? "" : "s");
}

static void put_account(const lacct *x)
{
    printf("%s balance %lld reserved %lld limit %lld\n", x->id, (long long)x->balance,
           (long long)x->reserved, (long long)x->limit);
}

/* What a listing read, kept so that its columns can be as wide as their
 * widest: n rows of size bytes. */
typedef struct rows {
    void *v;
    size_t n, cap, size;
    int oom;
} rows;

/* One more row, zeroed and counted; NULL (oom set) when there is no room. */
static void *add_row(rows *t)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        void *v = realloc(t->v, cap * t->size);
        if (!v) {
            t->oom = 1;
            return NULL;
        }
        t->v = v;
        t->cap = cap;
    }
    void *row = (char *)t->v + t->n++ * t->size;
    memset(row, 0, t->size);
    return row;
}

/* After the store's listing: 0, or the exit status of what went wrong. */
static int listed(const ledger_db *d, int rc, const rows *t)
{
    if (rc != LS_OK) return db_error(d, d->l->msg);
    return t->oom ? complain(EXIT_USAGE, "out of memory") : EXIT_OK;
}

/* ---- changes: create, credit, debit, limit, rotate-key ---- */

/* A change on its way: what it is, and the account after it (refused: as
 * it is, for the reason). */
typedef struct change {
    const ledger_args *a;
    uint8_t key_hash[LKEY_HASH_LEN]; /* create, rotate-key */
    lacct acct;
} change;

/* Refused here rather than by the store: a credit past MAX_BALANCE. */
enum { TOO_MUCH = -100 };

static int do_create(lstore *l, change *c)
{
    const ledger_args *a = c->a;
    int rc = l->ops->create(l, a->account, a->limit, c->key_hash, qstore_now_ms());
    return rc == LS_OK ? l->ops->get(l, a->account, &c->acct) : rc;
}

static int do_rotate(lstore *l, change *c)
{
    int rc = l->ops->set_key(l, c->a->account, c->key_hash);
    return rc == LS_OK ? l->ops->get(l, c->a->account, &c->acct) : rc;
}

static int do_adjust(lstore *l, change *c)
{
    const ledger_args *a = c->a;
    int rc = l->ops->get(l, a->account, &c->acct);
    if (rc != LS_OK) return rc;
    int debit = a->cli.cmd == CMD_DEBIT;
    if (!debit && c->acct.balance > MAX_BALANCE - a->amount) return TOO_MUCH;
    lreason why = {.kind = debit ? "debit" : "credit", .note = a->note};
    rc = l->ops->adjust(l, a->account, debit ? -a->amount : a->amount, &why, qstore_now_ms());
    return rc == LS_OK ? l->ops->get(l, a->account, &c->acct) : rc;
}

/* A limit the balance is below already would leave it beyond its limit,
 * which verify reports as a fault. */
static int do_limit(lstore *l, change *c)
{
    const ledger_args *a = c->a;
    int rc = l->ops->get(l, a->account, &c->acct);
    if (rc != LS_OK) return rc;
    if (c->acct.balance < -a->amount) return LS_NOFUNDS;
    rc = l->ops->set_limit(l, a->account, a->amount);
    return rc == LS_OK ? l->ops->get(l, a->account, &c->acct) : rc;
}

/* Why a change was not made, on stderr; the exit status. */
static int refused(const ledger_db *d, const change *c, int rc)
{
    const ledger_args *a = c->a;
    const lacct *x = &c->acct;
    long long bal = x->balance, res = x->reserved, lim = x->limit;
    switch (rc) {
    case LS_NOTFOUND:
        return complain(EXIT_USAGE, "no account %s", a->account);
    case LS_EXISTS:
        return complain(EXIT_STATE, "account %s exists already", a->account);
    case LS_NOFUNDS:
        if (a->cli.cmd == CMD_LIMIT)
            return complain(EXIT_STATE,
                            "account %s has a balance of %lld: its credit limit "
                            "cannot be less than %lld",
                            a->account, bal, -bal);
        return complain(EXIT_STATE,
                        "account %s cannot be debited %lld: balance %lld, reserved %lld, "
                        "limit %lld (%lld available)",
                        a->account, (long long)a->amount, bal, res, lim, bal - res + lim);
    case TOO_MUCH:
        return complain(EXIT_STATE,
                        "account %s cannot be credited %lld: balance %lld, at most %lld",
                        a->account, (long long)a->amount, bal, MAX_BALANCE);
    }
    return db_error(d, d->l->msg);
}

/* Makes the change fn in one transaction: committed when it gives LS_OK,
 * else rolled back. The exit status. */
static int transact(const ledger_db *d, int (*fn)(lstore *l, change *c), change *c)
{
    qstore *q = d->q;
    if (q->ops->begin(q) != QS_OK) return db_error(d, q->msg);
    int rc = fn(d->l, c);
    if (rc == LS_OK) {
        if (q->ops->commit(q) == QS_OK) return EXIT_OK;
        rc = db_error(d, q->msg);
    } else {
        rc = refused(d, c, rc);
    }
    q->ops->rollback(q);
    return rc;
}

static int cmd_change(const ledger_db *d, const ledger_args *a)
{
    change c = {.a = a};
    int rc = transact(d, a->cli.cmd == CMD_LIMIT ? do_limit : do_adjust, &c);
    if (rc == EXIT_OK) put_account(&c.acct);
    return rc;
}

/* create and rotate-key: a new key, its hash stored, the key printed. */
static int cmd_key(const ledger_db *d, const ledger_args *a)
{
    char key[LEDGER_KEY_LEN + 1];
    change c = {.a = a};
    if (ledger_key_new(key) < 0)
        return complain(EXIT_USAGE, "cannot make a key: no randomness: %s", strerror(errno));
    int rc = ledger_key_hash(key, LEDGER_KEY_LEN, c.key_hash) < 0
                 ? complain(EXIT_USAGE, "cannot make a key: no SHA-256 in OpenSSL")
                 : transact(d, a->cli.cmd == CMD_CREATE ? do_create : do_rotate, &c);
    if (rc == EXIT_OK) {
        printf("%s\n", key);
        if (fflush(stdout) != 0)
            rc = complain(EXIT_USAGE,
                          "the key of account %s could not be written (%s): make "
                          "another with rotate-key",
                          a->account, strerror(errno));
        else if (a->cli.cmd == CMD_CREATE)
            fprintf(stderr, "%s: account %s created; its key is shown this once only\n", WHO,
                    a->account);
        else
            fprintf(stderr,
                    "%s: account %s has a new key, shown this once only; the old one no longer "
                    "works\n",
                    WHO, a->account);
    }
    explicit_bzero(key, sizeof key);
    return rc;
}

/* ---- balance ---- */

static int add_account(const lacct *x, void *arg)
{
    lacct *row = add_row(arg);
    if (!row) return 1;
    *row = *x;
    return 0;
}

static int num_width(int w, int64_t v)
{
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)v);
    return cli_widest(w, num);
}

/* ACCOUNT, then BALANCE, RESERVED and LIMIT right-aligned, each column as
 * wide as its widest. */
static void print_accounts(const rows *t)
{
    const lacct *v = t->v;
    int wid = (int)strlen("ACCOUNT"), wbal = (int)strlen("BALANCE");
    int wres = (int)strlen("RESERVED"), wlim = (int)strlen("LIMIT");
    for (size_t i = 0; i < t->n; i++) {
        wid = cli_widest(wid, v[i].id);
        wbal = num_width(wbal, v[i].balance);
        wres = num_width(wres, v[i].reserved);
        wlim = num_width(wlim, v[i].limit);
    }
    printf("%-*s  %*s  %*s  %*s\n", wid, "ACCOUNT", wbal, "BALANCE", wres, "RESERVED", wlim,
           "LIMIT");
    for (size_t i = 0; i < t->n; i++) {
        const lacct *x = &v[i];
        printf("%-*s  %*lld  %*lld  %*lld\n", wid, x->id, wbal, (long long)x->balance, wres,
               (long long)x->reserved, wlim, (long long)x->limit);
    }
}

static int cmd_balance(const ledger_db *d, const ledger_args *a)
{
    if (a->account) {
        lacct x;
        int rc = get_account(d, a->account, &x);
        if (rc == EXIT_OK) put_account(&x);
        return rc;
    }
    rows t = {.size = sizeof(lacct)};
    int rc = d->l->ops->accounts(d->l, add_account, &t);
    if (rc == LS_OK && !t.oom) print_accounts(&t);
    free(t.v);
    return listed(d, rc, &t);
}

/* ---- history ---- */

/* A value from a client or a person, as one word: bare when it is one
 * already, else in double quotes with '"', '\' and control bytes escaped,
 * so that none reaches a terminal as a command. */
static void put_value(FILE *f, const char *s)
{
    int bare = *s != 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && bare; p++)
        bare = *p > ' ' && *p != 0x7f && *p != '"' && *p != '\\';
    if (bare) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < ' ' || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void put_detail(FILE *f, const char *name, const char *value)
{
    if (!value) return;
    if (ftell(f) > 0) fputc(' ', f);
    fprintf(f, "%s=", name);
    put_value(f, value);
}

/* The reason's fields that are set, "name=value" each: a status and bytes
 * are set together (bytes may be 0), as the store keeps them. */
static char *details(const lreason *why)
{
    char *out = NULL, status[16] = "", bytes[24] = "";
    size_t len;
    FILE *f = open_memstream(&out, &len);
    if (!f) return NULL;
    if (why->status) snprintf(status, sizeof status, "%d", why->status);
    if (why->status || why->bytes)
        snprintf(bytes, sizeof bytes, "%llu", (unsigned long long)why->bytes);
    put_detail(f, "note", why->note);
    put_detail(f, "request", why->request);
    put_detail(f, "vhost", why->vhost);
    put_detail(f, "path", why->path);
    put_detail(f, "status", *status ? status : NULL);
    put_detail(f, "bytes", *bytes ? bytes : NULL);
    put_detail(f, "idem_key", why->idem_key);
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

typedef struct hrow {
    char seq[24], time[32], amount[24], balance[24];
    char *kind, *details;
} hrow;

static int add_entry(const lentry *e, void *arg)
{
    rows *h = arg;
    hrow *r = add_row(h);
    if (!r) return 1;
    snprintf(r->seq, sizeof r->seq, "%lld", (long long)e->seq);
    qstore_iso_time(e->time, 0, r->time, sizeof r->time);
    snprintf(r->amount, sizeof r->amount, "%+lld", (long long)e->amount);
    snprintf(r->balance, sizeof r->balance, "%lld", (long long)e->balance);
    r->kind = strdup(e->why.kind ? e->why.kind : "");
    r->details = details(&e->why);
    if (!r->kind || !r->details) return h->oom = 1;
    return 0;
}

static void free_history(rows *h)
{
    hrow *v = h->v;
    for (size_t i = 0; i < h->n; i++) {
        free(v[i].kind);
        free(v[i].details);
    }
    free(h->v);
}

static void print_history(const rows *h)
{
    const hrow *v = h->v;
    int wseq = (int)strlen("SEQ"), wtime = (int)strlen("2000-01-01T00:00:00Z");
    int wamount = (int)strlen("AMOUNT"), wbal = (int)strlen("BALANCE"), wkind = (int)strlen("KIND");
    for (size_t i = 0; i < h->n; i++) {
        const hrow *r = &v[i];
        wseq = cli_widest(wseq, r->seq);
        wtime = cli_widest(wtime, r->time);
        wamount = cli_widest(wamount, r->amount);
        wbal = cli_widest(wbal, r->balance);
        wkind = cli_widest(wkind, r->kind);
    }
    printf("%*s  %-*s  %*s  %*s  %-*s  DETAILS\n", wseq, "SEQ", wtime, "TIME", wamount, "AMOUNT",
           wbal, "BALANCE", wkind, "KIND");
    for (size_t i = 0; i < h->n; i++) {
        const hrow *r = &v[i];
        printf("%*s  %-*s  %*s  %*s  ", wseq, r->seq, wtime, r->time, wamount, r->amount, wbal,
               r->balance);
        if (*r->details)
            printf("%-*s  %s\n", wkind, r->kind, r->details);
        else
            printf("%s\n", r->kind);
    }
}

static int cmd_history(const ledger_db *d, const ledger_args *a)
{
    lacct x;
    int rc = get_account(d, a->account, &x);
    if (rc) return rc;
    rows h = {.size = sizeof(hrow)};
    rc = d->l->ops->history(d->l, a->account, a->since, add_entry, &h);
    if (rc == LS_OK && !h.oom) print_history(&h);
    free_history(&h);
    return listed(d, rc, &h);
}

/* ---- export ---- */

/* A CSV field (RFC 4180): as it is, or quoted with its quotes doubled when
 * it holds a comma, a quote or a line break. NULL is empty. */
static void put_csv(const char *s)
{
    if (s && s[strcspn(s, ",\"\r\n")]) {
        putchar('"');
        for (; *s; s++) {
            if (*s == '"') putchar('"');
            putchar(*s);
        }
        putchar('"');
    } else if (s) {
        fputs(s, stdout);
    }
}

static int put_csv_entry(const lentry *e, void *arg)
{
    (void)arg;
    const lreason *why = &e->why;
    char t[40];
    qstore_iso_time(e->time, 1, t, sizeof t);
    printf("%lld,%s,", (long long)e->seq, t);
    put_csv(e->account);
    printf(",%lld,%lld,", (long long)e->amount, (long long)e->balance);
    const char *text[] = {why->kind, why->note, why->request, why->vhost, why->path};
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++) {
        put_csv(text[i]);
        putchar(',');
    }
    if (why->status) printf("%d", why->status);
    putchar(',');
    if (why->status || why->bytes) printf("%llu", (unsigned long long)why->bytes);
    putchar(',');
    put_csv(why->idem_key);
    fputs("\r\n", stdout);
    return 0;
}

static int cmd_export(const ledger_db *d, const ledger_args *a)
{
    lacct x;
    int rc = a->account ? get_account(d, a->account, &x) : 0;
    if (rc) return rc;
    fputs("seq,time,account,amount,balance,kind,note,request,vhost,path,status,bytes,idem_key\r\n",
          stdout);
    if (d->l->ops->history(d->l, a->account, a->since, put_csv_entry, NULL) != LS_OK)
        return db_error(d, d->l->msg);
    return EXIT_OK;
}

/* ---- verify ---- */

static void put_problem(const char *id, const char *what, void *arg)
{
    (void)arg;
    printf("%s: %s\n", id, what);
}

static int count_account(const lacct *x, void *arg)
{
    (void)x;
    (*(size_t *)arg)++;
    return 0;
}

static int cmd_verify(const ledger_db *d)
{
    size_t n = 0;
    if (d->l->ops->accounts(d->l, count_account, &n) != LS_OK) return db_error(d, d->l->msg);
    int problems = d->l->ops->verify(d->l, put_problem, NULL);
    if (problems < 0) return db_error(d, d->l->msg);
    fputs("verified ", stdout);
    put_count(n, "account");
    fputs(": ", stdout);
    if (problems)
        put_count((size_t)problems, "problem");
    else
        fputs("no problems", stdout);
    putchar('\n');
    return problems ? EXIT_STATE : EXIT_OK;
}

static int run(const ledger_db *d, const ledger_args *a)
{
    switch (a->cli.cmd) {
    case CMD_CREATE:
    case CMD_ROTATE:
        return cmd_key(d, a);
    case CMD_CREDIT:
    case CMD_DEBIT:
    case CMD_LIMIT:
        return cmd_change(d, a);
    case CMD_BALANCE:
        return cmd_balance(d, a);
    case CMD_HISTORY:
        return cmd_history(d, a);
    case CMD_EXPORT:
        return cmd_export(d, a);
    default:
        return cmd_verify(d);
    }
}

int ledger_cli(int argc, char **argv)
{
    ledger_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc || a.cli.help) return rc;
    ledger_db d = {0};
    if ((rc = open_db(&a, &d)) == 0) rc = run(&d, &a);
    if (d.l) d.l->ops->close(d.l);
    if (d.q) d.q->ops->close(d.q);
    return cli_flush(WHO, rc);
}
