/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * config.c - the config file (libconfig syntax) onto an htd_config and a
 * site.
 *
 * libconfig parses; this file checks. Every setting is looked at against
 * the keys its place allows, so a misspelt key is an error and not a silent
 * default, and every error names the file and line of the setting at fault.
 * Relative paths in the file are relative to the file's directory, so a
 * config means the same whatever directory htd starts in.
 */
#include "config.h"
#include "pattern.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include "access.h"
#include "auth.h"
#include "builtin.h"
#include "cidr.h"
#include "errlog.h"
#include "fields.h"
#include "listen.h"
#include "log.h"
#include "parser.h"
#include "path.h"
#include "ratelimit.h"
#include "response.h"
#include "rewrite.h"
#include "store.h"
#include "tls.h"

#define HEADERS_MAX 4096 /* configured header lines per scope */

struct conf_file {
    config_t cfg;
    char *path;
    char *dir; /* the file's directory, absolute */
    const char **listen;
    const char **writable;
    const char **cgi;
    const char **trusted;
    const char **content_order;
    char **owned; /* strings made here (absolute paths) */
    size_t nowned;
    conf_warn_fn *warn; /* where warnings go */
    void *warn_arg;
};

/* ---- errors and small getters ---- */

/* "FILE:LINE: " and the message, into buf. */
static void conf_vsay(char *buf, size_t len, const conf_file *f, const config_setting_t *s,
                      const char *fmt, va_list ap)
{
    const char *file = s && config_setting_source_file(s) ? config_setting_source_file(s) : f->path;
    int n = s ? snprintf(buf, len, "%s:%u: ", file, config_setting_source_line(s))
              : snprintf(buf, len, "%s: ", file);
    if (n >= 0 && (size_t)n < len) vsnprintf(buf + n, len - (size_t)n, fmt, ap);
}

static int conf_fail(char *err, size_t errlen, const conf_file *f, const config_setting_t *s,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    conf_vsay(err, errlen, f, s, fmt, ap);
    va_end(ap);
    return -1;
}

/* A warning about s: the file still loads. */
static void conf_warn(const conf_file *f, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void conf_warn(const conf_file *f, const config_setting_t *s, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    conf_vsay(line, sizeof line, f, s, fmt, ap);
    va_end(ap);
    f->warn(f->warn_arg, line);
}

/* Unless told otherwise, warnings are the error log's, as anything else
 * that is wrong but does not stop htd. */
static void warn_to_errlog(void *arg, const char *line)
{
    (void)arg;
    errlog(ERRLOG_WARN, "htd: %s", line);
}

void conf_on_warning(conf_file *f, conf_warn_fn *warn, void *arg)
{
    f->warn = warn;
    f->warn_arg = arg;
}

static const char *own(conf_file *f, char *s)
{
    if (!s) return NULL;
    char **o = realloc(f->owned, (f->nowned + 1) * sizeof *o);
    if (!o) {
        free(s);
        return NULL;
    }
    f->owned = o;
    return f->owned[f->nowned++] = s;
}

/* A path from the file, made absolute against the file's directory. */
static char *resolve(const conf_file *f, const char *p)
{
    if (p[0] == '/' || strcmp(p, "-") == 0) return strdup(p);
    size_t n = strlen(f->dir) + strlen(p) + 2;
    char *out = malloc(n);
    if (out) snprintf(out, n, "%s/%s", f->dir, p);
    return out;
}

/* Checks that every member of group g is one of the allowed keys. */
static int only_keys(const conf_file *f, const config_setting_t *g, const char *where,
                     const char *const *keys, char *err, size_t errlen)
{
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(m);
        int ok = 0;
        for (const char *const *k = keys; *k && !ok; k++)
            ok = strcmp(*k, name) == 0;
        if (!ok) {
            char list[2048] = "";
            size_t len = 0; /* snprintf says what it would write: stop once the list is full */
            for (const char *const *k = keys; *k && len < sizeof list; k++)
                len += (size_t)snprintf(list + len, sizeof list - len, "%s%s",
                                        k == keys ? "" : ", ", *k);
            return conf_fail(err, errlen, f, m, "unknown setting '%s' in %s; expected one of: %s",
                             name, where, list);
        }
    }
    return 0;
}

static int get_string(const conf_file *f, const config_setting_t *s, const char **out, char *err,
                      size_t errlen)
{
    *out = NULL;
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return conf_fail(err, errlen, f, s, "'%s' must be a string in double quotes",
                         config_setting_name(s));
    *out = config_setting_get_string(s);
    return 0;
}

/* A string or an array of strings, as a list. */
static int get_strings(const conf_file *f, const config_setting_t *s, const char ***out, size_t *n,
                       char *err, size_t errlen)
{
    int t = config_setting_type(s);
    size_t count = t == CONFIG_TYPE_STRING  ? 1
                   : t == CONFIG_TYPE_ARRAY ? (size_t)config_setting_length(s)
                                            : 0;
    if ((t != CONFIG_TYPE_STRING && t != CONFIG_TYPE_ARRAY) ||
        (t == CONFIG_TYPE_ARRAY && count &&
         config_setting_type(config_setting_get_elem(s, 0)) != CONFIG_TYPE_STRING))
        return conf_fail(err, errlen, f, s,
                         "'%s' must be a string or an array of strings, like [\"a\", \"b\"]",
                         config_setting_name(s));
    const char **v = calloc(count ? count : 1, sizeof *v);
    if (!v) return conf_fail(err, errlen, f, s, "out of memory");
    for (size_t i = 0; i < count; i++)
        v[i] = t == CONFIG_TYPE_STRING ? config_setting_get_string(s)
                                       : config_setting_get_string_elem(s, (int)i);
    *out = v;
    *n = count;
    return 0;
}

static int get_number(const conf_file *f, const config_setting_t *s, double *out, char *err,
                      size_t errlen)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
        *out = config_setting_get_int(s);
        return 0;
    case CONFIG_TYPE_INT64:
        *out = (double)config_setting_get_int64(s);
        return 0;
    case CONFIG_TYPE_FLOAT:
        *out = config_setting_get_float(s);
        return 0;
    }
    return conf_fail(err, errlen, f, s, "'%s' must be a number", config_setting_name(s));
}

/* ---- opening and top-level settings ---- */

conf_file *conf_open(const char *path, char *err, size_t errlen)
{
    conf_file *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    config_init(&f->cfg);
    f->warn = warn_to_errlog;
    f->path = strdup(path);
    char *abs = realpath(path, NULL);
    if (!f->path || !abs) {
        snprintf(err, errlen, "cannot read config %s: %s", path, strerror(errno));
        free(abs);
        conf_close(f);
        return NULL;
    }
    char *slash = strrchr(abs, '/');
    *slash = 0;
    f->dir = abs[0] ? abs : strcpy(abs, "/");
    config_set_include_dir(&f->cfg, f->dir);
    /* Opened close-on-exec: a reload may run while scripts are spawned. */
    FILE *in = fopen(path, "re");
    int ok = in && config_read(&f->cfg, in) == CONFIG_TRUE;
    if (in) fclose(in);
    if (!ok) {
        if (!in || config_error_type(&f->cfg) == CONFIG_ERR_FILE_IO)
            snprintf(err, errlen, "cannot read config %s: %s", path, strerror(errno));
        else
            snprintf(err, errlen, "%s:%d: %s",
                     config_error_file(&f->cfg) ? config_error_file(&f->cfg) : path,
                     config_error_line(&f->cfg), config_error_text(&f->cfg));
        conf_close(f);
        return NULL;
    }
    return f;
}

void conf_close(conf_file *f)
{
    if (!f) return;
    config_destroy(&f->cfg);
    for (size_t i = 0; i < f->nowned; i++)
        free(f->owned[i]);
    free(f->owned);
    free((void *)f->listen);
    free((void *)f->writable);
    free((void *)f->cgi);
    free((void *)f->trusted);
    free((void *)f->content_order);
    free(f->path);
    free(f->dir);
    free(f);
}

static const char *const top_keys[] = {"listen",
                                       "threads",
                                       "root",
                                       "access_log",
                                       "log_format",
                                       "request_id_header",
                                       "error_log",
                                       "error_log_level",
                                       "header_timeout",
                                       "body_timeout",
                                       "idle_timeout",
                                       "send_timeout",
                                       "max_requests",
                                       "writable",
                                       "max_upload",
                                       "headers",
                                       "access",
                                       "auth",
                                       "error_pages",
                                       "rules",
                                       "vhosts",
                                       "cgi",
                                       "cgi_timeout",
                                       "cgi_max",
                                       "precompressed",
                                       "gzip",
                                       "brotli",
                                       "list_dirs",
                                       "cache_control",
                                       "content_order",
                                       "max_conns",
                                       "max_conns_per_ip",
                                       "ipv6_prefix",
                                       "min_body_rate",
                                       "min_body_window",
                                       "memory_budget",
                                       "trusted_proxies",
                                       "real_ip_header",
                                       "rate_limit",
                                       "rate_limit_slots",
                                       "queues",
                                       "state_db",
                                       "jobs_path",
                                       "queue_group_commit",
                                       "price",
                                       "upstreams",
                                       "proxy",
                                       "keep_copies",
                                       "proxy_headers",
                                       "proxy_body_append",
                                       "pid_file",
                                       "user",
                                       "scripts_as_root",
                                       "tls",
                                       "webdav",
                                       "webdav_infinity_max",
                                       NULL};

/* A size ("512K", "100M", "2G", or a number of bytes) into *v, unless a
 * flag set it already. */
static int size(conf_file *f, const config_setting_t *root, const char *key, uint64_t *v, char *err,
                size_t errlen)
{
    const config_setting_t *s = config_setting_get_member(root, key);
    if (!s || *v) return 0;
    if (config_setting_type(s) == CONFIG_TYPE_STRING) {
        const char *str = config_setting_get_string(s);
        if (store_parse_size(str, strlen(str), v) < 0)
            return conf_fail(err, errlen, f, s,
                             "%s: expected a size like 512K, 100M or 2G, got '%s'", key, str);
        return 0;
    }
    double d;
    if (get_number(f, s, &d, err, errlen) < 0) return -1;
    if (d < 1) return conf_fail(err, errlen, f, s, "%s must be at least 1 byte", key);
    *v = (uint64_t)d;
    return 0;
}

/* A whole number from lo to hi into *v, unless a flag set it already. */
static int count(conf_file *f, const config_setting_t *root, const char *key, unsigned *v,
                 unsigned lo, unsigned hi, char *err, size_t errlen)
{
    const config_setting_t *s = config_setting_get_member(root, key);
    if (!s || *v) return 0;
    double d;
    if (get_number(f, s, &d, err, errlen) < 0) return -1;
    if (d < lo || d > hi || d != (double)(unsigned)d)
        return conf_fail(err, errlen, f, s, "%s must be a whole number from %u to %u", key, lo, hi);
    *v = (unsigned)d;
    return 0;
}

static int timeout(conf_file *f, const config_setting_t *root, const char *key, unsigned *ms,
                   char *err, size_t errlen)
{
    const config_setting_t *s = config_setting_get_member(root, key);
    if (!s || *ms) return 0; /* a flag said it already */
    double d;
    if (get_number(f, s, &d, err, errlen) < 0) return -1;
    if (!(d >= 0.001 && d <= 86400))
        return conf_fail(err, errlen, f, s, "%s must be from 0.001 to 86400 seconds", key);
    *ms = (unsigned)(d * 1000 + 0.5);
    return 0;
}

static const char *const tls_top_keys[] = {
    "cert",         "key",           "redirect", "port",         "hsts", "ciphers",
    "ciphersuites", "ticket_rotate", "ktls",     "key_readable", NULL};

/* The top-level tls group's server-wide settings (the certificates and
 * what concerns the top-level server are the site's: parse_tls). */
static int tls_settings_of(conf_file *f, const config_setting_t *g, htd_config *c, char *err,
                           size_t errlen)
{
    if (config_setting_type(g) != CONFIG_TYPE_GROUP)
        return conf_fail(err, errlen, f, g,
                         "tls is a group: tls = { cert = \"site.crt\"; key = \"site.key\"; };");
    if (only_keys(f, g, "tls", tls_top_keys, err, errlen) < 0) return -1;
    const config_setting_t *s;
    if ((s = config_setting_get_member(g, "ciphers")) && !c->tls_ciphers &&
        get_string(f, s, &c->tls_ciphers, err, errlen) < 0)
        return -1;
    if ((s = config_setting_get_member(g, "ciphersuites")) && !c->tls_ciphersuites &&
        get_string(f, s, &c->tls_ciphersuites, err, errlen) < 0)
        return -1;
    if (timeout(f, g, "ticket_rotate", &c->tls_ticket_rotate_ms, err, errlen) < 0) return -1;
    if ((s = config_setting_get_member(g, "ktls")) && !c->tls_no_ktls) {
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
            return conf_fail(err, errlen, f, s, "ktls must be true or false");
        c->tls_no_ktls = !config_setting_get_bool(s);
    }
    if ((s = config_setting_get_member(g, "key_readable")) && !c->tls_key_readable) {
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
            return conf_fail(err, errlen, f, s, "key_readable must be true or false");
        c->tls_key_readable = config_setting_get_bool(s);
    }
    return 0;
}

int conf_settings(conf_file *f, htd_config *c, char *err, size_t errlen)
{
    const config_setting_t *root = config_root_setting(&f->cfg), *s;
    if (only_keys(f, root, "the top level", top_keys, err, errlen) < 0) return -1;
    size_t n;
    if ((s = config_setting_get_member(root, "listen")) && !c->nlisten) {
        if (get_strings(f, s, &f->listen, &n, err, errlen) < 0) return -1;
        if (n == 0) return conf_fail(err, errlen, f, s, "listen needs at least one address");
        for (size_t i = 0; i < n; i++) {
            listen_addr a;
            char why[256];
            if (listen_parse(f->listen[i], &a, why, sizeof why) < 0)
                return conf_fail(err, errlen, f, s, "%s", why);
        }
        c->listen = f->listen;
        c->nlisten = n;
    }
    if ((s = config_setting_get_member(root, "threads")) && !c->threads) {
        double d;
        if (get_number(f, s, &d, err, errlen) < 0) return -1;
        if (d < 1 || d > 1024 || d != (int)d)
            return conf_fail(err, errlen, f, s, "threads must be a whole number from 1 to 1024");
        c->threads = (int)d;
    }
    if ((s = config_setting_get_member(root, "root")) && !c->root) {
        const char *v;
        if (get_string(f, s, &v, err, errlen) < 0) return -1;
        if (!(c->root = own(f, resolve(f, v))))
            return conf_fail(err, errlen, f, s, "out of memory");
    }
    if ((s = config_setting_get_member(root, "access_log")) && !c->access_log) {
        const char *v;
        if (get_string(f, s, &v, err, errlen) < 0) return -1;
        if (strcmp(v, "off") != 0 && !(c->access_log = own(f, resolve(f, v))))
            return conf_fail(err, errlen, f, s, "out of memory");
    }
    if (timeout(f, root, "header_timeout", &c->header_timeout_ms, err, errlen) < 0 ||
        timeout(f, root, "body_timeout", &c->body_timeout_ms, err, errlen) < 0 ||
        timeout(f, root, "idle_timeout", &c->idle_timeout_ms, err, errlen) < 0 ||
        timeout(f, root, "send_timeout", &c->send_timeout_ms, err, errlen) < 0)
        return -1;
    if (timeout(f, root, "cgi_timeout", &c->cgi_timeout_ms, err, errlen) < 0) return -1;
    if ((s = config_setting_get_member(root, "list_dirs")) && !c->list_dirs) {
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
            return conf_fail(err, errlen, f, s, "list_dirs must be true or false");
        c->list_dirs = config_setting_get_bool(s);
    }
    if ((s = config_setting_get_member(root, "gzip")) && !c->gzip) {
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
            return conf_fail(err, errlen, f, s, "gzip must be true or false");
        c->gzip = config_setting_get_bool(s);
    }
    if ((s = config_setting_get_member(root, "brotli")) && !c->brotli) {
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
            return conf_fail(err, errlen, f, s, "brotli must be true or false");
        c->brotli = config_setting_get_bool(s);
    }
    if ((s = config_setting_get_member(root, "precompressed")) && !c->no_precompressed) {
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
            return conf_fail(err, errlen, f, s, "precompressed must be true or false");
        c->no_precompressed = !config_setting_get_bool(s);
    }
    if (count(f, root, "cgi_max", &c->cgi_max, 1, 100000, err, errlen) < 0 ||
        count(f, root, "max_conns", &c->max_conns, 1, 10000000, err, errlen) < 0 ||
        count(f, root, "max_conns_per_ip", &c->max_conns_per_ip, 1, 10000000, err, errlen) < 0 ||
        count(f, root, "ipv6_prefix", &c->ipv6_prefix, 1, 128, err, errlen) < 0 ||
        count(f, root, "min_body_rate", &c->min_body_rate, 1, 1000000000, err, errlen) < 0 ||
        timeout(f, root, "min_body_window", &c->min_body_window_ms, err, errlen) < 0 ||
        count(f, root, "rate_limit_slots", &c->rate_limit_slots, RL_SLOTS_MIN, RL_SLOTS_MAX, err,
              errlen) < 0)
        return -1;
    if ((s = config_setting_get_member(root, "trusted_proxies")) && !c->ntrusted_proxies) {
        if (get_strings(f, s, &f->trusted, &n, err, errlen) < 0) return -1;
        for (size_t i = 0; i < n; i++) {
            htd_cidr cidr;
            char why[160];
            if (htd_cidr_parse(f->trusted[i], strlen(f->trusted[i]), &cidr, why, sizeof why) < 0)
                return conf_fail(err, errlen, f, s, "trusted_proxies: %s", why);
        }
        c->trusted_proxies = f->trusted;
        c->ntrusted_proxies = n;
    }
    if ((s = config_setting_get_member(root, "real_ip_header")) && !c->real_ip_header) {
        const char *v =
            config_setting_type(s) == CONFIG_TYPE_STRING ? config_setting_get_string(s) : NULL;
        if (!v || (strcasecmp(v, "X-Forwarded-For") != 0 && strcasecmp(v, "Forwarded") != 0))
            return conf_fail(err, errlen, f, s,
                             "real_ip_header must be \"X-Forwarded-For\" or \"Forwarded\"");
        c->real_ip_header = v;
    }
    if ((s = config_setting_get_member(root, "cgi")) && !c->ncgi) {
        if (get_strings(f, s, &f->cgi, &n, err, errlen) < 0) return -1;
        c->cgi = f->cgi;
        c->ncgi = n;
    }
    if ((s = config_setting_get_member(root, "content_order")) && !c->ncontent_order) {
        if (get_strings(f, s, &f->content_order, &n, err, errlen) < 0) return -1;
        char why[200];
        if (builtin_content_order_check(f->content_order, n, why, sizeof why) < 0)
            return conf_fail(err, errlen, f, s, "content_order: %s", why);
        c->content_order = f->content_order;
        c->ncontent_order = n;
    }
    if (count(f, root, "max_requests", &c->max_requests, 1, 100000000, err, errlen) < 0) return -1;
    if ((s = config_setting_get_member(root, "writable")) && !c->nwritable) {
        if (get_strings(f, s, &f->writable, &n, err, errlen) < 0) return -1;
        for (size_t i = 0; i < n; i++) {
            char norm[4096];
            uint64_t max, quota;
            const char *why;
            if (store_parse_area(f->writable[i], norm, sizeof norm, &max, &quota, &why) < 0)
                return conf_fail(err, errlen, f, s, "bad writable area '%s': %s", f->writable[i],
                                 why);
        }
        c->writable = f->writable;
        c->nwritable = n;
    }
    if ((s = config_setting_get_member(root, "pid_file")) && !c->pid_file) {
        const char *v;
        if (get_string(f, s, &v, err, errlen) < 0) return -1;
        if (!*v) return conf_fail(err, errlen, f, s, "pid_file needs a path");
        if (!(c->pid_file = own(f, resolve(f, v))))
            return conf_fail(err, errlen, f, s, "out of memory");
    }
    if ((s = config_setting_get_member(root, "user")) && !c->user) {
        const char *v;
        if (get_string(f, s, &v, err, errlen) < 0) return -1;
        if (!*v)
            return conf_fail(err, errlen, f, s,
                             "user needs a name: \"www-data\" or \"www-data:www-data\"");
        c->user = v;
    }
    if ((s = config_setting_get_member(root, "error_log")) && !c->error_log) {
        const char *v;
        if (get_string(f, s, &v, err, errlen) < 0) return -1;
        if (!*v) return conf_fail(err, errlen, f, s, "error_log needs a path, or \"stderr\"");
        if (!(c->error_log = strcmp(v, "stderr") == 0 ? v : own(f, resolve(f, v))))
            return conf_fail(err, errlen, f, s, "out of memory");
    }
    if ((s = config_setting_get_member(root, "error_log_level")) && !c->error_log_level) {
        if (get_string(f, s, &c->error_log_level, err, errlen) < 0) return -1;
        if (errlog_level_of(c->error_log_level) < 0)
            return conf_fail(err, errlen, f, s,
                             "error_log_level must be \"error\", \"warn\", \"notice\", "
                             "\"info\" or \"debug\", got \"%s\"",
                             c->error_log_level);
    }
    if ((s = config_setting_get_member(root, "scripts_as_root")) && !c->scripts_as_root) {
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
            return conf_fail(err, errlen, f, s, "scripts_as_root must be true or false");
        c->scripts_as_root = config_setting_get_bool(s);
    }
    if ((s = config_setting_get_member(root, "webdav")) && !c->webdav) {
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
            return conf_fail(err, errlen, f, s, "webdav must be true or false");
        c->webdav = config_setting_get_bool(s);
    }
    if ((s = config_setting_get_member(root, "webdav_infinity_max")) && !c->webdav_infinity_max) {
        if (config_setting_type(s) != CONFIG_TYPE_INT || config_setting_get_int(s) < 0)
            return conf_fail(err, errlen, f, s,
                             "webdav_infinity_max must be a number of resources (0: refuse "
                             "Depth: infinity)");
        c->webdav_infinity_max = (unsigned)config_setting_get_int(s);
    }
    if ((s = config_setting_get_member(root, "state_db")) && !c->state_db) {
        const char *v;
        if (get_string(f, s, &v, err, errlen) < 0) return -1;
        if (!(c->state_db = own(f, resolve(f, v))))
            return conf_fail(err, errlen, f, s, "out of memory");
    }
    if (!c->state_db && !(c->state_db = own(f, resolve(f, "htd-state.db"))))
        return conf_fail(err, errlen, f, NULL, "out of memory");
    if ((s = config_setting_get_member(root, "jobs_path")) && !c->jobs_path) {
        const char *v;
        if (get_string(f, s, &v, err, errlen) < 0) return -1;
        char norm[4096];
        const char *why = "must start and end with '/'";
        size_t vl = strlen(v);
        if (v[0] != '/' || vl < 2 || v[vl - 1] != '/' ||
            htd_path_normalize(v, vl, norm, sizeof norm, &why) < 0)
            return conf_fail(err, errlen, f, s, "bad jobs_path '%s': %s", v, why);
        c->jobs_path = v;
    }
    if ((s = config_setting_get_member(root, "queue_group_commit")) && !c->queue_no_group_commit) {
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
            return conf_fail(err, errlen, f, s, "queue_group_commit must be true or false");
        c->queue_no_group_commit = !config_setting_get_bool(s);
    }
    if (size(f, root, "max_upload", &c->max_upload, err, errlen) < 0 ||
        size(f, root, "memory_budget", &c->memory_budget, err, errlen) < 0)
        return -1;
    if ((s = config_setting_get_member(root, "tls")) && tls_settings_of(f, s, c, err, errlen) < 0)
        return -1;
    return 0;
}

/* ---- the site ---- */

typedef struct builder {
    conf_file *f; /* NULL: flags only */
    site *st;
    const htd_config *cfg;
    const char *log_format; /* the top-level format */
    logfile *top_log;
    char *err;
    size_t errlen;
} builder;

static int bfail(builder *b, const config_setting_t *s, const char *fmt, const char *a,
                 const char *c)
{
    if (b->f) return conf_fail(b->err, b->errlen, b->f, s, fmt, a, c);
    snprintf(b->err, b->errlen, fmt, a, c);
    return -1;
}

/* The log for path in format fmt: one object per file and format, shared by
 * the vhosts that use both. */
static logfile *get_log(builder *b, const config_setting_t *s, const char *path, const char *fmt)
{
    site *st = b->st;
    for (size_t i = 0; i < st->nlogs; i++)
        if (strcmp(st->logs[i].path, path) == 0 && strcmp(st->logs[i].spec, fmt) == 0)
            return &st->logs[i];
    /* Logs are referred to by pointer, so the array is sized once, for the
     * most it can need: the top-level log and one per vhost. */
    logfile *lf = &st->logs[st->nlogs];
    *lf = (logfile){.fd = -1};
    char why[512];
    if (!(lf->fmt = logfmt_compile(fmt, why, sizeof why))) {
        bfail(b, s, "%s%s", why, "");
        return NULL;
    }
    st->nlogs++;
    lf->path = strdup(path);
    lf->spec = strdup(fmt);
    lf->buf = calloc((size_t)st->nthreads, sizeof *lf->buf);
    lf->len = calloc((size_t)st->nthreads, sizeof *lf->len);
    if (!lf->path || !lf->spec || !lf->buf || !lf->len) {
        bfail(b, s, "out of memory%s%s", "", "");
        return NULL;
    }
    if ((lf->fd = log_open(path)) < 0) {
        bfail(b, s, "cannot open access log %s: %s", path, strerror(errno));
        return NULL;
    }
    return lf;
}

static int open_root(builder *b, vhost *vh, const config_setting_t *s, const char *path)
{
    vh->root = realpath(path, NULL);
    if (vh->root) vh->root_fd = open(vh->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (!vh->root || vh->root_fd < 0)
        return bfail(b, s, "cannot serve root %s: %s", path, strerror(errno));
    return 0;
}

static int parse_access(builder *b, const config_setting_t *s, scope *sc)
{
    const char **v;
    size_t n;
    if (get_strings(b->f, s, &v, &n, b->err, b->errlen) < 0) return -1;
    access_rule *a = calloc(n ? n : 1, sizeof *a);
    if (!a) {
        free(v);
        return bfail(b, s, "out of memory%s%s", "", "");
    }
    sc->access = a;
    sc->naccess = n;
    sc->own |= OWN_ACCESS;
    for (size_t i = 0; i < n; i++) {
        char why[256];
        if (access_parse(v[i], &a[i], why, sizeof why) < 0) {
            free(v);
            return bfail(b, s, "access: %s%s", why, "");
        }
    }
    free(v);
    return 0;
}

static int parse_auth(builder *b, const config_setting_t *s, scope *sc)
{
    if (config_setting_type(s) == CONFIG_TYPE_STRING) {
        if (strcmp(config_setting_get_string(s), "off") != 0)
            return bfail(
                b, s,
                "auth must be a group { realm = \"...\"; htpasswd = \"FILE\"; } or \"off\"%s%s", "",
                "");
        sc->auth = NULL;
        sc->own |= OWN_AUTH;
        return 0;
    }
    static const char *const keys[] = {"realm", "htpasswd", NULL};
    if (config_setting_type(s) != CONFIG_TYPE_GROUP)
        return bfail(
            b, s, "auth must be a group { realm = \"...\"; htpasswd = \"FILE\"; } or \"off\"%s%s",
            "", "");
    if (only_keys(b->f, s, "auth", keys, b->err, b->errlen) < 0) return -1;
    const config_setting_t *rs = config_setting_get_member(s, "realm");
    const config_setting_t *hs = config_setting_get_member(s, "htpasswd");
    const char *name, *file;
    if (!rs || !hs) return bfail(b, s, "auth needs both realm and htpasswd%s%s", "", "");
    if (get_string(b->f, rs, &name, b->err, b->errlen) < 0 ||
        get_string(b->f, hs, &file, b->err, b->errlen) < 0)
        return -1;
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
            return bfail(b, rs,
                         "the realm may not contain quotes, backslashes or control characters%s%s",
                         "", "");
    realm *r = calloc(1, sizeof *r);
    if (!r) return bfail(b, s, "out of memory%s%s", "", "");
    sc->auth = r;
    sc->own |= OWN_AUTH;
    size_t cap = strlen(name) + 64;
    if (!(r->hdr = malloc(cap))) return bfail(b, s, "out of memory%s%s", "", "");
    r->hdr_len = (size_t)snprintf(
        r->hdr, cap, "WWW-Authenticate: Basic realm=\"%s\", charset=\"UTF-8\"\r\n", name);
    char *path = resolve(b->f, file);
    char why[512];
    if (!path) return bfail(b, hs, "out of memory%s%s", "", "");
    r->users = auth_load(path, why, sizeof why);
    free(path);
    if (!r->users) {
        /* A file that cannot be read is the config's error; a bad line is
         * the password file's, and its message names that file and line. */
        if (strncmp(why, "cannot read", 11) == 0) return bfail(b, hs, "%s%s", why, "");
        snprintf(b->err, b->errlen, "%s", why);
        return -1;
    }
    return 0;
}

/* A group of header fields { Name = "value"; ... } as lines "Name: value"
 * CRLF into *lines (malloc'd), what key says in its errors. */
static int header_group(builder *b, const config_setting_t *s, const char *key, char **lines,
                        size_t *lines_len)
{
    /* Besides the framing: headers that describe the representation or the
     * answer, which htd writes for each response. */
    static const char *const refused[] = {"content-type",
                                          "www-authenticate",
                                          "location",
                                          "etag",
                                          "last-modified",
                                          "content-range",
                                          "accept-ranges",
                                          "content-encoding",
                                          "allow",
                                          "retry-after",
                                          NULL};
    if (config_setting_type(s) != CONFIG_TYPE_GROUP)
        return bfail(b, s, "%s must be a group like { Cache-Control = \"no-store\"; }%s", key, "");
    size_t cap = 1, len = 0;
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *h = config_setting_get_elem(s, (unsigned)i);
        const char *v;
        if (get_string(b->f, h, &v, b->err, b->errlen) < 0) return -1;
        const char *name = config_setting_name(h);
        int own = response_owns_header((htd_str){name, strlen(name)});
        for (const char *const *r = refused; *r && !own; r++)
            own = strcasecmp(*r, name) == 0;
        if (own)
            return bfail(b, h, "header %s is htd's own to write; it cannot be set here%s", name,
                         "");
        if (!htd_is_token(name, strlen(name)))
            return bfail(b, h, "header %s: a field name must be a token%s", name, "");
        if (!htd_field_value_ok(v, strlen(v)))
            return bfail(b, h, "header %s: control characters are not allowed in a value%s", name,
                         "");
        cap += strlen(name) + strlen(v) + 4;
    }
    if (cap > HEADERS_MAX)
        return bfail(b, s, "%s add up to more than 4 KiB; a response head must stay small%s", key,
                     "");
    char *out = malloc(cap);
    if (!out) return bfail(b, s, "out of memory%s%s", "", "");
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *h = config_setting_get_elem(s, (unsigned)i);
        len += (size_t)snprintf(out + len, cap - len, "%s: %s\r\n", config_setting_name(h),
                                config_setting_get_string(h));
    }
    *lines = out;
    *lines_len = len;
    return 0;
}

static int parse_headers(builder *b, const config_setting_t *s, scope *sc)
{
    char *out;
    size_t len;
    if (header_group(b, s, "headers", &out, &len) < 0) return -1;
    sc->headers = out;
    sc->headers_len = len;
    sc->cc_in_headers = (uint8_t)response_lines_have(out, len, "cache-control", 13);
    sc->own |= OWN_HEADERS;
    return 0;
}

/* cache_control = "max-age=3600, public"; in a vhost or a rule: a rule's
 * wins over its vhost's, and both over the --cache-control prefixes. Set
 * once per scope: here or in its headers, not in both. */
static int parse_cache_control(builder *b, const config_setting_t *g, scope *sc)
{
    const config_setting_t *s = config_setting_get_member(g, "cache_control");
    if (!s) return 0;
    const char *v;
    if (get_string(b->f, s, &v, b->err, b->errlen) < 0) return -1;
    size_t n = strlen(v);
    if (!n)
        return bfail(b, s, "cache_control needs a value, like \"max-age=3600, public\"%s%s", "",
                     "");
    /* As --cache-control: a field value, and not even a tab. */
    if (!htd_field_value_ok(v, n) || strchr(v, '\t'))
        return bfail(b, s, "cache_control: control characters are not allowed in a value%s%s", "",
                     "");
    if (n > HEADERS_MAX)
        return bfail(b, s,
                     "cache_control is longer than 4 KiB; a response head must stay small%s%s", "",
                     "");
    if (sc->own & OWN_HEADERS && sc->cc_in_headers)
        return bfail(b, s, "Cache-Control is set twice here, by cache_control and in headers%s%s",
                     "", "");
    char *line = malloc(n + 18);
    if (!line) return bfail(b, s, "out of memory%s%s", "", "");
    sc->cc_len = (size_t)snprintf(line, n + 18, "Cache-Control: %s\r\n", v);
    sc->cc = line;
    sc->own |= OWN_CC;
    return 0;
}

/* A rule's cache_control under headers inherited from its vhost that say
 * Cache-Control too: the rule's own copy of them, without that line, so
 * that the rule's value is the one sent. */
static int drop_inherited_cc(builder *b, const config_setting_t *g, scope *sc)
{
    char *out = malloc(sc->headers_len + 1);
    if (!out) return bfail(b, g, "out of memory%s%s", "", "");
    size_t len = 0;
    const char *p = sc->headers, *end = p + sc->headers_len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl + 1 - p) : (size_t)(end - p);
        if (!response_lines_have(p, n, "cache-control", 13)) {
            memcpy(out + len, p, n);
            len += n;
        }
        p += n;
    }
    sc->headers = out;
    sc->headers_len = len;
    sc->cc_in_headers = 0;
    sc->own |= OWN_HEADERS;
    return 0;
}

static int parse_errdocs(builder *b, const config_setting_t *s, scope *sc)
{
    static const char *const keys[] = {"status", "page", NULL};
    if (config_setting_type(s) != CONFIG_TYPE_LIST)
        return bfail(
            b, s, "error_pages must be a list like ( { status = 404; page = \"/404.html\"; } )%s%s",
            "", "");
    size_t total = 0;
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const config_setting_t *st = config_setting_get_member(e, "status");
        if (config_setting_type(e) != CONFIG_TYPE_GROUP || !st ||
            !config_setting_get_member(e, "page"))
            return bfail(b, e,
                         "each error page is a group { status = 404; page = \"/404.html\"; }%s%s",
                         "", "");
        if (only_keys(b->f, e, "an error page", keys, b->err, b->errlen) < 0) return -1;
        total +=
            config_setting_type(st) == CONFIG_TYPE_ARRAY ? (size_t)config_setting_length(st) : 1;
    }
    errdoc *d = calloc(total ? total : 1, sizeof *d);
    if (!d) return bfail(b, s, "out of memory%s%s", "", "");
    sc->errdocs = d;
    sc->own |= OWN_ERRDOCS;
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const config_setting_t *st = config_setting_get_member(e, "status");
        const config_setting_t *ps = config_setting_get_member(e, "page");
        const char *page, *why = "must start with '/'";
        if (get_string(b->f, ps, &page, b->err, b->errlen) < 0) return -1;
        char norm[4096];
        int plen =
            page[0] == '/' ? htd_path_normalize(page, strlen(page), norm, sizeof norm, &why) : -1;
        if (plen < 0) return bfail(b, ps, "error page %s: %s", page, why);
        int isarr = config_setting_type(st) == CONFIG_TYPE_ARRAY;
        int k = isarr ? config_setting_length(st) : 1;
        for (int j = 0; j < k; j++) {
            const config_setting_t *v = isarr ? config_setting_get_elem(st, (unsigned)j) : st;
            if (config_setting_type(v) != CONFIG_TYPE_INT || config_setting_get_int(v) < 400 ||
                config_setting_get_int(v) > 599) {
                char got[32] = "something else";
                if (config_setting_type(v) == CONFIG_TYPE_INT)
                    snprintf(got, sizeof got, "%d", config_setting_get_int(v));
                return bfail(b, st,
                             "status must be a code from 400 to 599, or an array of them; got %s%s",
                             got, "");
            }
            d[sc->nerrdocs].status = config_setting_get_int(v);
            if (!(d[sc->nerrdocs++].page = strdup(norm)))
                return bfail(b, ps, "out of memory%s%s", "", "");
        }
    }
    return 0;
}

/* rate_limit = { rate = "10r/s"; burst = 20; key = "addr"; delay = false; }; or "off". Its
 * buckets are its place's: vh's, and r's if set in a rule. */
static int parse_ratelimit(builder *b, const config_setting_t *s, scope *sc, const vhost *vh,
                           const rule *r)
{
    static const char shape[] =
        "rate_limit must be a group { rate = \"10r/s\"; burst = 20; key = \"addr\"; } or "
        "\"off\"%s%s";
    sc->own |= OWN_RATELIMIT;
    if (config_setting_type(s) == CONFIG_TYPE_STRING) {
        if (strcmp(config_setting_get_string(s), "off") != 0) return bfail(b, s, shape, "", "");
        sc->ratelimit = NULL;
        return 0;
    }
    static const char *const keys[] = {"rate", "burst", "key", "delay", NULL};
    if (config_setting_type(s) != CONFIG_TYPE_GROUP) return bfail(b, s, shape, "", "");
    if (only_keys(b->f, s, "rate_limit", keys, b->err, b->errlen) < 0) return -1;
    ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl) return bfail(b, s, "out of memory%s%s", "", "");
    sc->ratelimit = rl;
    rl->zone = ratelimit_zone(vh->name, r ? r->kind : 0, r ? r->pat : NULL);
    const config_setting_t *m;
    const char *v;
    if (!(m = config_setting_get_member(s, "rate")))
        return bfail(b, s, "rate_limit needs a rate, like rate = \"10r/s\";%s%s", "", "");
    if (get_string(b->f, m, &v, b->err, b->errlen) < 0) return -1;
    if (ratelimit_parse_rate(v, &rl->interval) < 0)
        return bfail(b, m,
                     "rate must be requests per second or minute, like \"10r/s\" or \"30r/m\" "
                     "(from 1 to 1000000), got \"%s\"%s",
                     v, "");
    if ((m = config_setting_get_member(s, "burst"))) {
        double d;
        if (get_number(b->f, m, &d, b->err, b->errlen) < 0) return -1;
        if (d < 0 || d > RL_BURST_MAX || d != (double)(uint32_t)d)
            return bfail(b, m, "burst must be a whole number from 0 to 1000000%s%s", "", "");
        rl->burst = (uint32_t)d;
    }
    if ((m = config_setting_get_member(s, "key"))) {
        if (get_string(b->f, m, &v, b->err, b->errlen) < 0) return -1;
        if (ratelimit_parse_key(v, rl) < 0)
            return bfail(b, m, "key must be \"addr\", \"user\" or \"header:NAME\", got \"%s\"%s", v,
                         "");
    }
    if ((m = config_setting_get_member(s, "delay"))) {
        if (config_setting_type(m) != CONFIG_TYPE_BOOL)
            return bfail(b, m, "delay must be true or false%s%s", "", "");
        rl->delay = (uint8_t)config_setting_get_bool(m);
    }
    return 0;
}

/* A whole number of credits from 0 to CREDITS_MAX into *v. */
#define CREDITS_MAX 1000000000000LL
static int credits(builder *b, const config_setting_t *s, const char *what, int64_t *v)
{
    double d = 0;
    if (get_number(b->f, s, &d, b->err, b->errlen) < 0) return -1;
    if (d < 0 || d > (double)CREDITS_MAX || d != (double)(int64_t)d)
        return bfail(b, s, "%s must be a whole number of credits from 0 to 10^12%s", what, "");
    *v = (int64_t)d;
    return 0;
}

/* price = 5; or price = { request = 5; per_kib = 1; head = 0; window = 86400; }; or
 * "off". */
static int parse_meter(builder *b, const config_setting_t *s, scope *sc)
{
    static const char shape[] =
        "price must be a number of credits, a group { request = 5; per_kib = 1; head = 0; "
        "window = 86400; max_kib = 1024; } or \"off\"%s%s";
    sc->own |= OWN_METER;
    sc->meter = NULL;
    int t = config_setting_type(s);
    if (t == CONFIG_TYPE_STRING) {
        if (strcmp(config_setting_get_string(s), "off") != 0) return bfail(b, s, shape, "", "");
        return 0;
    }
    meter *m = calloc(1, sizeof *m);
    if (!m) return bfail(b, s, "out of memory%s%s", "", "");
    sc->meter = m;
    m->window_s = 86400;
    m->max_kib = 1024;
    if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64 || t == CONFIG_TYPE_FLOAT)
        return credits(b, s, "price", &m->request);
    static const char *const keys[] = {"request", "per_kib", "head", "window", "max_kib", NULL};
    if (t != CONFIG_TYPE_GROUP) return bfail(b, s, shape, "", "");
    if (only_keys(b->f, s, "price", keys, b->err, b->errlen) < 0) return -1;
    const config_setting_t *v;
    if ((v = config_setting_get_member(s, "request")) && credits(b, v, "request", &m->request) < 0)
        return -1;
    if ((v = config_setting_get_member(s, "per_kib")) && credits(b, v, "per_kib", &m->per_kib) < 0)
        return -1;
    if ((v = config_setting_get_member(s, "head")) && credits(b, v, "head", &m->head) < 0)
        return -1;
    if ((v = config_setting_get_member(s, "window"))) {
        int64_t w;
        if (credits(b, v, "window", &w) < 0) return -1;
        if (w < 1 || w > 3650 * 86400)
            return bfail(b, v, "window must be from 1 to 315360000 seconds%s%s", "", "");
        m->window_s = (unsigned)w;
    }
    if ((v = config_setting_get_member(s, "max_kib"))) {
        int64_t k;
        if (credits(b, v, "max_kib", &k) < 0) return -1;
        if (k < 1 || k > 100000000)
            return bfail(b, v, "max_kib must be from 1 to 100000000%s%s", "", "");
        m->max_kib = (unsigned)k;
    }
    return 0;
}

/* ---- upstreams (the proxy) ---- */

/* "HOST:PORT", "[V6]:PORT" or "unix:/path" into u's address. -1 with a
 * reason in why. */
static int upstream_addr(const char *spec, upstream_server *u, char *why, size_t whylen)
{
    snprintf(u->name, sizeof u->name, "%s", spec);
    if (strncmp(spec, "unix:", 5) == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)&u->addr;
        const char *path = spec + 5;
        if (path[0] != '/' || strlen(path) >= sizeof un->sun_path) {
            snprintf(why, whylen, "a unix socket is unix:/absolute/path, shorter than %zu bytes",
                     sizeof un->sun_path);
            return -1;
        }
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, path, strlen(path) + 1);
        u->addr_len = (socklen_t)sizeof *un;
        return 0;
    }
    char host[256];
    const char *port;
    if (hostport_split(spec, host, sizeof host, &port) < 0 || !host[0] || atoi(port) < 1) goto bad;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        snprintf(why, whylen, "cannot resolve '%.60s': %s", host, gai_strerror(rc));
        return -1;
    }
    memcpy(&u->addr, ai->ai_addr, ai->ai_addrlen);
    u->addr_len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
bad:
    snprintf(why, whylen, "expected HOST:PORT, [IPV6]:PORT or unix:/path");
    return -1;
}

/* The settings of u left at 0 get their defaults (keepalive is set). */
static void upstream_defaults(upstream *u)
{
    if (!u->connect_ms) u->connect_ms = 5000;
    if (!u->read_ms) u->read_ms = 60000;
    if (!u->send_ms) u->send_ms = 60000;
    if (!u->max_fails) u->max_fails = 1;
    if (!u->fail_ms) u->fail_ms = 10000;
    if (!u->check_ms) u->check_ms = 5000;
    if (!u->check_timeout_ms) u->check_timeout_ms = 2000;
    if (!u->check_passes) u->check_passes = 1;
    if (!u->check_fails) u->check_fails = 1;
}

/* health_check = "/healthz"; and how often, how long, and how many in a
 * row change a server's state. */
static int parse_health(builder *b, const config_setting_t *g, upstream *u)
{
    const config_setting_t *s = config_setting_get_member(g, "health_check");
    conf_file *f = b->f;
    if (s) {
        const char *v;
        if (get_string(f, s, &v, b->err, b->errlen) < 0) return -1;
        /* It goes into a request line as it is: a path, no space or control. */
        int ok = v[0] == '/' && strlen(v) < 1024;
        for (const char *p = v; ok && *p; p++)
            ok = (unsigned char)*p > 0x20 && *p != 0x7f;
        if (!ok)
            return bfail(b, s, "health_check must be a path like \"/healthz\", got \"%s\"%s", v,
                         "");
        if (!(u->check_path = strdup(v))) return bfail(b, s, "out of memory%s%s", "", "");
    }
    if (timeout(f, g, "health_interval", &u->check_ms, b->err, b->errlen) < 0 ||
        timeout(f, g, "health_timeout", &u->check_timeout_ms, b->err, b->errlen) < 0 ||
        count(f, g, "health_passes", &u->check_passes, 1, 1000, b->err, b->errlen) < 0 ||
        count(f, g, "health_fails", &u->check_fails, 1, 1000, b->err, b->errlen) < 0)
        return -1;
    static const char *const needs[] = {"health_interval", "health_timeout", "health_passes",
                                        "health_fails"};
    for (size_t i = 0; !u->check_path && i < sizeof needs / sizeof needs[0]; i++)
        if ((s = config_setting_get_member(g, needs[i])))
            return bfail(b, s, "%s without health_check = \"/path\" checks nothing%s", needs[i],
                         "");
    return 0;
}

/* A new upstream of the site, named name. */
static upstream *add_upstream(builder *b, const config_setting_t *s, const char *name)
{
    site *st = b->st;
    for (size_t i = 0; i < st->nupstreams; i++)
        if (strcmp(st->upstreams[i].name, name) == 0) {
            bfail(b, s, "two upstreams named '%s'%s", name, "");
            return NULL;
        }
    upstream *v = realloc(st->upstreams, (st->nupstreams + 1) * sizeof *v);
    if (!v) {
        bfail(b, s, "out of memory%s%s", "", "");
        return NULL;
    }
    st->upstreams = v;
    upstream *u = &v[st->nupstreams++];
    *u = (upstream){0};
    atomic_init(&u->next, 0);
    if (!(u->name = strdup(name))) {
        bfail(b, s, "out of memory%s%s", "", "");
        return NULL;
    }
    return u;
}

static int add_server(builder *b, const config_setting_t *s, upstream *u, const char *spec,
                      unsigned weight)
{
    upstream_server *v = realloc(u->servers, (u->nservers + 1) * sizeof *v);
    if (!v) return bfail(b, s, "out of memory%s%s", "", "");
    u->servers = v;
    upstream_server *sv = &v[u->nservers];
    memset(sv, 0, sizeof *sv);
    char why[256];
    if (upstream_addr(spec, sv, why, sizeof why) < 0)
        return bfail(b, s, "bad upstream server '%s': %s", spec, why);
    sv->weight = weight;
    atomic_init(&sv->fails, 0);
    atomic_init(&sv->down_until, 0);
    atomic_init(&sv->active, 0);
    atomic_init(&sv->check_down, 0);
    u->nservers++;
    return 0;
}

/* retry_body_max by default: a small form or document, not an upload. */
#define RETRY_BODY_MAX 65536

/* retry_body_max = "64K"; (a size, or 0 for none): how much of a request
 * body is kept to be sent again on a retry. */
static int parse_retry_body(builder *b, const config_setting_t *g, upstream *u)
{
    const config_setting_t *s = config_setting_get_member(g, "retry_body_max");
    u->retry_body_max = RETRY_BODY_MAX;
    if (!s) return 0;
    double d;
    if (config_setting_type(s) != CONFIG_TYPE_STRING &&
        get_number(b->f, s, &d, b->err, b->errlen) == 0 && d == 0) {
        u->retry_body_max = 0;
        return 0;
    }
    u->retry_body_max = 0;
    if (size(b->f, g, "retry_body_max", &u->retry_body_max, b->err, b->errlen) < 0) return -1;
    if (u->retry_body_max > 64u << 20)
        return bfail(b, s, "retry_body_max must be at most 64M%s%s", "", "");
    return 0;
}

/* upstreams = ( { name = "app"; servers = ["127.0.0.1:9000", "unix:/run/app.sock"];
 * balance = "round_robin"; keepalive = 32; connect_timeout = 5; ... } ); a
 * server may be a group { address = "..."; weight = 2; }. */
static int parse_upstreams(builder *b, const config_setting_t *list)
{
    static const char *const keys[] = {"name",           "servers",
                                       "balance",        "keepalive",
                                       "host",           "connect_timeout",
                                       "read_timeout",   "send_timeout",
                                       "max_fails",      "fail_timeout",
                                       "transform_203",  "retry_body_max",
                                       "health_check",   "health_interval",
                                       "health_timeout", "health_passes",
                                       "health_fails",   NULL};
    if (!list) return 0;
    if (config_setting_type(list) != CONFIG_TYPE_LIST)
        return bfail(b, list,
                     "upstreams must be a list: upstreams = ( { name = \"app\"; servers = "
                     "[\"127.0.0.1:9000\"]; } );%s%s",
                     "", "");
    for (unsigned i = 0; i < (unsigned)config_setting_length(list); i++) {
        const config_setting_t *g = config_setting_get_elem(list, i), *s;
        if (config_setting_type(g) != CONFIG_TYPE_GROUP)
            return bfail(b, g, "each upstream is a group { name = \"app\"; servers = [...]; }%s%s",
                         "", "");
        if (only_keys(b->f, g, "an upstream", keys, b->err, b->errlen) < 0) return -1;
        const char *name;
        if (!(s = config_setting_get_member(g, "name")))
            return bfail(b, g, "an upstream needs a name = \"app\"%s%s", "", "");
        if (get_string(b->f, s, &name, b->err, b->errlen) < 0) return -1;
        if (!*name || strcmp(name, "off") == 0)
            return bfail(b, s, "an upstream's name cannot be \"%s\"%s", name, "");
        upstream *u = add_upstream(b, s, name);
        if (!u) return -1;
        const config_setting_t *sv = config_setting_get_member(g, "servers");
        int svt = sv ? config_setting_type(sv) : 0;
        if (!sv || (svt != CONFIG_TYPE_ARRAY && svt != CONFIG_TYPE_LIST) ||
            config_setting_length(sv) == 0)
            return bfail(b, sv ? sv : g,
                         "an upstream needs servers = [\"HOST:PORT\", ...] (or groups { address "
                         "= \"HOST:PORT\"; weight = 2; })%s%s",
                         "", "");
        for (unsigned k = 0; k < (unsigned)config_setting_length(sv); k++) {
            const config_setting_t *e = config_setting_get_elem(sv, k), *a;
            const char *spec;
            unsigned weight = 0;
            if (config_setting_type(e) == CONFIG_TYPE_GROUP) {
                static const char *const skeys[] = {"address", "weight", NULL};
                if (only_keys(b->f, e, "an upstream server", skeys, b->err, b->errlen) < 0)
                    return -1;
                if (!(a = config_setting_get_member(e, "address")))
                    return bfail(b, e, "an upstream server needs an address%s%s", "", "");
                if (get_string(b->f, a, &spec, b->err, b->errlen) < 0 ||
                    count(b->f, e, "weight", &weight, 1, 1000, b->err, b->errlen) < 0)
                    return -1;
            } else if (get_string(b->f, e, &spec, b->err, b->errlen) < 0) {
                return -1;
            }
            if (add_server(b, e, u, spec, weight ? weight : 1) < 0) return -1;
        }
        if ((s = config_setting_get_member(g, "balance"))) {
            const char *v;
            if (get_string(b->f, s, &v, b->err, b->errlen) < 0) return -1;
            if (strcmp(v, "round_robin") == 0)
                u->balance = BALANCE_ROUND_ROBIN;
            else if (strcmp(v, "least_conn") == 0)
                u->balance = BALANCE_LEAST_CONN;
            else
                return bfail(
                    b, s, "balance must be \"round_robin\" or \"least_conn\", got \"%s\"%s", v, "");
        }
        if ((s = config_setting_get_member(g, "host"))) {
            const char *v;
            if (get_string(b->f, s, &v, b->err, b->errlen) < 0) return -1;
            if (!*v || !htd_field_value_ok(v, strlen(v)))
                return bfail(b, s, "host must be a valid Host value, got \"%s\"%s", v, "");
            if (!(u->host = strdup(v))) return bfail(b, s, "out of memory%s%s", "", "");
        }
        conf_file *f = b->f;
        if (count(f, g, "max_fails", &u->max_fails, 1, 1000, b->err, b->errlen) < 0 ||
            timeout(f, g, "connect_timeout", &u->connect_ms, b->err, b->errlen) < 0 ||
            timeout(f, g, "read_timeout", &u->read_ms, b->err, b->errlen) < 0 ||
            timeout(f, g, "send_timeout", &u->send_ms, b->err, b->errlen) < 0 ||
            timeout(f, g, "fail_timeout", &u->fail_ms, b->err, b->errlen) < 0)
            return -1;
        u->keepalive = 32;
        if ((s = config_setting_get_member(g, "keepalive"))) {
            double d;
            if (get_number(f, s, &d, b->err, b->errlen) < 0) return -1;
            if (d < 0 || d > 100000 || d != (double)(unsigned)d)
                return bfail(b, s, "keepalive must be a whole number from 0 (none) to 100000%s%s",
                             "", "");
            u->keepalive = (unsigned)d;
        }
        u->transform_203 = 1;
        if ((s = config_setting_get_member(g, "transform_203"))) {
            if (config_setting_type(s) != CONFIG_TYPE_BOOL)
                return bfail(b, s, "transform_203 must be true or false%s%s", "", "");
            u->transform_203 = (uint8_t)config_setting_get_bool(s);
        }
        if (parse_retry_body(b, g, u) < 0 || parse_health(b, g, u) < 0) return -1;
        upstream_defaults(u);
    }
    return 0;
}

/* proxy = "app"; (an upstream's name) or "off". */
static int parse_proxy(builder *b, const config_setting_t *s, scope *sc)
{
    const char *name;
    if (get_string(b->f, s, &name, b->err, b->errlen) < 0) return -1;
    sc->own |= OWN_PROXY;
    sc->proxy = NULL;
    if (strcmp(name, "off") == 0) return 0;
    for (size_t i = 0; i < b->st->nupstreams; i++)
        if (strcmp(b->st->upstreams[i].name, name) == 0) {
            sc->proxy = &b->st->upstreams[i];
            return 0;
        }
    return bfail(b, s, "no upstream named '%s' (upstreams = ( { name = \"%s\"; ... } ))", name,
                 name);
}

/* keep_copies = true; or false, or { path = "htd-copies"; max_size = "1M";
 * max_count = 1000; }. */
static int parse_copies(builder *b, const config_setting_t *s, scope *sc)
{
    static const char *const keys[] = {"path", "max_size", "max_count", NULL};
    static const char shape[] = "keep_copies must be true, false or a group { path = "
                                "\"htd-copies\"; max_size = \"1M\"; max_count = 1000; }%s%s";
    sc->own |= OWN_COPIES;
    sc->copies = NULL;
    int t = config_setting_type(s);
    if (t == CONFIG_TYPE_BOOL && !config_setting_get_bool(s)) return 0;
    if (t != CONFIG_TYPE_BOOL && t != CONFIG_TYPE_GROUP) return bfail(b, s, shape, "", "");
    copies *cp = calloc(1, sizeof *cp);
    if (!cp) return bfail(b, s, "out of memory%s%s", "", "");
    sc->copies = cp;
    const char *path = "htd-copies";
    if (t == CONFIG_TYPE_GROUP) {
        if (only_keys(b->f, s, "keep_copies", keys, b->err, b->errlen) < 0) return -1;
        const config_setting_t *v = config_setting_get_member(s, "path");
        if (v && get_string(b->f, v, &path, b->err, b->errlen) < 0) return -1;
        if (!*path) return bfail(b, v, "keep_copies needs a path%s%s", "", "");
        if (size(b->f, s, "max_size", &cp->max_size, b->err, b->errlen) < 0 ||
            count(b->f, s, "max_count", &cp->max_count, 1, 10000000, b->err, b->errlen) < 0)
            return -1;
    }
    if (!cp->max_size) cp->max_size = 1 << 20;
    if (!cp->max_count) cp->max_count = 1000;
    cp->dir = b->f ? resolve(b->f, path) : strdup(path);
    if (!cp->dir) return bfail(b, s, "out of memory%s%s", "", "");
    return 0;
}

#define APPEND_MAX 65536 /* proxy_body_append: a fragment, not a page */

/* proxy_headers = { X-Frame-Options = "DENY"; }; and proxy_body_append =
 * "<script src=/x.js></script>";: what the proxy changes in a 200 of the
 * scope's upstream. */
static int parse_overlay(builder *b, const config_setting_t *g, scope *sc)
{
    const config_setting_t *s = config_setting_get_member(g, "proxy_headers");
    if (s) {
        char *out;
        size_t len;
        if (header_group(b, s, "proxy_headers", &out, &len) < 0) return -1;
        sc->px_headers = out;
        sc->px_headers_len = len;
        sc->own |= OWN_PX_HEADERS;
    }
    if ((s = config_setting_get_member(g, "proxy_body_append"))) {
        const char *v;
        if (get_string(b->f, s, &v, b->err, b->errlen) < 0) return -1;
        size_t n = strlen(v);
        if (n > APPEND_MAX)
            return bfail(b, s, "proxy_body_append is longer than 64 KiB%s%s", "", "");
        char *copy = n ? strdup(v) : NULL;
        if (n && !copy) return bfail(b, s, "out of memory%s%s", "", "");
        sc->px_append = copy; /* "" turns an inherited one off */
        sc->px_append_len = n;
        sc->own |= OWN_PX_APPEND;
    }
    return 0;
}

/* gzip, brotli, list_dirs and precompressed in a vhost or a rule (the top level's
 * are the server's settings, which flags override). */
static int parse_features(builder *b, const config_setting_t *g, scope *sc)
{
    static const char *const names[] = {"gzip", "brotli", "list_dirs", "precompressed"};
    uint8_t *at[] = {&sc->gzip, &sc->brotli, &sc->list_dirs, &sc->precompressed};
    for (int i = 0; i < 4; i++) {
        const config_setting_t *s = config_setting_get_member(g, names[i]);
        if (!s) continue;
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
            return bfail(b, s, "%s must be true or false%s", names[i], "");
        *at[i] = config_setting_get_bool(s) ? FEAT_ON : FEAT_OFF;
    }
    return 0;
}

static void inherit(scope *sc, const scope *from);

/* --proxy PREFIX=http://HOST:PORT: an upstream of that one server (made
 * with the config's, before any scope points at one: the array may move),
 * and then (rules set) a prefix rule of the top-level server that sends its
 * requests there. */
static int flag_proxies(builder *b, vhost *top, int rules)
{
    const htd_config *c = b->cfg;
    for (size_t i = 0; i < c->nproxies; i++) {
        const char *spec = c->proxies[i], *eq = strchr(spec, '=');
        if (!eq || spec[0] != '/' || strncmp(eq + 1, "http://", 7) != 0)
            return bfail(b, NULL, "--proxy %s: expected PREFIX=http://HOST:PORT%s", spec, "");
        char name[64];
        snprintf(name, sizeof name, "--proxy %zu", i + 1);
        if (!rules) {
            const char *hp = eq + 8;
            char server[300];
            size_t n = strcspn(hp, "/");
            if (n == 0 || n >= sizeof server || (hp[n] && strcmp(hp + n, "/") != 0))
                return bfail(b, NULL, "--proxy %s: expected PREFIX=http://HOST:PORT, no path%s",
                             spec, "");
            memcpy(server, hp, n);
            server[n] = 0;
            upstream *u = add_upstream(b, NULL, name);
            if (!u || add_server(b, NULL, u, server, 1) < 0) return -1;
            u->keepalive = 32;
            u->transform_203 = 1;
            u->retry_body_max = RETRY_BODY_MAX;
            upstream_defaults(u);
            continue;
        }
        char norm[4096];
        const char *why;
        int nl = htd_path_normalize(spec, (size_t)(eq - spec), norm, sizeof norm, &why);
        if (nl < 0) return bfail(b, NULL, "--proxy %s: bad prefix: %s", spec, why);
        rule *v = realloc(top->rules, (top->nrules + 1) * sizeof *v);
        if (!v) return bfail(b, NULL, "out of memory%s%s", "", "");
        top->rules = v;
        rule *r = &v[top->nrules];
        *r =
            (rule){.kind = RULE_PREFIX, .len = (size_t)nl, .nsub = 1, .code = 302, .keep_query = 1};
        if (!(r->pat = strndup(norm, (size_t)nl)))
            return bfail(b, NULL, "out of memory%s%s", "", "");
        top->nrules++;
        r->sc.own = OWN_PROXY;
        for (size_t k = 0; k < b->st->nupstreams; k++)
            if (strcmp(b->st->upstreams[k].name, name) == 0) r->sc.proxy = &b->st->upstreams[k];
        inherit(&r->sc, &top->sc);
    }
    return 0;
}

/* The settings a vhost and a rule share; r is NULL for a vhost's. */
static int parse_scope(builder *b, const config_setting_t *g, scope *sc, const vhost *vh,
                       const rule *r)
{
    const config_setting_t *s;
    if ((s = config_setting_get_member(g, "access")) && parse_access(b, s, sc) < 0) return -1;
    if ((s = config_setting_get_member(g, "auth")) && parse_auth(b, s, sc) < 0) return -1;
    if ((s = config_setting_get_member(g, "headers")) && parse_headers(b, s, sc) < 0) return -1;
    if ((s = config_setting_get_member(g, "error_pages")) && parse_errdocs(b, s, sc) < 0) return -1;
    if ((s = config_setting_get_member(g, "rate_limit")) && parse_ratelimit(b, s, sc, vh, r) < 0)
        return -1;
    if ((s = config_setting_get_member(g, "price")) && parse_meter(b, s, sc) < 0) return -1;
    if ((s = config_setting_get_member(g, "proxy")) && parse_proxy(b, s, sc) < 0) return -1;
    if ((s = config_setting_get_member(g, "keep_copies")) && parse_copies(b, s, sc) < 0) return -1;
    if (parse_overlay(b, g, sc) < 0) return -1;
    return 0;
}

static void inherit(scope *sc, const scope *from)
{
    if (!(sc->own & OWN_ACCESS)) {
        sc->access = from->access;
        sc->naccess = from->naccess;
    }
    if (!(sc->own & OWN_AUTH)) sc->auth = from->auth;
    if (!(sc->own & OWN_HEADERS)) {
        sc->headers = from->headers;
        sc->headers_len = from->headers_len;
        sc->cc_in_headers = from->cc_in_headers;
    }
    /* A Cache-Control in a rule's own headers outranks its vhost's
     * cache_control, as a rule's headers outrank its vhost's. */
    if (!(sc->own & OWN_CC) && !(sc->own & OWN_HEADERS && sc->cc_in_headers)) {
        sc->cc = from->cc;
        sc->cc_len = from->cc_len;
    }
    if (!(sc->own & OWN_ERRDOCS)) {
        sc->errdocs = from->errdocs;
        sc->nerrdocs = from->nerrdocs;
    }
    if (!(sc->own & OWN_RATELIMIT)) sc->ratelimit = from->ratelimit;
    if (!sc->gzip) sc->gzip = from->gzip;
    if (!sc->brotli) sc->brotli = from->brotli;
    if (!sc->list_dirs) sc->list_dirs = from->list_dirs;
    if (!sc->precompressed) sc->precompressed = from->precompressed;
    if (!(sc->own & OWN_METER)) sc->meter = from->meter;
    if (!(sc->own & OWN_PROXY)) sc->proxy = from->proxy;
    if (!(sc->own & OWN_COPIES)) sc->copies = from->copies;
    if (!(sc->own & OWN_PX_HEADERS)) {
        sc->px_headers = from->px_headers;
        sc->px_headers_len = from->px_headers_len;
    }
    if (!(sc->own & OWN_PX_APPEND)) {
        sc->px_append = from->px_append;
        sc->px_append_len = from->px_append_len;
    }
}

/* metrics = true;: the rule's path is the status endpoint (metrics.c). */
static int parse_metrics(builder *b, const config_setting_t *s, rule *r)
{
    if (config_setting_type(s) != CONFIG_TYPE_BOOL)
        return bfail(b, s, "metrics must be true or false%s%s", "", "");
    r->metrics = (uint8_t)config_setting_get_bool(s);
    if (r->metrics && r->redirect)
        return bfail(b, s, "a metrics rule answers its requests itself; it cannot redirect%s%s", "",
                     "");
    return 0;
}

/* methods = ["PUT", "DELETE", ...];: the rule applies to requests with
 * these methods only (GET's with HEAD's). A name the parser does not know is an error: such a
 * request is answered 501 before any rule is looked at. */
static int parse_methods(builder *b, const config_setting_t *s, rule *r)
{
    _Static_assert(HTD_M_UNLOCK < 32, "a rule's methods are the bits of a uint32_t");
    const char **v;
    size_t n;
    if (get_strings(b->f, s, &v, &n, b->err, b->errlen) < 0) return -1;
    int rc = n ? 0
               : bfail(b, s, "methods needs at least one method, like [\"PUT\", \"DELETE\"]%s%s",
                       "", "");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int m = htd_method_id(v[i], strlen(v[i]));
        if (m == HTD_M_UNKNOWN)
            rc = bfail(b, s,
                       "unknown method \"%s\" in methods; htd knows GET, HEAD, POST, PUT, DELETE, "
                       "OPTIONS, TRACE, CONNECT, PATCH, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, "
                       "LOCK and UNLOCK (in capitals)%s",
                       v[i], "");
        else /* GET takes HEAD with it: else a HEAD would slip past a GET's rule */
            r->methods |= 1u << m | (m == HTD_M_GET ? 1u << HTD_M_HEAD : 0);
    }
    free(v);
    return rc;
}

/* A regex rule's redirect with its named groups, ${name}, as their numbers
 * ($1..$9), in *out (malloc'd; NULL when it names none). 0, or -1 with why. */
static int named_groups(const rule *r, const char *t, char **out, char *why, size_t whylen)
{
    *out = NULL;
    if (!strstr(t, "${")) return 0;
    size_t cap = strlen(t) + 1, n = 0;
    char *o = malloc(cap);
    if (!o) return snprintf(why, whylen, "out of memory"), -1;
    for (const char *p = t; *p;) {
        if (p[0] == '$' && p[1] == '$') { /* a literal '$' stays as it is written */
            o[n++] = *p++;
            o[n++] = *p++;
            continue;
        }
        if (p[0] != '$' || p[1] != '{') {
            o[n++] = *p++;
            continue;
        }
        const char *end = strchr(p + 2, '}');
        char name[64];
        size_t nl = end ? (size_t)(end - p - 2) : 0;
        if (!end || !nl || nl >= sizeof name) {
            free(o);
            snprintf(why, whylen, "'${' without a group's name and '}' in redirect target");
            return -1;
        }
        memcpy(name, p + 2, nl);
        name[nl] = 0;
        int g = regex_group(r->re, name);
        if (g < 0 || g > 9) {
            free(o);
            snprintf(why, whylen,
                     g < 0 ? "${%s}: the regex has no group of that name"
                           : "${%s}: only groups 1 to 9 can be used",
                     name);
            return -1;
        }
        o[n++] = '$';
        o[n++] = (char)('0' + g); /* never longer than "${x}" */
        p = end + 1;
    }
    o[n] = 0;
    *out = o;
    return 0;
}

/* Warns of what in text (a rule's regex, or a target when target) PCRE2 or
 * htd reads otherwise than the dialect it comes from: such a file is valid
 * and loads, but likely does not do what its author meant. Each construct
 * once, however often the pattern has it. */
static void warn_dialects(const builder *b, const config_setting_t *s, const char *what,
                          const char *text, int target)
{
    regex_trap t[8];
    size_t n = regex_traps(text, target, t, sizeof t / sizeof t[0]);
    if (n > sizeof t / sizeof t[0]) n = sizeof t / sizeof t[0];
    for (size_t i = 0; i < n; i++) {
        int seen = 0;
        for (size_t k = 0; k < i && !seen; k++)
            seen = t[k].len == t[i].len && !memcmp(text + t[k].at, text + t[i].at, t[i].len);
        if (!seen)
            conf_warn(b->f, s, "warning: in %s, \"%.*s\" %s; write %s", what, (int)t[i].len,
                      text + t[i].at, t[i].why, t[i].instead);
    }
}

/* A redirect's or rewrite's target: named groups made numbers, checked,
 * copied; NULL with the failure said. */
static char *target_of(builder *b, const config_setting_t *s, const rule *r, const char *what)
{
    const char *t;
    char why[256];
    if (get_string(b->f, s, &t, b->err, b->errlen) < 0) return NULL;
    if (!*t) return bfail(b, s, "%s needs a target%s", what, ""), NULL;
    char *named = NULL, *out = NULL;
    if (r->kind == RULE_REGEX && named_groups(r, t, &named, why, sizeof why) < 0)
        return bfail(b, s, "%s%s", why, ""), NULL;
    int rc = rewrite_check(named ? named : t, r->nsub, why, sizeof why);
    if (rc == 0 && !(out = strdup(named ? named : t))) snprintf(why, sizeof why, "out of memory");
    free(named);
    if (rc < 0 || !out) return bfail(b, s, "%s%s", why, ""), NULL;
    warn_dialects(b, s, what, t, 1); /* as written, not as named groups made it */
    return out;
}

/* try = ["$path", "$path/", "/index.html"] (the last may be "=404"). */
static int parse_try(builder *b, const config_setting_t *s, rule *r)
{
    if (r->redirect || r->rewrite)
        return bfail(b, s, "a rule with try neither redirects nor rewrites%s%s", "", "");
    int n =
        config_setting_type(s) == CONFIG_TYPE_ARRAY || config_setting_type(s) == CONFIG_TYPE_LIST
            ? config_setting_length(s)
            : 0;
    if (n < 2)
        return bfail(b, s,
                     "try is a list of at least two paths, like [\"$path\", \"/index.html\"] "
                     "(the last may be a status: \"=404\")%s%s",
                     "", "");
    if (!(r->tries = calloc((size_t)n, sizeof *r->tries)))
        return bfail(b, s, "out of memory%s%s", "", "");
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *t =
            config_setting_type(e) == CONFIG_TYPE_STRING ? config_setting_get_string(e) : NULL;
        if (!t) return bfail(b, e, "each of try is a string in double quotes%s%s", "", "");
        if (t[0] == '=') {
            char *end;
            long st = strtol(t + 1, &end, 10);
            if (i != n - 1 || *end || st < 200 || st > 599)
                return bfail(b, e,
                             "\"%s\": a status (\"=404\") can only be the last of try, from "
                             "200 to 599%s",
                             t, "");
            if (!(r->tries[r->ntries++] = strdup(t)))
                return bfail(b, e, "out of memory%s%s", "", "");
            continue;
        }
        if (t[0] != '/' && t[0] != '$')
            return bfail(b, e, "\"%s\" in try is not a path on this server%s", t, "");
        if (!(r->tries[r->ntries++] = target_of(b, e, r, "try"))) return -1;
    }
    return 0;
}

/* Whether a path can be r's and in the writable area at prefix a (a
 * directory, named with or without its '/'). Of a regex only the literal
 * its paths start with is known: without one, it meets every area. */
static int rule_meets_area(const rule *r, const char *a, size_t alen)
{
    if (alen > 1 && a[alen - 1] == '/') alen--;
    switch (r->kind) {
    case RULE_EXACT:
        return htd_path_under(r->pat, r->len, a, alen);
    case RULE_PREFIX:
        return htd_path_under(r->pat, r->len, a, alen) || htd_path_under(a, alen, r->pat, r->len);
    default:
        return r->lit_len <= alen ? memcmp(a, r->lit, r->lit_len) == 0
                                  : htd_path_under(r->lit, r->lit_len, a, alen);
    }
}

/* cgi = true; in a rule: the paths it matches are scripts; false: files,
 * even under a script prefix. Never where PUT writes: a script uploaded to
 * a writable area and then run would be a remote code execution. */
static int parse_rule_cgi(builder *b, const config_setting_t *s, const vhost *vh, rule *r)
{
    if (config_setting_type(s) != CONFIG_TYPE_BOOL)
        return bfail(b, s,
                     "cgi in a rule must be true or false (a vhost's cgi is its list of script "
                     "prefixes)%s%s",
                     "", "");
    r->cgi = config_setting_get_bool(s) ? FEAT_ON : FEAT_OFF;
    if (r->cgi == FEAT_OFF) return 0;
    int top = vh == &b->st->vhosts[0];
    const char *const *areas = top ? b->cfg->writable : (const char *const *)vh->writable;
    size_t n = top ? b->cfg->nwritable : vh->nwritable;
    for (size_t i = 0; i < n; i++) {
        char norm[4096];
        uint64_t max, quota;
        const char *why;
        if (store_parse_area(areas[i], norm, sizeof norm, &max, &quota, &why) < 0) continue;
        if (rule_meets_area(r, norm, strlen(norm)))
            return bfail(b, s,
                         "cgi = true could run what is uploaded to the writable area %s; a rule "
                         "that runs scripts must stay out of it%s",
                         norm,
                         r->kind == RULE_REGEX
                             ? " (start the regex with a path outside it, like \"^/app/.*\\.cgi$\")"
                             : "");
    }
    return 0;
}

static int parse_rule(builder *b, const config_setting_t *g, vhost *vh, rule *r)
{
    static const char *const keys[] = {"exact",
                                       "prefix",
                                       "regex",
                                       "redirect",
                                       "code",
                                       "query",
                                       "headers",
                                       "access",
                                       "auth",
                                       "error_pages",
                                       "rate_limit",
                                       "price",
                                       "proxy",
                                       "keep_copies",
                                       "metrics",
                                       "methods",
                                       "rewrite",
                                       "try",
                                       "gzip",
                                       "list_dirs",
                                       "precompressed",
                                       "brotli",
                                       "cgi",
                                       "cache_control",
                                       "proxy_headers",
                                       "proxy_body_append",
                                       NULL};
    if (config_setting_type(g) != CONFIG_TYPE_GROUP)
        return bfail(
            b, g, "each rule is a group like { prefix = \"/old/\"; redirect = \"/new/$1\"; }%s%s",
            "", "");
    if (only_keys(b->f, g, "a rule", keys, b->err, b->errlen) < 0) return -1;
    const config_setting_t *ms = NULL, *s;
    int kinds = 0;
    static const char *const kindkeys[] = {"exact", "prefix", "regex"};
    for (int k = 0; k < 3; k++)
        if ((s = config_setting_get_member(g, kindkeys[k]))) {
            kinds++;
            ms = s;
            r->kind = k == 0 ? RULE_EXACT : k == 1 ? RULE_PREFIX : RULE_REGEX;
        }
    if (kinds != 1)
        return bfail(b, g, "a rule needs exactly one of exact, prefix or regex%s%s", "", "");
    const char *pat;
    if (get_string(b->f, ms, &pat, b->err, b->errlen) < 0) return -1;
    if (!(r->pat = strdup(pat))) return bfail(b, ms, "out of memory%s%s", "", "");
    r->len = strlen(pat);
    if (r->kind == RULE_REGEX) {
        char why[300];
        if (!(r->re = regex_compile(pat, &r->nsub, &r->lit, &r->lit_len, why, sizeof why)))
            return bfail(b, ms, "bad regex \"%s\": %s", pat, why);
        warn_dialects(b, ms, "regex", pat, 0);
    } else {
        if (pat[0] != '/')
            return bfail(b, ms, "%s must start with '/', got \"%s\"", kindkeys[r->kind], pat);
        /* Paths are matched decoded and normalised: a pattern that is not
         * could never match, and a deny would silently do nothing. */
        char norm[4096];
        const char *why;
        int n = htd_path_normalize(pat, r->len, norm, sizeof norm, &why);
        if (n < 0) return bfail(b, ms, "bad path \"%s\": %s", pat, why);
        if ((size_t)n != r->len || memcmp(norm, pat, r->len) != 0)
            return bfail(b, ms, "\"%s\" would never match a request's path; write it as \"%s\"",
                         pat, norm);
        r->nsub = r->kind == RULE_PREFIX ? 1 : 0;
    }
    r->code = 302;
    r->keep_query = 1;
    if ((s = config_setting_get_member(g, "redirect")) &&
        !(r->redirect = target_of(b, s, r, "redirect")))
        return -1;
    if ((s = config_setting_get_member(g, "rewrite"))) {
        if (r->redirect)
            return bfail(b, s, "a rule either redirects or rewrites, not both%s%s", "", "");
        if (!(r->rewrite = target_of(b, s, r, "rewrite"))) return -1;
        if (r->rewrite[0] != '/' && r->rewrite[0] != '$')
            return bfail(b, s, "rewrite is a path on this server, like \"/index.php?q=$path\"%s%s",
                         "", "");
    }
    if ((s = config_setting_get_member(g, "try")) && parse_try(b, s, r) < 0) return -1;
    if ((s = config_setting_get_member(g, "code"))) {
        int c = config_setting_type(s) == CONFIG_TYPE_INT ? config_setting_get_int(s) : 0;
        if (c != 301 && c != 302 && c != 303 && c != 307 && c != 308) {
            char got[32];
            snprintf(got, sizeof got, "%d", c);
            return bfail(b, s, "code must be 301, 302, 303, 307 or 308, got %s%s",
                         config_setting_type(s) == CONFIG_TYPE_INT ? got : "something else", "");
        }
        if (!r->redirect)
            return bfail(b, s, "code is for a redirect, and this rule has none%s%s", "", "");
        r->code = c;
    }
    if ((s = config_setting_get_member(g, "query"))) {
        const char *q;
        if (get_string(b->f, s, &q, b->err, b->errlen) < 0) return -1;
        if (strcmp(q, "keep") != 0 && strcmp(q, "drop") != 0)
            return bfail(b, s, "query must be \"keep\" or \"drop\", got \"%s\"%s", q, "");
        r->keep_query = q[0] == 'k';
    }
    if ((s = config_setting_get_member(g, "metrics")) && parse_metrics(b, s, r) < 0) return -1;
    if ((s = config_setting_get_member(g, "methods")) && parse_methods(b, s, r) < 0) return -1;
    if ((s = config_setting_get_member(g, "cgi")) && parse_rule_cgi(b, s, vh, r) < 0) return -1;
    if (parse_scope(b, g, &r->sc, vh, r) < 0 || parse_features(b, g, &r->sc) < 0 ||
        parse_cache_control(b, g, &r->sc) < 0)
        return -1;
    inherit(&r->sc, &vh->sc);
    if (r->sc.own & OWN_CC && r->sc.cc_in_headers && drop_inherited_cc(b, g, &r->sc) < 0) return -1;
    return 0;
}

static int parse_rules(builder *b, const config_setting_t *g, vhost *vh)
{
    const config_setting_t *s = config_setting_get_member(g, "rules");
    if (!s) return 0;
    if (config_setting_type(s) != CONFIG_TYPE_LIST)
        return bfail(b, s, "rules must be a list: rules = ( { ... }, { ... } );%s%s", "", "");
    size_t n = (size_t)config_setting_length(s);
    if (!(vh->rules = calloc(n ? n : 1, sizeof *vh->rules)))
        return bfail(b, s, "out of memory%s%s", "", "");
    for (size_t i = 0; i < n; i++) {
        rule *r = &vh->rules[vh->nrules++];
        if (parse_rule(b, config_setting_get_elem(s, (unsigned)i), vh, r) < 0) return -1;
    }
    /* Rules that name methods go first, each part in file order: of an
     * exact path, a regex or a prefix that another rule has too, the one
     * for the request's method wins, and matching costs nothing more. */
    rule *sorted = malloc(n ? n * sizeof *sorted : 1);
    if (!sorted) return bfail(b, s, "out of memory%s%s", "", "");
    size_t k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++)
            if ((vh->rules[i].methods == 0) == pass) sorted[k++] = vh->rules[i];
    memcpy(vh->rules, sorted, n * sizeof *sorted);
    free(sorted);
    return 0;
}

/* --cache-control PREFIX=VALUE, for the top-level server: a header laid
 * over whatever rule applies to the path (see site.h). */
static int cache_control_rules(builder *b, vhost *top)
{
    const htd_config *c = b->cfg;
    if (!c->ncache_control) return 0;
    if (!(top->cc = calloc(c->ncache_control, sizeof *top->cc)))
        return bfail(b, NULL, "out of memory%s%s", "", "");
    for (size_t i = 0; i < c->ncache_control; i++) {
        const char *spec = c->cache_control[i], *eq = strchr(spec, '=');
        char norm[4096];
        const char *why = "expected PREFIX=VALUE, like /static/=max-age=86400";
        int n = eq && spec[0] == '/'
                    ? htd_path_normalize(spec, (size_t)(eq - spec), norm, sizeof norm, &why)
                    : -1;
        const char *v = eq ? eq + 1 : ""; /* a field value, and not even a tab */
        if (n >= 0 && (!htd_field_value_ok(v, strlen(v)) || strchr(v, '\t')))
            n = -1, why = "control characters in the value";
        if (n < 0 || !eq[1])
            return bfail(b, NULL, "--cache-control %s: %s", spec,
                         eq && !eq[1] ? "an empty value" : why);
        cc_rule *r = &top->cc[top->ncc++];
        size_t hl = strlen(eq + 1) + 20;
        if (!(r->prefix = strdup(norm)) || !(r->line = malloc(hl)))
            return bfail(b, NULL, "out of memory%s%s", "", "");
        r->len = (size_t)n;
        r->line_len = (size_t)snprintf(r->line, hl, "Cache-Control: %s\r\n", eq + 1);
    }
    return 0;
}

static int add_name(builder *b, const config_setting_t *s, const char *name, vhost *vh)
{
    site *st = b->st;
    size_t n = strlen(name);
    int wild = n > 2 && name[0] == '*' && name[1] == '.';
    if (n == 0 || n > 253 || strchr(name + (wild ? 1 : 0), '*') || strchr(name, ':') ||
        strchr(name, '/'))
        return bfail(b, s,
                     "bad host name \"%s\": expected a name like example.com or *.example.com%s",
                     name, "");
    char *lc = strdup(wild ? name + 1 : name);
    if (!lc) return bfail(b, s, "out of memory%s%s", "", "");
    for (char *p = lc; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
    size_t len = strlen(lc);
    if (len > 1 && lc[len - 1] == '.') lc[--len] = 0;
    for (size_t i = 0; i < st->nnames; i++)
        if (st->names[i].wildcard == wild && strcmp(st->names[i].name, lc) == 0) {
            free(lc);
            return bfail(b, s, "host name \"%s\" is already used by another vhost%s", name, "");
        }
    vname *nv = realloc(st->names, (st->nnames + 1) * sizeof *nv);
    if (!nv) {
        free(lc);
        return bfail(b, s, "out of memory%s%s", "", "");
    }
    st->names = nv;
    st->names[st->nnames++] = (vname){lc, len, wild, vh};
    return 0;
}

/* Script prefixes: "/cgi-bin/" and the like, normalised. */
static int set_cgi(builder *b, const config_setting_t *s, vhost *vh, const char *const *v, size_t n)
{
    if (!(vh->cgi = calloc(n ? n : 1, sizeof *vh->cgi)))
        return bfail(b, s, "out of memory%s%s", "", "");
    for (size_t i = 0; i < n; i++) {
        char norm[4096];
        const char *why = "must start with '/'";
        if (v[i][0] != '/' || htd_path_normalize(v[i], strlen(v[i]), norm, sizeof norm, &why) < 0)
            return bfail(b, s, "bad script prefix '%s': %s", v[i], why);
        if (!(vh->cgi[vh->ncgi++] = strdup(norm))) return bfail(b, s, "out of memory%s%s", "", "");
    }
    return 0;
}

/* ---- job queues ---- */

/* A new queue of vh at prefix (normalised into it), its name made. */
static queue_spec *add_queue(builder *b, const config_setting_t *s, vhost *vh, const char *prefix,
                             size_t plen)
{
    char norm[4096], raw[4096];
    const char *why = "must start with '/'";
    if (plen >= sizeof raw) plen = sizeof raw - 1;
    memcpy(raw, prefix, plen);
    raw[plen] = 0;
    if (raw[0] != '/' || htd_path_normalize(raw, plen, norm, sizeof norm, &why) < 0) {
        bfail(b, s, "bad queue prefix '%s': %s", raw, why);
        return NULL;
    }
    for (size_t i = 0; i < vh->nqueues; i++)
        if (strcmp(vh->queues[i].prefix, norm) == 0) {
            bfail(b, s, "two queues at '%s'%s", norm, "");
            return NULL;
        }
    queue_spec *v = realloc(vh->queues, (vh->nqueues + 1) * sizeof *v);
    if (!v) {
        bfail(b, s, "out of memory%s%s", "", "");
        return NULL;
    }
    vh->queues = v;
    queue_spec *q = &v[vh->nqueues++];
    *q = (queue_spec){0};
    size_t nl = strlen(norm);
    q->prefix = strdup(norm);
    q->len = nl;
    q->name = malloc((vh->name ? strlen(vh->name) : 0) + nl + 1);
    if (!q->prefix || !q->name) {
        bfail(b, s, "out of memory%s%s", "", "");
        return NULL;
    }
    sprintf(q->name, "%s%s", vh->name ? vh->name : "", norm);
    return q;
}

/* queues = ( { prefix = "/jobs/"; command = "..."; ... }, ... ) */
static int parse_queues(builder *b, const config_setting_t *list, vhost *vh)
{
    static const char *const keys[] = {"prefix",   "command",    "workers",  "attempts",
                                       "timeout",  "max_queued", "max_wait", "retry_delay",
                                       "max_body", "max_result", "expire",   NULL};
    if (!list) return 0;
    if (config_setting_type(list) != CONFIG_TYPE_LIST)
        return bfail(b, list,
                     "queues must be a list: queues = ( { prefix = \"/jobs/\"; ... } );%s%s", "",
                     "");
    for (int i = 0; i < config_setting_length(list); i++) {
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i), *s;
        if (config_setting_type(g) != CONFIG_TYPE_GROUP)
            return bfail(b, g,
                         "each queue is a group { prefix = \"/jobs/\"; command = \"...\"; }%s%s",
                         "", "");
        if (only_keys(b->f, g, "a queue", keys, b->err, b->errlen) < 0) return -1;
        const char *prefix;
        if (!(s = config_setting_get_member(g, "prefix")))
            return bfail(b, g, "a queue needs a prefix = \"/jobs/\"%s%s", "", "");
        if (get_string(b->f, s, &prefix, b->err, b->errlen) < 0) return -1;
        queue_spec *q = add_queue(b, s, vh, prefix, strlen(prefix));
        if (!q) return -1;
        if ((s = config_setting_get_member(g, "command"))) {
            const char *cmd;
            if (get_string(b->f, s, &cmd, b->err, b->errlen) < 0) return -1;
            if (!*cmd) return bfail(b, s, "a queue's command cannot be empty%s%s", "", "");
            if (!(q->command = strdup(cmd))) return bfail(b, s, "out of memory%s%s", "", "");
        }
        unsigned expire = 0;
        conf_file *f = b->f;
        if (count(f, g, "workers", &q->workers, 1, 1024, b->err, b->errlen) < 0 ||
            count(f, g, "attempts", &q->attempts, 1, 1000, b->err, b->errlen) < 0 ||
            timeout(f, g, "timeout", &q->timeout_ms, b->err, b->errlen) < 0 ||
            count(f, g, "max_queued", &q->max_queued, 1, 100000000, b->err, b->errlen) < 0 ||
            count(f, g, "max_wait", &q->max_wait_s, 1, 3600, b->err, b->errlen) < 0 ||
            timeout(f, g, "retry_delay", &q->retry_ms, b->err, b->errlen) < 0 ||
            size(f, g, "max_body", &q->max_body, b->err, b->errlen) < 0 ||
            size(f, g, "max_result", &q->max_result, b->err, b->errlen) < 0 ||
            count(f, g, "expire", &expire, 1, 3650u * 86400, b->err, b->errlen) < 0)
            return -1;
        q->expire_s = expire;
        queue_spec_defaults(q);
    }
    return 0;
}

/* --queue PREFIX=COMMAND, on the top-level server. */
static int flag_queues(builder *b, vhost *top)
{
    for (size_t i = 0; i < b->cfg->nqueues; i++) {
        const char *spec = b->cfg->queues[i], *eq = strchr(spec, '=');
        if (!eq || !eq[1]) return bfail(b, NULL, "--queue %s: expected PREFIX=COMMAND%s", spec, "");
        queue_spec *q = add_queue(b, NULL, top, spec, (size_t)(eq - spec));
        if (!q) return -1;
        if (!(q->command = strdup(eq + 1))) return bfail(b, NULL, "out of memory%s%s", "", "");
        queue_spec_defaults(q);
    }
    return 0;
}

/* ---- TLS ---- */

/* A certificate and its key for vh, into the site's contexts (made on the
 * first); errors name the setting s. */
static int add_cert(builder *b, const config_setting_t *s, vhost *vh, const char *cert,
                    const char *key)
{
    char why[512];
    const htd_config *c = b->cfg;
    tls_settings set = {.ciphers = c->tls_ciphers,
                        .ciphersuites = c->tls_ciphersuites,
                        .no_ktls = c->tls_no_ktls,
                        .key_readable = c->tls_key_readable};
    if (!b->st->tls && !(b->st->tls = tls_certs_new(&set, why, sizeof why)))
        return bfail(b, s, "%s%s", why, "");
    if (vh->tls_ctx < 0 && (vh->tls_ctx = tls_certs_add(b->st->tls, why, sizeof why)) < 0)
        return bfail(b, s, "tls: %s%s", why, "");
    if (tls_certs_load(b->st->tls, vh->tls_ctx, cert, key, why, sizeof why) < 0)
        return bfail(b, s, "%s%s", why, "");
    return 0;
}

/* tls = { cert = ...; key = ...; redirect = 308; port = 8443; hsts = "..." }
 * of a vhost, or of the top level (top), where the flags' certificates win
 * over the file's. */
static int parse_tls(builder *b, const config_setting_t *g, vhost *vh, int top)
{
    static const char *const keys[] = {"cert", "key", "redirect", "port", "hsts", NULL};
    if (config_setting_type(g) != CONFIG_TYPE_GROUP)
        return bfail(b, g,
                     "tls is a group: tls = { cert = \"site.crt\"; key = \"site.key\"; };%s%s", "",
                     "");
    if (!top && only_keys(b->f, g, "a vhost's tls", keys, b->err, b->errlen) < 0) return -1;
    const config_setting_t *cs = config_setting_get_member(g, "cert"),
                           *ks = config_setting_get_member(g, "key"), *s;
    if (!cs != !ks)
        return bfail(b, cs ? cs : ks,
                     "tls needs both cert and key (as many keys as certificates)%s%s", "", "");
    if (cs && !(top && b->cfg->ntls_certs)) {
        const char **certs = NULL, **keyv = NULL;
        size_t nc = 0, nk = 0;
        int rc = get_strings(b->f, cs, &certs, &nc, b->err, b->errlen) < 0 ||
                         get_strings(b->f, ks, &keyv, &nk, b->err, b->errlen) < 0
                     ? -1
                 : nc != nk || !nc
                     ? bfail(b, ks, "tls needs as many keys as certificates, in the same order%s%s",
                             "", "")
                     : 0;
        for (size_t i = 0; rc == 0 && i < nc; i++) {
            char *cp = resolve(b->f, certs[i]), *kp = resolve(b->f, keyv[i]);
            rc = cp && kp ? add_cert(b, i ? ks : cs, vh, cp, kp)
                          : bfail(b, cs, "out of memory%s%s", "", "");
            free(cp);
            free(kp);
        }
        free(certs);
        free(keyv);
        if (rc < 0) return -1;
    }
    if ((s = config_setting_get_member(g, "redirect"))) {
        int code = config_setting_type(s) == CONFIG_TYPE_INT ? config_setting_get_int(s) : 0;
        if (code != 301 && code != 308)
            return bfail(b, s, "tls redirect must be 301 or 308%s%s", "", "");
        vh->https_redirect = code;
    }
    if ((s = config_setting_get_member(g, "port"))) {
        int port = config_setting_type(s) == CONFIG_TYPE_INT ? config_setting_get_int(s) : 0;
        if (port < 1 || port > 65535)
            return bfail(b, s, "tls port must be from 1 to 65535%s%s", "", "");
        vh->https_port = (unsigned)port;
    }
    if ((s = config_setting_get_member(g, "hsts"))) {
        const char *v;
        if (get_string(b->f, s, &v, b->err, b->errlen) < 0) return -1;
        if (!*v || !htd_field_value_ok(v, strlen(v)))
            return bfail(b, s, "tls hsts must be a header value like \"max-age=31536000\"%s%s", "",
                         "");
        if (!(vh->hsts = strdup(v))) return bfail(b, s, "out of memory%s%s", "", "");
    }
    return 0;
}

/* The flags' certificates (--cert, --key) for the top-level server. */
static int flag_certs(builder *b, vhost *top)
{
    for (size_t i = 0; i < b->cfg->ntls_certs; i++)
        if (add_cert(b, NULL, top, b->cfg->tls_cert[i], b->cfg->tls_key[i]) < 0) return -1;
    return 0;
}

/* Once every vhost is read: the names that pick each context, and the
 * default (the default vhost's certificates, else the top-level
 * server's, else the first vhost's that has some). */
static int tls_names(builder *b)
{
    site *st = b->st;
    if (!st->tls) return 0;
    for (size_t i = 0; i < st->nnames; i++) {
        const vname *v = &st->names[i];
        if (v->vh->tls_ctx >= 0 &&
            tls_certs_name(st->tls, v->name, v->len, v->wildcard, v->vh->tls_ctx) < 0)
            return bfail(b, NULL, "out of memory%s%s", "", "");
    }
    int d = st->fallback->tls_ctx;
    for (size_t i = 0; d < 0 && i < st->nvhosts; i++)
        d = st->vhosts[i].tls_ctx;
    tls_certs_default(st->tls, d);
    return 0;
}

/* request_id_header = "X-Request-Id"; in g (a vhost, or the top level):
 * the header that carries each request's id; "off" for none. Without it, a
 * vhost takes the top level's (top, NULL for the top level itself). */
static int parse_request_id_header(builder *b, const config_setting_t *g, vhost *vh,
                                   const vhost *top)
{
    const config_setting_t *s = config_setting_get_member(g, "request_id_header");
    const char *v = top ? top->request_id_header : NULL;
    if (s) {
        if (get_string(b->f, s, &v, b->err, b->errlen) < 0) return -1;
        size_t i = 0;
        while (v[i] && (isalnum((unsigned char)v[i]) || v[i] == '-'))
            i++;
        if (strcmp(v, "off") == 0)
            v = NULL;
        else if (!*v || v[i] || response_owns_header((htd_str){v, strlen(v)}))
            return bfail(b, s,
                         "request_id_header must be a header name like \"X-Request-Id\" (or "
                         "\"off\"), got \"%s\"%s",
                         v, "");
    }
    if (v && !(vh->request_id_header = strdup(v))) return bfail(b, s, "out of memory%s%s", "", "");
    return 0;
}

/* writable = ["/dav/:10M:1G"]; max_upload = "10M"; webdav = true; in a
 * vhost: its own writable areas, beneath its root. */
static int parse_vhost_areas(builder *b, const config_setting_t *g, vhost *vh)
{
    const config_setting_t *s = config_setting_get_member(g, "writable"), *d;
    if ((d = config_setting_get_member(g, "webdav"))) {
        if (config_setting_type(d) != CONFIG_TYPE_BOOL)
            return bfail(b, d, "webdav must be true or false%s%s", "", "");
        vh->webdav = (uint8_t)config_setting_get_bool(d);
        if (vh->webdav && !s)
            return bfail(b, d,
                         "webdav needs writable areas in this vhost (writable = [\"/dav/\"];)%s%s",
                         "", "");
    }
    if (size(b->f, g, "max_upload", &vh->max_upload, b->err, b->errlen) < 0) return -1;
    if (!s) return 0;
    if (!vh->name)
        return bfail(b, s, "a vhost with writable areas needs a name (names = [\"...\"])%s%s", "",
                     "");
    const char **v;
    size_t n;
    if (get_strings(b->f, s, &v, &n, b->err, b->errlen) < 0) return -1;
    if (!(vh->writable = calloc(n ? n : 1, sizeof *vh->writable))) {
        free(v);
        return bfail(b, s, "out of memory%s%s", "", "");
    }
    for (size_t i = 0; i < n; i++) {
        char norm[4096];
        uint64_t max, quota;
        const char *why;
        if (store_parse_area(v[i], norm, sizeof norm, &max, &quota, &why) < 0) {
            int rc = bfail(b, s, "bad writable area '%s': %s", v[i], why);
            free(v);
            return rc;
        }
        if (!(vh->writable[vh->nwritable] = strdup(v[i]))) {
            free(v);
            return bfail(b, s, "out of memory%s%s", "", "");
        }
        vh->nwritable++;
    }
    free(v);
    return 0;
}

static int parse_vhost(builder *b, const config_setting_t *g, vhost *vh)
{
    static const char *const keys[] = {"names",
                                       "default",
                                       "root",
                                       "access_log",
                                       "log_format",
                                       "headers",
                                       "access",
                                       "auth",
                                       "error_pages",
                                       "rules",
                                       "cgi",
                                       "rate_limit",
                                       "queues",
                                       "price",
                                       "tls",
                                       "proxy",
                                       "keep_copies",
                                       "request_id_header",
                                       "writable",
                                       "max_upload",
                                       "webdav",
                                       "gzip",
                                       "list_dirs",
                                       "precompressed",
                                       "brotli",
                                       "cache_control",
                                       "proxy_headers",
                                       "proxy_body_append",
                                       NULL};
    if (config_setting_type(g) != CONFIG_TYPE_GROUP)
        return bfail(b, g, "each vhost is a group { names = [...]; root = \"...\"; }%s%s", "", "");
    if (only_keys(b->f, g, "a vhost", keys, b->err, b->errlen) < 0) return -1;
    const config_setting_t *s;
    if (!(s = config_setting_get_member(g, "names")))
        return bfail(b, g, "a vhost needs names = [\"example.com\", ...]%s%s", "", "");
    const char **names;
    size_t n;
    if (get_strings(b->f, s, &names, &n, b->err, b->errlen) < 0) return -1;
    for (size_t i = 0; i < n; i++)
        if (add_name(b, s, names[i], vh) < 0) {
            free(names);
            return -1;
        }
    /* What a handler is told it was served under (htd_req_vhost). */
    vh->name = n ? strdup(names[0]) : NULL;
    free(names);
    if (n && !vh->name) return bfail(b, s, "out of memory%s%s", "", "");
    if ((s = config_setting_get_member(g, "default"))) {
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
            return bfail(b, s, "default must be true or false%s%s", "", "");
        if (config_setting_get_bool(s)) {
            if (b->st->fallback != &b->st->vhosts[0])
                return bfail(b, s, "only one vhost can be the default%s%s", "", "");
            b->st->fallback = vh;
        }
    }
    const char *root;
    if (!(s = config_setting_get_member(g, "root")))
        return bfail(b, g, "a vhost needs a root%s%s", "", "");
    if (get_string(b->f, s, &root, b->err, b->errlen) < 0) return -1;
    char *abs = resolve(b->f, root);
    int rc = abs ? open_root(b, vh, s, abs) : bfail(b, s, "out of memory%s%s", "", "");
    free(abs);
    if (rc < 0) return -1;

    const char *fmt = b->log_format;
    const config_setting_t *fs = config_setting_get_member(g, "log_format");
    if (fs && get_string(b->f, fs, &fmt, b->err, b->errlen) < 0) return -1;
    vh->log = b->top_log;
    if ((s = config_setting_get_member(g, "access_log"))) {
        const char *lp;
        if (get_string(b->f, s, &lp, b->err, b->errlen) < 0) return -1;
        vh->log = NULL;
        if (strcmp(lp, "off") != 0) {
            char *path = resolve(b->f, lp);
            if (!path) return bfail(b, s, "out of memory%s%s", "", "");
            vh->log = get_log(b, s, path, fmt);
            free(path);
            if (!vh->log) return -1;
        }
    } else if (fs) {
        /* The shared log, in this vhost's own format. */
        if (!b->cfg->access_log)
            return bfail(b, fs, "log_format needs an access_log, and the top level has none%s%s",
                         "", "");
        if (!(vh->log = get_log(b, fs, b->cfg->access_log, fmt))) return -1;
    }
    if ((s = config_setting_get_member(g, "cgi"))) {
        const char **v;
        size_t n;
        if (get_strings(b->f, s, &v, &n, b->err, b->errlen) < 0) return -1;
        int rc = set_cgi(b, s, vh, v, n);
        free(v);
        if (rc < 0) return -1;
    }
    if (parse_queues(b, config_setting_get_member(g, "queues"), vh) < 0) return -1;
    if (parse_vhost_areas(b, g, vh) < 0) return -1;
    if ((s = config_setting_get_member(g, "tls")) && parse_tls(b, s, vh, 0) < 0) return -1;
    if (parse_request_id_header(b, g, vh, &b->st->vhosts[0]) < 0) return -1;
    if (parse_scope(b, g, &vh->sc, vh, NULL) < 0 || parse_features(b, g, &vh->sc) < 0 ||
        parse_cache_control(b, g, &vh->sc) < 0)
        return -1;
    return parse_rules(b, g, vh);
}

site *site_build(const htd_config *cfg, conf_file *f, int nthreads, char *err, size_t errlen)
{
    site *st = calloc(1, sizeof *st);
    builder b = {
        .f = f, .st = st, .cfg = cfg, .log_format = "combined", .err = err, .errlen = errlen};
    if (!st) goto oom;
    st->nthreads = nthreads;
    atomic_init(&st->refs, 1); /* the builder's, which it hands on */
    st->destroy = site_free;
    const config_setting_t *root = f ? config_root_setting(&f->cfg) : NULL;
    const config_setting_t *vs = root ? config_setting_get_member(root, "vhosts") : NULL;
    if (vs && config_setting_type(vs) != CONFIG_TYPE_LIST) {
        bfail(&b, vs, "vhosts must be a list: vhosts = ( { ... }, { ... } );%s%s", "", "");
        goto fail;
    }
    size_t nv = 1 + (vs ? (size_t)config_setting_length(vs) : 0);
    st->vhosts = calloc(nv, sizeof *st->vhosts);
    st->logs = calloc(nv + 1, sizeof *st->logs);
    if (!st->vhosts || !st->logs) goto oom;
    for (size_t i = 0; i < nv; i++) {
        st->vhosts[i].root_fd = -1;
        st->vhosts[i].idx = (int)i;
        st->vhosts[i].tls_ctx = -1;
    }
    st->nvhosts = nv;
    st->fallback = &st->vhosts[0];

    const config_setting_t *s;
    if (root && (s = config_setting_get_member(root, "log_format"))) {
        if (get_string(f, s, &b.log_format, err, errlen) < 0) goto fail;
        /* Checked even when no log uses it yet. */
        char why[512];
        logfmt *lf = logfmt_compile(b.log_format, why, sizeof why);
        if (!lf) {
            bfail(&b, s, "%s%s", why, "");
            goto fail;
        }
        logfmt_free(lf);
    }
    if (cfg->access_log &&
        !(b.top_log = get_log(&b, root ? config_setting_get_member(root, "access_log") : NULL,
                              cfg->access_log, b.log_format)))
        goto fail;
    vhost *top = &st->vhosts[0];
    top->log = b.top_log;
    if (cfg->root &&
        open_root(&b, top, root ? config_setting_get_member(root, "root") : NULL, cfg->root) < 0)
        goto fail;
    if (set_cgi(&b, root ? config_setting_get_member(root, "cgi") : NULL, top, cfg->cgi,
                cfg->ncgi) < 0)
        goto fail;
    if (flag_queues(&b, top) < 0 ||
        (root && parse_queues(&b, config_setting_get_member(root, "queues"), top) < 0))
        goto fail;
    if ((root && parse_upstreams(&b, config_setting_get_member(root, "upstreams")) < 0) ||
        flag_proxies(&b, top, 0) < 0)
        goto fail;
    if (root && (parse_scope(&b, root, &top->sc, top, NULL) < 0 ||
                 parse_cache_control(&b, root, &top->sc) < 0 || parse_rules(&b, root, top) < 0))
        goto fail;
    if (flag_proxies(&b, top, 1) < 0) goto fail;
    if (cache_control_rules(&b, top) < 0) goto fail;
    if (flag_certs(&b, top) < 0 ||
        (root && (s = config_setting_get_member(root, "tls")) && parse_tls(&b, s, top, 1) < 0))
        goto fail;
    if (root && parse_request_id_header(&b, root, top, NULL) < 0) goto fail;
    for (size_t i = 1; i < nv; i++)
        if (parse_vhost(&b, config_setting_get_elem(vs, (unsigned)(i - 1)), &st->vhosts[i]) < 0)
            goto fail;
    if (tls_names(&b) < 0) goto fail;
    return st;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    site_free(st);
    return NULL;
}

static void scope_free(scope *sc)
{
    if (sc->own & OWN_ACCESS) free((void *)sc->access);
    if (sc->own & OWN_AUTH && sc->auth) {
        realm *r = (realm *)sc->auth;
        auth_free(r->users);
        free(r->hdr);
        free(r);
    }
    if (sc->own & OWN_HEADERS) free((void *)sc->headers);
    if (sc->own & OWN_PX_HEADERS) free((void *)sc->px_headers);
    if (sc->own & OWN_PX_APPEND) free((void *)sc->px_append);
    if (sc->own & OWN_CC) free((void *)sc->cc);
    if (sc->own & OWN_RATELIMIT) ratelimit_free((ratelimit *)sc->ratelimit);
    if (sc->own & OWN_METER) free((void *)sc->meter);
    if (sc->own & OWN_COPIES && sc->copies) {
        free(sc->copies->dir);
        free((void *)sc->copies);
    }
    if (sc->own & OWN_ERRDOCS) {
        errdoc *e = (errdoc *)sc->errdocs;
        for (size_t i = 0; i < sc->nerrdocs; i++)
            free(e[i].page);
        free(e);
    }
}

void site_free(site *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->nvhosts; i++) {
        vhost *vh = &st->vhosts[i];
        for (size_t k = 0; k < vh->nrules; k++) {
            rule *r = &vh->rules[k];
            scope_free(&r->sc);
            if (r->kind == RULE_REGEX) regex_free(r->re);
            free(r->lit);
            free(r->pat);
            free(r->redirect);
            free(r->rewrite);
            for (size_t t = 0; t < r->ntries; t++)
                free(r->tries[t]);
            free(r->tries);
        }
        free(vh->rules);
        scope_free(&vh->sc);
        if (vh->root_fd >= 0) close(vh->root_fd);
        for (size_t k = 0; k < vh->ncgi; k++)
            free(vh->cgi[k]);
        free(vh->cgi);
        for (size_t k = 0; k < vh->ncc; k++) {
            free(vh->cc[k].prefix);
            free(vh->cc[k].line);
        }
        free(vh->cc);
        for (size_t k = 0; k < vh->nqueues; k++) {
            free(vh->queues[k].name);
            free(vh->queues[k].prefix);
            free(vh->queues[k].command);
        }
        free(vh->queues);
        free(vh->root);
        free(vh->name);
        free(vh->hsts);
        free(vh->request_id_header);
        for (size_t k = 0; k < vh->nwritable; k++)
            free(vh->writable[k]);
        free(vh->writable);
    }
    for (size_t i = 0; i < st->nupstreams; i++) {
        free(st->upstreams[i].name);
        free(st->upstreams[i].servers);
        free(st->upstreams[i].host);
        free(st->upstreams[i].check_path);
    }
    free(st->upstreams);
    tls_certs_release(st->tls);
    log_flush_all(st); /* lines of requests that ended after their loop moved on */
    for (size_t i = 0; i < st->nnames; i++)
        free(st->names[i].name);
    for (size_t i = 0; i < st->nlogs; i++) {
        logfile *lf = &st->logs[i];
        for (int t = 0; lf->buf && t < st->nthreads; t++)
            free(lf->buf[t]);
        free(lf->buf);
        free(lf->len);
        if (lf->fd >= 0) close(lf->fd);
        logfmt_free(lf->fmt);
        free(lf->path);
        free(lf->spec);
    }
    free(st->logs);
    free(st->names);
    free(st->vhosts);
    free(st);
}
