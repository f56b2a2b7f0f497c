/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * token.c - random bytes as unpadded base64url (see token.h).
 */
#include "token.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

int token_new(char *out, size_t n)
{
    static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char r[64];
    if (n > sizeof r) {
        errno = EINVAL;
        return -1;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t k = getrandom(r + got, n - got, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        got += (size_t)k;
    }
    /* Every 6 bits a character; the last one's low bits are zero. */
    unsigned bits = 0, nbits = 0;
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        bits = bits << 8 | r[i]; /* only the low bits are read: wrapping is harmless */
        nbits += 8;
        while (nbits >= 6) {
            nbits -= 6;
            out[len++] = b64url[(bits >> nbits) & 63];
        }
    }
    if (nbits) out[len++] = b64url[(bits << (6 - nbits)) & 63];
    out[len] = 0;
    explicit_bzero(r, sizeof r);
    return 0;
}
