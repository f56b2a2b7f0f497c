/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pattern.h - the rules' regular expressions: PCRE2 (Perl syntax, as nginx,
 * Apache and Caddy users write them), JIT-compiled at load, matched
 * without allocating; and, for the loader's warnings, what in a pattern or
 * a target another dialect would read otherwise.
 */
#ifndef HTD_PATTERN_H
#define HTD_PATTERN_H

#include <stddef.h>

#include "htd.h"

struct pcre2_real_code_8;

/* Compiles pat: the code, with its capture groups in *nsub and, in
 * lit[0..*lit_len) (malloc'd, or NULL), the literal every subject it can
 * match starts with (after a leading '^'). NULL with PCRE2's message and
 * the offset in the pattern in err. */
struct pcre2_real_code_8 *regex_compile(const char *pat, int *nsub, char **lit, size_t *lit_len,
                                        char *err, size_t errlen);
void regex_free(struct pcre2_real_code_8 *re);
/* Matches subject[0..len): the groups (0: the whole match; unset ones
 * {NULL, 0}) into caps[0..max), and how many; 0 when it does not match. */
int regex_match(const struct pcre2_real_code_8 *re, const char *subject, size_t len, htd_str *caps,
                int max);
/* The number of the group named name, or -1. */
int regex_group(const struct pcre2_real_code_8 *re, const char *name);

/* A construct that PCRE2 (or htd, in a target) takes otherwise than the
 * dialect it comes from does: GNU and POSIX regexes, other PCRE2 versions,
 * nginx's and Apache's config syntax, sed's, Apache's and Caddy's
 * substitutions. It is at s[at..at+len); why finishes a sentence that
 * starts with it quoted ("\<" is a literal '<' in PCRE2, ...), and
 * instead is what to write. */
typedef struct {
    size_t at, len;
    const char *why;
    char instead[96];
} regex_trap;

/* The traps in s, a rule's regex (target 0) or a redirect's, rewrite's or
 * try's target (target 1), in the order they stand: how many there are,
 * the first max of them in out. Correct PCRE and targets have none. */
size_t regex_traps(const char *s, int target, regex_trap *out, size_t max);

#endif
