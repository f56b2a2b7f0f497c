/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * token.h - random text for ids and secrets: bytes from the kernel's
 * generator (getrandom) written as unpadded base64url (RFC 4648 section 5),
 * safe in URLs, file names and HTTP fields as they are.
 */
#ifndef HTD_TOKEN_H
#define HTD_TOKEN_H

#include <stddef.h>

/* How many characters n random bytes make. */
#define TOKEN_LEN(n) (((n)*8 + 5) / 6)

/* n random bytes (at most 64) as TOKEN_LEN(n) characters and a NUL in out.
 * 0, or -1 (errno set) when the kernel gave no randomness. */
int token_new(char *out, size_t n);

#endif
