/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * module.c - a server's registry of modules (see module.h): the list, and
 * per phase the functions a request is asked through.
 */
#include "module.h"

#include <string.h>

void registry_init(registry *r, const htd_module *const *mods, size_t n)
{
    *r = (registry){.mods = mods, .n = n < REGISTRY_MAX ? n : REGISTRY_MAX};
    for (size_t i = 0; i < r->n; i++) {
        for (int p = 0; p < PH_COUNT; p++)
            if (mods[i]->phase[p]) {
                r->phase_mod[p][r->nphase[p]] = mods[i];
                r->phase[p][r->nphase[p]++] = mods[i]->phase[p];
            }
        if (mods[i]->log) {
            r->log_mod[r->nlog] = mods[i];
            r->log[r->nlog++] = mods[i]->log;
        }
        if (mods[i]->conn_open) r->conn_mod[r->nconn++] = mods[i];
        if (mods[i]->head) r->head_mod[r->nhead++] = mods[i];
        if (mods[i]->error_page) r->page_mod[r->npage++] = mods[i];
        if (mods[i]->encode && !r->encoder) r->encoder = mods[i];
    }
}

int registry_order(registry *r, int ph, const char *const *names, size_t n, const char **bad)
{
    size_t k = 0; /* phase[ph][0..k) are in their place */
    for (size_t i = 0; i < n; i++) {
        size_t j = k;
        while (j < r->nphase[ph] && strcmp(r->phase_mod[ph][j]->name, names[i]) != 0)
            j++;
        if (j == r->nphase[ph]) {
            *bad = names[i];
            return -1;
        }
        /* Move j to k, the ones between one place down, keeping their order. */
        const htd_module *m = r->phase_mod[ph][j];
        int (*fn)(struct htd_req *) = r->phase[ph][j];
        for (; j > k; j--) {
            r->phase_mod[ph][j] = r->phase_mod[ph][j - 1];
            r->phase[ph][j] = r->phase[ph][j - 1];
        }
        r->phase_mod[ph][k] = m;
        r->phase[ph][k++] = fn;
    }
    return 0;
}

int registry_start(registry *r, const htd_config *cfg, const struct site *st, char *err,
                   size_t errlen)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->mods[i]->init && r->mods[i]->init(cfg, &r->state[i], err, errlen) < 0) return -1;
    for (size_t i = 0; i < r->n && st; i++)
        if (r->mods[i]->start && r->mods[i]->start(r->state[i], r, st, err, errlen) < 0) return -1;
    return 0;
}

void registry_fini(registry *r)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->mods[i]->fini && r->state[i]) r->mods[i]->fini(r->state[i]);
    memset(r->state, 0, sizeof r->state);
}

void registry_seal(registry *r)
{
    for (int p = 0; p < PH_COUNT; p++) {
        size_t k = 0;
        for (size_t i = 0; i < r->nphase[p]; i++) {
            const htd_module *m = r->phase_mod[p][i];
            if (m->wanted && !m->wanted(registry_state(r, m), p)) continue;
            r->phase_mod[p][k] = m;
            r->phase[p][k++] = r->phase[p][i];
        }
        r->nphase[p] = k;
    }
    size_t k = 0;
    for (size_t i = 0; i < r->nconn; i++) {
        const htd_module *m = r->conn_mod[i];
        if (!m->wanted || m->wanted(registry_state(r, m), PH_CONN)) r->conn_mod[k++] = m;
    }
    r->nconn = k;
    k = 0;
    for (size_t i = 0; i < r->nhead; i++) {
        const htd_module *m = r->head_mod[i];
        if (!m->wanted || m->wanted(registry_state(r, m), PH_HEAD)) r->head_mod[k++] = m;
    }
    r->nhead = k;
    k = 0;
    for (size_t i = 0; i < r->nlog; i++) {
        const htd_module *m = r->log_mod[i];
        if (m->wanted && !m->wanted(registry_state(r, m), PH_LOG)) continue;
        r->log_mod[k] = m;
        r->log[k++] = r->log[i];
    }
    r->nlog = k;
}

int registry_conn_open(const registry *r, struct conn *c)
{
    for (size_t i = 0; i < r->nconn; i++)
        if (r->conn_mod[i]->conn_open(c) < 0) {
            while (i--)
                if (r->conn_mod[i]->conn_close) r->conn_mod[i]->conn_close(c);
            return -1;
        }
    return 0;
}

void registry_conn_close(const registry *r, const struct conn *c)
{
    for (size_t i = 0; i < r->nconn; i++)
        if (r->conn_mod[i]->conn_close) r->conn_mod[i]->conn_close(c);
}

void *registry_state(const registry *r, const htd_module *m)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->mods[i] == m) return r->state[i];
    return NULL;
}
