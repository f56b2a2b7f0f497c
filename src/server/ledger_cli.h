/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ledger_cli.h - `htd ledger`: the accounts of metered paths in the state
 * database from the command line (create, credit, debit, balance, history,
 * export, verify, rotate-key, limit), usable while htd runs.
 */
#ifndef HTD_LEDGER_CLI_H
#define HTD_LEDGER_CLI_H

/* Runs `htd ledger ...`; argv[0] is "ledger". The exit status: 0 done, 1
 * refused (the account exists, too little for a debit, verify found
 * problems), 2 a usage error, no such account or a database error. */
int ledger_cli(int argc, char **argv);

#endif
