/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * state_cli.c - what `htd jobs` and `htd ledger` share (see state_cli.h).
 *
 * Both open the SQLite file the running server writes (WAL mode, so their
 * reads never block it), through the stores' own interfaces; when the
 * server's writer holds the lock, the store waits for it (busy_timeout).
 */
#include "state_cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

int cli_complain(const char *who, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", who);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

/* ---- the command line ---- */

/* What every command takes. */
enum { OPT_DB = -1, OPT_CONFIG = -2, OPT_HELP = -3 };
static const cli_option common[] = {
    {"--db", OPT_DB, 1, 0},     {"-c", OPT_CONFIG, 1, 0}, {"--config", OPT_CONFIG, 1, 0},
    {"--help", OPT_HELP, 0, 0}, {"-h", OPT_HELP, 0, 0},
};

/* The option a names in o[0..n): "--db", "-c", or "--db=FILE" with FILE in
 * *inline_v. */
static const cli_option *find_option(const cli_option *o, size_t n, const char *a,
                                     const char **inline_v)
{
    *inline_v = NULL;
    size_t len = strcspn(a, "=");
    for (size_t i = 0; i < n; i++) {
        if (strlen(o[i].name) != len || strncmp(a, o[i].name, len) != 0) continue;
        if (a[len] == '=' && a[1] != '-') continue; /* no "-c=FILE" */
        if (a[len] == '=') *inline_v = a + len + 1;
        return &o[i];
    }
    return NULL;
}

/* An argument that is not an option: the command, then its arguments. */
static int positional(const cli_spec *spec, cli_args *a, const char *arg)
{
    const char *who = spec->who;
    if (a->cmd < 0) {
        for (size_t c = 0; c < spec->ncommands; c++)
            if (strcmp(arg, spec->commands[c].name) == 0) a->cmd = (int)c;
        if (a->cmd < 0)
            return cli_complain(who, EXIT_USAGE, "unknown command '%s' (see %s --help)", arg, who);
        return 0;
    }
    if (a->nargs < spec->commands[a->cmd].most) {
        a->args[a->nargs++] = arg;
        return 0;
    }
    return cli_complain(who, EXIT_USAGE, "unexpected argument '%s' (see %s --help)", arg, who);
}

static int set_option(const cli_spec *spec, cli_args *a, const cli_option *o, const char *v,
                      void *ctx)
{
    switch (o->key) {
    case OPT_DB:
        a->db = v;
        return 0;
    case OPT_CONFIG:
        a->config = v;
        return 0;
    case OPT_HELP:
        a->help = 1;
        return 0;
    }
    a->flags |= o->flag;
    return spec->option(ctx, o, v);
}

/* "no command: expected list, show or purge (see htd jobs --help)" */
static int no_command(const cli_spec *spec)
{
    char names[512];
    size_t len = 0;
    for (size_t c = 0; c < spec->ncommands && len < sizeof names; c++) {
        const char *sep = c == 0 ? "" : c + 1 < spec->ncommands ? ", " : " or ";
        len +=
            (size_t)snprintf(names + len, sizeof names - len, "%s%s", sep, spec->commands[c].name);
    }
    return cli_complain(spec->who, EXIT_USAGE, "no command: expected %s (see %s --help)", names,
                        spec->who);
}

/* What cannot be seen until the end: the command, its arguments, options
 * that fit it. */
static int check(const cli_spec *spec, const cli_args *a)
{
    if (a->cmd < 0) return no_command(spec);
    const cli_command *c = &spec->commands[a->cmd];
    if (a->nargs < c->least)
        return cli_complain(spec->who, EXIT_USAGE, "%s needs %s", c->name, c->what);
    for (size_t i = 0; i < spec->noptions; i++) {
        const cli_option *o = &spec->options[i];
        if (a->flags & o->flag & ~c->flags)
            return cli_complain(spec->who, EXIT_USAGE, "%s takes no %s (see %s --help)", c->name,
                                o->name, spec->who);
    }
    return 0;
}

int cli_parse(const cli_spec *spec, int argc, char **argv, cli_args *a, void *ctx)
{
    const char *who = spec->who;
    *a = (cli_args){.cmd = -1};
    int only_positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;
        int rc;
        if (only_positional || arg[0] != '-' || !arg[1] || (spec->shaped && spec->shaped(arg))) {
            if ((rc = positional(spec, a, arg))) return rc;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_positional = 1;
            continue;
        }
        const cli_option *o = find_option(common, sizeof common / sizeof common[0], arg, &v);
        if (!o) o = find_option(spec->options, spec->noptions, arg, &v);
        if (!o)
            return cli_complain(who, EXIT_USAGE, "unknown option '%s' (see %s --help)", arg, who);
        if (o->value && !v) {
            if (i + 1 == argc)
                return cli_complain(who, EXIT_USAGE, "%s needs a value (see %s --help)", arg, who);
            v = argv[++i];
        } else if (!o->value && v) {
            return cli_complain(who, EXIT_USAGE, "%s takes no value", o->name);
        }
        if ((rc = set_option(spec, a, o, v, ctx))) return rc;
    }
    if (a->help) {
        spec->usage(stdout);
        return 0;
    }
    return check(spec, a);
}

/* ---- the database ---- */

/* The database's path: --db, the config's state_db, or htd-state.db here. */
static int find_db(const char *who, const char *db, const char *config, char *path, size_t cap,
                   void (*seen)(const htd_config *c, void *arg), void *arg)
{
    snprintf(path, cap, "%s", db ? db : "htd-state.db");
    if (!config) return 0;
    char err[512];
    conf_file *f = conf_open(config, err, sizeof err);
    htd_config cfg = {0};
    if (!f || conf_settings(f, &cfg, err, sizeof err) < 0) {
        conf_close(f);
        return cli_complain(who, EXIT_USAGE, "%s", err);
    }
    /* conf_settings always fills state_db: the file's, or its default. */
    snprintf(path, cap, "%s", cfg.state_db);
    if (seen) seen(&cfg, arg);
    conf_close(f);
    return 0;
}

int state_db_open(const char *who, const char *db, const char *config, char *path, size_t cap,
                  qstore **store, void (*seen)(const htd_config *c, void *arg), void *arg)
{
    if (db && config) return cli_complain(who, EXIT_USAGE, "--db or --config, not both");
    int rc = find_db(who, db, config, path, cap, seen, arg);
    if (rc) return rc;
    /* The store creates a missing file; a mistyped path must not make an
     * empty database that then shows nothing. */
    if (access(path, F_OK) != 0)
        return errno == ENOENT ? cli_complain(who, EXIT_USAGE, "no state database at %s", path)
                               : cli_complain(who, EXIT_USAGE, "%s: %s", path, strerror(errno));
    char err[512];
    if (!(*store = qstore_sqlite_open(path, err, sizeof err)))
        return cli_complain(who, EXIT_USAGE, "%s", err);
    return 0;
}

int state_db_error(const char *who, const char *path, const char *msg)
{
    return cli_complain(who, EXIT_USAGE, "state database %s: %s", path, msg);
}

int cli_flush(const char *who, int rc)
{
    if (fflush(stdout) != 0 && rc == EXIT_OK)
        rc = cli_complain(who, EXIT_USAGE, "%s", strerror(errno));
    return rc;
}

/* ---- times ---- */

/* n digits at *p as a number, *p moved past them; -1 when they are not. */
static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9') return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

/* "YYYY-MM-DD", then "Thh:mm:ss", a fraction of up to three digits, "Z". */
static int parse_iso(const char *p, int64_t *ms)
{
    struct tm tm = {0};
    int frac = 0;
    tm.tm_year = digits(&p, 4) - 1900;
    if (*p++ != '-' || (tm.tm_mon = digits(&p, 2) - 1) < 0 || *p++ != '-' ||
        (tm.tm_mday = digits(&p, 2)) < 1 || tm.tm_year < -1900)
        return -1;
    if (*p) {
        if (*p++ != 'T' || (tm.tm_hour = digits(&p, 2)) < 0 || *p++ != ':' ||
            (tm.tm_min = digits(&p, 2)) < 0 || *p++ != ':' || (tm.tm_sec = digits(&p, 2)) < 0)
            return -1;
        if (*p == '.') {
            p++;
            int n = 0, scale = 100;
            for (; *p >= '0' && *p <= '9' && n < 3; p++, n++, scale /= 10)
                frac += (*p - '0') * scale;
            if (!n) return -1;
        }
        if (*p++ != 'Z' || *p) return -1;
    }
    /* timegm carries 2025-02-30 on to March: only a date it gives back as
     * it was written is one. */
    struct tm want = tm;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_year != want.tm_year || tm.tm_mon != want.tm_mon ||
        tm.tm_mday != want.tm_mday || tm.tm_hour != want.tm_hour || tm.tm_min != want.tm_min ||
        tm.tm_sec != want.tm_sec)
        return -1;
    *ms = (int64_t)t * 1000 + frac;
    return 0;
}

int cli_parse_time(const char *s, int64_t *ms)
{
    size_t n = strspn(s, "0123456789");
    if (n && !s[n]) {
        if (n > 12) return -1; /* beyond the year 30000 */
        *ms = strtoll(s, NULL, 10) * 1000;
        return 0;
    }
    return parse_iso(s, ms);
}

int cli_widest(int w, const char *s)
{
    int n = (int)strlen(s);
    return n > w ? n : w;
}
