/*
 * log.c - the access log in the Combined Log Format:
 *   host - - [date] "request line" status bytes "referer" "user-agent"
 * Lines collect in a per-loop buffer that is written out when nearly full,
 * once a second, and when the loop ends. Each write holds whole lines and the
 * file is opened O_APPEND, so lines from several loops never interleave.
 * Quotes, backslashes and control bytes in logged fields are escaped as
 * \" \\ and \xHH so a client cannot forge a line.
 */
#include "log.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"

#define LOG_BUF 65536
#define LOG_LINE_MAX 4096

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

void log_flush(loop *l)
{
    size_t off = 0;
    while (off < l->log_len) {
        ssize_t n = write(l->srv->log_fd, l->log_buf + off, l->log_len - off);
        if (n <= 0) break; /* a full disk loses log lines, never requests */
        off += (size_t)n;
    }
    l->log_len = 0;
}

void log_access(loop *l, const conn *c, const htd_request *r, int status, uint64_t bytes)
{
    if (l->srv->log_fd < 0 || !l->log_buf) return;
    if (c->head_only) bytes = 0;
    if (LOG_BUF - l->log_len < LOG_LINE_MAX) log_flush(l);
    char *p = l->log_buf + l->log_len, *end = p + LOG_LINE_MAX - 2;

    char host[INET6_ADDRSTRLEN] = "-";
    if (c->peer.sin6_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)&c->peer)->sin_addr, host, sizeof host);
    else if (c->peer.sin6_family == AF_INET6)
        inet_ntop(AF_INET6, &c->peer.sin6_addr, host, sizeof host);
    p = put_str(p, end, host, strlen(host));
    p = put_str(p, end, " - - ", 5);
    p = put_str(p, end, l->log_date, strlen(l->log_date));
    p = put_str(p, end, " \"", 2);
    if (r) {
        p = put_escaped(p, end, r->method);
        p = put_str(p, end, " ", 1);
        p = put_escaped(p, end, r->target);
        if (r->version != 9)
            p = put_str(p, end, r->version == 10 ? " HTTP/1.0" : " HTTP/1.1", 9);
    } else if (c->state == CS_HEAD && c->rbuf && c->rpos < c->rlen) {
        /* A request that did not parse: its first line as it came. */
        const char *line = c->rbuf + c->rpos;
        size_t n = c->rlen - c->rpos;
        const char *eol = memchr(line, '\n', n);
        if (eol) n = (size_t)(eol - line);
        if (n && line[n - 1] == '\r') n--;
        if (n > 1024) n = 1024;
        p = put_escaped(p, end, (htd_str){line, n});
    } else {
        p = put_str(p, end, "-", 1);
    }
    char num[48];
    int n = bytes ? snprintf(num, sizeof num, "\" %d %llu \"", status, (unsigned long long)bytes)
                  : snprintf(num, sizeof num, "\" %d - \"", status);
    p = put_str(p, end, num, (size_t)n);
    p = put_escaped(p, end, r ? htd_request_header(r, "referer", 7) : (htd_str){0});
    p = put_str(p, end, "\" \"", 3);
    p = put_escaped(p, end, r ? htd_request_header(r, "user-agent", 10) : (htd_str){0});
    *p++ = '"';
    *p++ = '\n';
    l->log_len = (size_t)(p - l->log_buf);
}
