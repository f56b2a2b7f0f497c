/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * path.h - turning a request-target's path into a safe relative file path,
 * encoding a path back into a URI, and matching a path against a prefix.
 */
#ifndef HTD_PATH_H
#define HTD_PATH_H

#include <stddef.h>

/*
 * Percent-decodes in[0..len) (the path part of a target, which starts with
 * '/'), and normalises it: "." segments dropped, ".." segments resolved,
 * runs of '/' collapsed. The result starts with '/' and keeps a trailing '/'
 * if the input had one (or ended in "/." or "/.."). It is written to out with
 * a NUL, and its length returned.
 * Returns -1 with *why set when the input has a bad %-escape, decodes to a NUL
 * byte, climbs above the root with "..", or does not fit in outcap.
 */
int htd_path_normalize(const char *in, size_t len, char *out, size_t outcap, const char **why);

/*
 * As htd_path_normalize, and says in *dotless whether the path was already
 * its own normal form with no segment that starts with '.' (nothing
 * encoded, no "//", no "/."): htd_path_hidden is then 0 for it without a
 * look. 0 says nothing either way.
 */
int htd_path_normalize_dotless(const char *in, size_t len, char *out, size_t outcap,
                               const char **why, int *dotless);

/*
 * Percent-encodes in[0..len) into out: letters, digits and the bytes in keep
 * stay as they are, every other byte (NUL included) becomes %XX, upper-case
 * hex. Writes as many whole encoded bytes as fit in cap, no NUL, and returns
 * the length of the whole encoding (at most 3 * len): a result over cap
 * means it did not fit. Each caller passes its own set, e.g. HTD_PCT_PATH.
 */
size_t htd_pct_encode(const char *in, size_t len, const char *keep, char *out, size_t cap);

/* What a path keeps: RFC 3986 pchar and '/', without '%' (a decoded '%' is
 * data, not an escape). */
#define HTD_PCT_PATH "-._~!$&'()*+,;=:@/"

/*
 * A decoded path as a URI reference to send back (a Location): encoded as
 * HTD_PCT_PATH keeps, and a '/' right after a leading '/' as %2F, so that
 * the result never starts with "//", which a client would take for another
 * host (a backslash is always encoded, so "/\host" cannot pass for it
 * either). A normalised path has no "//"; this holds for any path. Writes
 * and returns as htd_pct_encode.
 */
size_t htd_path_uri(const char *path, size_t len, char *out, size_t cap);

/*
 * Whether path[0..len) is under prefix[0..plen) by whole segments, the one
 * rule for every path prefix htd has (handlers' routes, rules of kind
 * prefix, --cache-control, CGI prefixes, writable areas): the path starts
 * with the prefix, and the prefix ends in '/' or the path ends where it does
 * or goes on with '/'. So /hello is /hello and /hello/x, never /helloworld;
 * /hello/ is /hello/ and /hello/x, not /hello; "" and "/" are every path.
 */
int htd_path_under(const char *path, size_t len, const char *prefix, size_t plen);

/* Does the decoded path have a segment starting with '.' (other than a
 * leading ".well-known")? Such paths are refused, for reading and writing. */
int htd_path_hidden(const char *path, size_t len);

#endif
