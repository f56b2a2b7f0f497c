/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * auth.c - HTTP Basic authentication (RFC 7617) against an htpasswd file.
 *
 * The file is read whole into one buffer and cut in place: each user name
 * and hash is a slice of that buffer, the hash NUL-terminated where its line
 * ended, because crypt wants C strings. The users are then sorted once, which
 * both finds duplicates and makes lookups a binary search.
 *
 * Only hashes that are slow by design are accepted (bcrypt, yescrypt,
 * sha-crypt). The fast ones htpasswd can also make (MD5-apr1, SHA-1, DES,
 * plain text) are refused at load, loudly, rather than served: a server that
 * quietly accepts them invites keeping them. A hash is also checked for its
 * full shape, so a truncated line is an error at start-up rather than a user
 * who can never log in. No message ever shows a hash: it is a secret.
 *
 * Checking a password costs milliseconds on purpose, and an unknown user pays
 * the same (against a dummy hash), so timing does not tell which users exist.
 * The cache spares a browser, which repeats its credentials on every request,
 * from paying that each time. It keeps no passwords, only keyed digests.
 */
#include "auth.h"

#include <crypt.h>
#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define REMAKE "; make the file with htpasswd -B"

typedef struct user {
    const char *name; /* not NUL-terminated: a slice of text */
    size_t len;
    const char *hash; /* NUL-terminated */
    unsigned line;
} user;

struct auth_users {
    char *text; /* the whole file; names and hashes point into it */
    user *v;    /* sorted by name */
    size_t n;
};

static int is_ctl(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* The alphabet of crypt's base64: salts, bcrypt's and sha-crypt's checksums, yescrypt's
 * parameters. */
static int is_cb64(unsigned char c)
{
    return c == '.' || c == '/' || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
           (c >= 'a' && c <= 'z');
}

/* How many bytes of p[0..n) are in crypt's base64 alphabet, from the start. */
static size_t cb64_span(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && is_cb64((unsigned char)p[i]))
        i++;
    return i;
}

static int has_prefix(const char *p, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(p, prefix, k) == 0;
}

/* "$2y$CC$" then 22 characters of salt and 31 of checksum. */
static int bcrypt_ok(const char *h, size_t n)
{
    if (n != 60 || h[6] != '$') return 0;
    if (h[4] < '0' || h[4] > '9' || h[5] < '0' || h[5] > '9') return 0;
    int cost = (h[4] - '0') * 10 + (h[5] - '0');
    return cost >= 4 && cost <= 31 && cb64_span(h + 7, 53) == 53;
}

/* "$5$" or "$6$", optionally "rounds=N$", a salt of 1 to 16 characters, '$', and a checksum of
 * sumlen characters. Rounds outside what crypt uses would be clamped, and a salt longer than 16
 * cut, so the result could never equal the stored hash: both are refused. */
static int shacrypt_ok(const char *h, size_t n, size_t sumlen)
{
    const char *p = h + 3, *end = h + n;
    if (has_prefix(p, (size_t)(end - p), "rounds=")) {
        p += 7;
        if (p == end || *p < '1' || *p > '9') return 0;
        unsigned long rounds = 0;
        while (p < end && *p >= '0' && *p <= '9') {
            rounds = rounds * 10 + (unsigned long)(*p++ - '0');
            if (rounds > 999999999) return 0;
        }
        if (rounds < 1000 || p == end || *p++ != '$') return 0;
    }
    size_t salt = cb64_span(p, (size_t)(end - p));
    if (salt < 1 || salt > 16) return 0;
    p += salt;
    if (p == end || *p++ != '$') return 0;
    return (size_t)(end - p) == sumlen && cb64_span(p, sumlen) == sumlen;
}

/* "$y$", parameters, '$', salt, '$', and a 43-character checksum. */
static int yescrypt_ok(const char *h, size_t n)
{
    const char *p = h + 3, *end = h + n;
    for (int field = 0; field < 2; field++) {
        size_t k = cb64_span(p, (size_t)(end - p));
        if (k == 0) return 0;
        p += k;
        if (p == end || *p++ != '$') return 0;
    }
    return end - p == 43 && cb64_span(p, 43) == 43;
}

/* NULL if h[0..n) (NUL-terminated at n) is a hash to accept, or why it is not. */
static const char *hash_problem(const char *h, size_t n)
{
    int ok;
    if (has_prefix(h, n, "$apr1$")) return "MD5-apr1 hashes are refused" REMAKE;
    if (has_prefix(h, n, "{SHA}")) return "SHA-1 hashes are refused" REMAKE;
    if (has_prefix(h, n, "$1$")) return "MD5-crypt hashes are refused" REMAKE;
    if (has_prefix(h, n, "$2y$") || has_prefix(h, n, "$2b$") || has_prefix(h, n, "$2a$"))
        ok = bcrypt_ok(h, n);
    else if (has_prefix(h, n, "$y$"))
        ok = yescrypt_ok(h, n);
    else if (has_prefix(h, n, "$6$"))
        ok = shacrypt_ok(h, n, 86);
    else if (has_prefix(h, n, "$5$"))
        ok = shacrypt_ok(h, n, 43);
    else
        return "not a bcrypt, yescrypt or sha-crypt hash" REMAKE;
    if (!ok) return "malformed hash (truncated or damaged?)" REMAKE;

    /* libcrypt has the last word on whether it will hash with this setting. It calls
     * sha256-crypt "legacy" but still computes it, and it is one of the formats accepted. */
    int r = crypt_checksalt(h);
    if (r != CRYPT_SALT_OK && r != CRYPT_SALT_METHOD_LEGACY)
        return "hash not accepted by this system's libcrypt" REMAKE;
    return NULL;
}

/* Reads all of f into a malloc'd, NUL-terminated buffer. -1 with errno set on failure. */
static int slurp(FILE *f, char **out, size_t *outlen)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) return -1;
    for (;;) {
        if (cap - n < 2) {
            char *bigger = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (!bigger) {
                free(buf);
                errno = ENOMEM;
                return -1;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        int e = errno ? errno : EIO;
        free(buf);
        errno = e;
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    return 0;
}

static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0) return c;
    return (alen > blen) - (alen < blen);
}

/* By name, then by line, so that of two equal names the first in the file comes first. */
static int user_cmp(const void *x, const void *y)
{
    const user *a = x, *b = y;
    int c = name_cmp(a->name, a->len, b->name, b->len);
    if (c != 0) return c;
    return (a->line > b->line) - (a->line < b->line);
}

static int name_width(size_t len)
{
    return len > INT_MAX ? INT_MAX : (int)len;
}

/* The users of text[0..size), a NUL-terminated malloc'd buffer that u takes; path names it in
 * messages. */
static auth_users *parse_users(auth_users *u, size_t size, const char *path, char *err,
                               size_t errlen)
{
    size_t cap = 0;
    unsigned line = 0;
    for (char *s = u->text, *end = u->text + size; s < end;) {
        line++;
        char *nl = memchr(s, '\n', (size_t)(end - s));
        char *e = nl ? nl : end;
        char *next = nl ? nl + 1 : end;
        if (e > s && e[-1] == '\r') e--;
        *e = '\0';
        size_t len = (size_t)(e - s);

        size_t blank = 0;
        while (blank < len && (s[blank] == ' ' || s[blank] == '\t'))
            blank++;
        if (blank == len || s[0] == '#') {
            s = next;
            continue;
        }

        char *colon = memchr(s, ':', len);
        if (!colon) {
            snprintf(err, errlen, "%s:%u: no ':' between user name and hash", path, line);
            goto fail;
        }
        size_t ulen = (size_t)(colon - s);
        if (ulen == 0) {
            snprintf(err, errlen, "%s:%u: empty user name", path, line);
            goto fail;
        }
        for (size_t i = 0; i < ulen; i++) {
            if (is_ctl((unsigned char)s[i])) {
                snprintf(err, errlen, "%s:%u: user name contains control characters", path, line);
                goto fail;
            }
        }
        const char *why = hash_problem(colon + 1, (size_t)(e - colon - 1));
        if (why) {
            snprintf(err, errlen, "%s:%u: user %.*s: %s", path, line, name_width(ulen), s, why);
            goto fail;
        }

        if (u->n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            user *bigger =
                ncap <= SIZE_MAX / sizeof *bigger ? realloc(u->v, ncap * sizeof *bigger) : NULL;
            if (!bigger) {
                snprintf(err, errlen, "%s: out of memory", path);
                goto fail;
            }
            u->v = bigger;
            cap = ncap;
        }
        u->v[u->n++] = (user){s, ulen, colon + 1, line};
        s = next;
    }

    if (u->n > 1) qsort(u->v, u->n, sizeof *u->v, user_cmp);
    /* Report the duplicate that comes first in the file, as a reader fixing it top-down
     * would meet it. */
    const user *dup = NULL, *orig = NULL;
    for (size_t i = 1, first = 0; i < u->n; i++) {
        if (name_cmp(u->v[i - 1].name, u->v[i - 1].len, u->v[i].name, u->v[i].len) != 0) {
            first = i;
            continue;
        }
        if (!dup || u->v[i].line < dup->line) {
            dup = &u->v[i];
            orig = &u->v[first];
        }
    }
    if (dup) {
        snprintf(err, errlen, "%s:%u: user %.*s: duplicate user (first on line %u)", path,
                 dup->line, name_width(dup->len), dup->name, orig->line);
        goto fail;
    }
    return u;

fail:
    auth_free(u);
    return NULL;
}

auth_users *auth_load(const char *path, char *err, size_t errlen)
{
    auth_users *u = calloc(1, sizeof *u);
    if (!u) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    FILE *f = fopen(path, "re"); /* never inherited by a script spawned meanwhile */
    size_t size = 0;
    if (!f || slurp(f, &u->text, &size) < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        if (f) fclose(f);
        free(u);
        return NULL;
    }
    fclose(f);
    return parse_users(u, size, path, err, errlen);
}

auth_users *auth_load_text(const char *text, size_t len, const char *name, char *err, size_t errlen)
{
    auth_users *u = calloc(1, sizeof *u);
    if (!u || !(u->text = malloc(len + 1))) {
        snprintf(err, errlen, "%s: out of memory", name);
        free(u);
        return NULL;
    }
    memcpy(u->text, text, len);
    u->text[len] = '\0';
    return parse_users(u, len, name, err, errlen);
}

void auth_free(auth_users *u)
{
    if (!u) return;
    free(u->v);
    free(u->text);
    free(u);
}

const char *auth_lookup(const auth_users *u, htd_str name)
{
    size_t lo = 0, hi = u->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = name_cmp(name.p, name.len, u->v[mid].name, u->v[mid].len);
        if (c == 0) return u->v[mid].hash;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* The value of a base64 (RFC 4648, standard alphabet) character, or -1. */
static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Strict decoding: whole quartets, '=' only as the last one or two characters, and the bits
 * the padding leaves over zero, so every input has one spelling. Returns the decoded length,
 * or -1 if malformed or longer than cap. */
static long b64decode(const char *in, size_t n, char *out, size_t cap)
{
    if (n % 4 != 0) return -1;
    size_t pad = 0;
    if (n > 0 && in[n - 1] == '=') pad++;
    if (n > 1 && in[n - 2] == '=') pad++;
    size_t outlen = n / 4 * 3 - pad;
    if (outlen > cap || outlen > LONG_MAX) return -1;

    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int last = i + 4 == n;
        int q = last ? (int)(4 - pad) : 4; /* characters that carry bits */
        unsigned v[4] = {0, 0, 0, 0};
        for (int k = 0; k < q; k++) {
            int d = b64val((unsigned char)in[i + (size_t)k]);
            if (d < 0) return -1;
            v[k] = (unsigned)d;
        }
        unsigned bits = v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3];
        if (q == 2 && (v[1] & 0x0f) != 0) return -1;
        if (q == 3 && (v[2] & 0x03) != 0) return -1;
        out[o++] = (char)(bits >> 16);
        if (q > 2) out[o++] = (char)(bits >> 8 & 0xff);
        if (q > 3) out[o++] = (char)(bits & 0xff);
    }
    return (long)o;
}

int auth_parse_basic(htd_str value, char *buf, size_t cap, htd_str *user, htd_str *pass)
{
    static const char scheme[] = "basic";
    const char *p = value.p;
    size_t n = value.len;
    if (n < sizeof scheme || p[sizeof scheme - 1] != ' ') return -1;
    for (size_t i = 0; i < sizeof scheme - 1; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c - 'A' + 'a');
        if (c != (unsigned char)scheme[i]) return -1;
    }
    size_t i = sizeof scheme - 1;
    while (i < n && p[i] == ' ')
        i++;

    long len = b64decode(p + i, n - i, buf, cap);
    if (len < 0) return -1;
    for (long k = 0; k < len; k++)
        if (is_ctl((unsigned char)buf[k])) return -1;
    /* The user-id cannot contain ':' (RFC 7617 section 2), the password can: split at the
     * first. */
    const char *colon = len > 0 ? memchr(buf, ':', (size_t)len) : NULL;
    if (!colon || colon == buf) return -1;
    *user = (htd_str){buf, (size_t)(colon - buf)};
    *pass = (htd_str){colon + 1, (size_t)(buf + len - colon - 1)};
    return 0;
}

/* A bcrypt hash of cost 5 of a random password nobody knows, so that checking an unknown user
 * costs what checking a user of the default `htpasswd -B` file costs. */
static const char dummy_hash[] = "$2y$05$qZ6abrv8RjF73g7ucneqVe4f9NFcQeesp7lydRudsszGSjbh4.1UK";

const char *auth_dummy(const auth_users *u)
{
    return u->n ? u->v[0].hash : NULL;
}

int auth_verify(const char *hash, htd_str pass)
{
    /* ~32 KiB: too big for a worker's stack to take lightly, and per call so that any thread
     * may verify. */
    struct crypt_data *cd = calloc(1, sizeof *cd);
    if (!cd) return 0;

    /* A password too long for crypt, or holding a NUL, cannot be the one stored; it is hashed
     * cut short anyway, so that refusing it costs the usual time. */
    size_t n = pass.len < sizeof cd->input ? pass.len : sizeof cd->input - 1;
    int usable = hash != NULL && pass.len == n && (n == 0 || !memchr(pass.p, '\0', n));
    if (n > 0) memcpy(cd->input, pass.p, n);
    cd->input[n] = '\0';

    const char *out = crypt_rn(cd->input, hash ? hash : dummy_hash, cd, (int)sizeof *cd);
    int match = 0;
    if (out && usable) {
        size_t len = strlen(hash);
        /* The length is the format's, not a secret; the bytes are compared in constant time. */
        match = strlen(out) == len && CRYPTO_memcmp(out, hash, len) == 0;
    }
    explicit_bzero(cd, sizeof *cd);
    free(cd);
    return match;
}

#define CACHE_SLOTS 256
#define KEY_LEN 32

struct auth_cache {
    EVP_MD *md;
    EVP_MD_CTX *ctx;
    unsigned char secret[32];
    struct {
        unsigned char key[KEY_LEN];
        uint64_t expires; /* 0: empty */
    } slot[CACHE_SLOTS];
};

auth_cache *auth_cache_new(void)
{
    auth_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    ssize_t got;
    do
        got = getrandom(c->secret, sizeof c->secret, 0);
    while (got < 0 && errno == EINTR);
    c->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    c->ctx = EVP_MD_CTX_new();
    if (got != (ssize_t)sizeof c->secret || !c->md || !c->ctx ||
        EVP_MD_get_size(c->md) != KEY_LEN) {
        auth_cache_free(c);
        return NULL;
    }
    return c;
}

void auth_cache_free(auth_cache *c)
{
    if (!c) return;
    EVP_MD_CTX_free(c->ctx);
    EVP_MD_free(c->md);
    explicit_bzero(c, sizeof *c);
    free(c);
}

/* The secret makes keys unguessable, so the cache's contents say nothing about passwords. The
 * 0 bytes keep ("ab", "c") and ("a", "bc") apart (a user name has no 0 byte; a password that
 * has one never verifies). */
static int cache_key(auth_cache *c, htd_str user, htd_str pass, const char *hash,
                     unsigned char key[KEY_LEN])
{
    static const unsigned char zero = 0;
    unsigned int len = 0;
    if (EVP_DigestInit_ex(c->ctx, c->md, NULL) != 1 ||
        EVP_DigestUpdate(c->ctx, c->secret, sizeof c->secret) != 1 ||
        EVP_DigestUpdate(c->ctx, user.p, user.len) != 1 ||
        EVP_DigestUpdate(c->ctx, &zero, 1) != 1 ||
        EVP_DigestUpdate(c->ctx, pass.p, pass.len) != 1 ||
        EVP_DigestUpdate(c->ctx, &zero, 1) != 1 ||
        EVP_DigestUpdate(c->ctx, hash, strlen(hash)) != 1 ||
        EVP_DigestFinal_ex(c->ctx, key, &len) != 1 || len != KEY_LEN)
        return -1;
    return 0;
}

int auth_cache_check(auth_cache *c, htd_str user, htd_str pass, const char *hash, uint64_t now_ms)
{
    unsigned char key[KEY_LEN];
    if (!hash || cache_key(c, user, pass, hash, key) < 0) return 0;
    /* The digest is uniform, so its first byte spreads users evenly over the slots. */
    const unsigned char *k = c->slot[key[0]].key;
    return now_ms < c->slot[key[0]].expires && CRYPTO_memcmp(k, key, KEY_LEN) == 0;
}

void auth_cache_add(auth_cache *c, htd_str user, htd_str pass, const char *hash, uint64_t now_ms)
{
    unsigned char key[KEY_LEN];
    if (!hash || cache_key(c, user, pass, hash, key) < 0) return;
    memcpy(c->slot[key[0]].key, key, KEY_LEN);
    c->slot[key[0]].expires =
        now_ms > UINT64_MAX - AUTH_CACHE_TTL_MS ? UINT64_MAX : now_ms + AUTH_CACHE_TTL_MS;
}
