/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_module.c - a registry of modules: per-phase lists in the modules'
 * order, content_order's reordering, per-server state from init, and
 * sealing, which takes out of a phase (and of the header filters) the
 * modules not wanted there.
 */
#include "module.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>

static int ph_a(struct htd_req *hr)
{
    (void)hr;
    return MOD_DECLINED;
}

static int ph_b(struct htd_req *hr)
{
    (void)hr;
    return MOD_DONE;
}

static int init_counter(const htd_config *cfg, void **state, char *err, size_t errlen)
{
    (void)cfg, (void)err, (void)errlen;
    int *n = malloc(sizeof *n);
    if (!n) return -1;
    *n = 0;
    *state = n;
    return 0;
}

static int init_fails(const htd_config *cfg, void **state, char *err, size_t errlen)
{
    (void)cfg, (void)state;
    snprintf(err, errlen, "no such area");
    return -1;
}

/* Wanted in a phase while its counter is not zero. */
static int wanted_counter(const void *state, int ph)
{
    (void)ph;
    return *(const int *)state != 0;
}

static int head_go(struct htd_req *hr, const struct resp *r)
{
    (void)hr, (void)r;
    return HEAD_GO;
}

static void log_a(const struct conn *c, int status, uint64_t bytes)
{
    (void)c, (void)status, (void)bytes;
}

static const htd_module mod_a = {.name = "a",
                                 .phase = {[PH_ACCESS] = ph_a, [PH_CONTENT] = ph_a},
                                 .init = init_counter,
                                 .fini = free,
                                 .wanted = wanted_counter,
                                 .head = head_go,
                                 .log = log_a};
static const htd_module mod_b = {.name = "b", .phase = {[PH_CONTENT] = ph_b}};
static const htd_module mod_bad = {.name = "bad", .init = init_fails};

TEST(each_phase_lists_the_modules_that_have_a_function_for_it_in_order)
{
    const htd_module *mods[] = {&mod_a, &mod_b};
    registry r;
    registry_init(&r, mods, 2);
    CHECK_EQ_INT(r.nphase[PH_REWRITE], 0);
    CHECK_EQ_INT(r.nphase[PH_ACCESS], 1);
    CHECK_EQ_INT(r.nphase[PH_CONTENT], 2);
    CHECK(r.phase_mod[PH_CONTENT][0] == &mod_a && r.phase[PH_CONTENT][1] == ph_b);
    const char *names[] = {"b"}, *bad = NULL;
    CHECK_EQ_INT(registry_order(&r, PH_CONTENT, names, 1, &bad), 0);
    CHECK(r.phase_mod[PH_CONTENT][0] == &mod_b && r.phase[PH_CONTENT][1] == ph_a);
    const char *unknown[] = {"zz"};
    CHECK_EQ_INT(registry_order(&r, PH_CONTENT, unknown, 1, &bad), -1);
    CHECK(bad == unknown[0]);
}

TEST(init_makes_each_modules_state_and_seal_drops_the_unwanted)
{
    const htd_module *mods[] = {&mod_a, &mod_b};
    registry r;
    registry_init(&r, mods, 2);
    htd_config cfg = {0};
    char err[64] = "";
    CHECK_EQ_INT(registry_start(&r, &cfg, NULL, err, sizeof err), 0);
    int *n = registry_state(&r, &mod_a);
    CHECK(n != NULL && *n == 0);
    CHECK(registry_state(&r, &mod_b) == NULL);
    CHECK_EQ_INT(r.nhead, 1);
    CHECK(r.head_mod[0] == &mod_a);
    CHECK_EQ_INT(r.nlog, 1);
    registry_seal(&r);        /* a's counter is 0: it is wanted nowhere */
    CHECK_EQ_INT(r.nhead, 0); /* not even as a header filter */
    CHECK_EQ_INT(r.nlog, 0);  /* nor for its log hook */
    CHECK_EQ_INT(r.nphase[PH_ACCESS], 0);
    CHECK_EQ_INT(r.nphase[PH_CONTENT], 1);
    CHECK(r.phase_mod[PH_CONTENT][0] == &mod_b);
    registry_fini(&r);
    CHECK(registry_state(&r, &mod_a) == NULL);

    registry_init(&r, mods, 2);
    CHECK_EQ_INT(registry_start(&r, &cfg, NULL, err, sizeof err), 0);
    *(int *)registry_state(&r, &mod_a) = 1;
    registry_seal(&r);
    CHECK_EQ_INT(r.nphase[PH_ACCESS], 1);
    CHECK_EQ_INT(r.nphase[PH_CONTENT], 2);
    CHECK_EQ_INT(r.nhead, 1);
    CHECK_EQ_INT(r.nlog, 1);
    CHECK(r.log_mod[0] == &mod_a && r.log[0] == log_a);
    registry_fini(&r);
}

TEST(an_init_that_fails_says_why_and_what_was_made_is_freed_by_fini)
{
    const htd_module *mods[] = {&mod_a, &mod_bad};
    registry r;
    registry_init(&r, mods, 2);
    htd_config cfg = {0};
    char err[64] = "";
    CHECK_EQ_INT(registry_start(&r, &cfg, NULL, err, sizeof err), -1);
    CHECK_STR(err, strlen(err), "no such area");
    CHECK(registry_state(&r, &mod_a) != NULL);
    registry_fini(&r); /* ASan: nothing leaks */
}

int main(void)
{
    RUN_TESTS();
}
