/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pattern.c - the rules' regular expressions through PCRE2; see pattern.h.
 *
 * A match needs a match data block; rather than one allocated per
 * request, each thread has one in a buffer of its own, handed to PCRE2 by
 * an allocator that gives that buffer out (a thread matches one subject
 * at a time). Nothing is freed: the buffer goes with the thread.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "pattern.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GROUPS 10

static _Thread_local _Alignas(16) char md_buf[1024];

static void *md_alloc(size_t size, void *data)
{
    (void)data;
    return size <= sizeof md_buf ? md_buf : NULL;
}

static void md_free(void *p, void *data)
{
    (void)p, (void)data;
}

static pcre2_general_context *md_ctx;

static void make_ctx(void)
{
    md_ctx = pcre2_general_context_create(md_alloc, md_free, NULL);
}

/* What a pattern that starts with '^' says every match starts with: its
 * characters up to the first that is not a plain one (a character before a
 * quantifier is left out: it may be absent). */
static size_t literal_prefix(const char *pat, char *out)
{
    if (pat[0] != '^') return 0;
    size_t n = 0;
    for (const char *p = pat + 1; *p && !strchr(".[]()*+?{}|\\^$", *p); p++)
        out[n++] = *p;
    const char *next = pat + 1 + n;
    if (n && (*next == '?' || *next == '*' || *next == '{')) n--;
    return n;
}

pcre2_code *regex_compile(const char *pat, int *nsub, char **lit, size_t *lit_len, char *err,
                          size_t errlen)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make_ctx);
    int code;
    PCRE2_SIZE at;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, 0, &code, &at, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        snprintf(err, errlen, "%s at offset %zu", (const char *)msg, (size_t)at);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* without a JIT, the interpreter matches */
    uint32_t groups = 0;
    pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &groups);
    *nsub = (int)groups;
    *lit = malloc(strlen(pat) + 1);
    *lit_len = *lit ? literal_prefix(pat, *lit) : 0;
    if (!*lit || !md_ctx) {
        free(*lit);
        pcre2_code_free(re);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return re;
}

void regex_free(pcre2_code *re)
{
    pcre2_code_free(re);
}

int regex_match(const pcre2_code *re, const char *subject, size_t len, htd_str *caps, int max)
{
    pcre2_match_data *md = pcre2_match_data_create(GROUPS, md_ctx);
    if (!md) return 0;
    int rc = pcre2_match(re, (PCRE2_SPTR)subject, len, 0, 0, md, NULL);
    if (rc <= 0) return 0; /* no match, or a limit reached: not a match either */
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    uint32_t groups = 0;
    pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &groups);
    int n = (int)groups + 1 < max ? (int)groups + 1 : max;
    for (int k = 0; k < n; k++)
        caps[k] = k >= rc || ov[2 * k] == PCRE2_UNSET
                      ? (htd_str){NULL, 0}
                      : (htd_str){subject + ov[2 * k], (size_t)(ov[2 * k + 1] - ov[2 * k])};
    return n;
}

int regex_group(const pcre2_code *re, const char *name)
{
    int n = pcre2_substring_number_from_name(re, (PCRE2_SPTR)name);
    return n > 0 ? n : -1;
}
