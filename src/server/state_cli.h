/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * state_cli.h - what the commands on the state database (`htd jobs`,
 * `htd ledger`) share: the command line (options before or after the
 * command, "--opt VALUE" or "--opt=VALUE", "--" before arguments that start
 * with '-', the same errors), finding and opening the database (--db FILE, -c CONFIG, or
 * htd-state.db in the current directory), errors on stderr after the
 * command's name, and times in ISO 8601.
 */
#ifndef HTD_STATE_CLI_H
#define HTD_STATE_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "htd.h"
#include "queue_store.h"

/* The exit status: done; refused by what is in the database; a usage
 * error, something not found, or a database error. */
enum { EXIT_OK = 0, EXIT_STATE = 1, EXIT_USAGE = 2 };

/* One line on stderr, "WHO: " and the message; returns code, for
 * `return cli_complain(...)`. */
int cli_complain(const char *who, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A command: its name, how many arguments it takes (at least, at most,
 * and what they are, for "show needs a job id"), and the options it takes
 * (the flags of theirs). */
typedef struct cli_command {
    const char *name;
    int least, most;
    const char *what;
    int flags;
} cli_command;

/* An option of some commands (--db, -c/--config and -h/--help are every
 * command's, and handled here). */
typedef struct cli_option {
    const char *name; /* "--queue" */
    int key;
    int value; /* takes a value */
    int flag;  /* a bit of its own: the commands that take it have it */
} cli_option;

#define CLI_ARGS_MAX 2

/* A command line as read. */
typedef struct cli_args {
    const char *db, *config;
    int cmd; /* the command's index in cli_spec's commands */
    const char *args[CLI_ARGS_MAX];
    int nargs;
    int flags; /* of the options given */
    int help;
} cli_args;

/* A command's command line. who names it in errors ("htd jobs"). */
typedef struct cli_spec {
    const char *who;
    const cli_command *commands;
    size_t ncommands;
    const cli_option *options;
    size_t noptions;
    /* Whether an argument that starts with '-' is not an option but an
     * argument all the same (a job id may start with '-'); NULL: none is. */
    int (*shaped)(const char *arg);
    /* Each of options given, with its value (NULL when it takes none): 0,
     * or an exit status after complaining. */
    int (*option)(void *ctx, const cli_option *o, const char *value);
    void (*usage)(FILE *f); /* the help */
} cli_spec;

/* Reads argv[1..argc) into a (and the options into ctx, through option),
 * and checks that there is a command, with its arguments, given only
 * options it takes. 0, or the exit status of a usage error. With --help,
 * the help on stdout, a->help set, and 0. */
int cli_parse(const cli_spec *spec, int argc, char **argv, cli_args *a, void *ctx);

/* Opens the state database: db (--db), else the state_db of the config
 * file config (conf_settings' default: htd-state.db beside it), else
 * htd-state.db in the current directory; its path in path. A missing file
 * is an error, not created. seen, unless NULL, is shown the config's
 * settings. 0, or the exit status after complaining. */
int state_db_open(const char *who, const char *db, const char *config, char *path, size_t cap,
                  qstore **store, void (*seen)(const htd_config *c, void *arg), void *arg);

/* "WHO: state database PATH: msg"; EXIT_USAGE. */
int state_db_error(const char *who, const char *path, const char *msg);

/* rc, or EXIT_USAGE when stdout could not be written. */
int cli_flush(const char *who, int rc);

/* A time as people write it into milliseconds since the epoch: ISO 8601
 * UTC ("2025-11-30T19:15:07Z", with up to three digits of a second after a
 * '.'), a date ("2025-11-30", its midnight UTC), or seconds since the
 * epoch. 0, or -1 when s is none of these. */
int cli_parse_time(const char *s, int64_t *ms);

/* w, or the length of s if more: a column as wide as its widest. */
int cli_widest(int w, const char *s);

#endif
