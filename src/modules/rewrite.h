/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rewrite.h - redirect targets: templates with $-variables, checked once at
 * configuration load and expanded into a Location value per request.
 */
#ifndef HTD_REWRITE_H
#define HTD_REWRITE_H

#include <stddef.h>

#include "htd.h"

/*
 * Checks a redirect template at config load. Every '$' must start one of $0 to
 * $9 (one digit: "$10" is $1 then "0"), $path, $query, $host, or $$ for a
 * literal '$'. A name is read whole, as in nginx, so "$hostname" is an unknown
 * variable, not $host followed by "name". The template must not be empty, nor
 * hold a space or a control character (they would have to be percent-encoded
 * in a Location anyway, and CR or LF would end the header).
 * max_capture is the highest $N the rule can supply (the regex's group count;
 * 1 for a prefix rule; 0 for an exact one); $0 is always there.
 * Returns 0, or -1 with a one-line message in err, e.g. "unknown variable $foo
 * in redirect target; use $0-$9, $path, $query, $host or $$" or "$3 but the
 * regex has only 2 groups".
 */
int rewrite_check(const char *tmpl, int max_capture, char *err, size_t errlen);

/*
 * Expands tmpl (which passed rewrite_check) into out, NUL-terminated.
 * caps[0..ncaps) are $0..$N; a missing one, or one with p == NULL, expands to
 * nothing. path is the decoded request path, query the raw query without '?'
 * (p == NULL if there was none), host the request's host.
 *
 * $0-$9 and $path are percent-encoded: every byte but ALPHA DIGIT
 * - . _ ~ ! $ & ' ( ) * + , ; = : @ / becomes %XX (uppercase hex). $query and
 * $host go in as they are, except bytes below 0x21, 0x7F and above, and
 * " < > \ ^ ` { | } which are percent-encoded. Template text is copied as it
 * is. So CR and LF never reach the output, whatever the request held.
 *
 * One more rule keeps a request from choosing the redirect's host: output
 * that starts with "//" would be a scheme-relative URL to another server, so
 * a '/' at the second position after a leading '/' is written as %2F unless
 * both come from the template's own text ("/$1" with $1 = "/evil.example"
 * gives "/%2Fevil.example").
 *
 * keep_query: when set and query.p != NULL and query.len > 0, "?QUERY" is
 * appended, or "&QUERY" if the output already holds a '?'; QUERY is encoded
 * as $query is.
 * Returns the length (without the NUL), or -1 if the output and its NUL do
 * not fit in cap.
 */
int rewrite_expand(const char *tmpl, const htd_str *caps, int ncaps, htd_str path, htd_str query,
                   htd_str host, int keep_query, char *out, size_t cap);

#endif
