/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ledger_key.h - an account's secret key (ledger_store.h): made once, shown
 * once, and kept only as its SHA-256, so that the database never holds a
 * key that would pay. `htd ledger` makes keys and stores their hashes; the
 * server hashes the key a request presents (Authorization: Bearer) the same
 * way and looks for the hash.
 *
 * A key is "htd_" and 43 characters of unpadded base64url: 256 random bits.
 * The prefix lets a leaked key be recognised for what it is (secret
 * scanners, logs). The hash is of the whole key, prefix included, as typed.
 */
#ifndef HTD_LEDGER_KEY_H
#define HTD_LEDGER_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "ledger_store.h"

#define LEDGER_KEY_PREFIX "htd_"
#define LEDGER_KEY_LEN 47 /* the prefix and TOKEN_LEN(32) */

/* A new key: LEDGER_KEY_LEN characters and a NUL. 0, or -1 (errno set)
 * when the kernel gave no randomness. */
int ledger_key_new(char out[LEDGER_KEY_LEN + 1]);

/* SHA-256 of key[0..len), what an account keeps. 0, or -1 when the
 * digest could not be made (no SHA-256 in OpenSSL's providers). */
int ledger_key_hash(const char *key, size_t len, uint8_t hash[LKEY_HASH_LEN]);

#endif
