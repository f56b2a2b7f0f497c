/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_auth.c - Basic authentication: parsing the Authorization field's
 * base64, loading htpasswd files made by the real tools (and refusing the
 * weak formats with the line at fault), verifying passwords in each accepted
 * format, and the verified-credentials cache.
 *
 * The hashes are literals made once with htpasswd 2.4 and mkpasswd, all of
 * the password "secret": loading and verifying them checks that htd agrees
 * with the tools admins actually use.
 */
#include "auth.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

/* htpasswd -nbB alice secret (the default cost, 5) */
#define BCRYPT5 "$2y$05$S4YalFdL56G9kJ94Bu1juuFSkniq0JmQ89jOjV.ysTPHDFb5x2gbm"
/* htpasswd -nbB -C 10 alice secret */
#define BCRYPT10 "$2y$10$D1lS/LanZyC7S8iC3MQcHOtzOXegVEZOvCO1X5hFIAlZoGMX7pGPm"
/* htpasswd -nb5 bob secret */
#define SHA512                                                                                     \
    "$6$GLWWyksik8aQiVms$Fe61Hn8RIf6PAh.O2LO//6FCCbz15yLAuNaNZVPntZn2qR9UR2ya2.o/"                 \
    "gedkqOFadmhrXPXM7/Brf6p5kEgC61"
/* htpasswd -nb2 carol secret */
#define SHA256 "$5$BduqLnpuNvxnCjZQ$1pVIFs4HcqgEgL1IGYbhJJkEuzp70TtAaXhrWcqgLh1"
/* mkpasswd -m yescrypt secret */
#define YESCRYPT "$y$j9T$xOoyQLcDZNFFxuMw5x3FG/$d1mD8pVMcG6W8g7EvFEEvvwX.Rwu7QNnHY2bCINnwDC"
/* htpasswd -nbm, -nbs, -nbd eve secret; openssl passwd -1 secret */
#define APR1 "$apr1$9fDqij0s$72iRe/0MNKYVwcffoUh4p0"
#define SHA1 "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ="
#define DES "ezEotVTrvt822"
#define MD5CRYPT "$1$XcWuzQbG$g3lVSFvkINVbuNT0vb11B/"

static htd_str S(const char *s)
{
    return (htd_str){s, strlen(s)};
}

/* ---- auth_parse_basic ---- */

static char buf_[256];
static htd_str user_, pass_;

/* Parses an exact-size copy of v (no NUL after it, so ASan sees any read past the end) into
 * buf_ limited to cap. */
static int parse_cap(const char *v, size_t vlen, size_t cap)
{
    char *copy = malloc(vlen ? vlen : 1);
    if (!copy) return -2;
    memcpy(copy, v, vlen);
    user_ = pass_ = (htd_str){NULL, 0};
    /* An exact-size output buffer too, for writes past cap. */
    char *out = malloc(cap ? cap : 1);
    int r = out ? auth_parse_basic((htd_str){copy, vlen}, out, cap, &user_, &pass_) : -2;
    if (r == 0) {
        /* Copy the slices out before freeing, and point them at the copy. */
        memcpy(buf_, out, user_.len + 1 + pass_.len);
        user_.p = buf_ + (user_.p - out);
        pass_.p = buf_ + (pass_.p - out);
    }
    free(out);
    free(copy);
    return r;
}

static int parse(const char *v)
{
    return parse_cap(v, strlen(v), sizeof buf_);
}

TEST(parse_valid_credentials)
{
    CHECK_EQ_INT(parse("Basic YWxpY2U6c2VjcmV0"), 0);
    CHECK_STR(user_.p, user_.len, "alice");
    CHECK_STR(pass_.p, pass_.len, "secret");
}

TEST(parse_padding_variants)
{
    CHECK_EQ_INT(parse("Basic YTpi"), 0); /* no padding */
    CHECK_STR(pass_.p, pass_.len, "b");
    CHECK_EQ_INT(parse("Basic YTpiYw=="), 0); /* two '=' */
    CHECK_STR(pass_.p, pass_.len, "bc");
    CHECK_EQ_INT(parse("Basic YTpiY2Q="), 0); /* one '=' */
    CHECK_STR(pass_.p, pass_.len, "bcd");
}

TEST(parse_refuses_bad_padding)
{
    CHECK_EQ_INT(parse("Basic YTpiYw"), -1);    /* missing */
    CHECK_EQ_INT(parse("Basic YTpiYw="), -1);   /* short */
    CHECK_EQ_INT(parse("Basic YTpiYw==="), -1); /* too much */
    CHECK_EQ_INT(parse("Basic YTpi===="), -1);
    CHECK_EQ_INT(parse("Basic YTpi=w=="), -1); /* '=' before data */
    CHECK_EQ_INT(parse("Basic YT==YTpi"), -1); /* padding in the middle */
    CHECK_EQ_INT(parse("Basic YTpiYx=="), -1); /* bits left over by padding not zero */
    CHECK_EQ_INT(parse("Basic YTpiY2R="), -1);
    CHECK_EQ_INT(parse("Basic YTp"), -1); /* not whole quartets */
}

TEST(parse_refuses_bad_characters)
{
    CHECK_EQ_INT(parse("Basic YTpi!w=="), -1);
    CHECK_EQ_INT(parse("Basic YW-pY2U6c2VjcmV0"), -1); /* base64url is not base64 */
    CHECK_EQ_INT(parse("Basic YW_pY2U6c2VjcmV0"), -1);
    CHECK_EQ_INT(parse("Basic YWxp Y2U6c2VjcmV0"), -1); /* whitespace inside */
    CHECK_EQ_INT(parse("Basic YWxpY2U6\tc2VjcmV0"), -1);
    CHECK_EQ_INT(parse("Basic YWxpY2U6c2VjcmV0 "), -1); /* or after */
    CHECK_EQ_INT(parse("Basic YWxpY2U6c2VjcmV0\r\n"), -1);
    CHECK_EQ_INT(parse_cap("Basic YWxp\0Y2U6c2VjcmV0", 23, sizeof buf_), -1);
}

TEST(parse_needs_a_colon_and_a_user)
{
    CHECK_EQ_INT(parse("Basic YWxpY2U="), -1);     /* "alice" */
    CHECK_EQ_INT(parse("Basic OnNlY3JldA=="), -1); /* ":secret" */
    CHECK_EQ_INT(parse("Basic "), -1);             /* nothing */
}

TEST(parse_allows_an_empty_password_and_colons_in_it)
{
    CHECK_EQ_INT(parse("Basic YWxpY2U6"), 0); /* "alice:" */
    CHECK_STR(user_.p, user_.len, "alice");
    CHECK_EQ_INT(pass_.len, 0);
    CHECK_EQ_INT(parse("Basic YWxpY2U6c2U6Y3JldA=="), 0); /* "alice:se:cret" */
    CHECK_STR(user_.p, user_.len, "alice");
    CHECK_STR(pass_.p, pass_.len, "se:cret");
}

TEST(parse_refuses_control_characters)
{
    CHECK_EQ_INT(parse("Basic YWxpY2U6c2VjCXJldA=="), -1); /* tab in the password */
    CHECK_EQ_INT(parse("Basic YWx/aWNlOng="), -1);         /* DEL in the user */
    CHECK_EQ_INT(parse("Basic YWwAaWNlOng="), -1);         /* NUL in the user */
    CHECK_EQ_INT(parse("Basic YWxpY2U6eAA="), -1);         /* NUL at the end */
}

TEST(parse_allows_utf8)
{
    CHECK_EQ_INT(parse("Basic asO8cmdlbjpww6Rzc3dvcmQ="), 0);
    CHECK_STR(user_.p, user_.len, "j\xc3\xbcrgen");
    CHECK_STR(pass_.p, pass_.len, "p\xc3\xa4ssword");
}

TEST(parse_scheme_is_case_insensitive)
{
    CHECK_EQ_INT(parse("basic YWxpY2U6c2VjcmV0"), 0);
    CHECK_EQ_INT(parse("BASIC YWxpY2U6c2VjcmV0"), 0);
    CHECK_EQ_INT(parse("bAsIc YWxpY2U6c2VjcmV0"), 0);
    CHECK_STR(user_.p, user_.len, "alice");
}

TEST(parse_allows_several_spaces_after_the_scheme)
{
    CHECK_EQ_INT(parse("Basic    YWxpY2U6c2VjcmV0"), 0);
    CHECK_STR(pass_.p, pass_.len, "secret");
    CHECK_EQ_INT(parse("BasicYWxpY2U6c2VjcmV0"), -1);   /* but needs one */
    CHECK_EQ_INT(parse("Basic\tYWxpY2U6c2VjcmV0"), -1); /* and a space, not a tab */
    CHECK_EQ_INT(parse(" Basic YWxpY2U6c2VjcmV0"), -1);
}

TEST(parse_refuses_what_does_not_fit)
{
    /* "alice:secret" is 12 bytes. */
    CHECK_EQ_INT(parse_cap("Basic YWxpY2U6c2VjcmV0", 22, 12), 0);
    CHECK_STR(pass_.p, pass_.len, "secret");
    CHECK_EQ_INT(parse_cap("Basic YWxpY2U6c2VjcmV0", 22, 11), -1);
    CHECK_EQ_INT(parse_cap("Basic YWxpY2U6c2VjcmV0", 22, 0), -1);
    /* "a:bc" is 4 bytes, from 8 characters with padding. */
    CHECK_EQ_INT(parse_cap("Basic YTpiYw==", 14, 4), 0);
    CHECK_EQ_INT(parse_cap("Basic YTpiYw==", 14, 3), -1);
}

TEST(parse_refuses_other_schemes)
{
    CHECK_EQ_INT(parse("Bearer YWxpY2U6c2VjcmV0"), -1);
    CHECK_EQ_INT(parse("Digest username=\"alice\""), -1);
    CHECK_EQ_INT(parse("Basics YWxpY2U6c2VjcmV0"), -1);
    CHECK_EQ_INT(parse("Basi YWxpY2U6c2VjcmV0"), -1);
    CHECK_EQ_INT(parse("YWxpY2U6c2VjcmV0"), -1);
    CHECK_EQ_INT(parse("Basic"), -1);
    CHECK_EQ_INT(parse(""), -1);
}

/* ---- auth_load and auth_lookup ---- */

static char path_[64];
static char err_[512];

/* Writes text to a fresh temporary file and loads it. */
static auth_users *load_len(const char *text, size_t len)
{
    strcpy(path_, "/tmp/test_auth_XXXXXX");
    err_[0] = '\0';
    int fd = mkstemp(path_);
    if (fd < 0) return NULL;
    int ok = write(fd, text, len) == (ssize_t)len;
    close(fd);
    auth_users *u = ok ? auth_load(path_, err_, sizeof err_) : NULL;
    unlink(path_);
    return u;
}

static auth_users *load(const char *text)
{
    return load_len(text, strlen(text));
}

/* err_ is path_ followed by the expected text. */
#define CHECK_ERR(rest)                                                                            \
    do {                                                                                           \
        char want_[512];                                                                           \
        snprintf(want_, sizeof want_, "%s%s", path_, (rest));                                      \
        if (strcmp(err_, want_) != 0) {                                                            \
            failures_++;                                                                           \
            fprintf(stderr, "%s:%d: error is \"%s\",\n    expected \"%s\"\n", __FILE__, __LINE__,  \
                    err_, want_);                                                                  \
        }                                                                                          \
    } while (0)

/* Loading must fail, with the given message, and show nothing of the hash. */
#define CHECK_REFUSED(text, rest, hash)                                                            \
    do {                                                                                           \
        auth_users *u_ = load(text);                                                               \
        CHECK(u_ == NULL);                                                                         \
        auth_free(u_);                                                                             \
        CHECK_ERR(rest);                                                                           \
        CHECK(strstr(err_, (hash)) == NULL);                                                       \
    } while (0)

TEST(load_the_four_formats_with_comments_blanks_and_crlf)
{
    auth_users *u = load("# made with htpasswd and mkpasswd\n"
                         "\n"
                         "alice:" BCRYPT5 "\n"
                         "bob:" SHA512 "\r\n"
                         "   \n"
                         "\r\n"
                         "#carol:nothing\n"
                         "carol:" SHA256 "\n"
                         "dave:" YESCRYPT "\n"
                         "erin:" BCRYPT10); /* no final newline */
    CHECK(u != NULL);
    if (!u) {
        fprintf(stderr, "%s\n", err_);
        return;
    }
    const char *h = auth_lookup(u, S("alice"));
    CHECK(h && strcmp(h, BCRYPT5) == 0);
    h = auth_lookup(u, S("bob"));
    CHECK(h && strcmp(h, SHA512) == 0); /* without the '\r' */
    h = auth_lookup(u, S("carol"));
    CHECK(h && strcmp(h, SHA256) == 0);
    h = auth_lookup(u, S("dave"));
    CHECK(h && strcmp(h, YESCRYPT) == 0);
    h = auth_lookup(u, S("erin"));
    CHECK(h && strcmp(h, BCRYPT10) == 0);

    CHECK(auth_lookup(u, S("mallory")) == NULL);
    CHECK(auth_lookup(u, S("alic")) == NULL);
    CHECK(auth_lookup(u, S("alicex")) == NULL);
    CHECK(auth_lookup(u, S("Alice")) == NULL);
    CHECK(auth_lookup(u, S("#carol")) == NULL);
    CHECK(auth_lookup(u, S("")) == NULL);
    /* A slice, not a C string. */
    CHECK(auth_lookup(u, (htd_str){"bobby", 3}) != NULL);
    auth_free(u);
}

TEST(load_accepts_every_bcrypt_prefix)
{
    auth_users *u = load("a:$2a$05$S4YalFdL56G9kJ94Bu1juuFSkniq0JmQ89jOjV.ysTPHDFb5x2gbm\n"
                         "b:$2b$05$S4YalFdL56G9kJ94Bu1juuFSkniq0JmQ89jOjV.ysTPHDFb5x2gbm\n"
                         "y:" BCRYPT5 "\n");
    CHECK(u != NULL);
    if (!u) return;
    CHECK(auth_verify(auth_lookup(u, S("a")), S("secret")) == 1);
    CHECK(auth_verify(auth_lookup(u, S("b")), S("secret")) == 1);
    CHECK(auth_verify(auth_lookup(u, S("y")), S("secret")) == 1);
    auth_free(u);
}

TEST(load_allows_a_file_of_no_users)
{
    auth_users *u = load("");
    CHECK(u != NULL);
    if (u) CHECK(auth_lookup(u, S("alice")) == NULL);
    auth_free(u);
    u = load("# nobody yet\n\n");
    CHECK(u != NULL);
    auth_free(u);
}

TEST(load_refuses_md5_apr1)
{
    CHECK_REFUSED("# users\nalice:" BCRYPT5 "\neve:" APR1 "\n",
                  ":3: user eve: MD5-apr1 hashes are refused; make the file with htpasswd -B",
                  "9fDqij0s");
}

TEST(load_refuses_sha1)
{
    CHECK_REFUSED("eve:" SHA1 "\n",
                  ":1: user eve: SHA-1 hashes are refused; make the file with htpasswd -B",
                  "5en6G6");
}

TEST(load_refuses_md5_crypt)
{
    CHECK_REFUSED("alice:" BCRYPT5 "\r\n\r\neve:" MD5CRYPT "\r\n",
                  ":3: user eve: MD5-crypt hashes are refused; make the file with htpasswd -B",
                  "XcWuzQbG");
}

TEST(load_refuses_plain_text_and_des)
{
    CHECK_REFUSED("eve:secret\n",
                  ":1: user eve: not a bcrypt, yescrypt or sha-crypt hash; make the file with "
                  "htpasswd -B",
                  "secret");
    CHECK_REFUSED("alice:" BCRYPT5 "\neve:" DES "\n",
                  ":2: user eve: not a bcrypt, yescrypt or sha-crypt hash; make the file with "
                  "htpasswd -B",
                  DES);
    CHECK_REFUSED("eve:\n",
                  ":1: user eve: not a bcrypt, yescrypt or sha-crypt hash; make the file with "
                  "htpasswd -B",
                  "$");
    /* bcrypt's old, buggy variant and scrypt are not among the formats accepted. */
    CHECK_REFUSED("eve:$2x$05$S4YalFdL56G9kJ94Bu1juuFSkniq0JmQ89jOjV.ysTPHDFb5x2gbm\n",
                  ":1: user eve: not a bcrypt, yescrypt or sha-crypt hash; make the file with "
                  "htpasswd -B",
                  "S4Yal");
}

TEST(load_refuses_truncated_or_damaged_hashes)
{
    static const char *const bad[] = {
        "$2y$05$S4YalFdL56G9kJ94Bu1juuFSkniq0JmQ89jOjV.ysTPHDFb5x2gb",   /* one short */
        "$2y$05$S4YalFdL56G9kJ94Bu1juuFSkniq0JmQ89jOjV.ysTPHDFb5x2gbmm", /* one long */
        "$2y$05$S4YalFdL56G9kJ94Bu1juuFSkniq0JmQ89jOjV.ysTPHDFb5x2gb!",
        "$2y$32$S4YalFdL56G9kJ94Bu1juuFSkniq0JmQ89jOjV.ysTPHDFb5x2gbm", /* cost out of range */
        "$2y$03$S4YalFdL56G9kJ94Bu1juuFSkniq0JmQ89jOjV.ysTPHDFb5x2gbm",
        "$2y$05$",
        "$6$GLWWyksik8aQiVms$",
        "$6$GLWWyksik8aQiVms",
        "$6$",
        "$6$GLWWyksik8aQiVms$Fe61Hn8RIf6PAh", /* checksum cut */
        SHA256 "x",
        "$5$rounds=999$BduqLnpuNvxnCjZQ$1pVIFs4HcqgEgL1IGYbhJJkEuzp70TtAaXhrWcqgLh1",
        "$5$rounds=05000$BduqLnpuNvxnCjZQ$1pVIFs4HcqgEgL1IGYbhJJkEuzp70TtAaXhrWcqgLh1",
        "$5$BduqLnpuNvxnCjZQBduq$1pVIFs4HcqgEgL1IGYbhJJkEuzp70TtAaXhrWcqgLh1", /* salt > 16 */
        "$y$j9T$xOoyQLcDZNFFxuMw5x3FG/$",
        "$y$j9T$xOoyQLcDZNFFxuMw5x3FG/",
        "$y$",
        "$y$j9T$$d1mD8pVMcG6W8g7EvFEEvvwX.Rwu7QNnHY2bCINnwDC",
        YESCRYPT " ", /* trailing space */
        BCRYPT5 ":extra:fields",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "eve:%s\n", bad[i]);
        CHECK_REFUSED(text,
                      ":1: user eve: malformed hash (truncated or damaged?); make the file with "
                      "htpasswd -B",
                      bad[i]);
    }
}

TEST(load_accepts_sha_crypt_with_rounds)
{
    /* mkpasswd -m sha-512 -R 5000 -S GLWWyksik8aQiVms secret: rounds spelled out. */
    auth_users *u = load("bob:$6$rounds=5000$GLWWyksik8aQiVms$Fe61Hn8RIf6PAh.O2LO//"
                         "6FCCbz15yLAuNaNZVPntZn2qR9UR2ya2.o/gedkqOFadmhrXPXM7/Brf6p5kEgC61\n");
    CHECK(u != NULL);
    if (u) CHECK_EQ_INT(auth_verify(auth_lookup(u, S("bob")), S("secret")), 1);
    auth_free(u);
}

TEST(load_refuses_a_line_without_a_colon)
{
    CHECK_REFUSED("alice:" BCRYPT5 "\nsecretpassword\n", ":2: no ':' between user name and hash",
                  "secretpassword");
}

TEST(load_refuses_an_empty_user_name)
{
    CHECK_REFUSED(":" BCRYPT5 "\n", ":1: empty user name", "S4Yal");
}

TEST(load_refuses_control_characters_in_a_user_name)
{
    CHECK_REFUSED("al\tice:" BCRYPT5 "\n", ":1: user name contains control characters", "S4Yal");
    CHECK_REFUSED("al\x7f"
                  "ice:" BCRYPT5 "\n",
                  ":1: user name contains control characters", "S4Yal");
    /* A CR in the middle, not the end of the line, is part of the name. */
    CHECK_REFUSED("al\rice:" BCRYPT5 "\n", ":1: user name contains control characters", "S4Yal");
    auth_users *u = load_len("al\0ice:" BCRYPT5 "\n", 7 + 60 + 1);
    CHECK(u == NULL);
    auth_free(u);
    CHECK_ERR(":1: user name contains control characters");
}

TEST(load_refuses_a_duplicate_user)
{
    CHECK_REFUSED("alice:" BCRYPT5 "\nbob:" SHA512 "\nalice:" YESCRYPT "\n",
                  ":3: user alice: duplicate user (first on line 1)", "S4Yal");
    /* The first repeat in the file is the one reported. */
    CHECK_REFUSED("zed:" BCRYPT5 "\nalice:" BCRYPT5 "\nzed:" BCRYPT5 "\nalice:" BCRYPT5
                  "\nzed:" BCRYPT5 "\n",
                  ":3: user zed: duplicate user (first on line 1)", "S4Yal");
    CHECK_REFUSED("alice:" BCRYPT5 "\nbob:" SHA512 "\nbob:" BCRYPT5 "\nalice:" BCRYPT5 "\n",
                  ":3: user bob: duplicate user (first on line 2)", "S4Yal");
}

TEST(load_text_is_the_file_loader_without_the_file)
{
    static const char text[] = "# users\nalice:" BCRYPT5 "\r\nbob:" SHA512 "\n\ncarol:" APR1;
    auth_users *u = auth_load_text(text, sizeof text - 1, "mem", err_, sizeof err_);
    CHECK(u == NULL);
    CHECK(strcmp(err_, "mem:5: user carol: MD5-apr1 hashes are refused; make the file with "
                       "htpasswd -B") == 0);
    /* The same file, cut before carol's line; not NUL-terminated where it is cut. */
    size_t len = (size_t)(strstr(text, "carol") - text);
    u = auth_load_text(text, len, "mem", err_, sizeof err_);
    CHECK(u != NULL);
    if (!u) return;
    const char *h = auth_lookup(u, S("alice"));
    CHECK(h && strcmp(h, BCRYPT5) == 0);
    h = auth_lookup(u, S("bob"));
    CHECK(h && strcmp(h, SHA512) == 0);
    CHECK(auth_lookup(u, S("carol")) == NULL);
    auth_free(u);
    u = auth_load_text("", 0, "empty", err_, sizeof err_);
    CHECK(u != NULL && auth_dummy(u) == NULL);
    auth_free(u);
}

TEST(load_reports_a_missing_file)
{
    auth_users *u = auth_load("/nonexistent/htpasswd", err_, sizeof err_);
    CHECK(u == NULL);
    CHECK(strcmp(err_, "cannot read /nonexistent/htpasswd: No such file or directory") == 0);
    u = auth_load("/tmp", err_, sizeof err_);
    CHECK(u == NULL);
    CHECK(strcmp(err_, "cannot read /tmp: Is a directory") == 0);
}

TEST(load_truncates_a_long_message_to_errlen)
{
    char small[16];
    memset(small, 'x', sizeof small);
    auth_users *u = auth_load("/nonexistent/htpasswd", small, sizeof small);
    CHECK(u == NULL);
    CHECK(memchr(small, '\0', sizeof small) != NULL);
    CHECK(strncmp(small, "cannot read /no", sizeof small) == 0);
}

TEST(lookup_finds_every_user_of_a_large_file)
{
    enum { N = 2000 };
    size_t cap = (size_t)N * 80;
    char *text = malloc(cap);
    if (!text) return;
    size_t len = 0;
    /* Written in an order that is not sorted, of names of different lengths. */
    for (int i = 0; i < N; i++) {
        int k = (i * 7919) % N;
        len += (size_t)snprintf(text + len, cap - len, "u%d:%s\n", k, BCRYPT5);
    }
    auth_users *u = load_len(text, len);
    free(text);
    CHECK(u != NULL);
    if (!u) return;
    int found = 0;
    for (int i = 0; i < N; i++) {
        char name[16];
        snprintf(name, sizeof name, "u%d", i);
        found += auth_lookup(u, S(name)) != NULL;
    }
    CHECK_EQ_INT(found, N);
    CHECK(auth_lookup(u, S("u2000")) == NULL);
    CHECK(auth_lookup(u, S("u")) == NULL);
    CHECK(auth_lookup(u, S("u-1")) == NULL);
    auth_free(u);
}

/* ---- auth_verify ---- */

TEST(verify_each_format)
{
    static const char *const hashes[] = {BCRYPT5, BCRYPT10, SHA512, SHA256, YESCRYPT};
    for (size_t i = 0; i < sizeof hashes / sizeof hashes[0]; i++) {
        CHECK_EQ_INT(auth_verify(hashes[i], S("secret")), 1);
        CHECK_EQ_INT(auth_verify(hashes[i], S("Secret")), 0);
        CHECK_EQ_INT(auth_verify(hashes[i], S("secret ")), 0);
        CHECK_EQ_INT(auth_verify(hashes[i], S("")), 0);
    }
}

TEST(verify_takes_a_slice)
{
    /* Not NUL-terminated where it ends. */
    CHECK_EQ_INT(auth_verify(SHA512, (htd_str){"secretive", 6}), 1);
    CHECK_EQ_INT(auth_verify(SHA512, (htd_str){"secret", 5}), 0);
}

TEST(verify_refuses_passwords_crypt_cannot_take)
{
    /* An embedded NUL would make crypt see "secret". */
    CHECK_EQ_INT(auth_verify(SHA512, (htd_str){"secret\0x", 8}), 0);
    CHECK_EQ_INT(auth_verify(SHA512, (htd_str){"secret", 7}), 0);
    static char longpass[4096];
    memset(longpass, 'a', sizeof longpass);
    CHECK_EQ_INT(auth_verify(SHA512, (htd_str){longpass, sizeof longpass}), 0);
}

TEST(verify_an_unknown_user_is_never_a_match)
{
    CHECK_EQ_INT(auth_verify(NULL, S("secret")), 0);
    CHECK_EQ_INT(auth_verify(NULL, S("")), 0);
    CHECK_EQ_INT(auth_verify(NULL, (htd_str){NULL, 0}), 0);
}

TEST(verify_a_hash_crypt_refuses_is_not_a_match)
{
    CHECK_EQ_INT(auth_verify("*", S("secret")), 0);
    CHECK_EQ_INT(auth_verify("", S("")), 0);
    CHECK_EQ_INT(auth_verify("$2y$05$", S("secret")), 0);
}

/* ---- the cache ---- */

TEST(cache_hits_what_was_added)
{
    auth_cache *c = auth_cache_new();
    CHECK(c != NULL);
    if (!c) return;
    CHECK_EQ_INT(auth_cache_check(c, S("alice"), S("secret"), BCRYPT5, 0), 0);
    CHECK_EQ_INT(auth_cache_check(c, S("alice"), S("secret"), BCRYPT5, 1000), 0);
    auth_cache_add(c, S("alice"), S("secret"), BCRYPT5, 1000);
    CHECK_EQ_INT(auth_cache_check(c, S("alice"), S("secret"), BCRYPT5, 1000), 1);
    CHECK_EQ_INT(auth_cache_check(c, S("alice"), S("secret"), BCRYPT5, 2000), 1);
    /* Slices, as they come from the parser. */
    CHECK_EQ_INT(
        auth_cache_check(c, (htd_str){"alice:", 5}, (htd_str){"secretX", 6}, BCRYPT5, 2000), 1);
    auth_cache_free(c);
}

TEST(cache_misses_another_password_or_user)
{
    auth_cache *c = auth_cache_new();
    if (!c) return;
    auth_cache_add(c, S("alice"), S("secret"), BCRYPT5, 0);
    CHECK_EQ_INT(auth_cache_check(c, S("alice"), S("Secret"), BCRYPT5, 1), 0);
    CHECK_EQ_INT(auth_cache_check(c, S("alice"), S(""), BCRYPT5, 1), 0);
    CHECK_EQ_INT(auth_cache_check(c, S("bob"), S("secret"), BCRYPT5, 1), 0);
    /* The boundary between user and password is part of the key. */
    auth_cache_add(c, S("ab"), S("c"), BCRYPT5, 0);
    CHECK_EQ_INT(auth_cache_check(c, S("ab"), S("c"), BCRYPT5, 1), 1);
    CHECK_EQ_INT(auth_cache_check(c, S("a"), S("bc"), BCRYPT5, 1), 0);
    CHECK_EQ_INT(auth_cache_check(c, S("abc"), S(""), BCRYPT5, 1), 0);
    auth_cache_free(c);
}

TEST(cache_misses_once_the_stored_hash_changed)
{
    auth_cache *c = auth_cache_new();
    if (!c) return;
    auth_cache_add(c, S("alice"), S("secret"), BCRYPT5, 0);
    CHECK_EQ_INT(auth_cache_check(c, S("alice"), S("secret"), BCRYPT10, 1), 0);
    CHECK_EQ_INT(auth_cache_check(c, S("alice"), S("secret"), NULL, 1), 0);
    CHECK_EQ_INT(auth_cache_check(c, S("alice"), S("secret"), BCRYPT5, 1), 1);
    auth_cache_free(c);
}

TEST(cache_entries_expire_after_the_ttl)
{
    auth_cache *c = auth_cache_new();
    if (!c) return;
    uint64_t t0 = 5000000;
    auth_cache_add(c, S("alice"), S("secret"), BCRYPT5, t0);
    CHECK_EQ_INT(auth_cache_check(c, S("alice"), S("secret"), BCRYPT5, t0 + AUTH_CACHE_TTL_MS - 1),
                 1);
    CHECK_EQ_INT(auth_cache_check(c, S("alice"), S("secret"), BCRYPT5, t0 + AUTH_CACHE_TTL_MS), 0);
    /* Adding again starts a new lifetime. */
    auth_cache_add(c, S("alice"), S("secret"), BCRYPT5, t0 + AUTH_CACHE_TTL_MS);
    CHECK_EQ_INT(
        auth_cache_check(c, S("alice"), S("secret"), BCRYPT5, t0 + 2 * AUTH_CACHE_TTL_MS - 1), 1);
    /* A clock near its end does not wrap the expiry into the past. */
    auth_cache_add(c, S("bob"), S("secret"), SHA512, UINT64_MAX - 10);
    CHECK_EQ_INT(auth_cache_check(c, S("bob"), S("secret"), SHA512, UINT64_MAX - 1), 1);
    auth_cache_free(c);
}

TEST(cache_ignores_unknown_users)
{
    auth_cache *c = auth_cache_new();
    if (!c) return;
    auth_cache_add(c, S("mallory"), S("x"), NULL, 0);
    CHECK_EQ_INT(auth_cache_check(c, S("mallory"), S("x"), NULL, 1), 0);
    auth_cache_free(c);
    auth_cache_free(NULL);
}

int main(void)
{
    RUN_TESTS();
}
