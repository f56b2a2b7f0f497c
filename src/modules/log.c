/*
 * log.c - access logs. A format is a list of literal pieces and variables,
 * compiled at load so that a line costs one pass over it. Lines collect in a
 * buffer per loop and per file, written out when nearly full, once a second,
 * when a loop leaves a site behind and when it ends. Each write holds whole
 * lines and files are opened O_APPEND, so lines from several loops never
 * interleave. Quotes, backslashes and control bytes in logged fields are
 * escaped as \" \\ and \xHH so a client cannot forge a line.
 */
#include "log.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "req.h"
#include "rules.h"
#include "site.h"

#define LOG_BUF 65536
#define LOG_LINE_MAX 4096

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
};

typedef struct piece {
    int id;
    char *text; /* the literal, or the header name of $http_NAME (lowercase, '-') */
    size_t len;
} piece;

struct logfmt {
    piece *p;
    size_t n;
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
    f->p[f->n++] = (piece){id, t, len};
    return 0;
}

logfmt *logfmt_compile(const char *spec, char *err, size_t errlen)
{
    if (strcmp(spec, "combined") == 0)
        spec = "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
               "\"$http_referer\" \"$http_user_agent\"";
    else if (strcmp(spec, "common") == 0)
        spec = "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent";
    logfmt *f = calloc(1, sizeof *f);
    if (!f) goto oom;
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
                     "$scheme, $ssl_protocol, $ssl_cipher, $ssl_server_name or $http_NAME",
                     (int)(nlen > 64 ? 64 : nlen), name);
            logfmt_free(f);
            return NULL;
        }
    }
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
            fprintf(stderr, "htd: cannot reopen access log %s: %m; still writing the old file\n",
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
    if ((size_t)(end - p) < n) n = (size_t)(end - p);
    memcpy(p, s, n);
    return p + n;
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
    char *start = lf->buf[t] + lf->len[t], *p = start, *end = p + LOG_LINE_MAX - 2;
    char num[32];
    transport_info ti;
    int secure = -1; /* not asked yet */
    for (size_t i = 0; i < lf->fmt->n; i++) {
        const piece *pc = &lf->fmt->p[i];
        switch (pc->id) {
        case V_LITERAL:
            p = put_str(p, end, pc->text, pc->len);
            break;
        case V_REMOTE_ADDR: {
            char host[INET6_ADDRSTRLEN] = "-";
            const struct sockaddr_in6 *who = hr ? &hr->client : &c->peer;
            if (who->sin6_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)who)->sin_addr, host, sizeof host);
            else if (who->sin6_family == AF_INET6)
                inet_ntop(AF_INET6, &who->sin6_addr, host, sizeof host);
            p = put_str(p, end, host, strlen(host));
            break;
        }
        case V_REMOTE_USER:
            /* The user the client named, accepted or not, as nginx logs it. */
            p = put_escaped(p, end, hr ? rules_claimed_user(hr) : (htd_str){NULL, 0});
            break;
        case V_TIME_LOCAL:
            /* "[25/Nov/2026:10:00:00 +0000]" without its brackets */
            p = put_str(p, end, l->log_date + 1, strlen(l->log_date) - 2);
            break;
        case V_TIME_ISO8601:
            p = put_str(p, end, l->iso_date, strlen(l->iso_date));
            break;
        case V_REQUEST:
            if (r) {
                p = put_escaped(p, end, r->method);
                p = put_str(p, end, " ", 1);
                p = put_escaped(p, end, r->target);
                if (r->version != 9)
                    p = put_str(p, end, r->version == 10 ? " HTTP/1.0" : " HTTP/1.1", 9);
            } else {
                p = put_escaped(p, end, raw_line(c));
            }
            break;
        case V_REQUEST_METHOD:
            p = put_escaped(p, end, r ? r->method : (htd_str){NULL, 0});
            break;
        case V_REQUEST_URI:
            p = put_escaped(p, end, r ? r->target : (htd_str){NULL, 0});
            break;
        case V_URI:
            p = put_escaped(p, end,
                            hr && hr->path ? (htd_str){hr->path, hr->path_len}
                            : r            ? r->path
                                           : (htd_str){NULL, 0});
            break;
        case V_ARGS:
            p = put_escaped(p, end, r ? r->query : (htd_str){NULL, 0});
            break;
        case V_STATUS:
            p = put_str(p, end, num, (size_t)snprintf(num, sizeof num, "%d", status));
            break;
        case V_BODY_BYTES_SENT:
            if (bytes)
                p = put_str(p, end, num,
                            (size_t)snprintf(num, sizeof num, "%llu", (unsigned long long)bytes));
            else
                p = put_str(p, end, "-", 1);
            break;
        case V_HOST:
            p = put_escaped(p, end, r ? r->host : (htd_str){NULL, 0});
            break;
        case V_CHARGE_ACCOUNT:
            p = put_escaped(p, end, hr ? hr->log_account : (htd_str){NULL, 0});
            break;
        case V_CHARGE:
            if (hr && hr->log_account.p)
                p = put_str(p, end, num,
                            (size_t)snprintf(num, sizeof num, "%lld", (long long)hr->log_charge));
            else
                p = put_str(p, end, "-", 1);
            break;
        case V_JOB_ID:
            p = put_escaped(p, end, hr ? hr->log_id : (htd_str){NULL, 0});
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
            p = put_escaped(p, end, v ? (htd_str){v, strlen(v)} : (htd_str){NULL, 0});
            break;
        }
        case V_HTTP:
            p = put_escaped(p, end,
                            r ? htd_request_header(r, pc->text, pc->len) : (htd_str){NULL, 0});
            break;
        }
    }
    *p++ = '\n';
    lf->len[t] += (size_t)(p - start);
}

const htd_module log_module = {
    .name = "log",
    .log = log_access,
};
