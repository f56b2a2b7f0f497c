/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_listing.c - listings (listing_read, listing_next, listing_length)
 * and listing_wants_json: hostile names escaped in HTML and JSON,
 * percent-encoded links, human sizes, the order (folders first, case
 * folded), the parent link, dotfiles, symlinks (and those that lead to
 * dotfiles), the exact JSON of a small directory, 10,000 entries, pieces
 * that add up to the whole and to the measured length, and the Accept
 * field.
 * Each test makes its directories under a mkdtemp directory and removes it.
 */
#include "listing.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NOV25 1795600800 /* 2026-11-25T10:00:00Z */

/* --- Temporary directories --------------------------------------------- */

static char *tmpdir(void)
{
    static const char tmpl[] = "/tmp/htd-test-listing-XXXXXX";
    char *t = malloc(sizeof tmpl);
    if (!t) return NULL;
    memcpy(t, tmpl, sizeof tmpl);
    if (!mkdtemp(t)) {
        perror("mkdtemp");
        free(t);
        return NULL;
    }
    return t;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static void rmtree(char *dir)
{
    if (!dir) return;
    CHECK_EQ_INT(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
    free(dir);
}

/* A file of size bytes (sparse: quick even for gigabytes), modified at mtime
 * if it is not 0. */
static void mkfile(int dirfd, const char *name, off_t size, time_t mtime)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    if (fd < 0) return;
    CHECK_EQ_INT(ftruncate(fd, size), 0);
    close(fd);
    if (mtime) {
        struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
        CHECK_EQ_INT(utimensat(dirfd, name, ts, 0), 0);
    }
}

static void mkdir_at(int dirfd, const char *name, time_t mtime)
{
    CHECK_EQ_INT(mkdirat(dirfd, name, 0755), 0);
    if (mtime) {
        struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
        CHECK_EQ_INT(utimensat(dirfd, name, ts, 0), 0);
    }
}

static int open_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(fd >= 0);
    return fd;
}

/* The listing as a NUL-terminated string, rendered as one piece (the
 * renderer's bytes hold no NUL). */
static char *render(int dirfd, const char *path, int json, int root_fd)
{
    listing *l = listing_read(dirfd, path, strlen(path), json, root_fd);
    CHECK(l != NULL);
    if (!l) return NULL;
    const char *out = "";
    size_t len = 0;
    CHECK_EQ_INT(listing_next(l, SIZE_MAX, &out, &len), 0);
    CHECK(memchr(out, '\0', len) == NULL);
    char *s = malloc(len + 1);
    if (s) {
        memcpy(s, out, len);
        s[len] = '\0';
    }
    listing_free(l);
    return s;
}

/* The listing rendered in pieces of want bytes (listing_next), after
 * listing_length as the server does, concatenated and NUL-terminated; how
 * many pieces and the largest. Checks along the way that every piece but
 * the last has want bytes or more, that the end stays the end, and that
 * the pieces add up to the measured length. */
static char *render_pieces(int dirfd, const char *path, int json, size_t want, size_t *npieces,
                           size_t *largest)
{
    *npieces = *largest = 0;
    listing *l = listing_read(dirfd, path, strlen(path), json, -1);
    CHECK(l != NULL);
    if (!l) return NULL;
    uint64_t measured = 0;
    CHECK_EQ_INT(listing_length(l, &measured), 0);
    char *all = NULL;
    size_t len = 0;
    const char *p = "";
    size_t n = 0;
    int more;
    do {
        more = listing_next(l, want, &p, &n);
        CHECK(more >= 0);
        if (more < 0) break;
        if (more) CHECK(n >= want && n > 0);
        char *grown = realloc(all, len + n + 1);
        CHECK(grown != NULL);
        if (!grown) break;
        all = grown;
        memcpy(all + len, p, n);
        len += n;
        (*npieces)++;
        if (n > *largest) *largest = n;
    } while (more);
    CHECK_EQ_INT(listing_next(l, want, &p, &n), 0);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(len, measured);
    listing_free(l);
    if (all) all[len] = '\0';
    return all;
}

static int has(const char *s, const char *needle)
{
    return s && strstr(s, needle) != NULL;
}

/* memmem, not strstr: ASan's strstr measures the whole haystack each call. */
static size_t count(const char *s, const char *needle)
{
    if (!s) return 0;
    size_t n = 0, nlen = strlen(needle);
    const char *end = s + strlen(s);
    for (const char *p = s; (p = memmem(p, (size_t)(end - p), needle, nlen)); p++)
        n++;
    return n;
}

static long pos(const char *s, const char *needle)
{
    const char *p = s ? strstr(s, needle) : NULL;
    return p ? p - s : -1;
}

/* Every tag after the style sheet is one the renderer writes, every quote
 * in a tag is paired, and every href holds only what percent-encoding
 * leaves: so no name got into markup or broke out of an attribute. */
static int markup_is_clean(const char *html)
{
    static const char *const tags[] = {
        "a ",      "/a>",      "tr>",    "/tr>",    "td ",    "td>",     "/td>",   "th>",
        "th ",     "/th>",     "thead>", "/thead>", "tbody>", "/tbody>", "table>", "/table>",
        "time ",   "/time>",   "h1>",    "/h1>",    "span>",  "/span>",  "main>",  "/main>",
        "footer>", "/footer>", "/head>", "body>",   "/body>", "/html>"};
    const char *p = strstr(html, "</style>");
    if (!p) return 0;
    for (p += 8; (p = strchr(p, '<')); p++) {
        size_t i, n = sizeof tags / sizeof *tags;
        for (i = 0; i < n; i++)
            if (strncmp(p + 1, tags[i], strlen(tags[i])) == 0) break;
        if (i == n) {
            fprintf(stderr, "unexpected markup: %.40s\n", p);
            return 0;
        }
        const char *end = strchr(p, '>');
        if (!end) return 0;
        size_t quotes = 0;
        for (const char *q = p; q < end; q++)
            quotes += *q == '"';
        if (quotes % 2 || memchr(p + 1, '<', (size_t)(end - p - 1))) return 0;
    }
    for (p = html; (p = strstr(p, "href=\"")); p++) {
        for (p += 6; *p != '"'; p++)
            if (!*p || !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                               "-._~!$()*+,;=%/",
                               *p)) {
                fprintf(stderr, "bad href byte 0x%02x\n", (unsigned char)*p);
                return 0;
            }
    }
    return 1;
}

/* --- HTML --------------------------------------------------------------- */

/* The hostile set from the issue, and then some. */
static void hostile_dir(int fd)
{
    mkfile(fd, "<script>alert(1)<\\script>", 10, 0);
    mkfile(fd, "<img src=x onerror=alert(1)>", 10, 0);
    mkfile(fd, "a\"b'c", 10, 0);
    mkfile(fd, "100%", 10, 0);
    mkfile(fd, "x?y#z", 10, 0);
    mkfile(fd, "a&b", 10, 0);
    mkfile(fd, "a b", 10, 0);
    mkfile(fd, "\xff\xfe", 10, 0);
    mkfile(fd, "\xc3\xa9t\xc3\xa9", 10, 0); /* "été" */
    mkfile(fd, "javascript:alert(1)", 10, 0);
    mkfile(fd, "line\nbreak", 10, 0);
    mkfile(fd, ".hidden", 10, 0);
    mkfile(fd, "empty", 0, 0);
    mkfile(fd, "one-and-a-half", 1536, 0);
    mkdir_at(fd, "sub", 0);
}

TEST(html_escapes_hostile_names_in_text_and_links)
{
    char *dir = tmpdir();
    int fd = open_dir(dir);
    hostile_dir(fd);
    char *h = render(fd, "/sub/", 0, -1);

    CHECK(!has(h, "<script"));
    CHECK(!has(h, "<img"));
    CHECK(markup_is_clean(h));
    CHECK(has(h, "href=\"%3Cscript%3Ealert(1)%3C%5Cscript%3E\">"
                 "&lt;script&gt;alert(1)&lt;\\script&gt;</a>"));
    CHECK(has(h, "href=\"%3Cimg%20src=x%20onerror=alert(1)%3E\">"
                 "&lt;img src=x onerror=alert(1)&gt;</a>"));
    CHECK(has(h, "href=\"a%22b%27c\">a&quot;b&#39;c</a>"));
    CHECK(has(h, "href=\"100%25\">100%</a>"));
    CHECK(has(h, "href=\"x%3Fy%23z\">x?y#z</a>"));
    CHECK(has(h, "href=\"a%26b\">a&amp;b</a>"));
    CHECK(has(h, "href=\"a%20b\">a b</a>"));
    /* Invalid UTF-8: encoded in the link, U+FFFD per byte in the text. */
    CHECK(has(h, "href=\"%FF%FE\">\xef\xbf\xbd\xef\xbf\xbd</a>"));
    CHECK(has(h, "href=\"%C3%A9t%C3%A9\">\xc3\xa9t\xc3\xa9</a>"));
    /* ':' encoded, so the link stays relative rather than a scheme. */
    CHECK(has(h, "href=\"javascript%3Aalert(1)\">"));
    CHECK(!has(h, "href=\"javascript:"));
    /* A control character: encoded, and shown as its picture (U+240A). */
    CHECK(has(h, "href=\"line%0Abreak\">line\xe2\x90\x8a"
                 "break</a>"));
    CHECK(has(h, "<meta charset=\"utf-8\">"));
    CHECK(pos(h, "<!doctype html>") == 0);
    /* Nothing loaded from elsewhere (the only URL is the SVG namespace). */
    CHECK(!has(h, "<link") && !has(h, "@import") && !has(h, "url(http") && !has(h, "src=\""));
    free(h);
    close(fd);
    rmtree(dir);
}

TEST(the_directory_path_is_escaped_in_title_and_heading)
{
    char *dir = tmpdir();
    int fd = open_dir(dir);
    char *h = render(fd, "/<script>alert(1)</script>/\"&\xff/", 0, -1);
    CHECK(!has(h, "<script"));
    CHECK(markup_is_clean(h));
    CHECK(has(h, "<title>Index of /&lt;script&gt;alert(1)&lt;/script&gt;/&quot;&amp;\xef\xbf\xbd/"
                 "</title>"));
    CHECK(has(h, "<a href=\"../../../\">/</a><a href=\"../../\">&lt;script&gt;alert(1)&lt;/</a>"
                 "<a href=\"../\">script&gt;/</a>&quot;&amp;\xef\xbf\xbd/</h1>"));
    free(h);
    char *j = render(fd, "/<\"\\\xff/", 1, -1);
    CHECK(j && strcmp(j, "{\"path\":\"/<\\\"\\\\\\ufffd/\",\"entries\":[]}") == 0);
    free(j);
    close(fd);
    rmtree(dir);
}

TEST(html_sizes_times_and_folders)
{
    char *dir = tmpdir();
    int fd = open_dir(dir);
    mkfile(fd, "empty", 0, NOV25);
    mkfile(fd, "half", 1536, NOV25);
    mkdir_at(fd, "sub", NOV25);
    char *h = render(fd, "/", 0, -1);
    CHECK(has(h, "<a class=\"d\" href=\"sub/\">sub/</a></td><td class=\"s\">-</td>"
                 "<td class=\"m\"><time datetime=\"2026-11-25T10:00:00Z\">2026-11-25 10:00</time>"
                 "</td></tr>"));
    CHECK(has(h, "<a class=\"f\" href=\"half\">half</a></td>"
                 "<td class=\"s\" title=\"1536 bytes\">1.5 KiB</td>"));
    CHECK(has(h, "<a class=\"f\" href=\"empty\">empty</a></td>"
                 "<td class=\"s\" title=\"0 bytes\">0 B</td>"));
    CHECK(has(h, "<footer>1 folder, 2 files</footer>"));
    CHECK(has(h, "<th>Name</th><th class=\"s\">Size</th><th class=\"m\">Modified</th>"));
    CHECK(has(h, "<title>Index of /</title>"));
    CHECK(has(h, "<style>"));
    CHECK(markup_is_clean(h));
    free(h);
    close(fd);
    rmtree(dir);
}

TEST(sizes_in_human_units)
{
    static const struct {
        off_t size;
        const char *shown;
    } cases[] = {
        {1, ">1 B<"},
        {512, ">512 B<"},
        {1023, ">1023 B<"},
        {1024, ">1.0 KiB<"},
        {1434, ">1.4 KiB<"},
        {1075, ">1.0 KiB<"},    /* 1.0498 */
        {1076, ">1.1 KiB<"},    /* 1.0508 */
        {1048575, ">1.0 MiB<"}, /* 1023.999 KiB rounds up a unit */
        {3 * 1048576, ">3.0 MiB<"},
        {1288490189, ">1.2 GiB<"},
        {(off_t)5 << 40, ">5.0 TiB<"},
    };
    char *dir = tmpdir();
    int fd = open_dir(dir);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%zu", i);
        mkfile(fd, name, cases[i].size, 0);
    }
    char *h = render(fd, "/", 0, -1);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char want[128];
        snprintf(want, sizeof want,
                 "href=\"f%zu\">f%zu</a></td><td class=\"s\" title=\"%lld bytes\"%s", i, i,
                 (long long)cases[i].size, cases[i].shown);
        if (!has(h, want)) fprintf(stderr, "missing: %s\n", want);
        CHECK(has(h, want));
    }
    free(h);
    close(fd);
    rmtree(dir);
}

TEST(folders_first_then_names_case_folded_then_bytes)
{
    static const char *const files[] = {"b", "B", "a", "_x", "Zed", "apple", "A", "10", "9"};
    char *dir = tmpdir();
    int fd = open_dir(dir);
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        mkfile(fd, files[i], 1, NOV25);
    mkdir_at(fd, "zdir", NOV25);
    mkdir_at(fd, "Dir1", NOV25);
    mkdir_at(fd, "dir2", NOV25);
    char *j = render(fd, "/", 1, -1);
    /* '0'-'9' < '_' < letters, and "A" before "a" on a tie. */
    static const char *const order[] = {"Dir1", "dir2", "zdir",  "10", "9", "_x",
                                        "A",    "a",    "apple", "B",  "b", "Zed"};
    const char *p = j;
    for (size_t i = 0; p && i < sizeof order / sizeof *order; i++) {
        char want[64];
        snprintf(want, sizeof want, "{\"name\":\"%s\",", order[i]);
        const char *q = strstr(p, "{\"name\":\"");
        CHECK(q && strncmp(q, want, strlen(want)) == 0);
        if (q && strncmp(q, want, strlen(want)) != 0) fprintf(stderr, "at %zu: %.20s\n", i, q);
        p = q ? q + 1 : NULL;
    }
    CHECK(p && !strstr(p, "{\"name\":\""));
    free(j);
    /* The same order in the page. */
    char *h = render(fd, "/", 0, -1);
    CHECK(pos(h, ">Dir1/<") < pos(h, ">dir2/<") && pos(h, ">dir2/<") < pos(h, ">zdir/<"));
    CHECK(pos(h, ">zdir/<") < pos(h, ">10<") && pos(h, ">A<") < pos(h, ">a<"));
    CHECK(pos(h, ">apple<") < pos(h, ">B<") && pos(h, ">b<") < pos(h, ">Zed<"));
    free(h);
    close(fd);
    rmtree(dir);
}

TEST(parent_link_everywhere_but_the_root)
{
    char *dir = tmpdir();
    int fd = open_dir(dir);
    mkfile(fd, "f", 1, 0);
    char *h = render(fd, "/sub/", 0, -1);
    CHECK(has(h, "<a class=\"u\" href=\"../\">../</a>"));
    CHECK(has(h, "<h1><span>Index of</span> <a href=\"../\">/</a>sub/</h1>"));
    free(h);
    h = render(fd, "/", 0, -1);
    CHECK(!has(h, "../"));
    CHECK(has(h, "<h1><span>Index of</span> /</h1>"));
    free(h);
    h = render(fd, "/a/b/c/", 0, -1);
    CHECK(has(h, "<a href=\"../../../\">/</a><a href=\"../../\">a/</a><a href=\"../\">b/</a>c/"));
    CHECK_EQ_INT(count(h, "class=\"u\""), 1);
    free(h);
    close(fd);
    rmtree(dir);
}

TEST(dotfiles_hidden_only_with_a_root)
{
    char *dir = tmpdir();
    int fd = open_dir(dir);
    mkfile(fd, ".hidden", 1, 0);
    mkdir_at(fd, ".git", 0);
    mkfile(fd, "shown", 1, 0);
    char *h = render(fd, "/", 0, -1);
    CHECK(has(h, "href=\".hidden\"") && has(h, "href=\".git/\"") && has(h, "href=\"shown\""));
    CHECK(!has(h, "href=\"./\"") && !has(h, "href=\"../\""));
    free(h);
    h = render(fd, "/", 0, fd);
    CHECK(!has(h, ".hidden") && !has(h, ".git") && has(h, "href=\"shown\""));
    CHECK(has(h, "0 folders, 1 file<"));
    free(h);
    char *j = render(fd, "/", 1, fd);
    CHECK(j && !has(j, ".hidden") && !has(j, ".git") && has(j, "\"shown\""));
    free(j);
    close(fd);
    rmtree(dir);
}

TEST(symlinks_show_as_their_targets_and_dangling_ones_are_left_out)
{
    char *dir = tmpdir();
    int fd = open_dir(dir);
    mkdir_at(fd, "real", 0);
    mkfile(fd, "data", 2048, 0);
    CHECK_EQ_INT(symlinkat("real", fd, "to-dir"), 0);
    CHECK_EQ_INT(symlinkat("data", fd, "to-file"), 0);
    CHECK_EQ_INT(symlinkat("nowhere", fd, "dangling"), 0);
    CHECK_EQ_INT(symlinkat("loop", fd, "loop"), 0);
    char *h = render(fd, "/", 0, -1);
    CHECK(has(h, "href=\"to-dir/\">to-dir/</a></td><td class=\"s\">-</td>"));
    CHECK(has(h, "href=\"to-file\">to-file</a></td><td class=\"s\" title=\"2048 bytes\">2.0 KiB<"));
    CHECK(!has(h, "dangling") && !has(h, "loop"));
    CHECK(has(h, "2 folders, 2 files<"));
    free(h);
    close(fd);
    rmtree(dir);
}

TEST(with_a_root_symlinks_to_hidden_paths_or_out_of_it_are_left_out)
{
    char *dir = tmpdir();
    int fd = open_dir(dir);
    mkfile(fd, ".env", 1, 0);
    mkdir_at(fd, ".git", 0);
    mkfile(fd, ".git/config", 1, 0);
    mkdir_at(fd, ".well-known", 0);
    mkfile(fd, "data", 1, 0);
    mkdir_at(fd, "sub", 0);
    CHECK_EQ_INT(symlinkat(".env", fd, "envlink"), 0);
    CHECK_EQ_INT(symlinkat(".git", fd, "cfg"), 0);
    CHECK_EQ_INT(symlinkat(".git/config", fd, "gitconfig"), 0);
    CHECK_EQ_INT(symlinkat(".well-known", fd, "wk"), 0);
    CHECK_EQ_INT(symlinkat("data", fd, "ok"), 0);
    CHECK_EQ_INT(symlinkat("/tmp", fd, "out"), 0);
    CHECK_EQ_INT(symlinkat("../.env", fd, "sub/up"), 0);
    CHECK_EQ_INT(symlinkat("../data", fd, "sub/fine"), 0);
    CHECK_EQ_INT(symlinkat("../cfg/config", fd, "sub/deep"), 0);
    char *h = render(fd, "/", 0, fd);
    CHECK(h && !has(h, "envlink") && !has(h, "cfg") && !has(h, "gitconfig") && !has(h, "out"));
    CHECK(has(h, "href=\"ok\"") && has(h, "href=\"wk/\"") && has(h, "href=\"data\""));
    CHECK(has(h, "2 folders, 2 files<"));
    free(h);
    /* Without a root, everything that stats is there, as before. */
    h = render(fd, "/", 0, -1);
    CHECK(has(h, "href=\"envlink\"") && has(h, "href=\"cfg/\"") && has(h, "href=\"out/\""));
    free(h);
    /* A folder below the root: links are followed from the root. */
    int sub = openat(fd, "sub", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(sub >= 0);
    char *j = render(sub, "/sub/", 1, fd);
    CHECK(j && !has(j, "\"up\"") && !has(j, "\"deep\"") && has(j, "\"fine\""));
    free(j);
    close(sub);
    close(fd);
    rmtree(dir);
}

TEST(an_empty_directory)
{
    char *dir = tmpdir();
    int fd = open_dir(dir);
    char *h = render(fd, "/empty/", 0, -1);
    CHECK(has(h, "This folder is empty."));
    CHECK(has(h, "0 folders, 0 files<"));
    CHECK(has(h, "href=\"../\""));
    free(h);
    char *j = render(fd, "/empty/", 1, -1);
    CHECK(j && strcmp(j, "{\"path\":\"/empty/\",\"entries\":[]}") == 0);
    free(j);
    close(fd);
    rmtree(dir);
}

/* --- JSON --------------------------------------------------------------- */

TEST(json_exact_bytes)
{
    char *dir = tmpdir();
    int fd = open_dir(dir);
    mkfile(fd, "a b", 123, NOV25);
    mkfile(fd, "Quote\"back\\slash", 0, 1740817815); /* 2025-03-01T08:30:15Z */
    mkdir_at(fd, "sub", NOV25);
    mkdir_at(fd, "\xc3\xa9t\xc3\xa9", NOV25);
    char *j = render(fd, "/docs/", 1, -1);
    const char *want =
        "{\"path\":\"/docs/\",\"entries\":["
        "{\"name\":\"sub\",\"type\":\"dir\",\"mtime\":\"2026-11-25T10:00:00Z\"},"
        "{\"name\":\"\xc3\xa9t\xc3\xa9\",\"type\":\"dir\",\"mtime\":\"2026-11-25T10:00:00Z\"},"
        "{\"name\":\"a b\",\"type\":\"file\",\"size\":123,\"mtime\":\"2026-11-25T10:00:00Z\"},"
        "{\"name\":\"Quote\\\"back\\\\slash\",\"type\":\"file\",\"size\":0,"
        "\"mtime\":\"2025-03-01T08:30:15Z\"}]}";
    CHECK(j && strcmp(j, want) == 0);
    if (j && strcmp(j, want) != 0) fprintf(stderr, "got  %s\nwant %s\n", j, want);
    free(j);
    close(fd);
    rmtree(dir);
}

TEST(json_escapes_controls_and_invalid_utf8)
{
    char *dir = tmpdir();
    int fd = open_dir(dir);
    mkfile(fd, "\xff\xfe", 1, NOV25);
    mkfile(fd, "n\nt\tc\x01r\rd\x7f", 1, NOV25);
    mkfile(fd, "trunc\xe2\x82", 1, NOV25);         /* a 3-byte sequence cut short: one U+FFFD */
    mkfile(fd, "surrogate\xed\xa0\x80", 1, NOV25); /* CESU surrogate: one per byte */
    mkfile(fd, "overlong\xc0\xaf", 1, NOV25);
    mkfile(fd, "emoji\xf0\x9f\x93\x81", 1, NOV25);
    char *j = render(fd, "/", 1, -1);
    CHECK(has(j, "{\"name\":\"\\ufffd\\ufffd\","));
    CHECK(has(j, "{\"name\":\"n\\nt\\tc\\u0001r\\u000dd\x7f\","));
    CHECK(has(j, "{\"name\":\"trunc\\ufffd\","));
    CHECK(has(j, "{\"name\":\"surrogate\\ufffd\\ufffd\\ufffd\","));
    CHECK(has(j, "{\"name\":\"overlong\\ufffd\\ufffd\","));
    CHECK(has(j, "{\"name\":\"emoji\xf0\x9f\x93\x81\","));
    /* No raw control byte and no byte that is not ASCII but in a valid sequence. */
    for (const char *p = j; p && *p; p++)
        CHECK((unsigned char)*p >= 0x20);
    free(j);
    char *h = render(fd, "/", 0, -1);
    CHECK(has(h, ">trunc\xef\xbf\xbd</a>"));
    CHECK(has(h, ">n\xe2\x90\x8at\xe2\x90\x89"
                 "c\xe2\x90\x81r\xe2\x90\x8d"
                 "d\xe2\x90\xa1</a>"));
    CHECK(markup_is_clean(h));
    free(h);
    close(fd);
    rmtree(dir);
}

/* --- The descriptor ------------------------------------------------------ */

TEST(dirfd_stays_open_and_repeat_renders_agree)
{
    char *dir = tmpdir();
    int fd = open_dir(dir);
    mkfile(fd, "one", 1, NOV25);
    mkfile(fd, "two", 2, NOV25);
    char *a = render(fd, "/", 1, -1);
    char *b = render(fd, "/", 1, -1);
    CHECK(a && b && strcmp(a, b) == 0 && has(a, "\"one\"") && has(a, "\"two\""));
    CHECK(fcntl(fd, F_GETFD) != -1);
    free(a);
    free(b);
    close(fd);

    errno = 0;
    CHECK(listing_read(fd, "/", 1, 0, -1) == NULL); /* closed now */
    CHECK_EQ_INT(errno, EBADF);
    int file = openat(AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC);
    errno = 0;
    CHECK(listing_read(file, "/", 1, 0, -1) == NULL);
    CHECK_EQ_INT(errno, ENOTDIR);
    close(file);
    rmtree(dir);
}

/* --- Pieces ------------------------------------------------------------- */

TEST(pieces_add_up_to_the_whole_and_to_the_measured_length)
{
    char *dir = tmpdir();
    int fd = open_dir(dir);
    static const char *const files[] = {"<script>x<\\script>", "a\"b'c&d", "100%",     "\xff\xfe",
                                        "caf\xc3\xa9",         "n\nl",     "plain.txt"};
    enum { NFILES = sizeof files / sizeof *files, NDIRS = 2 };
    for (size_t i = 0; i < NFILES; i++)
        mkfile(fd, files[i], (off_t)(i * 700), NOV25);
    char longname[256];
    memset(longname, '<', 255);
    longname[255] = '\0';
    mkfile(fd, longname, 1, NOV25); /* the largest an entry gets: NAME_MAX bytes, each escaped */
    mkdir_at(fd, "sub", NOV25);
    mkdir_at(fd, "Empty", NOV25);
    int empty = openat(fd, "Empty", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(empty >= 0);
    static const size_t wants_[] = {0, 1, 7, 100, 4096, SIZE_MAX};
    for (int json = 0; json <= 1; json++) {
        for (int d = 0; d < 2; d++) {
            int dfd = d ? empty : fd;
            const char *path = d ? "/a <b>/Empty/" : "/";
            size_t entries = d ? 0 : NFILES + 1 + NDIRS;
            char *whole = render(dfd, path, json, -1);
            for (size_t w = 0; w < sizeof wants_ / sizeof *wants_; w++) {
                size_t np, largest;
                char *pieces = render_pieces(dfd, path, json, wants_[w], &np, &largest);
                CHECK(whole && pieces && strcmp(whole, pieces) == 0);
                if (wants_[w] <= 1) CHECK_EQ_INT(np, entries + 2); /* head, each entry, foot */
                if (wants_[w] == SIZE_MAX) CHECK_EQ_INT(np, 1);
                free(pieces);
            }
            free(whole);
        }
    }
    close(empty);
    close(fd);
    rmtree(dir);
}

/* --- Size --------------------------------------------------------------- */

TEST(ten_thousand_entries)
{
    char *dir = tmpdir();
    int fd = open_dir(dir);
    enum { N = 10000, DIRS = 100 };
    /* Hard links to one file: a new inode each would take seconds on ext4. */
    mkfile(fd, "file-00000.txt", 1536, 0);
    for (int i = 1; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "file-%05d.txt", N - i);
        CHECK_EQ_INT(linkat(fd, "file-00000.txt", fd, name, 0), 0);
    }
    for (int i = 0; i < DIRS; i++) {
        char name[32];
        snprintf(name, sizeof name, "dir-%03d", i);
        mkdir_at(fd, name, 0);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char *h = render(fd, "/big/", 0, -1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    CHECK(ms < 2000); /* typically ~15 ms; generous for sanitizers and slow disks */
    CHECK_EQ_INT(count(h, "<a class=\"f\" href=\"file-"), N);
    CHECK_EQ_INT(count(h, "<a class=\"d\" href=\"dir-"), DIRS);
    CHECK_EQ_INT(count(h, "<tr>"), N + DIRS + 2); /* the head row and the parent link */
    CHECK(pos(h, ">dir-099/<") < pos(h, ">file-00000.txt<"));
    CHECK(pos(h, ">file-00000.txt<") < pos(h, ">file-00001.txt<"));
    CHECK(pos(h, ">file-09998.txt<") < pos(h, ">file-09999.txt<"));
    CHECK_EQ_INT(count(h, ">1.5 KiB</td>"), N);
    CHECK(has(h, "100 folders, 10000 files<"));
    /* In the server's pieces: the same page, never much more than a piece
     * in memory. */
    size_t np, largest;
    char *p = render_pieces(fd, "/big/", 0, 16384, &np, &largest);
    CHECK(h && p && strcmp(h, p) == 0);
    CHECK(largest < 16384 + 4096);
    CHECK(np > strlen(h) / (16384 + 4096));
    free(p);
    free(h);
    char *j = render(fd, "/big/", 1, -1);
    CHECK_EQ_INT(count(j, "{\"name\":"), N + DIRS);
    p = render_pieces(fd, "/big/", 1, 16384, &np, &largest);
    CHECK(j && p && strcmp(j, p) == 0);
    CHECK(largest < 16384 + 4096);
    free(p);
    free(j);
    close(fd);
    rmtree(dir);
}

/* --- Accept ------------------------------------------------------------- */

static int wants(const char *v)
{
    /* An exact-size copy, so ASan sees any read past the field. */
    size_t n = strlen(v);
    char *copy = malloc(n ? n : 1);
    if (!copy) return -1;
    memcpy(copy, v, n);
    int r = listing_wants_json((htd_str){copy, n});
    free(copy);
    return r;
}

TEST(accept_cases_from_the_issue)
{
    CHECK_EQ_INT(listing_wants_json((htd_str){NULL, 0}), 0);
    CHECK_EQ_INT(wants(""), 0);
    CHECK_EQ_INT(wants("application/json"), 1);
    CHECK_EQ_INT(wants("text/html,application/json;q=0.9"), 0);
    CHECK_EQ_INT(wants("application/json;q=0.9,text/html;q=0.8"), 1);
    CHECK_EQ_INT(wants("*/*"), 0);
    CHECK_EQ_INT(wants("application/*"), 1);
    CHECK_EQ_INT(wants("text/*;q=0.1, application/json"), 1);
    CHECK_EQ_INT(wants("application/json;q=0"), 0);
}

TEST(accept_specificity_and_what_clients_send)
{
    /* A browser's field: HTML. curl's and fetch()'s default: HTML. */
    CHECK_EQ_INT(wants("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
                       "image/webp,*/*;q=0.8"),
                 0);
    CHECK_EQ_INT(wants("*/*;q=0.8"), 0);
    CHECK_EQ_INT(wants("application/json, */*;q=0.1"), 1);
    CHECK_EQ_INT(wants("application/json, text/plain, */*"), 0); /* axios: equal q */
    /* The most specific range decides, whatever its q and its place. */
    CHECK_EQ_INT(wants("*/*;q=0.1, text/*;q=1, application/json;q=0.5"), 0);
    CHECK_EQ_INT(wants("text/html;q=0.2, text/*, application/json;q=0.5"), 1);
    CHECK_EQ_INT(wants("application/*;q=0.9, application/json;q=0.1, text/html;q=0.5"), 0);
    CHECK_EQ_INT(wants("*/*, text/html;q=0"), 1);
    CHECK_EQ_INT(wants("text/html;q=0, application/json;q=0.001"), 1);
    CHECK_EQ_INT(wants("text/html;q=0, application/json;q=0"), 0);
    /* Case, whitespace, parameters, empty elements. */
    CHECK_EQ_INT(wants("APPLICATION/JSON"), 1);
    CHECK_EQ_INT(wants("  application/json ; Q=1 ,text/html ;q=0.5"), 1);
    CHECK_EQ_INT(wants("application/json; charset=utf-8"), 1);
    CHECK_EQ_INT(wants("text/html;level=\"a,b;q=0\";q=0.3, application/json;q=0.4"), 1);
    CHECK_EQ_INT(wants(",, ,application/json,"), 1);
    CHECK_EQ_INT(wants("application/json;q=1.000"), 1);
    CHECK_EQ_INT(wants("application/json;q=0.5;ext=1, text/html;q=0.4"), 1);
    CHECK_EQ_INT(wants("application/json;"), 1);
    CHECK_EQ_INT(wants("application/jsonx, text/json, application/json-seq"), 0);
}

TEST(accept_malformed_elements_are_skipped)
{
    CHECK_EQ_INT(wants("application/json;q=2"), 0);
    CHECK_EQ_INT(wants("application/json;q=0.5x"), 0);
    CHECK_EQ_INT(wants("application/json;q=1.5"), 0);
    CHECK_EQ_INT(wants("application/json;q=0.0001"), 0);
    CHECK_EQ_INT(wants("application/json;q="), 0);
    CHECK_EQ_INT(wants("application/json;=1"), 0);
    CHECK_EQ_INT(wants("application json"), 0);
    CHECK_EQ_INT(wants("application/"), 0);
    CHECK_EQ_INT(wants("/json"), 0);
    CHECK_EQ_INT(wants("*/json"), 0);
    CHECK_EQ_INT(wants("application/json;x=\"unterminated"), 0);
    CHECK_EQ_INT(wants("application/json;x=\"\\"), 0);
    /* ...and the good ones around them still count. */
    CHECK_EQ_INT(wants("text/html;q=oops, application/json"), 1);
    CHECK_EQ_INT(wants("garbage;;, application/json;q=0.5"), 1);
    CHECK_EQ_INT(wants("a/b;x=\"q,=\\\"\", application/json"), 1);
}

TEST(accept_random_fields_stay_in_bounds)
{
    static const char alphabet[] = "applicationjsontexhml/*;q=0.15, \t\"\\";
    unsigned long long x = 0x9e3779b97f4a7c15ULL;
    for (int iter = 0; iter < 100000; iter++) {
        char v[40];
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t len = x % sizeof v;
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            v[i] = alphabet[x % (sizeof alphabet - 1)];
        }
        v[len] = '\0';
        int r = wants(len ? v : "");
        CHECK(r == 0 || r == 1);
    }
}

int main(void)
{
    RUN_TESTS();
}
