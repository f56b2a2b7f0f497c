/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * jobs_cli.h - `htd jobs`: the job queues' database from the command line
 * (list, show, retry, cancel, purge), usable while htd runs.
 */
#ifndef HTD_JOBS_CLI_H
#define HTD_JOBS_CLI_H

/* Runs `htd jobs ...`; argv[0] is "jobs". The exit status: 0 done, 1 the
 * job is not in a state for that, 2 a usage error, no such job or a
 * database error. */
int jobs_cli(int argc, char **argv);

#endif
