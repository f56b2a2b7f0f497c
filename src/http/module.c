/*
 * module.c - a server's registry of modules (see module.h): the list, and
 * per phase the functions a request is asked through.
 */
#include "module.h"

void registry_init(registry *r, const htd_module *const *mods, size_t n)
{
    *r = (registry){.mods = mods, .n = n < REGISTRY_MAX ? n : REGISTRY_MAX};
    for (size_t i = 0; i < r->n; i++) {
        for (int p = 0; p < PH_COUNT; p++)
            if (mods[i]->phase[p]) r->phase[p][r->nphase[p]++] = mods[i]->phase[p];
        if (mods[i]->log) r->log[r->nlog++] = mods[i]->log;
    }
}
