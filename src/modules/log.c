/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * log.c - access logs. A format is a list of literal pieces and variables,
 * compiled at load so that a line costs one pass over it. Lines collect in a
 * buffer per loop and per file, written out when nearly full, once a second,
 * when a loop leaves a site behind and when it ends. Each write holds whole
 * lines and files are opened O_APPEND, so lines from several loops never
 * interleave. Quotes, backslashes and control bytes in logged fields are
 * escaped as \" \\ and \xHH so a client cannot forge a line; a format
 * that begins "escape=json " (and the "json" format) escapes them as JSON
 * instead, as valid UTF-8 always, so every line parses.
 *
 * What a format does not name costs nothing: a request's id is made only
 * when something asks for it (a format, the request_id_header setting, a
 * script, an error about the request), its time only read when logged.
 * Each variable's room in a line leaves what the rest of the format needs,
 * so a long field is cut short, never the line's end (a JSON line's braces).
 */
#include "log.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "errlog.h"
#include "json.h"
#include "req.h"
#include "response.h"
#include "rules.h"
#include "site.h"

#define LOG_BUF 65536
#define LOG_LINE_MAX 16384
#define VAR_ROOM 64 /* what each variable is sure of in a line: a number fits */

enum {
    V_LITERAL,
    V_REMOTE_ADDR,
    V_REMOTE_USER,
    V_TIME_LOCAL,
    V_TIME_ISO8601,
    V_REQUEST,
    V_REQUEST_METHOD,
    V_REQUEST_URI,
    V_URI,
    V_ARGS,
    V_STATUS,
    V_BODY_BYTES_SENT,
    V_HOST,
    V_JOB_ID,
    V_CHARGE_ACCOUNT,
    V_CHARGE,
    V_SCHEME,
    V_SSL_PROTOCOL,
    V_SSL_CIPHER,
    V_SSL_SERVER_NAME,
    V_SERVER_PROTOCOL,
    V_REQUEST_TIME,
    V_UPSTREAM_TIME,
    V_REQUEST_ID,
    V_MSEC,
    V_HTTP,
};

static const struct {
    const char *name;
    int id;
} vars[] = {
    {"remote_addr", V_REMOTE_ADDR},
    {"remote_user", V_REMOTE_USER},
    {"time_local", V_TIME_LOCAL},
    {"time_iso8601", V_TIME_ISO8601},
    {"request_method", V_REQUEST_METHOD},
    {"request_uri", V_REQUEST_URI},
    {"request", V_REQUEST},
    {"uri", V_URI},
    {"args", V_ARGS},
    {"status", V_STATUS},
    {"body_bytes_sent", V_BODY_BYTES_SENT},
    {"host", V_HOST},
    {"job_id", V_JOB_ID},
    {"charge_account", V_CHARGE_ACCOUNT},
    {"charge", V_CHARGE},
    {"scheme", V_SCHEME},
    {"ssl_protocol", V_SSL_PROTOCOL},
    {"ssl_cipher", V_SSL_CIPHER},
    {"ssl_server_name", V_SSL_SERVER_NAME},
    {"server_protocol", V_SERVER_PROTOCOL},
    {"request_time", V_REQUEST_TIME},
    {"upstream_time", V_UPSTREAM_TIME},
    {"request_id", V_REQUEST_ID},
    {"msec", V_MSEC},
};

/* The "json" format: one object per line, numbers as numbers. */
static const char json_format[] = "escape=json {"
                                  "\"time\":\"$time_iso8601\","
                                  "\"msec\":$msec,"
                                  "\"remote_addr\":\"$remote_addr\","
                                  "\"remote_user\":\"$remote_user\","
                                  "\"request\":\"$request\","
                                  "\"request_method\":\"$request_method\","
                                  "\"request_uri\":\"$request_uri\","
                                  "\"server_protocol\":\"$server_protocol\","
                                  "\"status\":$status,"
                                  "\"body_bytes_sent\":$body_bytes_sent,"
                                  "\"request_time\":$request_time,"
                                  "\"upstream_time\":$upstream_time,"
                                  "\"host\":\"$host\","
                                  "\"scheme\":\"$scheme\","
                                  "\"referer\":\"$http_referer\","
                                  "\"user_agent\":\"$http_user_agent\","
                                  "\"request_id\":\"$request_id\""
                                  "}";

typedef struct piece {
    int id;
    char *text; /* the literal, or the header name of $http_NAME (lowercase, '-') */
    size_t len;
    size_t tail; /* a variable's: the room the rest of the format needs after it */
    /* escape=json: not inside the format's quotes, so a string is quoted
     * and nothing is null (inside them, nothing is ""). */
    uint8_t bare;
} piece;

struct logfmt {
    piece *p;
    size_t n;
    uint8_t json; /* escape=json */
};

static int add_piece(logfmt *f, int id, const char *text, size_t len)
{
    piece *np = realloc(f->p, (f->n + 1) * sizeof *np);
    if (!np) return -1;
    f->p = np;
    char *t = NULL;
    if (len) {
        if (!(t = malloc(len))) return -1;
        memcpy(t, text, len);
    }
    f->p[f->n++] = (piece){.id = id, .text = t, .len = len};
    return 0;
}

/* After the pieces are known: each variable's tail and quoting. */
static void finish(logfmt *f)
{
    size_t tail = 0;
    for (size_t i = f->n; i--;) {
        piece *pc = &f->p[i];
        if (pc->id == V_LITERAL) {
            tail += pc->len;
            continue;
        }
        pc->tail = tail;
        tail += VAR_ROOM;
        const piece *prev = i ? &f->p[i - 1] : NULL;
        pc->bare = !prev || prev->id != V_LITERAL || prev->text[prev->len - 1] != '"';
    }
}

logfmt *logfmt_compile(const char *spec, char *err, size_t errlen)
{
    if (strcmp(spec, "combined") == 0)
        spec = "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
               "\"$http_referer\" \"$http_user_agent\"";
    else if (strcmp(spec, "common") == 0)
        spec = "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent";
    else if (strcmp(spec, "json") == 0)
        spec = json_format;
    logfmt *f = calloc(1, sizeof *f);
    if (!f) goto oom;
    if (strncmp(spec, "escape=json ", 12) == 0) {
        f->json = 1;
        spec += 12;
    } else if (strncmp(spec, "escape=default ", 15) == 0) {
        spec += 15;
    }
    const char *s = spec;
    while (*s) {
        const char *d = strchr(s, '$');
        size_t lit = d ? (size_t)(d - s) : strlen(s);
        if (lit && add_piece(f, V_LITERAL, s, lit) < 0) goto oom;
        s += lit;
        if (!d) break;
        const char *name = ++s;
        while ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')
            s++;
        size_t nlen = (size_t)(s - name);
        int id = -1;
        for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
            if (strlen(vars[i].name) == nlen && memcmp(vars[i].name, name, nlen) == 0)
                id = vars[i].id;
        if (id >= 0) {
            if (add_piece(f, id, NULL, 0) < 0) goto oom;
        } else if (nlen > 5 && memcmp(name, "http_", 5) == 0) {
            char h[128];
            if (nlen - 5 >= sizeof h) goto bad;
            for (size_t i = 0; i < nlen - 5; i++)
                h[i] = name[5 + i] == '_' ? '-' : name[5 + i];
            if (add_piece(f, V_HTTP, h, nlen - 5) < 0) goto oom;
        } else {
        bad:
            snprintf(err, errlen,
                     "unknown variable $%.*s in the log format; use $remote_addr, $remote_user, "
                     "$time_local, $time_iso8601, $request, $request_method, $request_uri, $uri, "
                     "$args, $status, $body_bytes_sent, $host, $job_id, $charge_account, $charge, "
                     "$scheme, $ssl_protocol, $ssl_cipher, $ssl_server_name, $server_protocol, "
                     "$request_time, $upstream_time, $request_id, $msec or $http_NAME",
                     (int)(nlen > 64 ? 64 : nlen), name);
            logfmt_free(f);
            return NULL;
        }
    }
    finish(f);
    return f;
oom:
    snprintf(err, errlen, "out of memory");
    logfmt_free(f);
    return NULL;
}

void logfmt_free(logfmt *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->n; i++)
        free(f->p[i].text);
    free(f->p);
    free(f);
}

int log_open(const char *path)
{
    if (strcmp(path, "-") == 0) return fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

void log_reopen(site *st)
{
    for (size_t i = 0; i < st->nlogs; i++) {
        logfile *lf = &st->logs[i];
        if (strcmp(lf->path, "-") == 0) continue;
        int fd = log_open(lf->path);
        if (fd < 0) {
            errlog(ERRLOG_ERROR, "htd: cannot reopen access log %s: %m; still writing the old file",
                   lf->path);
            continue;
        }
        dup3(fd, lf->fd, O_CLOEXEC);
        close(fd);
    }
}

static void flush_one(logfile *lf, int t)
{
    size_t off = 0, len = lf->len[t];
    while (off < len) {
        ssize_t n = write(lf->fd, lf->buf[t] + off, len - off);
        if (n <= 0) break; /* a full disk loses log lines, never requests */
        off += (size_t)n;
    }
    lf->len[t] = 0;
}

void log_flush_all(site *st)
{
    for (size_t i = 0; i < st->nlogs; i++)
        for (int t = 0; st->logs[i].buf && t < st->nthreads; t++)
            if (st->logs[i].len[t]) flush_one(&st->logs[i], t);
}

void log_flush(worker *l, site *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->nlogs; i++)
        if (st->logs[i].len[l->id]) flush_one(&st->logs[i], l->id);
}

static char *put_escaped(char *p, char *end, htd_str s)
{
    static const char hex[] = "0123456789abcdef";
    if (!s.p || !s.len) {
        if (p < end) *p++ = '-';
        return p;
    }
    for (size_t i = 0; i < s.len && end - p >= 4; i++) {
        unsigned char ch = (unsigned char)s.p[i];
        if (ch == '"' || ch == '\\') {
            *p++ = '\\';
            *p++ = (char)ch;
        } else if (ch < 0x20 || ch >= 0x7f) {
            *p++ = '\\';
            *p++ = 'x';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 15];
        } else {
            *p++ = (char)ch;
        }
    }
    return p;
}

static char *put_str(char *p, char *end, const char *s, size_t n)
{
    if (p >= end) return p;
    if ((size_t)(end - p) < n) n = (size_t)(end - p);
    memcpy(p, s, n);
    return p + n;
}

/* A value that is not there: - (JSON: "" inside quotes, else null). */
static char *put_none(char *p, char *end, const logfmt *f, const piece *pc)
{
    if (!f->json) return put_str(p, end, "-", 1);
    return pc->bare ? put_str(p, end, "null", 4) : p;
}

/* s as the inside of a JSON string. */
static char *put_json(char *p, char *end, htd_str s)
{
    if (p >= end) return p;
    size_t cap = (size_t)(end - p) + 1; /* the NUL json_escape ends with: the line has room */
    size_t n = json_escape(p, cap, s.p, s.len);
    return p + (n < cap ? n : strlen(p));
}

/* s as the format escapes it; absent when empty. */
static char *put_val(char *p, char *end, const logfmt *f, const piece *pc, htd_str s)
{
    if (!s.p || !s.len) return put_none(p, end, f, pc);
    if (!f->json) return put_escaped(p, end, s);
    if (!pc->bare) return put_json(p, end, s);
    if (end - p < 2) return p;
    *p++ = '"';
    p = put_json(p, end - 1, s);
    *p++ = '"';
    return p;
}

/* A string htd made (an address, a date), which needs no escaping: as it
 * is, but quoted where escape=json has no quotes around it. */
static char *put_safe(char *p, char *end, const logfmt *f, const piece *pc, const char *s, size_t n)
{
    if (f->json && pc->bare) return put_val(p, end, f, pc, (htd_str){s, n});
    return put_str(p, end, s, n);
}

/* Milliseconds as seconds: "0.003". */
static char *put_ms(char *p, char *end, uint64_t ms)
{
    char num[32];
    int n = snprintf(num, sizeof num, "%llu.%03u", (unsigned long long)(ms / 1000),
                     (unsigned)(ms % 1000));
    return put_str(p, end, num, (size_t)n);
}

/* ---- request ids ---- */

/* Each loop's: a random seed taken once, and a count. An id is the two
 * halves of the seed, each offset by the count and mixed by a bijection,
 * so a loop never repeats one and the ids of two loops are as apart as
 * random ones, for no system call per request. */
typedef struct idgen {
    uint64_t a, b, n;
} idgen;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ull;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dull;
    x ^= x >> 33;
    return x;
}

static idgen *idgen_of(worker *w)
{
    void **slot = loop_local(w->loop, &log_module);
    if (!slot) return NULL;
    if (!*slot) {
        idgen *g = calloc(1, sizeof *g);
        if (!g) return NULL;
        if (getrandom(g, 2 * sizeof(uint64_t), 0) != 2 * sizeof(uint64_t)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            g->a = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uintptr_t)g;
            g->b = mix(g->a ^ (uint64_t)getpid()) ^ (uint64_t)w->id;
        }
        *slot = g;
    }
    return *slot;
}

const char *log_request_id(struct htd_req *hr)
{
    if (hr->log_request_id) return hr->log_request_id;
    static const char hex[] = "0123456789abcdef";
    idgen *g = hr->w ? idgen_of(hr->w) : NULL;
    char *id = g ? arena_alloc(&hr->mem, 33) : NULL;
    if (!id) return NULL;
    uint64_t n = g->n++;
    uint64_t h[2] = {mix(g->a + n), mix(g->b + n * 0x9e3779b97f4a7c15ull)};
    for (int i = 0; i < 32; i++)
        id[i] = hex[(h[i / 16] >> (60 - 4 * (i % 16))) & 15];
    id[32] = 0;
    return hr->log_request_id = id;
}

static void free_idgen(void *state)
{
    free(state);
}

/* The first line of a request that did not parse, as it came. */
static htd_str raw_line(const conn *c)
{
    if (c->state != CS_HEAD || !c->rbuf || c->rpos >= c->rlen) return (htd_str){NULL, 0};
    const char *line = c->rbuf + c->rpos;
    size_t n = c->rlen - c->rpos;
    const char *eol = memchr(line, '\n', n);
    if (eol) n = (size_t)(eol - line);
    if (n && line[n - 1] == '\r') n--;
    if (n > 1024) n = 1024;
    return (htd_str){line, n};
}

void log_access(const conn *c, int status, uint64_t bytes)
{
    worker *l = c->w;
    struct htd_req *hr = conn_current(c);
    const htd_request *r = hr ? hr->r : NULL;
    const vhost *vh = hr && hr->vh ? hr->vh : l->site ? &l->site->vhosts[0] : NULL;
    logfile *lf = vh ? vh->log : NULL;
    if (!lf) return;
    int t = l->id;
    if (!lf->buf[t] && !(lf->buf[t] = malloc(LOG_BUF))) return;
    if (c->head_only) bytes = 0;
    if (LOG_BUF - lf->len[t] < LOG_LINE_MAX) flush_one(lf, t);
    char *start = lf->buf[t] + lf->len[t], *p = start, *lend = p + LOG_LINE_MAX - 2;
    char num[32];
    transport_info ti;
    int secure = -1; /* not asked yet */
    const logfmt *f = lf->fmt;
    for (size_t i = 0; i < f->n; i++) {
        const piece *pc = &f->p[i];
        /* A variable's room: what the rest of the format leaves. */
        char *end = (size_t)(lend - p) > pc->tail ? lend - pc->tail : p;
        switch (pc->id) {
        case V_LITERAL:
            p = put_str(p, lend, pc->text, pc->len);
            break;
        case V_REMOTE_ADDR: {
            char host[INET6_ADDRSTRLEN] = "-";
            const struct sockaddr_in6 *who = hr ? &hr->client : &c->peer;
            if (who->sin6_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)who)->sin_addr, host, sizeof host);
            else if (who->sin6_family == AF_INET6)
                inet_ntop(AF_INET6, &who->sin6_addr, host, sizeof host);
            p = put_safe(p, end, f, pc, host, strlen(host));
            break;
        }
        case V_REMOTE_USER:
            /* The user the client named, accepted or not, as nginx logs it. */
            p = put_val(p, end, f, pc, hr ? rules_claimed_user(hr) : (htd_str){NULL, 0});
            break;
        case V_TIME_LOCAL:
            /* "[25/Nov/2026:10:00:00 +0000]" without its brackets */
            p = put_safe(p, end, f, pc, l->log_date + 1, strlen(l->log_date) - 2);
            break;
        case V_TIME_ISO8601:
            p = put_safe(p, end, f, pc, l->iso_date, strlen(l->iso_date));
            break;
        case V_REQUEST:
            if (r && f->json) {
                if (pc->bare && end - p < 2) break;  /* no room for the quotes */
                char *in = pc->bare ? end - 1 : end; /* room for a closing quote */
                if (pc->bare) p = put_str(p, in, "\"", 1);
                p = put_json(p, in, r->method);
                p = put_str(p, in, " ", 1);
                p = put_json(p, in, r->target);
                if (r->version != 9)
                    p = put_str(p, in, r->version == 10 ? " HTTP/1.0" : " HTTP/1.1", 9);
                if (pc->bare) p = put_str(p, end, "\"", 1);
            } else if (r) {
                p = put_escaped(p, end, r->method);
                p = put_str(p, end, " ", 1);
                p = put_escaped(p, end, r->target);
                if (r->version != 9)
                    p = put_str(p, end, r->version == 10 ? " HTTP/1.0" : " HTTP/1.1", 9);
            } else {
                p = put_val(p, end, f, pc, raw_line(c));
            }
            break;
        case V_REQUEST_METHOD:
            p = put_val(p, end, f, pc, r ? r->method : (htd_str){NULL, 0});
            break;
        case V_REQUEST_URI:
            p = put_val(p, end, f, pc, r ? r->target : (htd_str){NULL, 0});
            break;
        case V_URI:
            p = put_val(p, end, f, pc,
                        hr && hr->path ? (htd_str){hr->path, hr->path_len}
                        : r            ? r->path
                                       : (htd_str){NULL, 0});
            break;
        case V_ARGS:
            p = put_val(p, end, f, pc, r ? r->query : (htd_str){NULL, 0});
            break;
        case V_STATUS:
            p = put_str(p, end, num, (size_t)snprintf(num, sizeof num, "%d", status));
            break;
        case V_BODY_BYTES_SENT:
            if (bytes || f->json) /* JSON: a number always, 0 for no body */
                p = put_str(p, end, num,
                            (size_t)snprintf(num, sizeof num, "%llu", (unsigned long long)bytes));
            else
                p = put_str(p, end, "-", 1);
            break;
        case V_HOST:
            p = put_val(p, end, f, pc, r ? r->host : (htd_str){NULL, 0});
            break;
        case V_CHARGE_ACCOUNT:
            p = put_val(p, end, f, pc, hr ? hr->log_account : (htd_str){NULL, 0});
            break;
        case V_CHARGE:
            if (hr && hr->log_account.p)
                p = put_str(p, end, num,
                            (size_t)snprintf(num, sizeof num, "%lld", (long long)hr->log_charge));
            else
                p = put_none(p, end, f, pc);
            break;
        case V_JOB_ID:
            p = put_val(p, end, f, pc, hr ? hr->log_id : (htd_str){NULL, 0});
            break;
        case V_SCHEME:
        case V_SSL_PROTOCOL:
        case V_SSL_CIPHER:
        case V_SSL_SERVER_NAME: {
            if (secure < 0) secure = transport_get_info(c->tp, &ti) == 0;
            const char *v = pc->id == V_SCHEME         ? (secure ? "https" : "http")
                            : !secure                  ? NULL
                            : pc->id == V_SSL_PROTOCOL ? ti.protocol
                            : pc->id == V_SSL_CIPHER   ? ti.cipher
                                                       : ti.server_name;
            p = put_val(p, end, f, pc, v ? (htd_str){v, strlen(v)} : (htd_str){NULL, 0});
            break;
        }
        case V_SERVER_PROTOCOL:
            p = put_val(p, end, f, pc,
                        !r || r->version == 9
                            ? (htd_str){NULL, 0}
                            : (htd_str){r->version == 10 ? "HTTP/1.0" : "HTTP/1.1", 8});
            break;
        case V_REQUEST_TIME: {
            /* From the head's first bytes; a line with no request, 0. */
            uint64_t begun = c->req ? c->req->start_ms : l->now;
            p = put_ms(p, end, l->now > begun ? l->now - begun : 0);
            break;
        }
        case V_UPSTREAM_TIME:
            if (hr && hr->log_upstream)
                p = put_ms(p, end, hr->log_upstream_ms);
            else
                p = put_none(p, end, f, pc);
            break;
        case V_REQUEST_ID: {
            const char *id = c->req ? log_request_id(c->req) : NULL;
            p = put_val(p, end, f, pc, id ? (htd_str){id, 32} : (htd_str){NULL, 0});
            break;
        }
        case V_MSEC: {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            p = put_ms(p, end, (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
            break;
        }
        case V_HTTP:
            p = put_val(p, end, f, pc,
                        r ? htd_request_header(r, pc->text, pc->len) : (htd_str){NULL, 0});
            break;
        }
    }
    *p++ = '\n';
    lf->len[t] += (size_t)(p - start);
}

/* request_id_header: the vhost's (or the top level's) header with the id. */
static int head(struct htd_req *hr, const resp *rs)
{
    (void)rs;
    const vhost *vh = hr->vh ? hr->vh : hr->w && hr->w->site ? &hr->w->site->vhosts[0] : NULL;
    if (!vh || !vh->request_id_header) return HEAD_GO;
    const char *id = log_request_id(hr);
    if (id) htd_resp_header(hr, vh->request_id_header, id);
    return HEAD_GO;
}

/* request_id_header is a config file's setting: without one, responses
 * do not pass through the header filter at all. */
static int init(const htd_config *cfg, void **state, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    *state = cfg->config_file ? (void *)&log_module : NULL;
    return 0;
}

static int wanted(const void *state, int ph)
{
    return ph != PH_HEAD || state;
}

void log_error(int level, const struct conn *c, const char *fmt, ...)
{
    if (!errlog_wants(level)) return;
    char ctx[64] = "";
    if (c) {
        const char *id = c->req ? log_request_id(c->req) : NULL;
        snprintf(ctx, sizeof ctx, "#c%d%s%s", c->ev.fd, id ? " " : "", id ? id : "");
    }
    va_list ap;
    va_start(ap, fmt);
    errlog_vctx(level, c ? ctx : NULL, fmt, ap);
    va_end(ap);
}

const htd_module log_module = {
    .name = "log",
    .init = init,
    .wanted = wanted,
    .log = log_access,
    .head = head,
    .free_local = free_idgen,
};
