/* SPDX-License-Identifier: BSD-2-Clause */
/* test_ledger_key.c - accounts' secret keys (ledger_key.h): their form,
 * their randomness, and their SHA-256 as the ledger keeps it. */
#include "ledger_key.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "test.h"

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* hex of 32 bytes, for comparing with a known digest. */
static void hex(const uint8_t h[LKEY_HASH_LEN], char out[2 * LKEY_HASH_LEN + 1])
{
    for (int i = 0; i < LKEY_HASH_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* The 32 bytes behind a key's 43 characters, or -1 if they are not
 * base64url whose unused low bits are zero. */
static int decode(const char *s, uint8_t out[32])
{
    unsigned bits = 0, nbits = 0;
    size_t k = 0;
    for (size_t i = 0; i < 43; i++) {
        const char *p = strchr(B64URL, s[i]);
        if (!s[i] || !p) return -1;
        bits = bits << 6 | (unsigned)(p - B64URL);
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            out[k++] = (uint8_t)(bits >> nbits);
        }
    }
    return k == 32 && (bits & ((1u << nbits) - 1)) == 0 ? 0 : -1;
}

TEST(a_new_key_is_htd_and_43_characters_of_base64url)
{
    char key[LEDGER_KEY_LEN + 1];
    memset(key, 'x', sizeof key);
    CHECK_EQ_INT(ledger_key_new(key), 0);
    CHECK_EQ_INT(strlen(key), 47);
    CHECK_EQ_INT(LEDGER_KEY_LEN, 47);
    CHECK(strncmp(key, "htd_", 4) == 0);
    CHECK_EQ_INT(strspn(key + 4, B64URL), 43);
    uint8_t raw[32];
    CHECK_EQ_INT(decode(key + 4, raw), 0);
}

TEST(new_keys_differ_and_use_every_bit)
{
    enum { N = 64 };
    static char keys[N][LEDGER_KEY_LEN + 1];
    uint8_t or_all[32] = {0}, and_all[32];
    memset(and_all, 0xff, sizeof and_all);
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(ledger_key_new(keys[i]), 0);
        uint8_t raw[32];
        CHECK_EQ_INT(decode(keys[i] + 4, raw), 0);
        for (int b = 0; b < 32; b++) {
            or_all[b] |= raw[b];
            and_all[b] &= raw[b];
        }
        for (int j = 0; j < i; j++)
            CHECK(strcmp(keys[i], keys[j]) != 0);
    }
    /* 64 keys: a bit that is the same in all is a bug (2^-63 by chance). */
    for (int b = 0; b < 32; b++) {
        CHECK_EQ_INT(or_all[b], 0xff);
        CHECK_EQ_INT(and_all[b], 0);
    }
}

TEST(the_hash_is_sha256_of_the_whole_key_text)
{
    uint8_t h[LKEY_HASH_LEN];
    char x[2 * LKEY_HASH_LEN + 1];
    CHECK_EQ_INT(ledger_key_hash("abc", 3, h), 0);
    hex(h, x);
    CHECK_STR(x, strlen(x), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* The key of the bytes 0 to 31, prefix and all. */
    const char *key = "htd_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    CHECK_EQ_INT(ledger_key_hash(key, strlen(key), h), 0);
    hex(h, x);
    CHECK_STR(x, strlen(x), "5a62798f5ce7f3a18ad1ea6bac986754b2bbd0a47e2822bc1950fb5acfd1bb44");
    uint8_t raw[32];
    CHECK_EQ_INT(decode(key + 4, raw), 0);
    for (int i = 0; i < 32; i++)
        CHECK_EQ_INT(raw[i], i);
}

TEST(a_key_hashed_again_matches_and_a_changed_one_does_not)
{
    char key[LEDGER_KEY_LEN + 1], copy[LEDGER_KEY_LEN + 1];
    CHECK_EQ_INT(ledger_key_new(key), 0);
    memcpy(copy, key, sizeof copy);
    uint8_t h1[LKEY_HASH_LEN], h2[LKEY_HASH_LEN];
    CHECK_EQ_INT(ledger_key_hash(key, LEDGER_KEY_LEN, h1), 0);
    CHECK_EQ_INT(ledger_key_hash(copy, strlen(copy), h2), 0);
    CHECK(memcmp(h1, h2, LKEY_HASH_LEN) == 0);
    copy[LEDGER_KEY_LEN - 1] = copy[LEDGER_KEY_LEN - 1] == 'A' ? 'B' : 'A';
    CHECK_EQ_INT(ledger_key_hash(copy, strlen(copy), h2), 0);
    CHECK(memcmp(h1, h2, LKEY_HASH_LEN) != 0);
    /* Without its prefix a key is another string, another hash. */
    CHECK_EQ_INT(ledger_key_hash(key + 4, LEDGER_KEY_LEN - 4, h2), 0);
    CHECK(memcmp(h1, h2, LKEY_HASH_LEN) != 0);
}

int main(void)
{
    RUN_TESTS();
}
