/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ledger_key.c - accounts' secret keys: made from the kernel's randomness,
 * kept as SHA-256 (see ledger_key.h).
 */
#include "ledger_key.h"

#include <openssl/evp.h>
#include <string.h>

#include "token.h"

_Static_assert(LEDGER_KEY_LEN == sizeof LEDGER_KEY_PREFIX - 1 + TOKEN_LEN(32),
               "a key is its prefix and 32 random bytes");

int ledger_key_new(char out[LEDGER_KEY_LEN + 1])
{
    size_t n = sizeof LEDGER_KEY_PREFIX - 1;
    memcpy(out, LEDGER_KEY_PREFIX, n);
    return token_new(out + n, 32);
}

int ledger_key_hash(const char *key, size_t len, uint8_t hash[LKEY_HASH_LEN])
{
    unsigned n = 0;
    if (!EVP_Digest(key, len, hash, &n, EVP_sha256(), NULL) || n != LKEY_HASH_LEN) return -1;
    return 0;
}
