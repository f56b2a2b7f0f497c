/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * auth.h - HTTP Basic authentication (RFC 7617): the users of an htpasswd
 * file, the Authorization field's credentials, slow password checks, and a
 * per-loop cache of credentials already checked.
 */
#ifndef HTD_AUTH_H
#define HTD_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "htd.h" /* htd_str { const char *p; size_t len; } */

typedef struct auth_users auth_users; /* one htpasswd file, loaded */

/* Loads an htpasswd file. Lines "user:hash"; blank lines and lines starting with '#' skipped;
 * CRLF tolerated.
 * Accepted hashes: bcrypt ($2y$, $2b$, $2a$), yescrypt ($y$), sha512-crypt ($6$), sha256-crypt
 * ($5$), and each must be well-formed: complete (salt and checksum of the right length and
 * alphabet, so a truncated hash is not a user who can never log in) and accepted by
 * crypt_checksalt (CRYPT_SALT_OK, or CRYPT_SALT_METHOD_LEGACY, which libxcrypt 4.4 says of
 * sha256-crypt).
 * Refused with a message naming the file and line: "$apr1$" (MD5-apr1), "{SHA}" (SHA-1),
 * "$1$" (MD5-crypt), anything else (plain text or DES crypt); a line without ':', an empty user
 * name, a duplicate user, a user name with control characters.
 * Error format, written to err: "PATH:LINE: user NAME: MESSAGE" (or "PATH:LINE: MESSAGE" when
 * there is no user, or "cannot read PATH: strerror" when it cannot be opened). Never includes
 * the hash itself.
 * Returns NULL on error. A file of 0 users is allowed. */
auth_users *auth_load(const char *path, char *err, size_t errlen);
/* The same from text[0..len) in memory (copied), as a file called name; what auth_load does once
 * it has read the file, so a fuzzer reaches it without a file per input. */
auth_users *auth_load_text(const char *text, size_t len, const char *name, char *err,
                           size_t errlen);
void auth_free(auth_users *u);

/* The stored hash for user, or NULL. A binary search over the users, sorted once at load. */
const char *auth_lookup(const auth_users *u, htd_str user);

/* A hash of the file to check an unknown user's password against, so that
 * the answer takes as long as for a user who exists (same algorithm and
 * cost, as far as the file is uniform). NULL for an empty file. */
const char *auth_dummy(const auth_users *u);

/* Parses an Authorization field value "Basic <base64>" (scheme case-insensitive, one or more
 * spaces, strict base64 with padding per RFC 4648, no whitespace inside or after, decoded must
 * contain ':'; the user part may not be empty; decoded bytes may not contain CTLs (0x00-0x1f,
 * 0x7f)). Decodes into buf[0..cap).
 * Returns 0 and sets user, pass (slices into buf), or -1 if malformed or too long. */
int auth_parse_basic(htd_str value, char *buf, size_t cap, htd_str *user, htd_str *pass);

/* Slow (milliseconds for bcrypt): checks pass against hash with crypt_rn and a struct
 * crypt_data allocated per call. hash NULL means the user is unknown: crypt_rn runs against a
 * fixed dummy bcrypt hash of cost 5 anyway, so unknown users cost the same time, and 0 is
 * returned. The result is compared with the stored hash in constant time.
 * 1 on match, 0 otherwise. Thread-safe. */
int auth_verify(const char *hash, htd_str pass);

/* Verified-credentials cache, so a browser sending the same credentials on every request does
 * not pay bcrypt each time. One per event loop (not thread-safe by design).
 * Keys are SHA-256 over a random secret, user, pass and the stored hash (so a changed password
 * in the file no longer matches); 256 direct-mapped slots; an entry lives AUTH_CACHE_TTL_MS
 * after it was added (now_ms is the caller's monotonic clock). Only successes are cached.
 * auth_cache_new returns NULL if memory, the random secret or the digest is unavailable. */
typedef struct auth_cache auth_cache;
auth_cache *auth_cache_new(void);
void auth_cache_free(auth_cache *c);
int auth_cache_check(auth_cache *c, htd_str user, htd_str pass, const char *hash,
                     uint64_t now_ms); /* 1 if cached as good */
void auth_cache_add(auth_cache *c, htd_str user, htd_str pass, const char *hash, uint64_t now_ms);
#define AUTH_CACHE_TTL_MS 60000

#endif
