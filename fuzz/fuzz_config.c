/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_config.c - libFuzzer target for the config loader
 * (src/server/config.c, over libconfig): conf_open, conf_settings,
 * site_build, site_free and conf_close, as htd --check-config and a start
 * run them. It must never crash nor leak (libFuzzer's leak check is on), on
 * any file.
 *
 * The input is written to htd.conf in a sandbox: a temporary directory (see
 * fuzz_tempdir) with what a config names, so that inputs get past the checks
 * that look at files: site/ and site/example/ for roots, logs/ for access
 * logs, users.htpasswd (good) and bad.htpasswd (an MD5-apr1 line). While the
 * loader runs, the program's open and fopen are wrapped
 * (-Wl,--wrap, see the Makefile) so that no file outside the sandbox is
 * opened, whatever path a config gives ("/dev/zero" as a password file would
 * never end), and a log it creates is unlinked at once, so runs do not
 * pile up files; getaddrinfo is wrapped to take numeric hosts only, so no
 * listen address goes to DNS. Inputs with libconfig's @include are skipped:
 * libconfig, not htd, opens those files.
 *
 * A config that loads must make sense: settings within their bounds, vhosts
 * with open roots, host names lowercase and found by site_vhost, rule paths
 * already normal, header lines ending in CRLF.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"
#include "path.h"
#include "site.h"

#define BCRYPT "$2y$05$S4YalFdL56G9kJ94Bu1juuFSkniq0JmQ89jOjV.ysTPHDFb5x2gbm"

static char sandbox[PATH_MAX]; /* its real path */
static size_t sandbox_len;
static char conf_path[PATH_MAX];
static int active; /* the loader is running: the wrappers hold it in */

/* libconfig 1.5 (Debian 12's) leaks a string token it drops on a syntax
 * error (hyperrealm/libconfig#142, fixed in 1.7 by #155): its leak is not
 * htd's to find. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

/* Those leaks make libFuzzer look for leaks after the run, a scan of the
 * whole heap, which ASan's quarantine of freed blocks (256 MB by default)
 * makes several times slower: a smaller one keeps the target at some
 * thousands of runs a second, and still catches a use of what a run has
 * just freed. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "quarantine_size_mb=16";
}

/* ---- the wrappers ---- */

int __real_open(const char *path, int flags, ...);
FILE *__real_fopen(const char *path, const char *mode);
int __real_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res);

/* In the sandbox, and no ".." to climb out of it. */
static int inside(const char *path)
{
    if (strncmp(path, sandbox, sandbox_len) != 0 || (path[sandbox_len] && path[sandbox_len] != '/'))
        return 0;
    for (const char *p = path + sandbox_len; (p = strstr(p, "/..")); p += 3)
        if (p[3] == '/' || p[3] == '\0') return 0;
    return 1;
}

int __wrap_open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    if (!active) return __real_open(path, flags, mode);
    if (!inside(path)) {
        errno = EACCES;
        return -1;
    }
    struct stat st;
    int created = (flags & O_CREAT) && stat(path, &st) != 0;
    int fd = __real_open(path, flags, mode);
    if (fd >= 0 && created) unlink(path);
    return fd;
}

FILE *__wrap_fopen(const char *path, const char *mode)
{
    if (active && !inside(path)) {
        errno = EACCES;
        return NULL;
    }
    return __real_fopen(path, mode);
}

int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res)
{
    struct addrinfo h = hints ? *hints : (struct addrinfo){0};
    if (active) h.ai_flags |= AI_NUMERICHOST;
    return __real_getaddrinfo(node, service, &h, res);
}

/* ---- the sandbox ---- */

static void put_file(const char *name, const char *text)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", sandbox, name);
    FILE *f = fopen(p, "w");
    ENSURE(f != NULL);
    fputs(text, f);
    ENSURE(fclose(f) == 0);
}

static void put_dir(const char *name)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", sandbox, name);
    ENSURE(mkdir(p, 0700) == 0);
}

static void remove_sandbox(void)
{
    static const char *const files[] = {"htd.conf",     "users.htpasswd", "bad.htpasswd",
                                        "logs/old.log", "site/example",   "site/default",
                                        "site",         "logs",           NULL};
    char p[PATH_MAX + 64];
    for (const char *const *f = files; *f; f++) {
        snprintf(p, sizeof p, "%s/%s", sandbox, *f);
        if (unlink(p) != 0) rmdir(p);
    }
    rmdir(sandbox);
}

static void make_sandbox(void)
{
    fuzz_tempdir(sandbox, sizeof sandbox, "config");
    sandbox_len = strlen(sandbox);
    put_dir("site");
    put_dir("site/example");
    put_dir("site/default");
    put_dir("logs");
    put_file("logs/old.log", "");
    put_file("users.htpasswd", "# demo\nadmin:" BCRYPT "\nbob:" BCRYPT "\n");
    put_file("bad.htpasswd", "eve:$apr1$9fDqij0s$72iRe/0MNKYVwcffoUh4p0\n");
    snprintf(conf_path, sizeof conf_path, "%s/htd.conf", sandbox);
    atexit(remove_sandbox);
}

/* ---- what a loaded config must be ---- */

static void check_settings(const htd_config *c)
{
    ENSURE(c->threads >= 0 && c->threads <= 1024);
    unsigned t[] = {c->header_timeout_ms, c->body_timeout_ms, c->idle_timeout_ms,
                    c->send_timeout_ms, c->cgi_timeout_ms};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        ENSURE(t[i] == 0 || (t[i] >= 1 && t[i] <= 86400000));
    ENSURE(c->max_requests <= 100000000 && c->cgi_max <= 100000);
    ENSURE(!c->listen == !c->nlisten);
}

static int normal(const char *p, size_t len)
{
    char *norm = malloc(len + 2);
    ENSURE(norm != NULL);
    const char *why;
    int n = htd_path_normalize(p, len, norm, len + 2, &why);
    int same = n >= 0 && (size_t)n == len && memcmp(norm, p, len) == 0;
    free(norm);
    return same;
}

static void check_lines(const char *h, size_t len)
{
    ENSURE(h != NULL || len == 0);
    for (size_t i = 0; i < len;) {
        const char *crlf = memmem(h + i, len - i, "\r\n", 2);
        ENSURE(crlf != NULL);
        const char *colon = memchr(h + i, ':', (size_t)(crlf - h) - i);
        ENSURE(colon != NULL && colon > h + i && colon[1] == ' ');
        i = (size_t)(crlf - h) + 2;
    }
}

static void check_scope(const scope *sc)
{
    check_lines(sc->headers, sc->headers_len);
    for (size_t i = 0; i < sc->nerrdocs; i++) {
        ENSURE(sc->errdocs[i].status >= 400 && sc->errdocs[i].status <= 599);
        ENSURE(normal(sc->errdocs[i].page, strlen(sc->errdocs[i].page)));
    }
    if (sc->auth) ENSURE(sc->auth->users != NULL && sc->auth->hdr_len > 0);
}

static void check_site(const site *st)
{
    ENSURE(st->nvhosts >= 1 && st->nlogs <= st->nvhosts + 1);
    ENSURE(st->fallback >= st->vhosts && st->fallback < st->vhosts + st->nvhosts);
    for (size_t i = 0; i < st->nvhosts; i++) {
        const vhost *vh = &st->vhosts[i];
        ENSURE(vh->idx == (int)i);
        if (i > 0) ENSURE(vh->root && vh->root[0] == '/' && vh->root_fd >= 0);
        check_scope(&vh->sc);
        for (size_t k = 0; k < vh->nrules; k++) {
            const rule *r = &vh->rules[k];
            ENSURE(r->pat && strlen(r->pat) == r->len);
            if (r->kind != RULE_REGEX) ENSURE(normal(r->pat, r->len));
            ENSURE(r->code == 301 || r->code == 302 || r->code == 303 || r->code == 307 ||
                   r->code == 308);
            check_scope(&r->sc);
        }
        for (size_t k = 0; k < vh->ncgi; k++)
            ENSURE(normal(vh->cgi[k], strlen(vh->cgi[k])));
    }
    for (size_t i = 0; i < st->nnames; i++) {
        const vname *v = &st->names[i];
        ENSURE(strlen(v->name) == v->len && v->len > 0);
        for (size_t k = 0; k < v->len; k++)
            ENSURE(!(v->name[k] >= 'A' && v->name[k] <= 'Z'));
        ENSURE(v->vh > st->vhosts && v->vh < st->vhosts + st->nvhosts);
        /* A name is its vhost's, in any case, with a port, with the one
         * trailing dot a host may have (an IPv6 literal is never a name). */
        if (!v->wildcard && v->len < 250 && v->name[0] != '[') {
            char host[260];
            size_t n = v->len;
            memcpy(host, v->name, n);
            host[n] = '.';
            ENSURE(site_vhost(st, (htd_str){host, n + 1}) == v->vh);
            for (size_t k = 0; k < n; k++)
                if (host[k] >= 'a' && host[k] <= 'z') host[k] = (char)(host[k] - 32);
            memcpy(host + n + 1, ":8080", 5);
            ENSURE(site_vhost(st, (htd_str){host, n + 6}) == v->vh);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!sandbox[0]) make_sandbox();
    for (size_t i = 0; i + 8 <= size; i++)
        if (strncasecmp((const char *)data + i, "@include", 8) == 0) return 0;
    int fd = open(conf_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ENSURE(fd >= 0 && write(fd, data, size) == (ssize_t)size && close(fd) == 0);

    char err[1024] = "";
    htd_config c = {0};
    active = 1;
    conf_file *f = conf_open(conf_path, err, sizeof err);
    if (f && conf_settings(f, &c, err, sizeof err) == 0) {
        check_settings(&c);
        site *st = site_build(&c, f, c.threads ? c.threads : 2, err, sizeof err);
        if (st)
            check_site(st);
        else
            ENSURE(err[0] != '\0');
        site_free(st);
    } else {
        ENSURE(err[0] != '\0');
    }
    conf_close(f);
    active = 0;
    return 0;
}
