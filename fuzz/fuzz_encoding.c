/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_encoding.c - libFuzzer target for Accept-Encoding
 * (src/http/encoding.c).
 *
 * The input is the field value. htd_accept_encoding must agree with a model
 * written here (the value cut into elements, each into a coding and its
 * parameters, a qvalue read by its grammar), every weight must be a
 * thousandth from 0 to 1000, and htd_choose_encoding must pick, for every
 * set of available codings, an available one with the highest weight (br,
 * then gzip, then identity on a tie), or none when none is acceptable. The
 * value is in a buffer of its own, so a read past it is caught.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "fuzz.h"

static int ows(char c)
{
    return c == ' ' || c == '\t';
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) */
static int qvalue_model(const char *p, size_t n)
{
    if (n == 0 || n > 5 || (p[0] != '0' && p[0] != '1')) return -1;
    if (n >= 2 && p[1] != '.') return -1;
    int q = p[0] == '1' ? 1000 : 0;
    for (size_t i = 2; i < n; i++) {
        if (p[i] < '0' || p[i] > '9' || (p[0] == '1' && p[i] != '0')) return -1;
        q += (p[i] - '0') * (i == 2 ? 100 : i == 3 ? 10 : 1);
    }
    return q;
}

static void model(const char *v, size_t len, unsigned q[ENC_COUNT])
{
    static const char *const names[] = {"identity", "gzip", "x-gzip", "br"};
    static const int codes[] = {ENC_IDENTITY, ENC_GZIP, ENC_GZIP, ENC_BR};
    int named[ENC_COUNT] = {0}, star = -1;
    q[ENC_IDENTITY] = 1, q[ENC_GZIP] = q[ENC_BR] = 0;
    for (size_t i = 0; i <= len;) {
        size_t e = i;
        while (e < len && v[e] != ',')
            e++;
        /* coding [ OWS ";" OWS "q=" qvalue OWS ], all of it after the ';' */
        size_t semi = i;
        while (semi < e && v[semi] != ';')
            semi++;
        size_t s = i, t = semi;
        while (s < t && ows(v[s]))
            s++;
        while (t > s && ows(v[t - 1]))
            t--;
        int w = 1000;
        if (semi < e) {
            size_t a = semi + 1, b = e;
            while (a < b && ows(v[a]))
                a++;
            while (b > a && ows(v[b - 1]))
                b--;
            w = b - a > 2 && (v[a] | 0x20) == 'q' && v[a + 1] == '='
                    ? qvalue_model(v + a + 2, b - a - 2)
                    : -1;
        }
        if (w >= 0 && t > s) {
            int k = -1;
            for (size_t j = 0; j < 4 && k < 0; j++)
                if (t - s == strlen(names[j]) && strncasecmp(v + s, names[j], t - s) == 0)
                    k = codes[j];
            if (k >= 0) {
                q[k] = (unsigned)w;
                named[k] = 1;
            } else if (t - s == 1 && v[s] == '*') {
                star = w;
            }
        }
        i = e + 1;
    }
    if (star >= 0)
        for (int k = 0; k < ENC_COUNT; k++)
            if (!named[k]) q[k] = (unsigned)star;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v = malloc(size ? size : 1);
    ENSURE(v != NULL);
    memcpy(v, data, size);

    unsigned q[ENC_COUNT], want[ENC_COUNT];
    htd_accept_encoding((htd_str){v, size}, q);
    if (size == 0) {
        /* present but empty: nothing listed, identity the last choice */
        ENSURE(q[ENC_IDENTITY] == 1 && q[ENC_GZIP] == 0 && q[ENC_BR] == 0);
    } else {
        model(v, size, want);
        for (int k = 0; k < ENC_COUNT; k++)
            ENSURE(q[k] == want[k]);
    }
    for (int k = 0; k < ENC_COUNT; k++)
        ENSURE(q[k] <= 1000);
    /* A value said not to be able to refuse identity leaves it acceptable. */
    if (!htd_accept_may_refuse_identity((htd_str){v, size}))
        ENSURE(htd_choose_encoding(q, 1u << ENC_IDENTITY) == ENC_IDENTITY);

    for (unsigned avail = 0; avail < 1u << ENC_COUNT; avail++) {
        int c = htd_choose_encoding(q, avail);
        if (c < 0) {
            for (int k = 0; k < ENC_COUNT; k++)
                ENSURE(!(avail & 1u << k) || q[k] == 0);
            continue;
        }
        ENSURE(c < ENC_COUNT && (avail & 1u << c) && q[c] > 0);
        static const int rank[ENC_COUNT] = {[ENC_BR] = 2, [ENC_GZIP] = 1, [ENC_IDENTITY] = 0};
        for (int k = 0; k < ENC_COUNT; k++)
            if (avail & 1u << k) ENSURE(q[k] < q[c] || (q[k] == q[c] && rank[k] <= rank[c]));
    }

    /* The qvalue grammar on its own, over the same bytes */
    ENSURE(htd_qvalue(v, size) == qvalue_model(v, size));

    /* An absent field accepts identity only. */
    htd_accept_encoding((htd_str){NULL, 0}, q);
    ENSURE(q[ENC_IDENTITY] == 1000 && q[ENC_GZIP] == 0 && q[ENC_BR] == 0);
    free(v);
    return 0;
}
