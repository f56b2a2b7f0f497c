/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_mime.c - htd_mime: the built-in table alone, /etc/mime.types, a small
 * file written here to pin down precedence and the file format, and how a
 * file name's extension is found.
 */
#include "mime.h"
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

#define OCTET "application/octet-stream"
#define UTF8 "; charset=utf-8"

static const char *type_of(const htd_mime *m, const char *name)
{
    return htd_mime_type(m, name, strlen(name));
}

#define TYPE(m, name, want)                                                                        \
    do {                                                                                           \
        const char *t_ = type_of((m), (name));                                                     \
        CHECK_STR(t_, strlen(t_), want);                                                           \
    } while (0)

/* Writes text to a new temporary file and returns its path (static). */
static const char *temp_file(const char *text)
{
    static char path[64];
    const char *dir = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/htd_mime_XXXXXX", dir && strlen(dir) < 40 ? dir : "/tmp");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return "/nonexistent";
    size_t len = strlen(text);
    CHECK(write(fd, text, len) == (ssize_t)len);
    close(fd);
    return path;
}

static htd_mime *builtin_only(void)
{
    htd_mime *m = htd_mime_new("/nonexistent/mime.types");
    CHECK(m != NULL);
    return m;
}

TEST(builtin_table_covers_the_web_types)
{
    htd_mime *m = builtin_only();
    if (!m) return;
    TYPE(m, "a.html", "text/html" UTF8);
    TYPE(m, "a.htm", "text/html" UTF8);
    TYPE(m, "a.css", "text/css" UTF8);
    TYPE(m, "a.js", "text/javascript" UTF8);
    TYPE(m, "a.mjs", "text/javascript" UTF8);
    TYPE(m, "a.json", "application/json" UTF8);
    TYPE(m, "a.map", "application/json" UTF8);
    TYPE(m, "a.txt", "text/plain" UTF8);
    TYPE(m, "a.xml", "application/xml" UTF8);
    TYPE(m, "a.svg", "image/svg+xml" UTF8);
    TYPE(m, "a.png", "image/png");
    TYPE(m, "a.jpg", "image/jpeg");
    TYPE(m, "a.jpeg", "image/jpeg");
    TYPE(m, "a.gif", "image/gif");
    TYPE(m, "a.webp", "image/webp");
    TYPE(m, "a.avif", "image/avif");
    TYPE(m, "a.ico", "image/vnd.microsoft.icon");
    TYPE(m, "a.woff", "font/woff");
    TYPE(m, "a.woff2", "font/woff2");
    TYPE(m, "a.ttf", "font/ttf");
    TYPE(m, "a.otf", "font/otf");
    TYPE(m, "a.eot", "application/vnd.ms-fontobject");
    TYPE(m, "a.wasm", "application/wasm");
    TYPE(m, "a.pdf", "application/pdf");
    TYPE(m, "a.zip", "application/zip");
    TYPE(m, "a.gz", "application/gzip");
    TYPE(m, "a.br", "application/x-brotli");
    TYPE(m, "a.tar", "application/x-tar");
    TYPE(m, "a.mp4", "video/mp4");
    TYPE(m, "a.webm", "video/webm");
    TYPE(m, "a.mp3", "audio/mpeg");
    TYPE(m, "a.ogg", "audio/ogg");
    TYPE(m, "a.wav", "audio/wav");
    TYPE(m, "a.md", "text/markdown" UTF8);
    TYPE(m, "a.csv", "text/csv" UTF8);
    TYPE(m, "a.ics", "text/calendar" UTF8);
    TYPE(m, "a.xhtml", "application/xhtml+xml" UTF8);
    TYPE(m, "a.webmanifest", "application/manifest+json" UTF8);
    TYPE(m, "a.odt", OCTET);
    htd_mime_free(m);
}

TEST(extension_is_after_the_last_dot_of_the_last_segment)
{
    htd_mime *m = builtin_only();
    if (!m) return;
    TYPE(m, "a.tar.gz", "application/gzip");
    TYPE(m, "/srv/www/index.html", "text/html" UTF8);
    TYPE(m, "/v1.2/app.min.js", "text/javascript" UTF8);
    TYPE(m, "noext", OCTET);
    TYPE(m, "dir.d/file", OCTET);
    TYPE(m, "/dir.html/file", OCTET);
    TYPE(m, "/a.html/", OCTET);
    TYPE(m, "file.", OCTET);
    TYPE(m, "file.html.", OCTET);
    TYPE(m, "", OCTET);
    TYPE(m, "/", OCTET);
    TYPE(m, ".", OCTET);
    TYPE(m, "..", OCTET);
    TYPE(m, "a.unknownext", OCTET);
    TYPE(m, "a.htmlx", OCTET);
    TYPE(m, "a.htm", "text/html" UTF8);
    TYPE(m, "a.ht", OCTET);
    htd_mime_free(m);
}

TEST(dotfiles_have_no_extension_unless_another_dot_follows)
{
    htd_mime *m = builtin_only();
    if (!m) return;
    TYPE(m, "/.bashrc", OCTET);
    TYPE(m, ".bashrc", OCTET);
    TYPE(m, "/a/.html", OCTET);
    TYPE(m, "/.config.json", "application/json" UTF8);
    TYPE(m, "..html", "text/html" UTF8);
    htd_mime_free(m);
}

TEST(extensions_match_case_insensitively)
{
    htd_mime *m = builtin_only();
    if (!m) return;
    TYPE(m, "INDEX.HTML", "text/html" UTF8);
    TYPE(m, "photo.JPG", "image/jpeg");
    TYPE(m, "photo.JpEg", "image/jpeg");
    TYPE(m, "x.Js", "text/javascript" UTF8);
    TYPE(m, "x.WOFF2", "font/woff2");
    htd_mime_free(m);
}

TEST(lookup_reads_only_len_bytes_and_returns_stable_strings)
{
    htd_mime *m = builtin_only();
    if (!m) return;
    const char *name = "index.html.bak";
    const char *t = htd_mime_type(m, name, 10);
    CHECK_STR(t, strlen(t), "text/html" UTF8);
    CHECK(htd_mime_type(m, name, strlen(name)) == htd_mime_type(m, "x.bak", 5));
    CHECK(htd_mime_type(m, "a.css", 5) == htd_mime_type(m, "B.CSS", 5));
    htd_mime_free(m);
}

TEST(a_missing_or_unusable_file_leaves_the_builtin_table)
{
    htd_mime *m = htd_mime_new("/tmp"); /* a directory */
    CHECK(m != NULL);
    if (m) TYPE(m, "a.png", "image/png");
    htd_mime_free(m);
    const char *path = temp_file("");
    m = htd_mime_new(path);
    CHECK(m != NULL);
    if (m) TYPE(m, "a.css", "text/css" UTF8);
    htd_mime_free(m);
    unlink(path);
    htd_mime_free(NULL);
}

static const char sample[] = "# A comment line\n"
                             "\n"
                             "   # an indented comment\n"
                             "text/x-custom\tfoo FOO Bar   # trailing comment names no ext\n"
                             "text/html  html htm shtml\n"
                             "application/x-override css\n"
                             "application/x-first   dup\n"
                             "application/x-second  dup\n"
                             "application/x-js  js mjs\n"
                             "application/x-wasm wasm\n"
                             "image/x-no-ext\n"
                             "bad-type-no-slash  bad\n"
                             "/leading  lead\n"
                             "trailing/  trail\n"
                             "application/x\001ctl  ctl\n"
                             "application/x;q=1  semi\n"
                             "application/x-crlf crlf\r\n"
                             "application/x-tabs\t\ttabbed\t\n"
                             "application/x-dotted a.b cc/dd ok\n"
                             "application/vnd.foo+json  foojson\n"
                             "application/vnd.foo+xml fooxml\n"
                             "Text/X-Upper upper\n"
                             "#text/x-commented  commented\n"
                             "application/x-last lastline";

TEST(file_entries_and_format)
{
    const char *path = temp_file(sample);
    htd_mime *m = htd_mime_new(path);
    unlink(path);
    CHECK(m != NULL);
    if (!m) return;
    TYPE(m, "a.foo", "text/x-custom" UTF8);
    TYPE(m, "a.FOO", "text/x-custom" UTF8);
    TYPE(m, "a.bar", "text/x-custom" UTF8);
    TYPE(m, "a.shtml", "text/html" UTF8);
    TYPE(m, "a.crlf", "application/x-crlf");
    TYPE(m, "a.tabbed", "application/x-tabs");
    TYPE(m, "a.ok", "application/x-dotted");
    TYPE(m, "a.foojson", "application/vnd.foo+json" UTF8);
    TYPE(m, "a.fooxml", "application/vnd.foo+xml" UTF8);
    TYPE(m, "a.upper", "Text/X-Upper" UTF8);
    TYPE(m, "a.lastline", "application/x-last");
    TYPE(m, "a.comment", OCTET);
    TYPE(m, "a.commented", OCTET);
    TYPE(m, "a.names", OCTET);
    htd_mime_free(m);
}

TEST(file_lines_with_bad_types_are_skipped)
{
    const char *path = temp_file(sample);
    htd_mime *m = htd_mime_new(path);
    unlink(path);
    CHECK(m != NULL);
    if (!m) return;
    TYPE(m, "a.bad", OCTET);
    TYPE(m, "a.lead", OCTET);
    TYPE(m, "a.trail", OCTET);
    TYPE(m, "a.ctl", OCTET);
    TYPE(m, "a.semi", OCTET);
    TYPE(m, "a.b", OCTET);
    htd_mime_free(m);
}

TEST(precedence_forced_then_file_first_line_then_builtin)
{
    const char *path = temp_file(sample);
    htd_mime *m = htd_mime_new(path);
    unlink(path);
    CHECK(m != NULL);
    if (!m) return;
    TYPE(m, "a.css", "application/x-override"); /* the file beats the built-in table */
    TYPE(m, "a.dup", "application/x-first");    /* the first line wins */
    TYPE(m, "a.js", "text/javascript" UTF8);    /* forced */
    TYPE(m, "a.MJS", "text/javascript" UTF8);
    TYPE(m, "a.wasm", "application/wasm");
    TYPE(m, "a.png", "image/png"); /* not in the file: built in */
    TYPE(m, "a.woff2", "font/woff2");
    htd_mime_free(m);
}

TEST(a_large_file_fills_a_larger_table)
{
    size_t cap = 6000 * 48;
    char *text = malloc(cap);
    CHECK(text != NULL);
    if (!text) return;
    size_t n = 0;
    for (int i = 0; i < 6000; i++)
        n += (size_t)snprintf(text + n, cap - n, "application/x-t%d e%d E%dx\n", i, i, i);
    const char *path = temp_file(text);
    free(text);
    htd_mime *m = htd_mime_new(path);
    unlink(path);
    CHECK(m != NULL);
    if (!m) return;
    int bad = 0;
    for (int i = 0; i < 6000; i++) {
        char name[32], want[48];
        snprintf(want, sizeof want, "application/x-t%d", i);
        snprintf(name, sizeof name, "f.E%d", i);
        bad += strcmp(type_of(m, name), want) != 0;
        snprintf(name, sizeof name, "f.e%dX", i);
        bad += strcmp(type_of(m, name), want) != 0;
    }
    CHECK_EQ_INT(bad, 0);
    TYPE(m, "a.html", "text/html" UTF8);
    TYPE(m, "a.e6000", OCTET);
    htd_mime_free(m);
}

TEST(system_mime_types)
{
    htd_mime *m = htd_mime_new(NULL);
    CHECK(m != NULL);
    if (!m) return;
    TYPE(m, "a.html", "text/html" UTF8);
    TYPE(m, "a.js", "text/javascript" UTF8);
    TYPE(m, "a.wasm", "application/wasm");
    TYPE(m, "a.svg", "image/svg+xml" UTF8);
    TYPE(m, "a.json", "application/json" UTF8);
    TYPE(m, "a.map", "application/json" UTF8); /* Debian's file has no .map */
    TYPE(m, "a.png", "image/png");
    TYPE(m, "noext", OCTET);
    if (access("/etc/mime.types", R_OK) == 0) {
        TYPE(m, "a.odt", "application/vnd.oasis.opendocument.text");
        TYPE(m, "a.PDF", "application/pdf");
    }
    htd_mime_free(m);
}

/*
 * Every extension in /etc/mime.types maps to the type of the first line that
 * names it (unless forced), with the charset exactly on the text types.
 * Debian lists a few with a dot ("pcf.Z"); a lookup only sees what follows
 * the last dot, so those cannot match and are not checked.
 */
TEST(system_mime_types_agree_with_a_plain_reading)
{
    FILE *f = fopen("/etc/mime.types", "r");
    if (!f) return;
    htd_mime *m = htd_mime_new("/etc/mime.types");
    CHECK(m != NULL);
    char line[4096], seen[65536] = " ";
    int checked = 0, bad = 0;
    while (m && fgets(line, sizeof line, f)) {
        char *hash = strchr(line, '#'), *save = NULL;
        if (hash) *hash = '\0';
        const char *type = strtok_r(line, " \t\r\n", &save);
        if (!type) continue;
        for (char *ext; (ext = strtok_r(NULL, " \t\r\n", &save)) != NULL;) {
            char key[128], name[128];
            snprintf(key, sizeof key, " %s ", ext);
            if (strchr(ext, '.') || strstr(seen, key) || !strcmp(ext, "js") ||
                !strcmp(ext, "mjs") || !strcmp(ext, "wasm") ||
                strlen(seen) + strlen(key) >= sizeof seen)
                continue;
            strcat(seen, key + 1);
            snprintf(name, sizeof name, "file.%s", ext);
            const char *got = type_of(m, name);
            size_t tl = strlen(type);
            int text = strncmp(type, "text/", 5) == 0;
            int ok = strncmp(got, type, tl) == 0 &&
                     (got[tl] == '\0' ? !text : strcmp(got + tl, UTF8) == 0);
            if (!ok) {
                bad++;
                fprintf(stderr, "  .%s: \"%s\" for %s\n", ext, got, type);
            }
            checked++;
        }
    }
    fclose(f);
    CHECK(checked > 100);
    CHECK_EQ_INT(bad, 0);
    htd_mime_free(m);
}

int main(void)
{
    RUN_TESTS();
}
