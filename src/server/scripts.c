/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * scripts.c - whether a server runs programs of its site's (CGI scripts,
 * queue commands): what a program that runs it as root asks before it
 * lets it start (htd refuses, unless told scripts may run as root).
 */
#include "htd.h"
#include "instance.h"

int htd_server_runs_scripts(htd_server *s)
{
    site *st = server_site(s);
    int any = 0;
    for (size_t i = 0; st && i < st->nvhosts && !any; i++) {
        const vhost *vh = &st->vhosts[i];
        any = vh->ncgi > 0;
        for (size_t k = 0; k < vh->nrules && !any; k++)
            any = vh->rules[k].cgi == FEAT_ON;
        for (size_t k = 0; k < vh->nqueues && !any; k++)
            any = vh->queues[k].command != NULL;
    }
    site_release(st);
    return any;
}
