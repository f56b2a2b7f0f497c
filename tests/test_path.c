/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_path.c - htd_path_normalize: dot segments, every spelling of "..",
 * percent-decoding errors, the output capacity, and a comparison with a
 * plain decode-then-split model over many random paths; htd_pct_encode, with
 * its sets and capacity; htd_path_under, the whole-segment prefix rule;
 * htd_path_hidden, the dotfile rule.
 */
#include "path.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

static const char *why_;
static char out_[256];

/* Normalises s into out_ (of capacity cap) and returns the result's length,
 * or -1 with why_ set. */
static int norm_cap(const char *s, size_t cap)
{
    /* An exact-size copy without a NUL, so ASan sees any read past len. */
    size_t len = strlen(s);
    char *copy = malloc(len ? len : 1);
    if (!copy) return -2;
    memcpy(copy, s, len);
    why_ = NULL;
    int n = htd_path_normalize(copy, len, out_, cap, &why_);
    free(copy);
    if (n >= 0) {
        CHECK_EQ_INT(strlen(out_), n);
        CHECK(why_ == NULL);
    } else {
        CHECK(why_ != NULL);
        if (cap > 0) CHECK(out_[0] == '\0');
    }
    return n;
}

#define OK(in, want)                                                                               \
    do {                                                                                           \
        int n_ = norm_cap((in), sizeof out_);                                                      \
        CHECK(n_ >= 0);                                                                            \
        if (n_ >= 0)                                                                               \
            CHECK_STR(out_, n_, want);                                                             \
        else                                                                                       \
            fprintf(stderr, "  (\"%s\" failed: %s)\n", (in), why_);                                \
    } while (0)

#define ERR(in, msg)                                                                               \
    do {                                                                                           \
        int n_ = norm_cap((in), sizeof out_);                                                      \
        CHECK_EQ_INT(n_, -1);                                                                      \
        if (n_ < 0)                                                                                \
            CHECK_STR(why_, strlen(why_), msg);                                                    \
        else                                                                                       \
            fprintf(stderr, "  (\"%s\" gave \"%s\")\n", (in), out_);                               \
    } while (0)

#define ESCAPES "path escapes the document root"
#define BAD_PCT "bad percent-encoding"
#define NUL_BYTE "NUL byte in path"
#define TOO_LONG "path too long"
#define NO_SLASH "path does not start with '/'"

TEST(plain_paths_are_unchanged)
{
    OK("/", "/");
    OK("/index.html", "/index.html");
    OK("/a/b/c", "/a/b/c");
    OK("/a/b/c/", "/a/b/c/");
    OK("/a b/c+d;e=f,g", "/a b/c+d;e=f,g");
}

TEST(single_dots_are_dropped)
{
    OK("/.", "/");
    OK("/./", "/");
    OK("/./a", "/a");
    OK("/a/./b/", "/a/b/");
    OK("/a/././b", "/a/b");
    OK("/a/b/.", "/a/b/");
    OK("/a/b/./", "/a/b/");
}

TEST(double_dots_pop_a_segment)
{
    OK("/a/b/../c", "/a/c");
    OK("/a/b/..", "/a/");
    OK("/a/b/../", "/a/");
    OK("/a/..", "/");
    OK("/a/../", "/");
    OK("/a/b/../../c", "/c");
    OK("/a/b/c/../../d/./e/..", "/a/d/");
    OK("/a//b//..//c", "/a/c");
    OK("/long-name/../x", "/x");
}

TEST(climbing_above_the_root_is_an_error)
{
    ERR("/..", ESCAPES);
    ERR("/../", ESCAPES);
    ERR("/../a", ESCAPES);
    ERR("/a/../../b", ESCAPES);
    ERR("/a/b/../../..", ESCAPES);
    ERR("/./..", ESCAPES);
    ERR("//..", ESCAPES);
    ERR("/a/../b/../..", ESCAPES);
}

TEST(dots_that_are_not_dot_segments_are_names)
{
    OK("/...", "/...");
    OK("/a/.../b", "/a/.../b");
    OK("/.hidden", "/.hidden");
    OK("/..a", "/..a");
    OK("/a..", "/a..");
    OK("/a/.b/..c/", "/a/.b/..c/");
    OK("/..../..", "/");
}

TEST(encoded_dots_and_slashes_are_resolved_like_plain_ones)
{
    ERR("/%2e%2e", ESCAPES);
    ERR("/%2E%2e%2f", ESCAPES);
    ERR("/%2e%2E/etc/passwd", ESCAPES);
    ERR("/..%2f", ESCAPES);
    ERR("/..%2Fetc%2fpasswd", ESCAPES);
    ERR("/.%2e/", ESCAPES);
    ERR("/%2e./x", ESCAPES);
    ERR("/a%2f..%2f..", ESCAPES);
    OK("/a/%2e%2e", "/");
    OK("/a/%2E%2e%2fb", "/b");
    OK("/a/..%2fb", "/b");
    OK("/a/%2e%2e/", "/");
    OK("/%2e", "/");
    OK("/a/%2e/b", "/a/b");
    OK("/a%2Fb", "/a/b");
    OK("/a%2f%2fb", "/a/b");
    OK("/a/b%2F", "/a/b/");
    OK("/%2fa", "/a");
}

TEST(decoding_happens_once)
{
    OK("/%252e%252e", "/%2e%2e");
    OK("/a/%252e%252e/b", "/a/%2e%2e/b");
    OK("/%252F", "/%2F");
    OK("/%25", "/%");
    OK("/100%25", "/100%");
}

TEST(percent_escapes_decode_either_case)
{
    OK("/%41%62%7A%5a", "/AbzZ");
    OK("/%C3%A9", "/\xC3\xA9");
    OK("/caf%c3%a9.html", "/caf\xC3\xA9.html");
    OK("/%e2%82%AC/", "/\xE2\x82\xAC/");
    OK("/a%20b", "/a b");
    OK("/%ff", "/\xff");
}

TEST(bad_percent_escapes_are_errors)
{
    ERR("/%zz", BAD_PCT);
    ERR("/%4", BAD_PCT);
    ERR("/a%4", BAD_PCT);
    ERR("/%4g", BAD_PCT);
    ERR("/%g4", BAD_PCT);
    ERR("/%", BAD_PCT);
    ERR("/a/b%", BAD_PCT);
    ERR("/%%41", BAD_PCT);
    ERR("/% 1", BAD_PCT);
    ERR("/%-1", BAD_PCT);
    ERR("/%+1", BAD_PCT);
    ERR("/ok/%2", BAD_PCT);
}

TEST(nul_bytes_are_errors)
{
    ERR("/%00", NUL_BYTE);
    ERR("/a%00b", NUL_BYTE);
    ERR("/a/%00/../b", NUL_BYTE);
    const char raw[] = "/a\0b";
    const char *why = NULL;
    char out[16];
    CHECK_EQ_INT(htd_path_normalize(raw, 4, out, sizeof out, &why), -1);
    CHECK(why != NULL && strcmp(why, NUL_BYTE) == 0);
}

TEST(runs_of_slashes_collapse)
{
    OK("//a///b", "/a/b");
    OK("//", "/");
    OK("///", "/");
    OK("/a//", "/a/");
    OK("//a//b//", "/a/b/");
}

TEST(input_must_start_with_a_slash)
{
    ERR("", NO_SLASH);
    ERR("a/b", NO_SLASH);
    ERR(".", NO_SLASH);
    ERR("*", NO_SLASH);
    ERR("%2Fa", NO_SLASH);
    ERR("http://example.com/", NO_SLASH);
}

TEST(reads_only_len_bytes)
{
    const char *s = "/a/b?x=../..";
    char out[16];
    const char *why = NULL;
    CHECK_EQ_INT(htd_path_normalize(s, 4, out, sizeof out, &why), 4);
    CHECK_STR(out, 4, "/a/b");
    /* A '%' whose hex digits lie beyond len is cut short. */
    CHECK_EQ_INT(htd_path_normalize("/a%41", 4, out, sizeof out, &why), -1);
    CHECK(strcmp(why, BAD_PCT) == 0);
}

TEST(output_must_fit_with_its_nul)
{
    CHECK_EQ_INT(norm_cap("/abc", 5), 4);
    CHECK_STR(out_, 4, "/abc");
    CHECK_EQ_INT(norm_cap("/abc", 4), -1);
    CHECK(strcmp(why_, TOO_LONG) == 0);
    CHECK_EQ_INT(norm_cap("/ab/", 5), 4);
    CHECK_EQ_INT(norm_cap("/ab/", 4), -1);
    CHECK_EQ_INT(norm_cap("/ab/.", 5), 4);
    CHECK_EQ_INT(norm_cap("/ab/.", 4), -1);
    CHECK_EQ_INT(norm_cap("/", 2), 1);
    CHECK_EQ_INT(norm_cap("/", 1), -1);
    CHECK(strcmp(why_, TOO_LONG) == 0);
    CHECK_EQ_INT(norm_cap("/a%41", 4), 3); /* the decoded length counts */
    CHECK_STR(out_, 3, "/aA");
}

TEST(zero_capacity_writes_nothing)
{
    char out[4] = "xyz";
    const char *why = NULL;
    CHECK_EQ_INT(htd_path_normalize("/", 1, out, 0, &why), -1);
    CHECK(why && strcmp(why, TOO_LONG) == 0);
    CHECK(out[0] == 'x');
}

TEST(intermediate_forms_may_exceed_the_capacity)
{
    CHECK_EQ_INT(norm_cap("/aaaaaaaaaaaaaaaaaaaa/../x", 3), 2);
    CHECK_STR(out_, 2, "/x");
    CHECK_EQ_INT(norm_cap("/aaaa/bbbb/cccc/../../../d", 3), 2);
    CHECK_STR(out_, 2, "/d");
    CHECK_EQ_INT(norm_cap("/a/bbbbbbbbbb/../../c", 3), 2);
    CHECK_STR(out_, 2, "/c");
    CHECK_EQ_INT(norm_cap("/ab/cccccccc/dd/../../ef", 8), 6);
    CHECK_STR(out_, 6, "/ab/ef");
    CHECK_EQ_INT(norm_cap("/ab/cccccccc/dd/../x", 8), -1);
    CHECK(strcmp(why_, TOO_LONG) == 0);
    CHECK_EQ_INT(norm_cap("/aaaaaaaa/..", 3), 1);
    CHECK_EQ_INT(norm_cap("/aaaaaaaa/../", 3), 1);
    CHECK_EQ_INT(norm_cap("/a/bbbbbbbb/..", 4), 3);
    CHECK_STR(out_, 3, "/a/");
}

TEST(errors_past_the_capacity_are_still_found)
{
    CHECK_EQ_INT(norm_cap("/aaaaaaaa/bbbbbbbb/%zz", 4), -1);
    CHECK(strcmp(why_, BAD_PCT) == 0);
    CHECK_EQ_INT(norm_cap("/aaaaaaaa/%00", 4), -1);
    CHECK(strcmp(why_, NUL_BYTE) == 0);
    CHECK_EQ_INT(norm_cap("/aaaaaaaa/../../b", 4), -1);
    CHECK(strcmp(why_, ESCAPES) == 0);
}

TEST(why_may_be_null)
{
    char out[8];
    CHECK_EQ_INT(htd_path_normalize("/..", 3, out, sizeof out, NULL), -1);
    CHECK_EQ_INT(htd_path_normalize("/a", 2, out, sizeof out, NULL), 2);
}

/*
 * The model: decode everything, split on '/', keep a stack of names. Slow and
 * plain, to hold the one-pass version to the same answers.
 */
static int model(const char *in, size_t len, char *out, size_t cap)
{
    char dec[128];
    size_t d = 0;
    if (len == 0 || in[0] != '/') return -1;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)in[i];
        if (c == '%') {
            unsigned v;
            char hex[3] = {0};
            if (i + 2 >= len) return -1;
            memcpy(hex, in + i + 1, 2);
            if (!strchr("0123456789abcdefABCDEF", hex[0]) || !hex[0] ||
                !strchr("0123456789abcdefABCDEF", hex[1]) || !hex[1] || sscanf(hex, "%2x", &v) != 1)
                return -1;
            c = (int)v;
            i += 2;
        }
        if (c == 0) return -1;
        dec[d++] = (char)c;
    }
    const char *names[64];
    size_t lens[64];
    int depth = 0, trailing = 1;
    for (size_t i = 1; i <= d;) {
        size_t j = i;
        while (j < d && dec[j] != '/')
            j++;
        size_t l = j - i;
        trailing = 1;
        if (l == 0 || (l == 1 && dec[i] == '.')) {
        } else if (l == 2 && dec[i] == '.' && dec[i + 1] == '.') {
            if (depth == 0) return -1;
            depth--;
        } else {
            names[depth] = dec + i;
            lens[depth++] = l;
            trailing = j < d;
        }
        i = j + 1;
    }
    char res[256];
    size_t n = 0;
    res[n++] = '/';
    for (int k = 0; k < depth; k++) {
        memcpy(res + n, names[k], lens[k]);
        n += lens[k];
        if (k + 1 < depth || trailing) res[n++] = '/';
    }
    if (n + 1 > cap) return -1;
    memcpy(out, res, n);
    out[n] = '\0';
    return (int)n;
}

/* The rule as written: a '/' followed by a '.', but the one of a top-level
 * /.well-known segment. */
static int hidden_model(const char *path, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (path[i] != '/' || path[i + 1] != '.') continue;
        if (i == 0 && len >= 12 && memcmp(path + 1, ".well-known", 11) == 0 &&
            (len == 12 || path[12] == '/'))
            continue;
        return 1;
    }
    return 0;
}

/* Long paths, which are looked at eight bytes at a time: a dot segment, an
 * empty one, an escape or a hidden name at every place of one, against the
 * model. */
TEST(each_thing_to_look_at_is_seen_at_every_place_of_a_long_path)
{
    static const char base[] = "/abcdefgh/ijklmnopqrstu/vwxyz0123456789/ABCDEFGHIJ";
    static const char *const inserts[] = {"/.", "/..", "/./", "/../", "//", "%41", "%2e", "/.x"};
    for (size_t at = 1; at < sizeof base - 1; at++) {
        for (size_t k = 0; k < sizeof inserts / sizeof *inserts; k++) {
            char in[96], got[96], want[96];
            size_t il = strlen(inserts[k]);
            memcpy(in, base, at);
            memcpy(in + at, inserts[k], il);
            memcpy(in + at + il, base + at, sizeof base - at); /* with the NUL */
            size_t len = strlen(in);
            char *copy = malloc(len);
            if (!copy) return;
            memcpy(copy, in, len);
            const char *why = NULL;
            int g = htd_path_normalize(copy, len, got, sizeof got, &why);
            int w = model(in, len, want, sizeof want);
            CHECK_EQ_INT(g, w);
            if (g >= 0 && w >= 0 && strcmp(got, want) != 0) {
                failures_++;
                fprintf(stderr, "\"%s\": got \"%s\", model \"%s\"\n", in, got, want);
            }
            CHECK_EQ_INT(htd_path_hidden(copy, len), hidden_model(in, len));
            free(copy);
        }
    }
}

/* Random paths over alphabet, each against the model. */
static void against_the_model(const char *alphabet, size_t nalpha)
{
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    int bad = 0;
    for (int iter = 0; iter < 300000 && bad < 10; iter++) {
        char in[40], got[64], want[64];
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t len = 1 + x % 24, cap = 1 + (x >> 8) % 30;
        in[0] = (x >> 20) % 16 ? '/' : 'a';
        for (size_t i = 1; i < len; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            in[i] = alphabet[x % nalpha];
        }
        in[len] = '\0';
        const char *why = NULL;
        char *copy = malloc(len);
        if (!copy) break;
        memcpy(copy, in, len);
        int dotless;
        int g = htd_path_normalize_dotless(copy, len, got, cap, &why, &dotless);
        free(copy);
        /* A path said to have no segment that starts with '.' has none. */
        if (dotless) CHECK(g >= 0 && !hidden_model(got, (size_t)g));
        int w = model(in, len, want, cap);
        if (g != w || (g >= 0 && memcmp(got, want, (size_t)g + 1) != 0) ||
            (g < 0) != (why != NULL)) {
            bad++;
            failures_++;
            fprintf(stderr, "\"%s\" cap %zu: got %d \"%s\" (%s), model %d \"%s\"\n", in, cap, g,
                    g >= 0 ? got : "", why ? why : "-", w, w >= 0 ? want : "");
        }
        if (g >= 0) {
            CHECK(got[0] == '/');
            CHECK(strstr(got, "//") == NULL);
            CHECK(strstr(got, "/./") == NULL);
            CHECK(strstr(got, "/../") == NULL);
        }
    }
}

TEST(agrees_with_the_model_on_random_paths)
{
    static const char alphabet[] = "//..ab%%2eEfF0gzC3";
    against_the_model(alphabet, sizeof alphabet - 1);
}

/* Mostly paths already normal, which take the copy (plain), with now and
 * then a dot or a second slash that sends them down the whole pass. */
TEST(agrees_with_the_model_on_mostly_plain_paths)
{
    static const char alphabet[] = "abcxyz019-_~+/////.";
    against_the_model(alphabet, sizeof alphabet - 1);
}

/* A path already its own normal form, with no "/.", is said to be dotless
 * (htd_path_hidden need not look); any other is not, hidden or not. */
TEST(dotless_is_said_of_plain_paths_only)
{
    static const struct {
        const char *in;
        int dotless;
    } cases[] = {
        {"/", 1},
        {"/1k.bin", 1},
        {"/a/b.c/d", 1},
        {"/a.b/", 1},
        {"/abcdefghijklmnopq/r.s", 1},
        {"/a/.b", 0},
        {"/.env", 0},
        {"/.well-known/x", 0},
        {"/a/%2eb", 0},
        {"/a//b", 0},
        {"/a/./b", 0},
        {"/a/../b", 0},
        {"/%41", 0},
        {"/abcdefgh/ijklmno/.p", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[64];
        int dotless = -1;
        const char *why;
        int n = htd_path_normalize_dotless(cases[i].in, strlen(cases[i].in), out, sizeof out, &why,
                                           &dotless);
        CHECK(n >= 0);
        if (dotless != cases[i].dotless)
            fprintf(stderr, "  \"%s\": dotless %d\n", cases[i].in, dotless);
        CHECK_EQ_INT(dotless, cases[i].dotless);
    }
    int dotless = -1;
    char out[8];
    CHECK_EQ_INT(htd_path_normalize_dotless("x", 1, out, sizeof out, NULL, &dotless), -1);
    CHECK_EQ_INT(dotless, 0);
}

/* --- htd_pct_encode ------------------------------------------------------ */

/* Encodes in (of length len) with keep into enc_ of capacity cap; returns
 * what htd_pct_encode returned. */
static char enc_[64];
static size_t enc(const char *in, size_t len, const char *keep, size_t cap)
{
    memset(enc_, '#', sizeof enc_);
    return htd_pct_encode(in, len, keep, enc_, cap);
}

TEST(pct_encode_keeps_letters_digits_and_the_set)
{
    size_t n = enc("Az09-._~", 8, "-._~", sizeof enc_);
    CHECK_STR(enc_, n, "Az09-._~");
    n = enc("a b/c?d", 7, "/", sizeof enc_);
    CHECK_STR(enc_, n, "a%20b/c%3Fd");
    n = enc("a/b", 3, "", sizeof enc_);
    CHECK_STR(enc_, n, "a%2Fb");
    n = enc("50%", 3, HTD_PCT_PATH, sizeof enc_);
    CHECK_STR(enc_, n, "50%25");
    n = enc("/a b/it's;x=1", 13, HTD_PCT_PATH, sizeof enc_);
    CHECK_STR(enc_, n, "/a%20b/it's;x=1");
}

TEST(pct_encode_writes_upper_case_hex_for_any_byte)
{
    size_t n = enc("\0\r\n\x7f\x80\xff\xc3\xa9", 8, HTD_PCT_PATH, sizeof enc_);
    CHECK_STR(enc_, n, "%00%0D%0A%7F%80%FF%C3%A9");
    /* NUL is never in a set, though strchr finds every string's end. */
    n = enc("\0", 1, "-", sizeof enc_);
    CHECK_STR(enc_, n, "%00");
    for (int c = 0; c < 256; c++) {
        char in = (char)c;
        int letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        CHECK_EQ_INT(enc(&in, 1, "", sizeof enc_), letter ? 1 : 3);
    }
}

TEST(pct_encode_writes_whole_bytes_only_and_returns_the_full_length)
{
    CHECK_EQ_INT(enc("ab cd", 5, "", 0), 7);
    CHECK_EQ_INT(enc_[0], '#');
    CHECK_EQ_INT(enc("ab cd", 5, "", 3), 7);
    CHECK_STR(enc_, 3, "ab#"); /* "%20" did not fit, and is not begun */
    CHECK_EQ_INT(enc("ab cd", 5, "", 5), 7);
    CHECK_STR(enc_, 6, "ab%20#");
    CHECK_EQ_INT(enc("ab cd", 5, "", 7), 7);
    CHECK_STR(enc_, 8, "ab%20cd#");
    CHECK_EQ_INT(enc("", 0, "", sizeof enc_), 0);
}

TEST(path_uri_encodes_as_a_path_and_never_starts_with_two_slashes)
{
    memset(enc_, '#', sizeof enc_);
    size_t n = htd_path_uri("/up/loc.txt", 11, enc_, sizeof enc_);
    CHECK_STR(enc_, n, "/up/loc.txt");
    n = htd_path_uri("/a b/50%/it's", 13, enc_, sizeof enc_);
    CHECK_STR(enc_, n, "/a%20b/50%25/it's");
    n = htd_path_uri("//evil.example/x", 16, enc_, sizeof enc_);
    CHECK_STR(enc_, n, "/%2Fevil.example/x");
    n = htd_path_uri("/\\evil.example", 14, enc_, sizeof enc_);
    CHECK_STR(enc_, n, "/%5Cevil.example");
    n = htd_path_uri("/a//b", 5, enc_, sizeof enc_); /* only the start matters */
    CHECK_STR(enc_, n, "/a//b");
    n = htd_path_uri("/", 1, enc_, sizeof enc_);
    CHECK_STR(enc_, n, "/");
    CHECK_EQ_INT(htd_path_uri("", 0, enc_, sizeof enc_), 0);
    /* Whole bytes only, the full length returned, as htd_pct_encode. */
    memset(enc_, '#', sizeof enc_);
    CHECK_EQ_INT(htd_path_uri("//x", 3, enc_, 3), 5);
    CHECK_STR(enc_, 3, "/##");
    CHECK_EQ_INT(htd_path_uri("//x", 3, enc_, 4), 5);
    CHECK_STR(enc_, 5, "/%2F#");
    CHECK_EQ_INT(htd_path_uri("/a b", 4, enc_, 0), 6);
}

/* --- htd_path_under ------------------------------------------------------ */

/* path under prefix, both copied to exact-size buffers so ASan sees any read
 * past either length. */
static int under(const char *path, const char *prefix)
{
    size_t len = strlen(path), plen = strlen(prefix);
    char *p = malloc(len ? len : 1), *q = malloc(plen ? plen : 1);
    int r = -1;
    if (p && q) {
        memcpy(p, path, len);
        memcpy(q, prefix, plen);
        r = htd_path_under(p, len, q, plen);
    }
    free(p);
    free(q);
    return r;
}

/* The rule, case by case: {path, prefix, whether path is under prefix}. */
static const struct {
    const char *path, *prefix;
    int want;
} under_cases[] = {
    /* whole segments */
    {"/hello", "/hello", 1},
    {"/hello/", "/hello", 1},
    {"/hello/x", "/hello", 1},
    {"/hello/x/y.txt", "/hello", 1},
    {"/a/b/c", "/a/b", 1},
    {"/helloworld", "/hello", 0},
    {"/hello.txt", "/hello", 0},
    {"/hell", "/hello", 0},
    {"/", "/hello", 0},
    {"/Hello", "/hello", 0},
    {"/other/hello", "/hello", 0},
    {"/a/bc", "/a/b", 0},
    /* a prefix ending in '/' matches what starts with it */
    {"/cgi-bin/", "/cgi-bin/", 1},
    {"/cgi-bin/x", "/cgi-bin/", 1},
    {"/cgi-bin/x/y", "/cgi-bin/", 1},
    {"/cgi-bin", "/cgi-bin/", 0},
    {"/cgi-binx/", "/cgi-bin/", 0},
    /* the root and the empty prefix match every path */
    {"/", "/", 1},
    {"/a", "/", 1},
    {"/a/", "/", 1},
    {"/hello/world", "/", 1},
    {"/", "", 1},
    {"/a", "", 1},
    {"/hello/world", "", 1},
    {"", "", 1},
    /* a prefix longer than the path never matches */
    {"/a", "/a/", 0},
    {"/a", "/a/b", 0},
    {"", "/", 0},
};

TEST(a_prefix_matches_whole_segments)
{
    for (size_t i = 0; i < sizeof under_cases / sizeof under_cases[0]; i++) {
        int got = under(under_cases[i].path, under_cases[i].prefix);
        if (got != under_cases[i].want) {
            failures_++;
            fprintf(stderr, "%s:%d: \"%s\" under \"%s\" is %d, expected %d\n", __FILE__, __LINE__,
                    under_cases[i].path, under_cases[i].prefix, got, under_cases[i].want);
        }
    }
}

#define HIDDEN(p) htd_path_hidden((p), strlen(p))

TEST(a_segment_starting_with_a_dot_is_hidden_but_a_leading_well_known)
{
    CHECK(HIDDEN("/.env"));
    CHECK(HIDDEN("/a/.git/config"));
    CHECK(HIDDEN("/a/."));
    CHECK(HIDDEN("/x/.well-known/y")); /* only at the top */
    CHECK(HIDDEN("/.well-knownx"));
    CHECK(!HIDDEN("/.well-known"));
    CHECK(!HIDDEN("/.well-known/acme-challenge/t"));
    CHECK(!HIDDEN("/a.b/c."));
    CHECK(!HIDDEN("/"));
    CHECK(!HIDDEN(""));
}

TEST(hidden_agrees_with_the_rule_on_random_paths)
{
    static const char alphabet[] = "//..aw-knol";
    unsigned long long x = 0x2545f4914f6cdd1dULL;
    for (int iter = 0; iter < 200000; iter++) {
        char in[32];
        size_t len = x % 20;
        test_random_string(&x, alphabet, sizeof alphabet - 1, in, len);
        if (len > 12 && x % 3 == 0) memcpy(in, "/.well-known", 12);
        char *copy = malloc(len ? len : 1); /* exact size, for ASan */
        if (!copy) break;
        memcpy(copy, in, len);
        CHECK_EQ_INT(htd_path_hidden(copy, len), hidden_model(in, len));
        free(copy);
    }
}

int main(void)
{
    RUN_TESTS();
}
